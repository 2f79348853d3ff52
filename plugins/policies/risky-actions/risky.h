/* risky.h — the risky-actions policy's insides, shared by its files; nothing here leaves the
 * library.
 *
 * How an action is judged: risky_actions.c reads the request and hands the action to actions.c,
 * which sorts it by kind and tool name. A shell command goes to shell.c, which reads it into
 * simple commands (shell_lex.c splits and unquotes, wrappers.c finds each one's program and the
 * scripts it runs), and command_rules.c matches every simple command against the rules, with
 * paths.c and hosts.c for where it writes and whom it talks to. Each match is a finding in an
 * rk_verdict; verdict.c turns the findings, the configuration (config.c) and the dispatch's
 * approvalPolicy into the decision. Every step is bounded (see the limits below) and reads
 * nothing but the request, so the same request always gets the same decision.
 *
 * Thread rules: an rk_config is read-only after rk_config_parse; everything else lives on the
 * stack or heap of one evaluate() call.
 */
#ifndef RISKY_ACTIONS_RISKY_H
#define RISKY_ACTIONS_RISKY_H

#define _POSIX_C_SOURCE 200809L /* fnmatch */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <runhost/json.h>
#include <runhost/runhost.h>

/* A NULL-terminated list of names, for the tables: RK_LIST("rm", "rmdir"). */
#define RK_LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- Limits: past any of them an action is "unjudgeable" (see verdict.c) ----------------- */
enum {
  RK_MAX_COMMAND_BYTES = 64 * 1024, /* one command line */
  RK_MAX_ARENA_BYTES = 1024 * 1024, /* the words of a command line and the scripts inside it */
  RK_MAX_WORDS = 8192,
  RK_MAX_COMMANDS = 2048,
  RK_MAX_TARGETS = 1024,   /* redirect targets */
  RK_MAX_SOURCES = 256,    /* texts read per command line: it, its $(...), its sh -c scripts */
  RK_MAX_DEPTH = 8,        /* scripts inside scripts */
  RK_MAX_HEREDOCS = 8,     /* pending on one line */
  RK_MAX_EXTRA_RULES = 64,
  RK_MAX_DIRS = 8,         /* directories a command line may cd into */
  RK_PATH_MAX = 4096,
  RK_SUBJECT_MAX = 200,    /* bytes of a command quoted in a reason */
  RK_DETAIL_MAX = 200,
  RK_HOST_MAX = 256,
  RK_PROGRAM_MAX = 64
};

/* ---- Rules and configuration (config.c) -------------------------------------------------- */

/* The bundled rules, in the order a decision reports them when several match. */
typedef enum rk_rule {
  RK_PIPE_TO_SHELL,
  RK_SUDO,
  RK_DELETE,
  RK_FORCE_PUSH,
  RK_PUBLISH_PACKAGE,
  RK_DEPLOY,
  RK_OUTSIDE_WORKDIR,
  RK_NETWORK,
  RK_CONNECTOR_SEND,
  RK_SPEND,
  RK_RULE_COUNT
} rk_rule;

extern const char *const rk_rule_ids[RK_RULE_COUNT];

typedef enum rk_setting { RK_OFF, RK_RISKY, RK_DENY } rk_setting;

/* An operator's own rule: commands or tool names matching a glob. */
typedef struct rk_extra {
  char *id;
  char *reason; /* what the decision says; NULL for a default naming the rule */
  rk_setting effect;
  char **commands; /* fnmatch globs over a whole command line and each simple command */
  size_t command_count;
  char **tools; /* fnmatch globs over the action's name */
  size_t tool_count;
} rk_extra;

typedef struct rk_config {
  rk_setting rules[RK_RULE_COUNT];
  rk_extra *extra;
  size_t extra_count;
  char **read_only_commands; /* leading words, single-spaced: "make -n" */
  size_t read_only_command_count;
  char **read_only_tools; /* fnmatch globs over the action's name */
  size_t read_only_tool_count;
  char **allowed_hosts; /* lower-case fnmatch globs: "registry.npmjs.org", "*.internal" */
  size_t allowed_host_count;
  bool temp_dirs_inside; /* /tmp, /var/tmp and /dev/shm count as inside the run's directory */
} rk_config;

/* Reads a configuration; fields it does not give keep their defaults (which equal the
 * manifest's "config"). On failure `error` names the offending key. */
