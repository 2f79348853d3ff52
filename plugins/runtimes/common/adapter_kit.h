/* adapter_kit.h — the kit runhost's bundled runtime adapters (claude-code, codex, gemini-cli,
 * opencode) are built from, so that what they share is written once.
 *
 * Internal: not part of the ABI, not installed, compiled into each bundled adapter (a static
 * library linked into the plugin, its symbols hidden by the plugin's version script). It depends
 * on abi/include alone, as the adapters do. A vendor's adapter cannot use it; ours follow it.
 *
 * What it gives an adapter:
 *   - the session's inputs, read and checked once: the prompt and cwd from the dispatch, the
 *     resume id, the operator's config ("executable", "env", "args", "max_line_bytes") and the
 *     merged policy constraints ("tools" allow/deny, "read_only", "network", "max_turns",
 *     "max_budget_usd", "permission_mode"), with the raw JSON kept for adapter-specific keys;
 *   - a launch spec builder: argv (never a shell string), env, stdin;
 *   - one bounded line assembler per stream, calling the adapter once per whole line, and a check
 *     that turns a line that is not a JSON object into runtime.unparsed with the reason;
 *   - one emitter per unified event type, writing the payload the schema wants (docs/events.md);
 *     every payload is scrubbed of the secret env values from the config before it leaves;
 *   - a bounded table from the runtime's native tool-call ids to stable tool_call_ids;
 *   - the ending: the adapter holds the outcome the runtime reported (run.completed, or a typed
 *     failure from a small table of failure kinds: auth, rate limit, turn limit, budget...);
 *     rhk_finish() flushes the streams and emits exactly one terminal event: cancellation and
 *     timeouts first, then the held outcome, then what the exit implies (runtime_not_found with
 *     the runtime's install hint when the program could not be started; "exited without a
 *     result line" when the runtime promised one and never printed it).
 *
 *   - the plugin itself: create, feed, finish and destroy, the descriptor and the entry point
 *     (rhk_adapter, RHK_PLUGIN_ENTRY), so an adapter file holds only what differs.
 *
 * An adapter, in outline (plugins/runtimes/codex/codex.c is a full one):
 *
 *   struct rh_runtime_session { rhk_session kit; ...adapter state... };   // kit comes first
 *
 *   static const char *const k_top[] = {"type", "text"};
 *   static rh_status on_stdout_line(rhk_session *kit, const char *line, size_t len, bool cut) {
 *     rh_str v[2], doc, raw = rhk_str(line, len);
 *     if (!rhk_line_pick(kit, RH_STREAM_STDOUT, line, len, cut, k_top, 2, v, &doc))
 *       return RH_OK;                                  // kept as runtime.unparsed, or blank
 *     if (rhk_json_is(v[0], "message"))
 *       return rhk_emit_message(kit, "assistant", v[1], true, false, raw);
 *     return rhk_emit_unparsed(kit, RH_STREAM_STDOUT, line, len, false, "not mapped: ", v[0]);
 *   }
 *   static const rhk_runtime_info k_info = {"my-cli", "mycli", "My CLI", "npm i -g my-cli",
 *                                           "my-provider", 8u << 20, true, on_stdout_line, NULL};
 *   static rh_status my_launch(rh_runtime_session *s, const rh_writer *spec_out) {
 *     rhk_launch_begin(&s->kit, &argv); rhk_argv_add...; rhk_launch_write(...)
 *   }
 *   static const rhk_adapter k_adapter = {
 *       RHK_RUNTIME_ADAPTER(RH_PROTOCOL_LINES, RH_RUNTIME_CAP_RESUME, my_launch, NULL),
 *       &k_info, sizeof(rh_runtime_session), NULL, NULL, NULL};  // open, close, decide: see below
 *   RHK_PLUGIN_ENTRY(k_adapter, "my-cli", "My CLI", "0.1.0", "Runs My CLI headless.")
 *
 * Conventions: every function taking a session that returns a status other than RH_OK has called
 * host->set_error() (except rhk_emit_file_changed's RH_ERR_NOT_FOUND, which is an answer); the
 * rhk_json_* readers only return the status. rh_str views passed in are borrowed for the call. A view from the
 * JSON reader ("value") is the raw JSON text of that value inside the line.
 *
 * Thread rules: none of its own. A session belongs to one adapter session, which the host calls
 * on its reactor thread, one call at a time (runtime.h).
 */
#ifndef RUNHOST_ADAPTER_KIT_H
#define RUNHOST_ADAPTER_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <runhost/json.h>
#include <runhost/lines.h>
#include <runhost/runhost.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Limits -------------------------------------------------------------------------------- */

