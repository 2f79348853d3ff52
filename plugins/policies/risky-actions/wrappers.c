/* wrappers.c — finds the program a simple command runs, and the scripts it hands to a shell.
 *
 * `sudo -u root env FOO=1 nice -n 5 rm -rf x` runs rm: leading assignments, shell keywords
 * (if, then, do, !, {...) and wrappers with their options are skipped, and a privilege wrapper
 * (sudo, doas, pkexec, run0) is remembered for the sudo rule. Then what the program runs as a
 * script is queued to be read like the command line itself: the script of sh -c (and bash,
 * zsh...), su -c, eval's arguments, env -S, watch's command, a heredoc fed to a shell, and
 * find -exec's command (a new simple command built from find's own words).
 */
#include "risky.h"

#include <string.h>

enum {
  WRAP_PRIVILEGE = 1,   /* runs the program as another user */
  WRAP_ASSIGNMENTS = 2, /* takes NAME=value words before the program */
  WRAP_POSITIONAL = 4,  /* takes one operand before the program (timeout's duration) */
  WRAP_QUERY = 8        /* -v/-V ask about the program instead of running it (command -v) */
};

typedef struct wrapper {
  const char *name;
  const char *short_values;
  const char *const *long_values;
  unsigned flags;
} wrapper;

static const char *const k_sudo_long[] = {"user", "group", "prompt", "close-from", "chdir", "role",
                                          "type", "other-user", "command-timeout", "host", NULL};
static const char *const k_env_long[] = {"unset", "chdir", "split-string", NULL};
static const char *const k_xargs_long[] = {"max-args", "max-lines", "max-procs", "max-chars", "delimiter",
                                           "arg-file", "eof", "process-slot-var", NULL};

static const wrapper k_wrappers[] = {
    {"sudo", "ugpCDrtUTR", k_sudo_long, WRAP_PRIVILEGE | WRAP_ASSIGNMENTS},
    {"doas", "uC", NULL, WRAP_PRIVILEGE},
    {"pkexec", "", RK_LIST("user"), WRAP_PRIVILEGE},
    {"run0", "uDg", RK_LIST("user", "group", "chdir", "setenv", "unit"), WRAP_PRIVILEGE},
    {"env", "uCS", k_env_long, WRAP_ASSIGNMENTS},
    {"nice", "n", RK_LIST("adjustment"), 0},
    {"ionice", "cnpPu", RK_LIST("class", "classdata", "pid", "pgid", "uid"), 0},
    {"timeout", "sk", RK_LIST("signal", "kill-after"), WRAP_POSITIONAL},
    {"stdbuf", "ioe", RK_LIST("input", "output", "error"), 0},
    {"nohup", "", NULL, 0},
    {"setsid", "", NULL, 0},
    {"time", "fo", RK_LIST("format", "output"), 0},
    {"command", "", NULL, WRAP_QUERY},
    {"builtin", "", NULL, 0},
    {"exec", "a", NULL, 0},
    {"xargs", "IEnLPsda", k_xargs_long, 0},
    {"chroot", "", RK_LIST("userspec", "groups"), WRAP_POSITIONAL},
    {"caffeinate", "tw", NULL, 0},
};

/* Keywords that may stand before a command (if x; then rm y; fi). */
static const char *const k_keywords[] = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until",
                                         "!", "{", "}", "esac", "coproc", NULL};
/* Words that open a header with no command in it (for x in a b; case $x in). */
static const char *const k_headers[] = {"for", "case", "select", "function", "in", NULL};

static bool is_assignment(const rk_word *word) {
  const char *eq = (const char *)memchr(word->text, '=', word->len), *p;
  if (!eq || eq == word->text) return false;
  for (p = word->text; p < eq; p++) {
    char c = *p;
    bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(p > word->text && ((c >= '0' && c <= '9') || (c == '+' && p + 1 == eq)))) return false;
  }
  return true;
}

