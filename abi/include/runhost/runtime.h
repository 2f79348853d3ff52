/* runhost/runtime.h — the runtime adapter interface: one agent runtime (Claude Code, Codex, a
 * custom command...) behind a uniform session.
 *
 * For each run the host creates a session, asks it how to launch the runtime (a JSON launch
 * spec: argv, env, stdin, protocol), spawns that inside the device, then feeds it every byte
 * the runtime writes. The adapter turns those bytes into unified events with host->emit().
 * When the process ends the host calls finish(), where the adapter emits run.completed, a
 * typed run.failed or run.cancelled, and then destroy().
 *
 *   create(ctx)  -> launch(spec_out) -> feed(stdout|stderr, bytes)* -> [respond(decision)]*
 *                -> [cancel()] -> finish(exit) -> destroy()
 *
 * Thread rules: every call of one session happens on the host's reactor thread, one at a time,
 * in the order above; calls for different sessions never overlap within one host, but two
 * hosts in one process may call two sessions concurrently, so library-wide state needs a lock.
 * Nothing here may block: no sleeping, no synchronous network or disk waits.
 */
#ifndef RUNHOST_RUNTIME_H
#define RUNHOST_RUNTIME_H

#include "host.h"
#include "types.h"

RH_BEGIN_DECLS

/* The adapter's own per-run state; opaque to the host. */
typedef struct rh_runtime_session rh_runtime_session;

/* What the runtime speaks on its stdio. Either way the host hands the adapter the bytes the
 * runtime writes (feed) and writes what the adapter gives it to the runtime's stdin (the launch
 * spec's "stdin", respond(), rh_host.send_input). */
typedef uint32_t rh_runtime_protocol;
enum {
  RH_PROTOCOL_LINES = 1,   /* newline-delimited text or JSON lines */
  RH_PROTOCOL_JSONRPC = 2, /* JSON-RPC 2.0 over stdio, both directions (ACP): the adapter keeps
                              stdin open and speaks with rh_host.send_input (1.2) */
  /* Reserved, not implemented by this host: a plugin declaring it is refused at load. */
  RH_PROTOCOL_HTTP = 3     /* the runtime as a service the adapter talks to over HTTP */
};

/* Capability flags; only ever appended. */
#define RH_RUNTIME_CAP_APPROVALS (UINT64_C(1) << 0)  /* asks for live approvals; has respond() */
#define RH_RUNTIME_CAP_RESUME (UINT64_C(1) << 1)     /* resumes a runtime session by id */
/* Reserved, not implemented by this host: it never sends a further prompt, so declaring it
 * changes nothing. */
#define RH_RUNTIME_CAP_MULTI_TURN (UINT64_C(1) << 2) /* would take further prompts on stdin */

/* Which output stream bytes came from. */
typedef uint32_t rh_stream;
enum { RH_STREAM_STDOUT = 1, RH_STREAM_STDERR = 2 };

/* Everything a session learns at creation. Borrowed for the create() call except `host` and
 * `run`, which stay valid until destroy() returns. */
typedef struct rh_runtime_context {
  uint32_t struct_size;     /* sizeof(rh_runtime_context) as the host knows it */
  const rh_host *host;
  rh_run *run;              /* pass to host->emit() */
  rh_str run_id;
  rh_str dispatch_json;     /* the validated DevicePromptDispatch, camelCase (docs/events.md) */
  rh_str constraints_json;  /* merged policy launch constraints; "{}" when there are none */
  rh_str config_json;       /* the operator's configuration for this plugin; "{}" if none */
  rh_str resume_id;         /* runtime-native session id to resume, or empty */
  /* Since 1.1 (check struct_size): the run's working directory on the device, absolute and
   * canonical, where the runtime starts; empty when the device has no file system of its own.
   * The dispatch's "cwd" is relative to the workspace root; this is what a runtime's absolute
   * paths are relative to. */
  rh_str cwd;
  /* Since 1.2 (check struct_size): the MCP servers the run's connectors provide, one JSON
   * object, server name -> config as MCP clients take it ({"command", "args", "env"} for stdio,
   * {"type": "http", "url", "headers"} for HTTP); "{}" when none. It never holds a secret: a
   * config names one as ${NAME}, and the runtime's environment holds NAME. Pass it to the
   * runtime the way it takes MCP servers (Claude Code: --mcp-config). */
  rh_str mcp_servers_json;
} rh_runtime_context;