#define RHK_DEFAULT_LINE_LIMIT ((size_t)8 << 20)  /* stdout lines: a Write of a large file is one line */
#define RHK_MAX_LINE_LIMIT ((size_t)256 << 20)    /* the most "max_line_bytes" may ask for */
#define RHK_STDERR_LINE_LIMIT ((size_t)1 << 20)   /* stderr lines, as command.output wants */
#define RHK_TEXT_LIMIT ((size_t)1 << 20)          /* command.output text and unparsed lines are cut here */
#define RHK_KEEP_BUFFER ((size_t)256 << 10)       /* a line buffer larger than this is freed after use */
#define RHK_TOOL_TABLE_SIZE 1024                  /* tool calls open at once; then the oldest is forgotten */
#define RHK_MAX_SECRETS 32
#define RHK_SEEN_PATHS 256                        /* files a run is known to have read or written */

typedef struct rhk_session rhk_session;

/* Called once per whole line of one stream, without its newline. `truncated`: the line was longer
 * than the stream's limit and is cut there (the rest was skipped). Return RH_OK unless something
 * failed that the host should hear of (out of memory); a line the adapter cannot map it emits as
 * runtime.unparsed and returns RH_OK. */
typedef rh_status (*rhk_line_fn)(rhk_session *s, const char *line, size_t len, bool truncated);

/* What the kit knows about one runtime. Static data, one per adapter. */
typedef struct rhk_runtime_info {
  const char *id;            /* the adapter id: "claude-code"; prefixes every message */
  const char *program;       /* argv[0] unless the config's "executable" says otherwise: "claude" */
  const char *display_name;  /* for people: "Claude Code" */
  const char *install_hint;  /* runtime_not_found's recovery hint: how to install the program */
  const char *usage_source;  /* the provider its usage is charged to: "anthropic" */
  size_t line_limit;         /* stdout's line limit unless the config's "max_line_bytes" says */
  bool expects_result;       /* the runtime always ends with a result line: exiting without one
                                is a failure even with exit code 0 */
  rhk_line_fn on_stdout_line;
  rhk_line_fn on_stderr_line; /* NULL: each stderr line becomes command.output {stream: stderr} */
} rhk_runtime_info;

/* ---- Inputs -------------------------------------------------------------------------------- */

typedef enum rhk_network { RHK_NETWORK_ANY = 0, RHK_NETWORK_LOOPBACK = 1, RHK_NETWORK_NONE = 2 } rhk_network;

typedef struct rhk_strings {
  char **items; /* NUL-terminated copies */
  size_t count;
} rhk_strings;

/* The operator's configuration (rh_runtime_context.config_json). */
typedef struct rhk_config {
  char *executable;   /* "executable": the program to run instead of info->program; NULL if unset */
  rhk_strings args;   /* "args": extra argv, placed where the adapter calls rhk_launch_add_config_args */
  rhk_strings env_names; /* "env": {"NAME": "value" | {"value": "...", "secret": bool}} */
  rhk_strings env_values;
  size_t line_limit;  /* "max_line_bytes", else info->line_limit */
  char *text;         /* the whole config JSON, for rhk_config_find */
  size_t text_len;
} rhk_config;

/* The merged policy launch constraints (rh_runtime_context.constraints_json, policy.h). */
typedef struct rhk_constraints {
  bool has_allow;       /* "tools": {"allow": [...]} was given (it may be empty: nothing allowed) */
  rhk_strings allow;
  rhk_strings deny;     /* "tools": {"deny": [...]} */
  bool read_only;       /* "read_only": true */
  rhk_network network;  /* "network": "none" | "loopback" | "any" (default) */
  int64_t max_turns;    /* "max_turns": integer >= 1, or -1 */
  double max_budget_usd;   /* "max_budget_usd": number > 0, or -1 */
  char *permission_mode;   /* "permission_mode": a runtime-specific word, or NULL */
  char *text;           /* the whole constraints JSON, for rhk_constraint_find */
  size_t text_len;
} rhk_constraints;

/* ---- Tool calls ---------------------------------------------------------------------------- */

typedef enum rhk_tool_kind {
  RHK_TOOL = 0,    /* "tool" */
  RHK_COMMAND = 1, /* "command": a shell command */
  RHK_MCP = 2,     /* "mcp" */
  RHK_FILE = 3     /* "file": a file edit */
} rhk_tool_kind;

/* One open tool call. Strings are owned by the table and live until rhk_tools_close (or until
 * the table forgets the call to make room). */
typedef struct rhk_tool_call {
  char *native_id;    /* the runtime's id; NULL for a free slot */
  char *call_id;      /* the stable tool_call_id the events carry */
  char *name;
  rhk_tool_kind kind;
  char *path;         /* adapter's note: the file a file tool touches (relative), or NULL */
  int change;         /* adapter's note: an rhk_change, for file tools */
  int64_t size_bytes; /* adapter's note: the file's size after the edit, or -1 */
  uint64_t order;     /* when it was opened, to forget the oldest first */
} rhk_tool_call;

