/* claude_code.h — what the claude-code adapter's two files share: the session and the line
 * mapper. claude_code.c is the plugin (create, launch, feed, finish); claude_lines.c maps each
 * stream-json line of `claude -p --output-format stream-json --verbose` onto unified events
 * (docs/runtimes/claude-code.md has the table).
 */
#ifndef RUNHOST_CLAUDE_CODE_H
#define RUNHOST_CLAUDE_CODE_H

#include "adapter_kit.h"

#define CLAUDE_ID_MAX 128 /* message ids we remember; longer ones are not ids we know */

struct rh_runtime_session {
  rhk_session kit; /* first: the kit's line callbacks get &session->kit */

  /* Options, from the config and the constraints (claude_code.c). */
  char *model;                /* config "model" */
  int64_t max_turns;          /* the smaller of config and constraint "max_turns"; -1 none */
  double max_budget_usd;      /* the smaller of config and constraint "max_budget_usd"; -1 none */
  char *permission_mode;      /* constraint, else config "permission_mode" */
  bool partial_messages;      /* config "partial_messages": --include-partial-messages */
  bool live;                  /* asks through the host (--permission-prompt-tool stdio, stdin kept
                                 open and closed after the result): the host can write to stdin */
  bool stdin_closed;          /* live: stdin was closed after the result */
  char *usage_model;          /* the model init named, for a usage event without modelUsage */

  /* Streaming (--include-partial-messages): the message whose text arrived as deltas is not
   * emitted again whole; the first delta of each block starts a new message. */
  char stream_message_id[CLAUDE_ID_MAX + 1]; /* the message being streamed */
  char streamed_message_id[CLAUDE_ID_MAX + 1]; /* the last message some text was streamed of */
  bool block_fresh;           /* no delta of the current block yet */

  /* The last model API error an assistant line reported ("authentication_failed", ...). */
  char api_error[48];

  rh_json_buffer extra;       /* members for rhk_set_extra (one line's context) */
  rh_json_buffer terminal;    /* members for the terminal payload (rhk_hold_*) */
  rh_json_buffer text;        /* decoded text: command output, messages */
  rh_json_buffer output;      /* a tool's output as JSON */
};

/* The answer to a permission request (rh_runtime_adapter.respond), as a control_response line. */
rh_status claude_respond(rh_runtime_session *s, rh_str decision_json, const rh_writer *input_out);

/* The stdout line function (rhk_runtime_info.on_stdout_line). */
rh_status claude_on_stdout_line(rhk_session *kit, const char *line, size_t len, bool truncated);

#endif /* RUNHOST_CLAUDE_CODE_H */