rh_status rk_config_parse(rh_str json, rk_config *out, char *error, size_t error_cap);
void rk_config_free(rk_config *config);
bool rk_config_denies_anything(const rk_config *config);

/* ---- Findings and the decision (verdict.c) ----------------------------------------------- */

typedef enum rk_mode { RK_MODE_AUTO, RK_MODE_CONFIRM_RISKY, RK_MODE_MANUAL } rk_mode;

typedef struct rk_finding {
  bool found;
  const char *what; /* "deletes files"; static, or an extra rule's reason */
  char detail[RK_DETAIL_MAX + 1]; /* "example.com", "/etc/hosts"; may be empty */
  char subject[RK_SUBJECT_MAX + 4]; /* the command or tool, cut with "..." */
} rk_finding;

/* What one action was found to do: the first match of each rule, whether it changes state,
 * and whether it could be read at all. */
typedef struct rk_verdict {
  rk_finding findings[RK_RULE_COUNT + RK_MAX_EXTRA_RULES]; /* extra rules after the bundled */
  bool changes_state;
  char change_subject[RK_SUBJECT_MAX + 4];
  const char *unjudgeable; /* why the action could not be read whole, or NULL */
  bool out_of_memory;
} rk_verdict;

/* Records a rule's first match; later matches of the same rule are ignored. */
void rk_note(rk_verdict *verdict, size_t rule, const char *what, const char *detail,
             const char *subject, size_t subject_len);
void rk_note_change(rk_verdict *verdict, const char *subject, size_t subject_len);
void rk_note_unjudgeable(rk_verdict *verdict, const char *why);
rh_status rk_write_decision(const rk_config *config, rk_mode mode, const rk_verdict *verdict,
                            const rh_writer *out);
/* For requests that cannot be judged at all: a deny with rule "malformed_request". */
rh_status rk_write_malformed(const char *reason, const rh_writer *out);

/* ---- Where commands run: the run's directory and where a command line cd's (paths.c) ----- */

/* dirs[0] is the run's directory: absolute ("" for /), or, when the request has no cwd, ""
 * standing for an unknown directory that relative paths resolve under ("sub/dir"). */
typedef struct rk_dirs {
  char *dirs[RK_MAX_DIRS];
  bool absolute[RK_MAX_DIRS];
  size_t count;
  bool unknown; /* a cd went somewhere the policy cannot know: every relative path is outside */
} rk_dirs;

rh_status rk_dirs_init(rk_dirs *dirs, const char *cwd, size_t cwd_len);
void rk_dirs_free(rk_dirs *dirs);
/* Follows `cd path` from every directory so far; `dynamic` when the path holds an expansion. */
rh_status rk_dirs_cd(rk_dirs *dirs, const char *path, size_t len, bool dynamic);
/* Whether a written path lies outside every candidate run directory; `shown` gets the path as
 * resolved (for the reason). Paths the policy cannot know ($VAR, ~) are outside. */
bool rk_path_outside(const rk_config *config, const rk_dirs *dirs, const char *path, size_t len,
                     bool dynamic, char *shown, size_t shown_cap);
/* /dev/null, /dev/stderr and the like: writing there changes nothing. */
bool rk_path_is_sink(const char *path, size_t len);

/* ---- Everything one evaluate() carries ---------------------------------------------------- */

typedef struct rk_context {
  const rk_config *config;
  rk_verdict *verdict;
  rk_dirs dirs;
} rk_context;

/* ---- Command lines read into simple commands (shell.c, shell_lex.c, wrappers.c) ---------- */

enum { RK_WORD_DYNAMIC = 1 }; /* holds an expansion ($VAR, $(...), `...`) not known until run */

typedef struct rk_word {
  const char *text; /* NUL-terminated, unquoted; lives in the script's arena */
  size_t len;
  unsigned flags;
} rk_word;

typedef enum rk_origin {
  RK_ORIGIN_TOP,    /* the command line itself */
  RK_ORIGIN_SUBST,  /* $(...), `...`, <(...): its output feeds the parent's word */
  RK_ORIGIN_SCRIPT  /* sh -c, eval, a heredoc to a shell, find -exec: run by the parent */
} rk_origin;

enum {
  RK_CMD_TRANSPARENT = 1,   /* only runs the scripts found inside it (sh -c, eval) */
  RK_CMD_EMITS_DOWNLOAD = 2 /* its output is (or contains) something downloaded */
};

enum { RK_NO_WORD = SIZE_MAX };