typedef struct rhk_tools {
  rhk_tool_call *slots; /* grows to RHK_TOOL_TABLE_SIZE as calls are open at once */
  size_t cap;
  size_t open_count;
  uint64_t opened;      /* calls opened so far: orders slots and numbers generated ids */
} rhk_tools;

/* ---- Failures ------------------------------------------------------------------------------ */

/* Why a run failed, as the runtime reported it. Each kind maps onto one unified error code
 * (auth_failed, rate_limited, model_unavailable...; RUNHOST_ERROR_CODES) with its retryable flag
 * and recovery action (rhk_failure_of); `cause` keeps the finer kind in the payload (error.cause)
 * where several kinds share a code (model_api_error, budget_exceeded, runtime_error). */
typedef enum rhk_failure_kind {
  RHK_FAIL_AUTH = 0,           /* auth_failed: the model API refused the credentials */
  RHK_FAIL_RATE_LIMITED,       /* rate_limited, retryable: 429 */
  RHK_FAIL_BILLING,            /* budget_exceeded, cause billing: the provider account has no credit */
  RHK_FAIL_MODEL_UNAVAILABLE,  /* model_unavailable, retryable: overloaded, 5xx, network */
  RHK_FAIL_MODEL_REQUEST,      /* model_api_error, cause model_request_rejected: 400/404/413, unknown model */
  RHK_FAIL_MODEL_API,          /* model_api_error: any other model API failure */
  RHK_FAIL_TURN_LIMIT,         /* turn_limit: the runtime's max turns were reached */
  RHK_FAIL_BUDGET_LIMIT,       /* budget_exceeded, cause budget_limit: the runtime's spending cap was reached */
  RHK_FAIL_CONTEXT_LIMIT,      /* context_limit: the conversation no longer fits */
  RHK_FAIL_SESSION_NOT_FOUND,  /* session_not_found: the session to resume is gone */
  RHK_FAIL_POLICY,             /* policy_denied, cause runtime_policy: the runtime's own sandbox/approval refused */
  RHK_FAIL_RUNTIME,            /* runtime_error, cause runtime_error: the runtime reported an error of its own */
  RHK_FAIL_NO_RESULT,          /* runtime_error, cause no_result, retryable: exited without a result line */
  RHK_FAIL_KIND_COUNT
} rhk_failure_kind;

typedef struct rhk_failure {
  const char *code;         /* the unified error code (docs/events.md) */
  const char *cause;        /* error.cause: the finer kind, or NULL */
  bool retryable;
  const char *action;       /* recovery.action */
  const char *usage_source; /* recovery.usage_source (raise_budget, request_quota); NULL: info's */
  const char *hint;         /* recovery.hint, or NULL */
} rhk_failure;

/* The unified code, retryable flag, recovery and hint of a failure kind. */
const rhk_failure *rhk_failure_of(rhk_failure_kind kind);

/* The failure kind an HTTP status from a model API implies (401/403 auth, 429 rate limit, 402
 * billing, 5xx/529 unavailable, 400/404/413/422 request rejected, anything else model_api). */
rhk_failure_kind rhk_failure_kind_for_http_status(int64_t status);

/* ---- The session --------------------------------------------------------------------------- */

typedef enum rhk_outcome_kind { RHK_OUTCOME_NONE = 0, RHK_OUTCOME_COMPLETED, RHK_OUTCOME_FAILED } rhk_outcome_kind;

struct rhk_adapter;

struct rhk_session {
  const struct rhk_adapter *adapter; /* the plugin's, when rhk_adapter_create made the session */
  const rh_host *host; /* from the context: valid until destroy */
  rh_run *run;
  const rhk_runtime_info *info;

  /* From the dispatch and the context (create copies them). */
  char *prompt;       /* may hold U+0000 */
  size_t prompt_len;
  char *cwd;          /* the dispatch's "cwd", or NULL */
  bool local_device;  /* the dispatch's deviceType is "local": the work dir is on this machine */
  char *resume_id;    /* the context's resume_id, or NULL when empty */
  char *mcp_servers;  /* the context's mcp_servers_json (1.2), or NULL when it names none */
  rhk_config config;
  rhk_constraints constraints;

