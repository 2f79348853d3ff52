/* opencode.h — what the opencode adapter's files share: the session, the options read from the
 * config and the constraints, the line mapper and the ending.
 *
 *   opencode.c          the plugin: create, launch, feed, finish
 *   opencode_options.c  config keys and policy constraints -> argv and environment
 *   opencode_lines.c    one `opencode run --format json` line -> unified events
 *   opencode_ending.c   error lines -> typed failures; how the run ended, decided at exit
 *
 * docs/runtimes/opencode.md has the tables.
 */
#ifndef RUNHOST_OPENCODE_H
#define RUNHOST_OPENCODE_H

#include "adapter_kit.h"

#define OPENCODE_REASON_MAX 32   /* a step_finish reason we keep ("stop", "tool-calls"...) */
#define OPENCODE_NOTE_MAX 512    /* a permission the CLI rejected, as its stderr names it */

/* What the launch turns into flags and environment (opencode_options.c). */
typedef struct opencode_options {
  char *model;          /* config "model": "provider/model" -> --model= */
  char *agent;          /* config "agent" -> --agent= (also the agent max_turns is set on) */
  char *variant;        /* config "variant" -> --variant= */
  char *usage_source;   /* usage's source: config "usage_source", else the model's provider, else "opencode" */
  bool thinking;        /* config "thinking" (default true) -> --thinking: reasoning lines */
  bool auto_approve;    /* permission_mode "auto" -> --auto: approve what no rule denies */
  int64_t max_turns;    /* the smaller of config and constraint "max_turns"; -1 none */
  char *config_file;    /* config "config_file" -> OPENCODE_CONFIG */
  char *config_content; /* config "config" and max_turns -> OPENCODE_CONFIG_CONTENT; NULL none */
  char *permission;     /* the constraints -> OPENCODE_PERMISSION; NULL none */
} opencode_options;

struct rh_runtime_session {
  rhk_session kit; /* first: the kit's line callbacks get &session->kit */
  opencode_options options;

  /* What the output said so far (opencode_lines.c), for the ending (opencode_ending.c). */
  int64_t steps;                        /* step_start lines: model calls of this run */
  bool step_open;                       /* a step_start without its step_finish yet */
  bool step_finished;                   /* some step_finish was seen */
  char reason[OPENCODE_REASON_MAX];     /* the last step_finish's reason */
  bool step_refused;                    /* a tool of the current step was refused by a permission */
  bool error_seen;                      /* an error line came: the first one is the run's failure */
  rhk_failure error_failure;            /* its failure kind, typed */
  int64_t api_status;                   /* its HTTP status, or 0 */
  rh_json_buffer error_message;         /* its message for people */
  rh_json_buffer error_line;            /* the line, as the terminal event's raw */
  char rejected[OPENCODE_NOTE_MAX];     /* stderr's "permission requested: X; auto-rejecting" */
  rh_json_buffer result;                /* the last text of the current step: run.completed's result */
  bool has_result;

  rh_json_buffer extra;    /* members for the terminal payload (rhk_hold_*) */
  rh_json_buffer text;     /* decoded text: command output, errors, paths */
  rh_json_buffer build;    /* a second decoded text: an error's response body, a moved file's old path */
};

/* ---- opencode_options.c -------------------------------------------------------------------- */

/* Reads config and constraints into s->options; fails create() on what cannot be honoured. */
rh_status opencode_read_options(rh_runtime_session *s);
void opencode_free_options(opencode_options *o);
/* Appends the flags the options imply (after "run --format=json"). */
rh_status opencode_add_option_flags(rh_runtime_session *s, rhk_argv *argv);
/* The environment the options imply, as name/value pairs for rhk_launch_write: at most 4 pairs
 * (8 strings) into `pairs`; returns how many pairs. */
size_t opencode_option_env(const rh_runtime_session *s, const char **pairs);

/* ---- opencode_lines.c ---------------------------------------------------------------------- */

rh_status opencode_on_stdout_line(rhk_session *kit, const char *line, size_t len, bool truncated);
rh_status opencode_on_stderr_line(rhk_session *kit, const char *line, size_t len, bool truncated);

/* ---- opencode_ending.c --------------------------------------------------------------------- */

/* An error line's {name, data}: the first one is kept as the run's failure; later ones become
 * system messages. */
rh_status opencode_map_error(rh_runtime_session *s, rh_str error, rh_str raw);
/* The process ended and every line was mapped: holds the outcome the output and the exit imply,
 * for rhk_finish (which still puts a cancellation or a timeout first). */
rh_status opencode_decide(rh_runtime_session *s, const rh_exit *exit);

#endif /* RUNHOST_OPENCODE_H */