typedef struct rk_command {
  size_t first_word, word_count;     /* into rk_script.words */
  size_t first_target, target_count; /* its output redirects, into rk_script.targets */
  size_t program;      /* index of its program among its words, past wrappers; word_count if none */
  size_t privileged;   /* index of a sudo-like wrapper among its words, or RK_NO_WORD */
  size_t parent;       /* the command it was found in, or RK_NO_WORD */
  size_t parent_word;  /* which of the parent's words held it, or RK_NO_WORD */
  rk_origin origin;
  size_t pipeline;     /* commands joined by | share a pipeline */
  unsigned depth;
  unsigned flags;
  const char *heredoc; /* the body of its first << heredoc, or NULL */
  size_t heredoc_len;
} rk_command;

typedef struct rk_source {
  const char *text;
  size_t len;
  size_t parent, parent_word;
  rk_origin origin;
  unsigned depth;
} rk_source;

typedef struct rk_script {
  char *arena; /* fixed size, so word pointers stay valid */
  size_t arena_len, arena_cap;
  rk_word *words;
  size_t word_count, word_cap;
  rk_word *targets;
  size_t target_count, target_cap;
  rk_command *commands;
  size_t command_count, command_cap;
  rk_source queue[RK_MAX_SOURCES];
  size_t queue_head, queue_count, sources_read;
  size_t next_pipeline;
  const char *overflow; /* which limit cut the reading short, or NULL */
  bool out_of_memory;
} rk_script;

/* Reads a command line (and the scripts inside it) into simple commands. Fails only for want
 * of memory; a line past a limit is read as far as it goes and `overflow` says why. */
rh_status rk_script_parse(rk_script *script, const char *text, size_t len);
void rk_script_free(rk_script *script);

/* Used by the lexer and wrappers.c. */
void rk_script_overflow(rk_script *script, const char *why);
char *rk_arena_alloc(rk_script *script, size_t len);
bool rk_script_enqueue(rk_script *script, const char *text, size_t len, size_t parent,
                       size_t parent_word, rk_origin origin, unsigned depth);
size_t rk_script_new_command(rk_script *script, const rk_source *source, size_t pipeline);
bool rk_script_push_word(rk_script *script, size_t command, rk_word word);
bool rk_script_push_target(rk_script *script, size_t command, rk_word word);
void rk_lex(rk_script *script, const rk_source *source);
/* Finds a command's program past assignments and wrappers (sudo, env, xargs...), then queues
 * what it runs: sh -c scripts, eval, heredocs fed to a shell, find -exec. */
void rk_unwrap(rk_script *script, size_t command);

/* ---- Reading one simple command (args.c) ------------------------------------------------- */

typedef struct rk_view {
  const rk_script *script;
  size_t index;            /* the command's index */
  const rk_command *command;
  const rk_word *argv;     /* from the program on */
  size_t argc;
  char program[RK_PROGRAM_MAX]; /* argv[0]'s basename; "" when computed at run time */
} rk_view;

/* False when the command has no program (only assignments, or a keyword). */
bool rk_view_of(const rk_script *script, size_t command, rk_view *view);
/* Whether `name` is in a NULL-terminated list; an entry ending in '*' matches a prefix. */
bool rk_name_in(const char *name, const char *const *list);
/* The same for a name of `len` bytes, matched exactly. */
bool rk_name_in_n(const char *name, size_t len, const char *const *list);
bool rk_word_is(const rk_word *word, const char *text);
bool rk_word_in(const rk_word *word, const char *const *list);
/* Whether a word is a short-option group ("-uf") holding `letter`. */
bool rk_short_has(const rk_word *word, char letter);
/* Whether an argument from `from` up to "--" is -<letter> (in a group) or --<name>[=...];
 * either may be 0/NULL. */
bool rk_has_option(const rk_view *view, size_t from, char letter, const char *name);

/* One argument at a time: a non-option (value = the word) or an option (value = its value, if
 * the option takes one, from "--name=value", "-xVALUE" or the next word). */
typedef struct rk_arg {
  size_t index; /* into argv */
  bool option;
  const char *value;
  size_t value_len;
  char letter;        /* the short option that took the value, or 0 */
  const char *name;   /* the long option's name without "--" (not NUL-terminated), or NULL */
  size_t name_len;
} rk_arg;