  /* Output. */
  rh_lines out, err;
  rh_json_buffer payload; /* each event's payload, reused */
  rh_json_buffer scratch; /* messages, copies */
  rh_str extra;           /* members added to every non-terminal payload (rhk_set_extra) */
  char *work_dir;         /* absolute directory file paths are relative to (rhk_set_work_dir) */
  char *last_stderr;      /* the last non-blank stderr line, cut at 512 bytes, for failure messages */
  rhk_tools tools;
  uint64_t seen[RHK_SEEN_PATHS]; /* hashes of the files this run read or wrote (rhk_see_path) */
  size_t seen_count, seen_next;
  char *secrets[RHK_MAX_SECRETS]; /* secret env values, JSON-escaped as payloads hold them */
  size_t secret_count;

  /* The ending the runtime reported, held for rhk_finish. */
  rhk_outcome_kind outcome;
  rhk_failure failure;
  rh_json_buffer outcome_message; /* run.failed error.message, or run.completed result */
  bool outcome_has_result;
  double outcome_duration_ms;     /* < 0: none */
  rh_json_buffer outcome_extra;   /* members added to the terminal payload */
  rh_json_buffer outcome_line;    /* the native line, as the terminal event's raw */
  char *session_id;               /* the runtime-native session id (rhk_set_session_id) */
  bool finished;
};

/* Reads the context into `s` (zeroed by the caller, e.g. with calloc). On failure, set_error has
 * the reason (naming the bad field) and the caller still calls rhk_session_free. */
rh_status rhk_session_init(rhk_session *s, const rhk_runtime_info *info, const rh_runtime_context *ctx);
void rhk_session_free(rhk_session *s);

/* feed(): hands whole lines of `stream` to the info's line functions. */
rh_status rhk_feed(rhk_session *s, rh_stream stream, const char *data, size_t len);

/* Passes on each stream's last line that has no newline, as the end of output does; nothing when
 * there is none. rhk_finish does this first; an adapter whose ending depends on those lines (a
 * result line, the stderr line that explains an exit code) calls it before holding the outcome. */
rh_status rhk_flush(rhk_session *s);

/* finish(): flushes each stream's last partial line, then emits the one terminal event. */
rh_status rhk_finish(rhk_session *s, const rh_exit *exit);

/* Finds a member of the config or of the constraints by dotted path (rh_json_find_path). */
rh_status rhk_config_find(const rhk_session *s, const char *path, rh_str *value);
rh_status rhk_constraint_find(const rhk_session *s, const char *path, rh_str *value);

/* Members (`"a":1,"b":"x"`, without braces) added to every event payload until set again; used
 * for context that applies to a whole native line (e.g. a sub-agent's parent call). */
void rhk_set_extra(rhk_session *s, rh_str members);

/* The runtime-native session id: run.completed carries it as session_id (run.failed and
 * run.cancelled too), so a later dispatch can resume. The first one set wins unless `replace`;
 * an empty id with `replace` forgets it (a session that turned out not to exist). */
rh_status rhk_set_session_id(rhk_session *s, rh_str id, bool replace);

/* The absolute directory the runtime works in (as it reports it); file paths are made relative
 * to it. Until set: the context's cwd (ABI 1.1), else the dispatch's cwd when it is absolute. */
rh_status rhk_set_work_dir(rhk_session *s, rh_str dir);

/* ---- Holding the outcome ------------------------------------------------------------------- */

/* The runtime finished its work: run.completed {result?, duration_ms?, session_id?} + `extra`
 * members. `result` may be {NULL, 0} for none; duration_ms < 0 for none. `line` becomes raw.
 * A later call replaces an earlier one. */
rh_status rhk_hold_completed(rhk_session *s, rh_str result, bool has_result, double duration_ms,
                             rh_str extra, rh_str line);

/* The runtime failed: run.failed {error: {code, message, retryable, recovery, cause}} + `extra`.
 * `message` is for people; the kit prefixes the runtime's display name. */
rh_status rhk_hold_failure(rhk_session *s, rhk_failure_kind kind, rh_str message, rh_str extra,
                           rh_str line);
rh_status rhk_hold_failure_with(rhk_session *s, const rhk_failure *failure, rh_str message,
                                rh_str extra, rh_str line);

/* ---- Lines --------------------------------------------------------------------------------- */

/* The JSON object a stdout line holds. True with *doc set when it is one; otherwise the line has
 * been dealt with (blank lines skipped; anything else emitted as runtime.unparsed with the
 * reason: cut, not UTF-8, not JSON, not an object) and the answer is false. */
bool rhk_line_object(rhk_session *s, rh_stream stream, const char *line, size_t len,
                     bool truncated, rh_str *doc);

/* rhk_line_object and rhk_json_pick in one walk of the line: true with values[] (and *doc) set
 * when the line is one JSON object; otherwise it has been dealt with as rhk_line_object says. */
bool rhk_line_pick(rhk_session *s, rh_stream stream, const char *line, size_t len, bool truncated,
                   const char *const *names, size_t count, rh_str *values, rh_str *doc);