static const char *basename_of(const rk_word *word) {
  const char *slash = strrchr(word->text, '/');
  return slash ? slash + 1 : word->text;
}

static const wrapper *find_wrapper(const char *name) {
  size_t i;
  for (i = 0; i < sizeof k_wrappers / sizeof k_wrappers[0]; i++)
    if (strcmp(k_wrappers[i].name, name) == 0) return &k_wrappers[i];
  return NULL;
}

static void queue_script(rk_script *script, size_t command, size_t word, const char *text, size_t len) {
  rk_command *c = &script->commands[command];
  if (rk_script_enqueue(script, text, len, command, word, RK_ORIGIN_SCRIPT, c->depth + 1))
    c->flags |= RK_CMD_TRANSPARENT;
}

/* Past a wrapper at words[i] and its options; returns where its program starts (or n). */
static size_t skip_wrapper(rk_script *script, size_t command, const wrapper *w, size_t i) {
  const rk_command *c = &script->commands[command];
  const rk_word *words = &script->words[c->first_word];
  size_t n = c->word_count;
  rk_view view;
  rk_args args;
  rk_arg arg;
  memset(&view, 0, sizeof view);
  view.script = script;
  view.argv = words;
  view.argc = n;
  rk_args_begin(&args, &view, i + 1, w->short_values, w->long_values);
  i = n;
  while (rk_args_next(&args, &arg)) {
    if (!arg.option) {
      i = arg.index;
      break;
    }
    if ((w->flags & WRAP_QUERY) && (rk_short_has(&words[arg.index], 'v') || rk_short_has(&words[arg.index], 'V')))
      return n; /* command -v rm: only asks where rm is */
    if (strcmp(w->name, "env") == 0 && arg.value && rk_arg_named(&arg, 'S', "split-string"))
      queue_script(script, command, arg.index, arg.value, arg.value_len);
  }
  if (w->flags & WRAP_ASSIGNMENTS)
    while (i < n && is_assignment(&words[i])) i++;
  if ((w->flags & WRAP_POSITIONAL) && i < n) i++;
  return i;
}

/* Joins the words of command `holder` from `from` with spaces in the arena, as a script run by
 * `command`: eval's and watch's arguments, echo's piped into a shell. */
static void queue_joined(rk_script *script, size_t command, size_t holder, size_t from) {
  const rk_command *c = &script->commands[holder];
  const rk_word *words = &script->words[c->first_word];
  size_t i, len = 0;
  char *text, *at;
  if (from >= c->word_count) return;
  for (i = from; i < c->word_count; i++) len += words[i].len + 1;
  if (!(text = rk_arena_alloc(script, len))) return;
  for (at = text, i = from; i < c->word_count; i++) {
    memcpy(at, words[i].text, words[i].len);
    at += words[i].len;
    *at++ = ' ';
  }
  queue_script(script, command, command == holder ? from : RK_NO_WORD, text, len - 1);
}

/* echo 'rm -rf x' | sh and cat <<EOF | sh: the text piped in is the shell's script. */
static void piped_script(rk_script *script, size_t command) {
  const rk_command *before;
  rk_view feeder;
  if (command == 0) return;
  before = &script->commands[command - 1];
  if (before->pipeline != script->commands[command].pipeline || !rk_view_of(script, command - 1, &feeder)) return;
  if (rk_name_in(feeder.program, RK_LIST("echo", "printf")))
    queue_joined(script, command, command - 1, before->program + 1);
  else if (strcmp(feeder.program, "cat") == 0 && before->heredoc)
    queue_script(script, command, RK_NO_WORD, before->heredoc, before->heredoc_len);
}