typedef struct rk_args {
  const rk_view *view;
  size_t next;
  const char *short_values;        /* short options that take a value: "tS" */
  const char *const *long_values;  /* long ones, without "--"; NULL-terminated; may be NULL */
  bool rest; /* past "--": all non-options */
} rk_args;

void rk_args_begin(rk_args *args, const rk_view *view, size_t from, const char *short_values,
                   const char *const *long_values);
bool rk_args_next(rk_args *args, rk_arg *arg);
bool rk_arg_named(const rk_arg *arg, char letter, const char *name);
/* The index of the n-th (0-based) non-option argument from `from`, or view->argc. */
size_t rk_nth_operand(const rk_view *view, size_t from, size_t n, const char *short_values,
                      const char *const *long_values);
/* Whether one of the first `limit` operands is in `verbs`: "uv pip install", "yarn npm publish",
 * "kubectl -n prod apply" (an option's value may stand among them, which only widens a match). */
bool rk_verb_among_operands(const rk_view *view, const char *const *verbs, size_t limit);
/* git's subcommand, past -C dir, -c key=value and the other global options; argc if none. */
size_t rk_git_subcommand(const rk_view *view);
/* The command's words from `from` joined by spaces, then its redirects (" > file"), cut to fit
 * `cap` (with "..."): the subject of a reason. */
size_t rk_command_text(const rk_script *script, size_t command, size_t from, char *out,
                       size_t cap);
/* The same, whole, in a malloc'd string (NULL when out of memory). */
char *rk_command_join(const rk_script *script, size_t command, size_t from);

/* ---- Network (hosts.c) ------------------------------------------------------------------- */

/* Whom a command talks to: judged host by host against loopback and allowed_hosts. */
typedef struct rk_egress {
  bool egress;    /* reaches a host that is neither loopback nor allowed, or an unknown one */
  char host[RK_HOST_MAX]; /* the first such host; "" when unknown */
} rk_egress;

void rk_egress_host(const rk_config *config, rk_egress *egress, const char *host, size_t len);
void rk_egress_unknown(rk_egress *egress);
/* Takes the host of a URL ("scheme://[user@]host[:port]/..."); false when `text` is none. */
bool rk_url_host(const char *text, size_t len, const char **host, size_t *host_len);
/* Every http(s):// URL in free text (a web_fetch prompt); false when there is none. */
bool rk_egress_urls_in(const rk_config *config, rk_egress *egress, const char *text, size_t len);
/* What a simple command reaches: curl, ssh, git fetch, npm install... */
void rk_command_egress(const rk_config *config, const rk_view *view, rk_egress *egress);

/* ---- Rules (command_rules.c, read_only.c, command_line.c, actions.c) --------------------- */

extern const char *const rk_shells[];       /* sh, bash, zsh... */
extern const char *const rk_interpreters[]; /* python, perl, node... */
extern const char *const rk_downloaders[];  /* curl, wget... */

/* Notes every rule one simple command matches (all but pipe_to_shell, which needs the whole
 * line, and the extra rules). */
void rk_match_command(rk_context *context, const rk_view *view, const char *subject, size_t subject_len);
/* Judges a redirect target (> file). */
void rk_match_written_word(rk_context *context, const rk_word *word, const char *subject, size_t subject_len);
/* Whether an interpreter reads its program from stdin: `sh`, `bash -s`, `python -`, not `sh x.sh`. */
bool rk_reads_program_from_stdin(const rk_view *view);
/* Whether a simple command leaves everything as it was (ls, cat, git status...); `line` is its
 * text from the program on, for the configured read_only_commands. */
bool rk_command_read_only(const rk_config *config, const rk_view *view, const char *line);

/* Judges a shell command line. */
rh_status rk_judge_command_line(rk_context *context, const char *text, size_t len);
/* Judges one path an action writes (a file tool's path, a patch's file). */
void rk_judge_written_path(rk_context *context, const char *path, size_t len, const char *subject,
                           size_t subject_len);
/* Matches the operator's extra rules' command globs against one text. */
void rk_judge_extra_commands(rk_context *context, const char *text, const char *subject,
                             size_t subject_len);
/* Judges one action: {"kind","name","input"}. */
rh_status rk_judge_action(rk_context *context, rh_str action);

/* ASCII lower-case copy of at most cap-1 bytes; returns the length copied. */
size_t rk_lower(const char *text, size_t len, char *out, size_t cap);

#endif /* RISKY_ACTIONS_RISKY_H */