/* ---- JSON reading -------------------------------------------------------------------------- */

/* A walk over an array's elements or an object's members, like rh_json_iter (json.h) but with a
 * faster scanner: strings are skipped a table lookup per byte rather than decoded. Views are the
 * raw JSON of each value, usable with json.h's functions. After rhk_json_next returns false,
 * `ok` says whether the walk reached the closing bracket of a well-formed container. */
typedef struct rhk_json_iter {
  const char *pos, *end;
  char close;
  bool started;
  bool ok;
  int depth;
} rhk_json_iter;
bool rhk_json_begin(rhk_json_iter *it, rh_str container);
bool rhk_json_next(rhk_json_iter *it, rh_str *key, rh_str *value);

/* Checks that `text` is one JSON value, whitespace around it allowed; *value is its view. */
bool rhk_json_parse(rh_str text, rh_str *value);

/* One walk over an object's members, picking the named ones: values[i] is the view of member
 * names[i], or {NULL, 0} when absent (the last duplicate wins). RH_ERR_INVALID_ARGUMENT when
 * `object` is not a well-formed object. Cheaper than one rh_json_find per name. */
rh_status rhk_json_pick(rh_str object, const char *const *names, size_t count, rh_str *values);

/* rhk_json_pick over `text` holding one object with whitespace around it, in one walk; *object
 * is the object's view. RH_ERR_NOT_FOUND when `text` does not start with '{' (after whitespace),
 * RH_ERR_INVALID_ARGUMENT when it is not one well-formed object. */
rh_status rhk_json_pick_text(rh_str text, const char *const *names, size_t count, rh_str *values,
                             rh_str *object);

/* Whether `value` is the JSON string `text` (ASCII `text`; escapes decoded). */
bool rhk_json_is(rh_str value, const char *text);

/* The text of a JSON string value, decoded into `buf` (cut to fit, NUL-terminated). Empty when
 * `value` is not a string. */
const char *rhk_json_text(rh_str value, char *buf, size_t cap);

/* Appends the decoded bytes of a JSON string value (a view the reader checked) to `out`:
 * RH_ERR_INVALID_ARGUMENT when `value` is not a string, RH_ERR_NO_MEMORY. */
rh_status rhk_json_decode(rh_str value, rh_json_buffer *out);

/* What a view from the reader is, by its first byte (views are well-formed JSON). */
static inline bool rhk_json_is_string(rh_str v) { return v.len >= 2 && v.data[0] == '"'; }
static inline bool rhk_json_is_object(rh_str v) { return v.len >= 2 && v.data[0] == '{'; }
static inline bool rhk_json_is_array(rh_str v) { return v.len >= 2 && v.data[0] == '['; }
static inline bool rhk_json_is_true(rh_str v) { return v.len == 4 && memcmp(v.data, "true", 4) == 0; }
static inline bool rhk_json_is_false(rh_str v) { return v.len == 5 && memcmp(v.data, "false", 5) == 0; }

/* The decoded text of a string value in `buffer` (reset first); empty when it is not a string. */
rh_str rhk_decoded(rh_json_buffer *buffer, rh_str value);

/* An integer member value, or `fallback` when absent or not an integer. */
int64_t rhk_json_int(rh_str value, int64_t fallback);

/* A number member value, or `fallback` when absent or not a number. */
double rhk_json_number(rh_str value, double fallback);

/* ---- JSON writing -------------------------------------------------------------------------- */

/* `,"name":` (no comma when `first`). */
rh_status rhk_write_key(const rh_writer *w, bool first, const char *name);
/* `,"name":"text"` with `text` escaped (invalid UTF-8 becomes U+FFFD). */
rh_status rhk_write_string_member(const rh_writer *w, bool first, const char *name,
                                  const char *text, size_t len);
/* `,"name":<json>` with `json` written as it is (a view from the reader). */
rh_status rhk_write_raw_member(const rh_writer *w, bool first, const char *name, rh_str json);
/* `,"name":<integer>` */
rh_status rhk_write_int_member(const rh_writer *w, bool first, const char *name, int64_t value);
/* `,"name":<number>` (shortest text that reads back the same double) */
rh_status rhk_write_number_member(const rh_writer *w, bool first, const char *name, double value);

/* ---- Emitting events ----------------------------------------------------------------------- */

/* Every emitter writes the payload docs/events.md defines, adds the rhk_set_extra members,
 * scrubs secrets, and passes `raw` (the native line; {NULL, 0} for none) when it is UTF-8. A
 * payload the host refuses it keeps as runtime.unparsed itself (host.h): those return RH_OK. */

/* message {role, text, delta?}. `text` is raw JSON (a string value from the reader) when
 * `text_is_json`, else plain bytes to escape. */
