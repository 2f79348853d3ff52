/* gemini_cli.h — what the gemini-cli adapter's two files share: the session and the line mapper.
 * gemini_cli.c is the plugin (create, launch, feed, finish); gemini_lines.c maps each line of
 * `gemini --output-format stream-json` onto unified events (docs/runtimes/gemini-cli.md has the
 * table).
 */
#ifndef RUNHOST_GEMINI_CLI_H
#define RUNHOST_GEMINI_CLI_H

#include "adapter_kit.h"

#define GEMINI_REPLY_LIMIT ((size_t)1 << 20) /* run.completed's result: the last reply, cut here */
#define GEMINI_NOTE_MAX 512                  /* remembered error and stderr lines, cut here */
#define GEMINI_TRUST_HINT                                                                              \
  "Gemini CLI does not run headless in an untrusted folder: set \"trust_workspace\": true in the "     \
  "gemini-cli plugin config, or trust the folder on the device"

struct rh_runtime_session {
  rhk_session kit; /* first: the kit's line callbacks get &session->kit */

  /* Options, from the config and the constraints (gemini_cli.c). */
  char *model;               /* config "model" */
  const char *approval_mode; /* "default" | "auto_edit" | "yolo" | "plan", or NULL: the CLI's own */
  rhk_strings allowed;       /* --allowed-tools values */
  bool skip_trust;           /* config "trust_workspace" (default true): --skip-trust */

  /* Mapping state (gemini_lines.c). */
  bool in_reply;             /* the last mapped line was a piece of an assistant message */
  rh_json_buffer reply;      /* that message, decoded and cut at GEMINI_REPLY_LIMIT */
  bool reply_cut;
  char *usage_model;         /* the model init named, for a result without per-model stats */
  char last_error[GEMINI_NOTE_MAX + 1]; /* the last error line of severity "error" */
  bool api_status_unknown;   /* the held failure is a model API error that named no status */

  /* From stderr (gemini_cli.c). */
  char stderr_note[GEMINI_NOTE_MAX + 1]; /* the first stderr line that says what went wrong */
  bool resume_failed;        /* stderr said "Error resuming session" */

  rh_json_buffer extra;      /* members for rhk_set_extra (one line's context) */
  rh_json_buffer terminal;   /* members for the terminal payload (rhk_hold_*) */
  rh_json_buffer text;       /* decoded text: tool output, messages */
};

/* The stdout line function (rhk_runtime_info.on_stdout_line). */
rh_status gemini_on_stdout_line(rhk_session *kit, const char *line, size_t len, bool truncated);

/* The failure a model API error implies, from the message the CLI formats for it
 * ("[API Error: ...]"): the HTTP status or status name inside it, or its rate-limit advice.
 * *known is false when the message names neither (the exit code may, see gemini_cli.c). */
rhk_failure_kind gemini_api_failure(rh_str message, bool *known);

#endif /* RUNHOST_GEMINI_CLI_H */