/* How the runtime's process ended. */
typedef uint32_t rh_exit_kind;
enum {
  RH_EXIT_EXITED = 1,      /* returned from main: `code` is valid */
  RH_EXIT_SIGNALED = 2,    /* killed by a signal: `signal` is valid */
  RH_EXIT_LOST = 3,        /* the device lost track of it (device gone, host restarted) */
  RH_EXIT_SPAWN_FAILED = 4 /* never started; `code` holds the errno */
};

/* Why the host ended it, if it did. */
#define RH_EXIT_FLAG_CANCELLED (1u << 0)
#define RH_EXIT_FLAG_TIMED_OUT (1u << 1)
#define RH_EXIT_FLAG_OUTPUT_TRUNCATED (1u << 2) /* some output exceeded the host's limits */
/* Since 1.2: the adapter had ended the conversation (send_input with RH_INPUT_END) and the host
 * stopped a runtime that did not exit by itself. The adapter ends the run as the conversation
 * said (the kit: the outcome it holds); the signal is not the runtime's failure. */
#define RH_EXIT_FLAG_ENDED (1u << 3)

typedef struct rh_exit {
  uint32_t struct_size; /* sizeof(rh_exit) */
  rh_exit_kind kind;
  int32_t code;
  int32_t signal;
  uint32_t flags;       /* RH_EXIT_FLAG_* */
} rh_exit;

typedef struct rh_runtime_adapter {
  uint32_t struct_size;         /* sizeof(rh_runtime_adapter) */
  rh_runtime_protocol protocol;
  uint64_t capabilities;        /* RH_RUNTIME_CAP_* */

  /* Creates a session for one run. On RH_OK, *out is the session (non-NULL) and belongs to
   * the host until it passes it to destroy(). On failure *out is untouched and nothing needs
   * destroying. Reactor thread. */
  rh_status (*create)(const struct rh_runtime_adapter *self, const rh_runtime_context *ctx,
                      rh_runtime_session **out);

  /* Writes the launch spec, one JSON object, into `spec_out`:
   *   {"argv": ["claude", "-p", "..."],   required, argv[0] looked up on PATH when bare
   *    "env": {"NAME": "value"},          added to the controlled environment
   *    "stdin": "text",                   written to the runtime's stdin, then closed unless
   *    "keep_stdin_open": false,          the adapter needs it for respond()
   *    "protocol": "lines"}               optional; defaults to the adapter's protocol
   * Never a shell string: argv is executed directly. Reactor thread. */
  rh_status (*launch)(rh_runtime_session *session, const rh_writer *spec_out);

  /* Takes the next bytes the runtime wrote. `data` is borrowed for the call and may end in the
   * middle of a line or of a UTF-8 sequence; the adapter buffers what it needs, bounded (the
   * host passes RH_EXIT_FLAG_OUTPUT_TRUNCATED-worthy floods in chunks, never all at once).
   * Emits events with host->emit(). A failure here is reported as runtime.unparsed and the
   * run goes on. Reactor thread. */
  rh_status (*feed)(rh_runtime_session *session, rh_stream stream, const char *data, size_t len);

  /* Live approvals (RH_RUNTIME_CAP_APPROVALS; docs/abi.md section 8): when the runtime asks
   * before acting, the adapter emits approval.required with its own request id as
   * "approval_id", the "action" {kind, name, input, summary} and the "tool_call_id"; policies
   * decide, or a human through the host. Then, after the adapter's current call has returned,
   * the host delivers the answer here:
   *   {"request_id": "<the adapter's id>", "approval_id": "apr_...", "decision": "allow"|"deny",
   *    "reason": "...", "scope": "once"|"run", "source": "policy"|"human"|"deadline"}
   * and writes the bytes the adapter puts in `input_out` to the runtime's stdin (the launch
   * spec keeps it open). NULL unless the adapter has RH_RUNTIME_CAP_APPROVALS. Reactor thread. */
  rh_status (*respond)(rh_runtime_session *session, rh_str decision_json,
                       const rh_writer *input_out);

  /* The runtime's process has ended and every byte has been fed. Flush any buffered partial
   * line, then emit exactly one terminal event, last: run.completed, run.failed (typed, see
   * docs/events.md), or run.cancelled when exit->flags has RH_EXIT_FLAG_CANCELLED.
   * Reactor thread. */
  rh_status (*finish)(rh_runtime_session *session, const rh_exit *exit);

  /* Frees the session. Called exactly once per successful create(), also when launch or the
   * spawn failed. Reactor thread. */
  void (*destroy)(rh_runtime_session *session);

  /* Since 1.2 (the host checks struct_size; NULL: not offered): the run is being cancelled
   * (runhost cancel, the API's cancel). Ask the runtime to stop on its own, e.g. ACP's
   * session/cancel, with rh_host.send_input. The host then gives it 5 s to exit before it stops
   * the process group; either way finish() gets RH_EXIT_FLAG_CANCELLED. The run's open approvals
   * are settled (denied, source "cancel") before this call, and no answer reaches respond() after
   * it. Called at most once per session, only while its runtime runs with stdin open; a timeout
   * or a policy stop the process at once. Reactor thread. */
  void (*cancel)(rh_runtime_session *session);
} rh_runtime_adapter;