rh_status rhk_emit_message(rhk_session *s, const char *role, rh_str text, bool text_is_json,
                           bool delta, rh_str raw);

/* reasoning {text, delta?}; `text` as for rhk_emit_message. */
rh_status rhk_emit_reasoning(rhk_session *s, rh_str text, bool text_is_json, bool delta, rh_str raw);

/* tool.started {tool_call_id, name, input?, kind}. `input` is raw JSON or {NULL, 0}. */
rh_status rhk_emit_tool_started(rhk_session *s, const rhk_tool_call *call, rh_str input, rh_str raw);

/* tool.completed {tool_call_id, name?, status, output?, error?, duration_ms?}. `output` is raw
 * JSON or {NULL, 0}; `error` plain text, {NULL, 0} for none (status success unless `failed`). */
typedef struct rhk_tool_result {
  const char *call_id;
  const char *name;     /* NULL: unknown */
  bool failed;
  rh_str output;        /* raw JSON */
  rh_str error;         /* plain text */
  double duration_ms;   /* < 0: none */
} rhk_tool_result;
rh_status rhk_emit_tool_completed(rhk_session *s, const rhk_tool_result *result, rh_str raw);

/* command.output, one event per line of `text` (plain bytes; "\r\n" and "\n" both end a line;
 * a trailing newline makes no empty last line), each cut at RHK_TEXT_LIMIT. `exit_code` (when
 * has_exit_code) goes on the last one; with no text at all, one event with text "" carries it. */
rh_status rhk_emit_command_text(rhk_session *s, rh_stream stream, rh_str text, const char *call_id,
                                bool has_exit_code, int64_t exit_code, rh_str raw);

/* command.output for one line (no newline in it): cut at RHK_TEXT_LIMIT; `truncated` says it was
 * cut before (by a line limit) too. */
rh_status rhk_emit_command_line(rhk_session *s, rh_stream stream, rh_str text, const char *call_id,
                                bool has_exit_code, int64_t exit_code, bool truncated, rh_str raw);

/* file.changed {path, change, from?, size_bytes?, source_runtime: true}. Paths may be absolute:
 * they are made relative to the work dir; a path outside it (or otherwise not expressible as the
 * schema's relative path) emits nothing and returns RH_ERR_NOT_FOUND (no set_error). */
typedef enum rhk_change { RHK_CREATED = 0, RHK_MODIFIED, RHK_DELETED, RHK_RENAMED } rhk_change;
rh_status rhk_emit_file_changed(rhk_session *s, const char *path, size_t path_len, rhk_change change,
                                const char *from, size_t from_len, int64_t size_bytes, rh_str raw);

/* Files this run has seen, for runtimes whose write tool never says whether it created its file:
 * one the run has read or written exists; any other is taken to be new. The last RHK_SEEN_PATHS
 * are remembered. Paths as the runtime gives them (absolute or relative to the work dir). */
void rhk_see_path(rhk_session *s, const char *path);
bool rhk_path_seen(const rhk_session *s, const char *path);

/* file.changed for a file tool call that succeeded (call->path, call->change, call->size_bytes);
 * a change < 0 means "created unless seen" (above). The path is then seen. Nothing, and RH_OK,
 * for a call without a path or one outside the work dir (the device's watcher reports those). */
rh_status rhk_emit_tool_file_changed(rhk_session *s, const rhk_tool_call *call, rh_str raw);

/* The path relative to the work dir, written into `out` (NUL-terminated): false when it cannot
 * be expressed (outside, "..", empty, too long). */
bool rhk_relative_path(const rhk_session *s, const char *path, size_t len, char *out, size_t cap);

/* usage {source, input_tokens?, output_tokens?, cached_input_tokens?, cost_usd?, model?}; a
 * negative count or cost is left out; source NULL means info->usage_source. */
typedef struct rhk_usage {
  const char *source;
  const char *model;   /* NULL: none */
  int64_t input_tokens;
  int64_t output_tokens;
  int64_t cached_input_tokens;
  double cost_usd;
} rhk_usage;
rh_status rhk_emit_usage(rhk_session *s, const rhk_usage *usage, rh_str raw);

/* A line the runtime wrote about itself on stderr (start-up notices, warnings, retries, stack
 * traces): message {role: system, stream: "stderr", text, truncated?}, never command.output,
 * which is the output of commands the agent ran (those come in the runtime's structured output).
 * Trailing CR and blanks are dropped, a blank line is nothing, the text is cut at RHK_TEXT_LIMIT. */
rh_status rhk_emit_diagnostic(rhk_session *s, const char *line, size_t len, bool truncated, rh_str raw);

/* runtime.unparsed {stream, line, reason, truncated?}: `line` is cut at RHK_TEXT_LIMIT (then
 * truncated is set too); the reason is `reason` followed by `detail` (either may be empty). */
