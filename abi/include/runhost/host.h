/* runhost/host.h — the services the host gives every plugin.
 *
 * The host passes one `const rh_host *` to the library's init(); the same pointer stays valid
 * until deinit() returns, so a library keeps it in a static. Through it a plugin logs, reports
 * error detail, reads clocks, emits unified events for a run, makes HTTP requests, writes to a
 * runtime's stdin (since 1.2) and looks up newer host features by id.
 *
 *   static const rh_host *g_host;
 *   static rh_status my_init(const rh_host *host, const char *library_path) {
 *     g_host = host;
 *     rh_str msg = RH_STR_LIT("ready");
 *     host->log(host, RH_LOG_INFO, msg);
 *     return RH_OK;
 *   }
 *
 * Thread rules: every service here may be called from any thread, concurrently, except
 * http_request, which blocks and so must never be called on the host's reactor thread (the
 * thread that calls rh_runtime_adapter.feed and friends); call it from a thread of your own or
 * from connector calls, which run on the host's worker threads.
 */
#ifndef RUNHOST_HOST_H
#define RUNHOST_HOST_H

#include "types.h"

RH_BEGIN_DECLS

/* A run as the host sees it. Opaque; the host hands one to each runtime session in
 * rh_runtime_context.run, valid until that session's destroy() returns. */
typedef struct rh_run rh_run;

/* One unified event, as a runtime adapter emits it. The host stamps the envelope (id, seq,
 * time, tenant, device, runtime, source) and validates `type` and `payload_json` against the
 * event schema (docs/events.md); the adapter supplies only what it knows. */
typedef struct rh_event {
  uint32_t struct_size;  /* sizeof(rh_event) */
  rh_str type;           /* "message", "tool.started", ... */
  rh_str payload_json;   /* a JSON object; {NULL,0} means {} */
  rh_str raw;            /* the native line this came from, or {NULL,0}; kept only if asked */
} rh_event;

/* Value type, frozen: one HTTP header. */
typedef struct rh_http_header {
  rh_str name;
  rh_str value;
} rh_http_header;

typedef struct rh_http_request {
  uint32_t struct_size;          /* sizeof(rh_http_request) */
  rh_str method;                 /* "GET", "POST", ... */
  rh_str url;                    /* absolute http:// or https:// URL */
  const rh_http_header *headers; /* borrowed for the call; may be NULL when header_count is 0 */
  size_t header_count;
  rh_str body;                   /* request body, may be empty */
  uint32_t timeout_ms;           /* whole-request limit; 0 means the host default (30 s) */
} rh_http_request;

typedef struct rh_http_response {
  uint32_t struct_size;  /* set by the plugin to sizeof(rh_http_response) as it knows it */
  int32_t status;        /* out: the HTTP status, or 0 when no response arrived */
  const rh_writer *body; /* in: where the host writes the response body; NULL discards it.
                            Plugins implement this writer themselves (host_data is theirs
                            here), and it is called on the calling thread. */
} rh_http_response;

/* The host's service table. Fields are only ever appended; check `struct_size` (or
 * abi.minor) before using a field added after 1.0. */
typedef struct rh_host {
  uint32_t struct_size; /* sizeof(rh_host) as the host knows it */
  rh_abi_version abi;   /* the host's ABI version */
  const char *name;     /* "runhost"; NUL-terminated, static */
  const char *version;  /* the host's release, e.g. "0.1.0"; NUL-terminated, static */
  void *host_data;      /* the host's; plugins never touch it */

  /* Writes one log line, attributed to the calling plugin's library. Any thread. */
  void (*log)(const struct rh_host *host, rh_log_level level, rh_str message);

  /* Records why the plugin call in progress on this thread is about to fail. Call it just
   * before returning a status other than RH_OK; the host reads it when the call returns.
   * The text is copied. Any thread. */
  void (*set_error)(const struct rh_host *host, rh_str message);

  /* The detail of the host service call that last failed on this thread. Borrowed: valid
   * until the next host call on this thread. Any thread. */
  rh_str (*last_error)(const struct rh_host *host);

  /* Wall-clock time, microseconds since the Unix epoch. Any thread. */
  int64_t (*now_us)(const struct rh_host *host);

  /* A monotonic clock in nanoseconds, for durations. Any thread. */
  int64_t (*monotonic_ns)(const struct rh_host *host);

  /* Looks up a host extension by id ("runhost.host-info/1"); returns a static table or NULL
   * when the host does not have it. Ids end in "/N"; a new major of an extension is a new id.
   * Any thread. */
  const void *(*get_extension)(const struct rh_host *host, const char *id);

  /* Emits one unified event for `run`. The host copies everything before returning. Returns
   * RH_ERR_INVALID_ARGUMENT (with last_error set) when the event does not match the schema;
   * the host then records the line as runtime.unparsed rather than losing it. Any thread, but
   * events of one run are ordered as the calls are ordered. */
  rh_status (*emit)(const struct rh_host *host, rh_run *run, const rh_event *event);

  /* Performs one HTTP request through the host's client (libcurl), honouring the host's
   * proxy, TLS and timeout settings. Blocks. Returns RH_OK when a response arrived, whatever
   * its status; RH_ERR_IO, RH_ERR_TIMEOUT or RH_ERR_INVALID_ARGUMENT otherwise, with
   * last_error set. NEVER on the reactor thread (see the thread rules above). */
  rh_status (*http_request)(const struct rh_host *host, const rh_http_request *request,
                            rh_http_response *response);

  /* Since 1.2 (check struct_size): writes `data` to the stdin of the runtime process `run`
   * launched, after everything written before it (the launch spec's "stdin" first); with
   * RH_INPUT_CLOSE in `flags`, closes stdin once all of it is written (`data` may be empty).
   * Never blocks: the host queues what the pipe cannot take yet. The launch spec must have
   * kept stdin open ("keep_stdin_open": true). Returns RH_ERR_INVALID_ARGUMENT (last_error
   * says why) when stdin is closed or closing, or the process has ended or not started;
   * RH_ERR_LIMIT when more than 64 MiB would be queued. Reactor thread only: call it from
   * your session's own calls (feed, respond, finish). */
  rh_status (*send_input)(const struct rh_host *host, rh_run *run, rh_str data, uint32_t flags);
} rh_host;

/* send_input flags. */
#define RH_INPUT_CLOSE (1u << 0) /* close stdin after this data */
/* Since 1.2, with RH_INPUT_CLOSE: the conversation is over. A runtime that has not exited 3 s
 * after its stdin closed (some ACP agents linger) is stopped by the host, and its exit carries
 * RH_EXIT_FLAG_ENDED: the adapter ends the run as the conversation said (runtime.h). */
#define RH_INPUT_END (1u << 1)

/* Host extension "runhost.host-info/1": facts about the running host. */
#define RH_EXT_HOST_INFO "runhost.host-info/1"
typedef struct rh_host_info_ext {
  uint32_t struct_size;
  const char *platform;    /* "linux-x86_64", ... */
  const char *plugin_dirs; /* the plugin search path in effect, ':'-separated */
} rh_host_info_ext;

RH_END_DECLS

#endif /* RUNHOST_HOST_H */
