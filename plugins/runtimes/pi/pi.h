/* pi.h — what the pi adapter's files share: the session and the line mapper.
 *
 *   pi.c        the plugin: options, launch (pi --mode json -p, the prompt on stdin)
 *   pi_lines.c  one `pi --mode json` line -> unified events; the ending pi never says with its
 *               exit code (always 0) read from its lines
 *
 * docs/runtimes/pi.md has the tables.
 */
#ifndef RUNHOST_PI_H
#define RUNHOST_PI_H

#include "adapter_kit.h"

struct rh_runtime_session {
  rhk_session kit; /* first: the kit's line callbacks get &session->kit */

  /* Options (pi.c). */
  char *provider;     /* config "provider" */
  char *model;        /* config "model" */
  char *thinking;     /* config "thinking": off, minimal, low, medium, high, xhigh */
  bool offline;       /* config "offline" (default true): --offline, no startup network traffic */
  char *tools;        /* --tools LIST when the policy narrows pi's tools; "" for --no-tools */

  /* Per run, from the output (pi_lines.c). */
  rh_json_buffer reply;  /* the last assistant message's text: run.completed's result */
  bool has_reply;
  bool last_failed;      /* the last assistant message ended with stopReason "error" */
  rh_json_buffer text;   /* decoded text: tool results, errors */
  rh_json_buffer extra;  /* members for a held outcome */
};

rh_status pi_on_stdout_line(rhk_session *kit, const char *line, size_t len, bool truncated);

#endif /* RUNHOST_PI_H */