rh_status rhk_emit_unparsed(rhk_session *s, rh_stream stream, const char *line, size_t len,
                            bool truncated, const char *reason, rh_str detail);

/* ---- Live approvals (RH_RUNTIME_CAP_APPROVALS; docs/abi.md section 8) ---------------------- */

/* The runtime asks before it acts: approval.required {approval_id: its request id, tool_call_id?,
 * action: {kind, name, input?, summary?}}, for the host to decide (policies, then a human). */
typedef struct rhk_approval_request {
  rh_str request_id;   /* the runtime's id for its request, raw JSON (a string) */
  const char *call_id; /* the tool.started it is about, or NULL */
  rhk_tool_kind kind;
  rh_str name;         /* plain text */
  rh_str input;        /* raw JSON, or none */
  rh_str summary;      /* one line a UI can show, plain text, or none */
} rhk_approval_request;
rh_status rhk_emit_approval_request(rhk_session *s, const rhk_approval_request *request, rh_str raw);

/* The host's answer, as respond() receives it. Views into `decision_json`, valid while it is:
 * `request_id` raw JSON (a string), `reason` raw JSON (a string) or none. */
typedef struct rhk_answer {
  rh_str request_id;
  bool allow;
  rh_str reason;
} rhk_answer;
/* RH_ERR_INVALID_ARGUMENT (set_error) when it is not an answer. */
rh_status rhk_read_answer(const rhk_session *s, rh_str decision_json, rhk_answer *answer);

/* Whether the host can write to the runtime's stdin after launch (rh_host.send_input, 1.2). */
bool rhk_can_send_input(const rhk_session *s);
/* Writes `data` to the runtime's stdin and, with `close`, closes it after: RH_ERR_UNSUPPORTED
 * from a host older than 1.2. */
rh_status rhk_send_input(rhk_session *s, rh_str data, bool close);
/* The conversation is over: stdin closes, and a runtime that lingers is stopped by the host
 * (RH_INPUT_END; its exit then carries RH_EXIT_FLAG_ENDED and the held outcome stands). */
rh_status rhk_end_input(rhk_session *s);

/* ---- Tool-call table ----------------------------------------------------------------------- */

/* Opens a call: its tool_call_id is the native id when that is a usable id (1-128 bytes of
 * [A-Za-z0-9._:-]) not already open, else "call_<n>". NULL only when out of memory. When the
 * table is full the oldest open call is forgotten (its completion then carries the native id
 * and no name). */
rhk_tool_call *rhk_tools_open(rhk_session *s, rh_str native_id, rh_str name, rhk_tool_kind kind);
/* The open call with this native id, or NULL. */
rhk_tool_call *rhk_tools_find(rhk_session *s, rh_str native_id);
/* Closes a call (after its tool.completed), freeing its slot. */
void rhk_tools_close(rhk_session *s, rhk_tool_call *call);

/* ---- Launch -------------------------------------------------------------------------------- */

typedef struct rhk_argv {
  char **items;
  size_t count, cap;
} rhk_argv;

/* Starts argv with the program (config "executable", else info->program). */
rh_status rhk_launch_begin(rhk_session *s, rhk_argv *argv);
/* Appends one argument (copied). U+0000 cannot be in an argument: RH_ERR_INVALID_ARGUMENT. */
rh_status rhk_argv_add(rhk_session *s, rhk_argv *argv, const char *text, size_t len);
rh_status rhk_argv_addz(rhk_session *s, rhk_argv *argv, const char *text);
/* Appends `prefix` immediately followed by `text` as one argument ("--resume=" + id), so a value
 * starting with '-' can never be read as an option. */
rh_status rhk_argv_add_joined(rhk_session *s, rhk_argv *argv, const char *prefix, const char *text,
                              size_t len);
/* Appends the config's "args". */
rh_status rhk_launch_add_config_args(rhk_session *s, rhk_argv *argv);
void rhk_argv_free(rhk_argv *argv);

/* Writes the launch spec: {"argv": [...], "env": {defaults, then the config's env},
 * "stdin": ..., "keep_stdin_open": ...}. `env_defaults` is `default_count` name/value pairs
 * (2 * count strings) the config's env may override. */
rh_status rhk_launch_write(rhk_session *s, const rhk_argv *argv, const char *const *env_defaults,
                           size_t default_count, rh_str stdin_text, bool keep_stdin_open,
                           const rh_writer *spec_out);

/* ---- The plugin ---------------------------------------------------------------------------- */

/* One adapter made with the kit. The host's rh_runtime_adapter comes first: the host hands that
 * pointer back as create()'s `self`, which is how rhk_adapter_create finds the rest. The
 * adapter's session type (struct rh_runtime_session) begins with its rhk_session. */
