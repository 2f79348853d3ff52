/* acp.h — what the acp adapter's files share: the session, and the client side of the Agent
 * Client Protocol (v1) the adapter speaks with the agent.
 *
 *   acp.c        the plugin: options (command, env, mode), launch, respond (permission answers)
 *   acp_lines.c  one JSON-RPC line from the agent: responses to our requests, session/update
 *                notifications -> unified events, the agent's requests (permission, fs/...)
 *
 * docs/runtimes/acp.md has the tables.
 */
#ifndef RUNHOST_ACP_H
#define RUNHOST_ACP_H

#include "adapter_kit.h"

#define ACP_PROTOCOL_VERSION 1
#define ACP_PENDING_MAX 32   /* permission requests awaiting the host's answer at once */
#define ACP_OPTION_ID_MAX 128
#define ACP_FILE_LIMIT ((size_t)16 << 20) /* fs/read_text_file answers at most this much */

/* Our requests to the agent, by JSON-RPC id. */
enum { ACP_ID_INITIALIZE = 1, ACP_ID_SESSION = 2, ACP_ID_SET_MODE = 3, ACP_ID_PROMPT = 4 };

typedef enum acp_phase {
  ACP_INITIALIZING = 0, /* initialize sent */
  ACP_OPENING,          /* session/new or session/load sent */
  ACP_SETTING_MODE,     /* session/set_mode sent */
  ACP_PROMPTING,        /* session/prompt sent: updates flow */
  ACP_DONE              /* the prompt answered (or failed): stdin closed */
} acp_phase;

/* A session/request_permission the host is deciding: its JSON-RPC id (raw JSON) and the options
 * the agent offered, by kind. */
typedef struct acp_pending {
  char *rpc_id; /* NULL: free slot */
  char allow_once[ACP_OPTION_ID_MAX], allow_always[ACP_OPTION_ID_MAX];
  char reject_once[ACP_OPTION_ID_MAX], reject_always[ACP_OPTION_ID_MAX];
} acp_pending;

struct rh_runtime_session {
  rhk_session kit; /* first: the kit's line callbacks get &session->kit */

  /* Options (acp.c). */
  char *mode;         /* config "mode": session/set_mode after the session opens */
  bool fs;            /* config "fs" (default false): offer fs/... (served inside the run's directory) */
  const char *name;   /* "ACP agent", or the preset's name */

  /* Protocol state (acp_lines.c). */
  acp_phase phase;
  bool load_session;      /* the agent can session/load (initialize's agentCapabilities) */
  bool serve_fs;          /* we offered fs/...: the run's directory is on this machine */
  char session_id[256];
  char agent[140];        /* initialize's agentInfo: "name version" */
  acp_pending pending[ACP_PENDING_MAX];
  rh_json_buffer reply;   /* the agent's message text of this prompt: run.completed's result */
  double last_cost;       /* usage_update's cumulative cost so far (USD), to report deltas */
  rh_json_buffer out;     /* a message for the agent */
  rh_json_buffer text;    /* decoded text */
  rh_json_buffer extra;   /* members for a held outcome */
};

rh_status acp_on_stdout_line(rhk_session *kit, const char *line, size_t len, bool truncated);
/* The first request, written as the launch spec's stdin. */
rh_status acp_write_initialize(rh_runtime_session *s, rh_json_buffer *out);
/* The host's answer to a permission request, as the JSON-RPC response for the agent. */
rh_status acp_answer_permission(rh_runtime_session *s, rh_str decision_json, const rh_writer *out);

#endif /* RUNHOST_ACP_H */
