/* acp.h — what the acp adapter's files share: the session, and the client side of the Agent
 * Client Protocol (v1) the adapter speaks with the agent.
 *
 *   acp.c        the plugin: options (command, env, mode), launch, respond (permission answers)
 *   acp_lines.c  one JSON-RPC line from the agent: responses to our requests, session/update
 *                notifications -> unified events, the agent's requests (permission, fs/...)
 *   acp_terminal.c  terminal/...: processes in the run's device (the host's runhost.processes/1)
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

#define ACP_TERMINALS_MAX 16 /* terminals not yet released at once */
#define ACP_WAITERS_MAX 8     /* terminal/wait_for_exit requests pending on one terminal */
#define ACP_TERMINAL_OUTPUT_DEFAULT ((size_t)1 << 20) /* output kept without outputByteLimit, and at most */

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

/* A terminal the agent created (acp_terminal.c): a process in the run's device. */
typedef struct acp_terminal {
  struct rh_runtime_session *session;
  uint64_t process;            /* the host's id; 0: a free slot */
  unsigned number;             /* terminalId "term-<number>" */
  rh_json_buffer output;       /* the last output_limit bytes it wrote */
  size_t output_limit;
  rh_json_buffer line[2];      /* a partial stdout / stderr line, for command.output */
  bool truncated, exited, released, has_code;
  int32_t exit_code;           /* when exited: the code (128 + signal when killed) */
  int32_t signal;              /* when killed by one */
  char *waiters[ACP_WAITERS_MAX]; /* terminal/wait_for_exit ids (raw JSON) to answer at exit */
  size_t waiting;
  char tool_call_id[160];      /* the tool call whose content names it, once known */
  /* Lines written before the agent named the terminal in a tool call (it creates the terminal
   * first, and a quick command's output races its tool_call): held, then emitted with the call's
   * id once linked, or without when the terminal is released or the turn ends. Records of
   * [stream, has_code, truncated, length (4 bytes)] + text; at most ACP_HELD_MAX bytes. */
  rh_json_buffer held;
  bool unlinked;               /* gave up waiting for a link: lines go out as they come */
} acp_terminal;
#define ACP_HELD_MAX ((size_t)256 << 10)

struct rh_runtime_session {
  rhk_session kit; /* first: the kit's line callbacks get &session->kit */

  /* Options (acp.c). */
  char *mode;         /* config "mode": session/set_mode after the session opens */
  bool fs;            /* config "fs" (default false): offer fs/... (served inside the run's directory) */
  bool terminal;      /* config "terminal" (default true): offer terminal/... where the device can */
  const char *name;   /* "ACP agent", or the preset's name */

  /* Protocol state (acp_lines.c). */
  acp_phase phase;
  bool load_session;      /* the agent can session/load (initialize's agentCapabilities) */
  bool serve_fs;          /* we offered fs/...: the run's directory is on this machine */
  bool serve_terminal;    /* we offered terminal/...: the host runs processes in the run's device */
  const rh_processes_ext *processes; /* the host's "runhost.processes/1", or NULL */
  acp_terminal terminals[ACP_TERMINALS_MAX];
  unsigned terminal_count; /* terminals created so far: the next one's number */
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
/* The run is being cancelled: session/cancel, and every permission request still open answered
 * {outcome: cancelled}, as ACP asks of a client. The agent then answers the prompt (stopReason
 * cancelled) and exits; the host stops it otherwise. */
void acp_cancel(rh_runtime_session *s);
/* Answers one of the agent's requests (`id`: raw JSON) with a result (raw JSON) or an error. */
rh_status acp_answer_result(rh_runtime_session *s, rh_str id, rh_str result);
rh_status acp_answer_error(rh_runtime_session *s, rh_str id, int code, const char *message);

/* terminal/... (acp_terminal.c). init: before anything else; offered: whether initialize offers
 * them (config "terminal" and a host and device that can run them); request: one terminal/...
 * request; link: a tool call's content names a terminal, whose output is then that call's;
 * free: at close. */
void acp_terminals_init(rh_runtime_session *s);
bool acp_terminals_offered(rh_runtime_session *s);
rh_status acp_terminal_request(rh_runtime_session *s, const char *method, rh_str id, rh_str params);
void acp_terminal_link(rh_runtime_session *s, rh_str terminal_id, const char *call_id);
/* Every terminal's held lines out now, without a tool call (the turn is over). */
void acp_terminals_flush(rh_runtime_session *s);
void acp_terminals_free(rh_runtime_session *s);

#endif /* RUNHOST_ACP_H */