/* Host extension "runhost.processes/1" (since 1.2): a runtime session starts more processes in
 * its run's device (an ACP agent's terminal/create, for instance) and hears their output and
 * exit. They run where the runtime runs: in the run's device, in the run's working directory or
 * a directory inside it, with the device's controlled environment, the run's connector variables
 * (as the runtime's own commands get them) and the spec's "env". Their
 * output is not the runtime's: the host feeds it to the sink, and the adapter decides which
 * events it becomes (command.output, usually). A port one of them listens on is reported like
 * the runtime's (preview.ready); files they change are seen by the run's own watching.
 *
 *   const rh_processes_ext *p = host->get_extension(host, RH_EXT_PROCESSES);
 *   if (p && p->available(host, run)) {
 *     rh_process_sink sink = {sizeof sink, session, on_output, on_exit};
 *     uint64_t id;
 *     rh_str spec = RH_STR_LIT("{\"argv\":[\"npm\",\"test\"],\"cwd\":\"web\"}");
 *     if (p->start(host, run, spec, &sink, &id) == RH_OK) ...   // on_output(...)*, on_exit()
 *   }
 *
 * Thread rules: every function and every sink callback runs on the host's reactor thread; call
 * them from the session's own calls (feed, respond, finish, a sink callback). Sink callbacks are
 * session calls like feed: never re-entrant, never during another call of the session, never
 * after finish() has begun. When the runtime's own process has ended, what is still running is
 * killed before finish(), with no further callback. */
#define RH_EXT_PROCESSES "runhost.processes/1"

typedef struct rh_process_sink {
  uint32_t struct_size; /* sizeof(rh_process_sink) */
  void *user;           /* passed back to each callback; must outlive the process's exit callback */
  /* Bytes the process wrote, in order, in chunks as read (may end mid-line or mid-UTF-8). */
  void (*output)(void *user, uint64_t process, rh_stream stream, const char *data, size_t len);
  /* Last, exactly once (unless the run ended first, see above): how it ended. RH_EXIT_FLAG_CANCELLED
   * when kill() stopped it; RH_EXIT_SPAWN_FAILED when it could not start (code: the errno). */
  void (*exit)(void *user, uint64_t process, const rh_exit *exit);
} rh_process_sink;

typedef struct rh_processes_ext {
  uint32_t struct_size; /* sizeof(rh_processes_ext) as the host knows it */
  /* Non-zero when `run`'s device can start processes for the adapter (the local device can; a MIOSA
   * sandbox cannot yet). Ask before offering the feature to the runtime. */
  int (*available)(const struct rh_host *host, rh_run *run);
  /* Starts one process from `spec_json`:
   *   {"argv": ["npm", "test"],      required, argv[0] looked up on PATH when bare; no shell
   *    "env": {"NAME": "value"},     added to the device's controlled environment
   *    "cwd": "web"}                 relative to the run's working directory, or absolute inside
   *                                  it; default: the run's working directory
   * The sink is copied. On RH_OK, *process_out is the process's id (never 0) and its output and
   * exit follow through the sink, never from within this call. Fails with
   * RH_ERR_UNSUPPORTED (the device cannot), RH_ERR_INVALID_ARGUMENT (a malformed spec, a cwd
   * outside the run's directory), RH_ERR_NOT_FOUND (argv[0] not found or not executable) or
   * RH_ERR_LIMIT (16 of the run's processes are running), with last_error set. */
  rh_status (*start)(const struct rh_host *host, rh_run *run, rh_str spec_json, const rh_process_sink *sink,
                     uint64_t *process_out);
  /* Stops a process started by start() (SIGTERM to its process group, SIGKILL after a grace
   * period); its exit follows with RH_EXIT_FLAG_CANCELLED. RH_OK, doing nothing, when it has
   * already ended; RH_ERR_NOT_FOUND for an id this run never gave. */
  rh_status (*kill)(const struct rh_host *host, rh_run *run, uint64_t process);
} rh_processes_ext;

RH_END_DECLS

#endif /* RUNHOST_RUNTIME_H */