typedef struct rhk_adapter {
  rh_runtime_adapter abi; /* RHK_RUNTIME_ADAPTER(...) */
  const rhk_runtime_info *info;
  size_t session_size; /* sizeof(struct rh_runtime_session) */
  /* After the kit has read the context into the zeroed session: the adapter's own options and
   * buffers. A failure has called set_error; close() runs either way. NULL: nothing to do. */
  rh_status (*open)(rh_runtime_session *session);
  /* Frees what the adapter's part of the session holds (the kit frees its own, then the session).
   * NULL: nothing to free. */
  void (*close)(rh_runtime_session *session);
  /* At finish, after each stream's last line (even one without its newline) was read and before
   * the terminal event: holds the outcome the exit implies where the runtime's lines left it
   * open or unclear (rhk_hold_*). Not called when the session has finished already. NULL: the
   * kit's rules alone (rhk_finish). */
  rh_status (*decide)(rh_runtime_session *session, const rh_exit *exit);
} rhk_adapter;

/* The members of rh_runtime_adapter the kit provides: create (calloc, rhk_session_init, open;
 * out of memory is reported through the context's host, else the one init() was given), feed
 * (rhk_feed), finish (rhk_flush, decide, rhk_finish) and destroy (close, free). */
rh_status rhk_adapter_create(const rh_runtime_adapter *self, const rh_runtime_context *ctx,
                             rh_runtime_session **out);
rh_status rhk_adapter_feed(rh_runtime_session *session, rh_stream stream, const char *data, size_t len);
rh_status rhk_adapter_finish(rh_runtime_session *session, const rh_exit *exit);
void rhk_adapter_destroy(rh_runtime_session *session);

/* The plugin entry's init/deinit (RHK_PLUGIN_ENTRY): keep the host for failures before a session
 * has one. */
rh_status rhk_plugin_init(const rh_host *host, const char *library_path);
void rhk_plugin_deinit(void);

/* rh_runtime_adapter with the kit's create, feed, finish and destroy; `respond` may be NULL. */
#define RHK_RUNTIME_ADAPTER(protocol_, capabilities_, launch_, respond_)                             \
  RHK_RUNTIME_ADAPTER_CANCELLABLE(protocol_, capabilities_, launch_, respond_, NULL)
/* The same with rh_runtime_adapter.cancel (1.2): `cancel_` asks the runtime to stop on its own. */
#define RHK_RUNTIME_ADAPTER_CANCELLABLE(protocol_, capabilities_, launch_, respond_, cancel_)          \
  {                                                                                                \
    .struct_size = sizeof(rh_runtime_adapter), .protocol = (protocol_), .capabilities = (capabilities_), \
    .create = rhk_adapter_create, .launch = (launch_), .feed = rhk_adapter_feed, .respond = (respond_), \
    .finish = rhk_adapter_finish, .destroy = rhk_adapter_destroy, .cancel = (cancel_)              \
  }

/* The library's one plugin, `adapter` (an rhk_adapter), and its entry point
 * runhost_plugin_entry_v1. Use once per library, at file scope. */
#define RHK_PLUGIN_ENTRY(adapter, id_, name_, version_, description_)                              \
  static const rh_plugin_desc rhk_plugin_desc_ = {                                                 \
      .struct_size = sizeof(rh_plugin_desc), .kind = RH_PLUGIN_KIND_RUNTIME, .id = (id_),          \
      .name = (name_), .version = (version_), .vendor = "runhost", .description = (description_),  \
      .iface = {.runtime = &(adapter).abi}, .get_extension = NULL};                                \
  static const rh_plugin_desc *const rhk_plugin_list_[] = {&rhk_plugin_desc_};                     \
  static const rh_plugin_entry rhk_plugin_entry_ = {                                               \
      .struct_size = sizeof(rh_plugin_entry), .abi = RH_ABI_VERSION_INIT, .init = rhk_plugin_init, \
      .deinit = rhk_plugin_deinit, .plugin_count = 1, .plugins = rhk_plugin_list_};                \
  RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void) { return &rhk_plugin_entry_; }

/* ---- Small things -------------------------------------------------------------------------- */

/* Fails with set_error("<id>: <message>"). */
rh_status rhk_fail(const rhk_session *s, rh_status status, const char *message);

static inline rh_str rhk_str(const char *data, size_t len) {
  rh_str v;
  v.data = data;
  v.len = len;
  return v;
}
static inline rh_str rhk_cstr(const char *text) { return rhk_str(text, text ? strlen(text) : 0); }
static inline rh_str rhk_none(void) { return rhk_str(NULL, 0); }

#ifdef __cplusplus
}
#endif

#endif /* RUNHOST_ADAPTER_KIT_H */
