/* codex.h — what the codex adapter's files share: the session, the options read from the config
 * and the constraints, the line mapper and the failure classifier.
 *
 *   codex.c          the plugin: create, launch, feed, finish
 *   codex_options.c  config keys and policy constraints -> the CLI's flags
 *   codex_lines.c    one `codex exec --json` line -> unified events
 *   codex_errors.c   codex's error wording -> a typed failure
 *
 * docs/runtimes/codex.md has the tables.
 */
#ifndef RUNHOST_CODEX_H
#define RUNHOST_CODEX_H

#include "adapter_kit.h"

#define CODEX_MAX_MCP_SERVERS 32
#define CODEX_ID_MAX 160    /* item and thread ids we read; longer ones are cut */
#define CODEX_ERROR_MAX 1024 /* the last error codex reported, kept for the ending */

typedef enum codex_sandbox {
  CODEX_SANDBOX_READ_ONLY = 0,
  CODEX_SANDBOX_WORKSPACE_WRITE = 1,
  CODEX_SANDBOX_FULL_ACCESS = 2
} codex_sandbox;

/* What the launch turns into flags (codex_options.c). */
typedef struct codex_options {
  char *model;                /* config "model" */
  char *usage_source;         /* config "usage_source", else "openai" */
  codex_sandbox sandbox;      /* the tightest of config, constraints and denied file tools */
  bool skip_git_repo_check;   /* config "skip_git_repo_check" (default true) */
  bool network_access;        /* workspace-write may reach the network (config, only when allowed) */
  bool network_denied;        /* the policy limits the network: say so to codex explicitly */
  bool disable_shell;         /* --disable shell_tool */
  bool disable_web_search;    /* -c web_search="disabled" */
  char *mcp_servers[CODEX_MAX_MCP_SERVERS]; /* config "mcp_servers": the servers codex has */
  bool mcp_disabled[CODEX_MAX_MCP_SERVERS]; /* -c mcp_servers.<name>.enabled=false */
  size_t mcp_count;
} codex_options;

struct rh_runtime_session {
  rhk_session kit; /* first: the kit's line callbacks get &session->kit */
  codex_options options;

  /* Per run, from the output. */
  rh_json_buffer final_message;  /* the last agent_message of the turn: run.completed's result */
  bool has_final_message;
  char last_error[CODEX_ERROR_MAX]; /* the last error codex printed (stdout "error", stderr "Error:") */
  rh_json_buffer last_error_line;   /* the line it came from, for raw */
  rh_stream last_error_stream;

  /* The to-do list is one item codex keeps updating: each new state is one call of its plan
   * tool, numbered after the item's id. */
  char todo_id[CODEX_ID_MAX];
  unsigned todo_states;
  uint64_t todo_hash;            /* of the last state's items, to skip a repeat */

  rh_json_buffer extra;          /* members for rhk_set_extra (one line's context) */
  rh_json_buffer terminal;       /* members for the terminal payload (rhk_hold_*) */
  rh_json_buffer text;           /* decoded text: errors, command output */
  rh_json_buffer build;          /* JSON built for payloads: inputs, outputs */
};

/* ---- codex_options.c ----------------------------------------------------------------------- */

/* Reads config and constraints into s->options; fails create() on what cannot be honoured. */
rh_status codex_read_options(rh_runtime_session *s);
void codex_free_options(codex_options *o);
/* Appends the flags the options imply (after "exec --json"). */
rh_status codex_add_option_flags(rh_runtime_session *s, rhk_argv *argv);
const char *codex_sandbox_name(codex_sandbox sandbox);

/* ---- codex_lines.c ------------------------------------------------------------------------- */

rh_status codex_on_stdout_line(rhk_session *kit, const char *line, size_t len, bool truncated);
rh_status codex_on_stderr_line(rhk_session *kit, const char *line, size_t len, bool truncated);
/* Holds run.failed for finish(): `message` typed by its wording (codex_errors.c; `fallback` when
 * nothing in it is recognised), with the HTTP status it names as "api_status". */
rh_status codex_hold_failure(rh_runtime_session *s, rh_str message, rhk_failure_kind fallback, rh_str raw);
/* Remembers `message` as the last error codex reported (cut to fit). */
void codex_remember_error(rh_runtime_session *s, rh_str message, rh_stream stream, rh_str line);

/* ---- codex_errors.c ------------------------------------------------------------------------ */

/* The failure codex's error wording implies. `fallback` when nothing in it is recognised; the
 * HTTP status it names, when it names one, goes to *http_status (else 0). */
rhk_failure codex_classify_error(rh_str message, rhk_failure_kind fallback, int64_t *http_status);

#endif /* RUNHOST_CODEX_H */