/* sh -c 'script', bash -lc 'script', and a shell reading a heredoc or a pipe. */
static void shell_script(rk_script *script, size_t command, const rk_view *view) {
  rk_args args;
  rk_arg arg;
  bool dash_c = false;
  rk_args_begin(&args, view, 1, "oO", NULL);
  while (rk_args_next(&args, &arg)) {
    if (arg.option) {
      dash_c = dash_c || rk_short_has(&view->argv[arg.index], 'c') || rk_arg_named(&arg, 0, "command");
      continue;
    }
    if (dash_c) queue_script(script, command, view->command->program + arg.index, arg.value, arg.value_len);
    return; /* a script file, or -c's script */
  }
  if (view->command->heredoc)
    queue_script(script, command, RK_NO_WORD, view->command->heredoc, view->command->heredoc_len);
  else
    piped_script(script, command);
}

/* find ... -exec cmd {} ; becomes a simple command of its own. */
static void find_exec(rk_script *script, size_t command) {
  static const char *const exec_flags[] = {"-exec", "-execdir", "-ok", "-okdir", NULL};
  size_t i = 0, j, derived;
  while (!script->overflow) {
    const rk_command *c = &script->commands[command];
    rk_source source;
    for (; i < c->word_count && !rk_word_in(&script->words[c->first_word + i], exec_flags); i++) {}
    if (++i >= c->word_count) return;
    source.text = NULL;
    source.len = 0;
    source.parent = command;
    source.parent_word = i - 1;
    source.origin = RK_ORIGIN_SCRIPT;
    source.depth = c->depth + 1;
    if (source.depth > RK_MAX_DEPTH) {
      rk_script_overflow(script, "scripts are nested too deep to read");
      return;
    }
    if ((derived = rk_script_new_command(script, &source, script->next_pipeline++)) == RK_NO_WORD) return;
    for (j = i; j < script->commands[command].word_count; j++, i++) {
      rk_word word = script->words[script->commands[command].first_word + j];
      if (rk_word_is(&word, ";") || rk_word_is(&word, "+")) break;
      if (!rk_script_push_word(script, derived, word)) return;
    }
  }
}

static void queue_scripts(rk_script *script, size_t command) {
  rk_view view;
  rk_args args;
  rk_arg arg;
  if (!rk_view_of(script, command, &view)) return;
  if (rk_name_in(view.program, rk_shells)) {
    shell_script(script, command, &view);
  } else if (strcmp(view.program, "su") == 0) {
    for (rk_args_begin(&args, &view, 1, "cgGsw", RK_LIST("command")); rk_args_next(&args, &arg);)
      if (arg.value && rk_arg_named(&arg, 'c', "command"))
        queue_script(script, command, view.command->program + arg.index, arg.value, arg.value_len);
  } else if (strcmp(view.program, "eval") == 0) {
    queue_joined(script, command, command, view.command->program + 1);
  } else if (strcmp(view.program, "watch") == 0) {
    size_t first = rk_nth_operand(&view, 1, 0, "nd", RK_LIST("interval"));
    queue_joined(script, command, command, view.command->program + first);
  } else if (strcmp(view.program, "find") == 0) {
    find_exec(script, command);
  }
}

void rk_unwrap(rk_script *script, size_t command) {
  rk_command *c = &script->commands[command];
  const rk_word *words = &script->words[c->first_word];
  size_t n = c->word_count, i = 0;
  while (i < n) {
    const wrapper *w;
    if (is_assignment(&words[i]) || rk_word_in(&words[i], k_keywords)) {
      i++;
      continue;
    }
    if (rk_word_in(&words[i], k_headers)) {
      i = n;
      break;
    }
    if ((words[i].flags & RK_WORD_DYNAMIC) || !(w = find_wrapper(basename_of(&words[i])))) break;
    if ((w->flags & WRAP_PRIVILEGE) && c->privileged == RK_NO_WORD) c->privileged = i;
    i = skip_wrapper(script, command, w, i);
    c = &script->commands[command]; /* env -S may have grown the queue, never the commands */
  }
  c->program = i < n ? i : n;
  queue_scripts(script, command);
}
