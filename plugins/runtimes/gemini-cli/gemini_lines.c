/* gemini_lines.c — one stream-json line of Gemini CLI in, unified events out.
 *
 *   init          message {role: system}; the session id and model, kept
 *   message       message {role: user} (the prompt, as the CLI received it) or assistant text;
 *                 the CLI marks every assistant piece a delta: the first of a run of them starts
 *                 a message (delta false), the rest append
 *   tool_use      tool.started
 *   tool_result   tool.completed (+ command.output for run_shell_command, file.changed for
 *                 write_file and replace)
 *   error         message {role: system, severity}; never ends the run
 *   result        usage per model; the outcome held for finish()
 *   anything else runtime.unparsed, with the reason
 *
 * docs/runtimes/gemini-cli.md has the full table. Each line is read in one walk of its top-level
 * members (rhk_line_pick); strings are copied into payloads as the JSON they already are, and
 * decoded only where the text itself matters. A line that cannot be mapped changes no state: what
 * follows maps as if it had not been there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemini_cli.h"

#define SESSION(kit) ((rh_runtime_session *)(void *)(kit))

static const char *const k_top[] = {"type",   "session_id", "model",  "role",  "content",  "delta",
                                    "tool_name", "tool_id", "parameters", "status", "output", "error",
                                    "severity", "message",  "stats"};
enum {
  T_TYPE, T_SESSION_ID, T_MODEL, T_ROLE, T_CONTENT, T_DELTA, T_TOOL_NAME, T_TOOL_ID, T_PARAMETERS, T_STATUS,
  T_OUTPUT, T_ERROR, T_SEVERITY, T_MESSAGE, T_STATS, T_COUNT
};

typedef struct line {
  const char *data; /* the native line */
  size_t len;
  rh_str v[T_COUNT];
} line;

static rh_str raw_of(const line *l) { return rhk_str(l->data, l->len); }

static rh_status unparsed(rhk_session *kit, const line *l, const char *reason, rh_str detail) {
  return rhk_emit_unparsed(kit, RH_STREAM_STDOUT, l->data, l->len, false, reason, detail);
}

static bool is_string(rh_str v) { return v.len >= 2 && v.data[0] == '"'; }
static bool is_object(rh_str v) { return v.len >= 2 && v.data[0] == '{'; }
static bool is_true(rh_str v) { return v.len == 4 && memcmp(v.data, "true", 4) == 0; }

static rh_status no_memory(rhk_session *kit) { return rhk_fail(kit, RH_ERR_NO_MEMORY, "out of memory"); }

/* A decoded string in the session's text buffer (reset first); empty when `value` is not one. */
static rh_str decoded(rh_runtime_session *s, rh_str value) {
  rh_json_buffer_reset(&s->text);
  if (!is_string(value) || rhk_json_decode(value, &s->text) != RH_OK) return rhk_str("", 0);
  return rhk_str(s->text.data ? s->text.data : "", s->text.len);
}

static bool text_starts(rh_str text, const char *prefix) {
  size_t n = strlen(prefix);
  return text.len >= n && memcmp(text.data, prefix, n) == 0;
}

static const char *find_in(rh_str text, const char *needle) {
  size_t n = strlen(needle), i;
  for (i = 0; n <= text.len && i <= text.len - n; i++)
    if (memcmp(text.data + i, needle, n) == 0) return text.data + i;
  return NULL;
}

/* Copies at most `cap` bytes of `text` into `out`, ending on a whole UTF-8 sequence. */
static void note(char *out, size_t cap, rh_str text) {
  size_t n = text.len > cap ? cap : text.len;
  while (n > 0 && n < text.len && ((unsigned char)text.data[n] & 0xC0) == 0x80) n--;
  memcpy(out, text.data, n);
  out[n] = '\0';
}

/* ---- init ---------------------------------------------------------------------------------- */

static rh_status map_init(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  char id[160], model[160], text[400];
  rh_status status;
  if (!is_string(l->v[T_SESSION_ID])) return unparsed(kit, l, "init without a session_id string", rhk_none());
  rhk_json_text(l->v[T_SESSION_ID], id, sizeof id);
  rhk_json_text(l->v[T_MODEL], model, sizeof model);
  if ((status = rhk_set_session_id(kit, rhk_cstr(id), true)) != RH_OK) return status;
  if (model[0]) {
    free(s->usage_model);
    if (!(s->usage_model = (char *)malloc(strlen(model) + 1))) return no_memory(kit);
    strcpy(s->usage_model, model);
  }
  rh_json_buffer_reset(&s->extra);
  if (rhk_write_raw_member(&s->extra.writer, true, "session_id", l->v[T_SESSION_ID]) ||
      (model[0] && rhk_write_raw_member(&s->extra.writer, false, "model", l->v[T_MODEL])))
    return no_memory(kit);
  rhk_set_extra(kit, rhk_str(s->extra.data, s->extra.len));
  snprintf(text, sizeof text, "Gemini CLI session %s started%s%s%s", id, model[0] ? " (model " : "", model,
           model[0] ? ")" : "");
  s->in_reply = false;
  return rhk_emit_message(kit, "system", rhk_cstr(text), false, false, raw_of(l));
}

/* ---- message ------------------------------------------------------------------------------- */

/* The reply so far: run.completed's result is the last assistant message. */
static rh_status keep_reply(rh_runtime_session *s, rh_str content, bool fresh) {
  rh_str text;
  size_t room, n;
  if (fresh) {
    rh_json_buffer_reset(&s->reply);
    s->reply_cut = false;
  }
  if (s->reply_cut) return RH_OK;
  text = decoded(s, content);
  room = GEMINI_REPLY_LIMIT - s->reply.len;
  n = text.len;
  if (n > room) {
    n = room;
    while (n > 0 && ((unsigned char)text.data[n] & 0xC0) == 0x80) n--; /* whole UTF-8 sequences */
    s->reply_cut = true;
  }
  if (n > 0 && rh_json_write_raw(&s->reply.writer, text.data, n)) return no_memory(&s->kit);
  return RH_OK;
}

static rh_status map_message(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  bool delta, continues;
  rh_status status;
  if (!is_string(l->v[T_CONTENT])) return unparsed(kit, l, "message without a content string", rhk_none());
  if (rhk_json_is(l->v[T_ROLE], "user")) {
    s->in_reply = false;
    return rhk_emit_message(kit, "user", l->v[T_CONTENT], true, false, raw_of(l));
  }
  if (!rhk_json_is(l->v[T_ROLE], "assistant"))
    return unparsed(kit, l, "message role not mapped: ", l->v[T_ROLE].len ? l->v[T_ROLE] : rhk_cstr("(none)"));
  delta = is_true(l->v[T_DELTA]);
  continues = delta && s->in_reply;
  if ((status = keep_reply(s, l->v[T_CONTENT], !continues)) != RH_OK) return status;
  s->in_reply = delta;
  return rhk_emit_message(kit, "assistant", l->v[T_CONTENT], true, continues, raw_of(l));
}

/* ---- tool_use ------------------------------------------------------------------------------ */

static rhk_tool_kind kind_of(const char *name) {
  if (strcmp(name, "run_shell_command") == 0) return RHK_COMMAND;
  if (strcmp(name, "write_file") == 0 || strcmp(name, "replace") == 0) return RHK_FILE;
  if (strncmp(name, "mcp_", 4) == 0) return RHK_MCP;
  return RHK_TOOL;
}

/* The file a file tool edits (or read_file reads), what the edit does to it, and (write_file) its
 * size after. */
static rh_status note_file(rh_runtime_session *s, rhk_tool_call *call, rh_str input) {
  static const char *const names[] = {"file_path", "absolute_path", "path", "content", "old_string"};
  rh_str v[5], path;
  size_t size;
  if (!is_object(input) || rhk_json_pick(input, names, 5, v) != RH_OK) return RH_OK;
  path = decoded(s, is_string(v[0]) ? v[0] : is_string(v[1]) ? v[1] : v[2]);
  if (path.len == 0) return RH_OK;
  if (!(call->path = (char *)malloc(path.len + 1))) return no_memory(&s->kit);
  memcpy(call->path, path.data, path.len);
  call->path[path.len] = '\0';
  call->change = RHK_MODIFIED;
  if (strcmp(call->name, "write_file") == 0) {
    call->change = -1; /* created or modified: decided when it succeeds (file_changed) */
    if (is_string(v[3]) && rh_json_string(v[3], NULL, 0, &size) != RH_ERR_INVALID_ARGUMENT) call->size_bytes = (int64_t)size;
  }
  if (strcmp(call->name, "replace") == 0 && rhk_json_is(v[4], "")) call->change = RHK_CREATED; /* "" creates */
  return RH_OK;
}

static rh_status map_tool_use(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  char name[256], id[160];
  rhk_tool_call *call;
  rh_status status;
  if (!is_string(l->v[T_TOOL_NAME])) return unparsed(kit, l, "tool_use without a tool_name string", rhk_none());
  rhk_json_text(l->v[T_TOOL_NAME], name, sizeof name);
  rhk_json_text(l->v[T_TOOL_ID], id, sizeof id);
  if (!name[0]) return unparsed(kit, l, "tool_use with an empty tool_name", rhk_none());
  if (!(call = rhk_tools_open(kit, rhk_cstr(id), rhk_cstr(name), kind_of(name))))
    return rhk_fail(kit, RH_ERR_NO_MEMORY, "out of memory opening a tool call");
  if ((call->kind == RHK_FILE || strcmp(name, "read_file") == 0) && (status = note_file(s, call, l->v[T_PARAMETERS])) != RH_OK)
    return status;
  /* The reply before a tool call is not the final answer: that comes after the last one. */
  s->in_reply = false;
  rh_json_buffer_reset(&s->reply);
  s->reply_cut = false;
  return rhk_emit_tool_started(kit, call, l->v[T_PARAMETERS], raw_of(l));
}

/* ---- tool_result --------------------------------------------------------------------------- */

/* What the shell tool displays (returnDisplay): the command's output, stdout and stderr merged,
 * when it printed any; otherwise a sentence of its own, or nothing at all after exit code 0. Only
 * those last two carry the exit code. */
static rh_status command_output(rh_runtime_session *s, const line *l, const char *call_id, rh_str output) {
  static const char *const synthesized[] = {"Command terminated by signal: ", "Command failed: ",
                                            "Command moved to background (PID: ", "Command cancelled by user.",
                                            "Command was automatically cancelled"};
  rhk_session *kit = &s->kit;
  rh_str text;
  const char *p;
  int64_t code = 0;
  size_t i;
  bool digits = false;
  if (!is_string(output)) return RH_OK; /* no display at all: nothing known */
  text = decoded(s, output);
  if (text.len == 0) return rhk_emit_command_text(kit, RH_STREAM_STDOUT, text, call_id, true, 0, raw_of(l));
  if (text_starts(text, "Command exited with code: ")) {
    p = text.data + 26;
    if (p < text.data + text.len && *p == '-') p++;
    while (p < text.data + text.len && *p >= '0' && *p <= '9' && code < 100000000) code = code * 10 + (*p++ - '0'), digits = true;
    if (digits && p == text.data + text.len) {
      if (text.data[26] == '-') code = -code;
      return rhk_emit_command_text(kit, RH_STREAM_STDOUT, rhk_str("", 0), call_id, true, code, raw_of(l));
    }
  }
  for (i = 0; i < sizeof synthesized / sizeof synthesized[0]; i++)
    if (text_starts(text, synthesized[i])) return RH_OK; /* tool.completed has it; not the command's output */
  return rhk_emit_command_text(kit, RH_STREAM_STDOUT, text, call_id, false, 0, raw_of(l));
}

static rh_status file_changed(rh_runtime_session *s, const line *l, const rhk_tool_call *call) {
  /* Plan mode puts a relative path under its plans directory, not the working directory. */
  if (s->approval_mode && strcmp(s->approval_mode, "plan") == 0) return RH_OK;
  return rhk_emit_tool_file_changed(&s->kit, call, raw_of(l));
}

static rh_status map_tool_result(rh_runtime_session *s, const line *l) {
  static const char *const error_names[] = {"type", "message"};
  rhk_session *kit = &s->kit;
  char id[160];
  rhk_tool_call *call;
  rhk_tool_result r;
  rh_str e[2] = {{NULL, 0}, {NULL, 0}};
  bool failed;
  rh_status status = RH_OK;
  if (!is_string(l->v[T_TOOL_ID])) return unparsed(kit, l, "tool_result without a tool_id string", rhk_none());
  if (rhk_json_is(l->v[T_STATUS], "success")) failed = false;
  else if (rhk_json_is(l->v[T_STATUS], "error")) failed = true;
  else return unparsed(kit, l, "tool_result status not mapped: ", l->v[T_STATUS].len ? l->v[T_STATUS] : rhk_cstr("(none)"));
  if (l->v[T_ERROR].data && (!is_object(l->v[T_ERROR]) || rhk_json_pick(l->v[T_ERROR], error_names, 2, e) != RH_OK))
    return unparsed(kit, l, "tool_result error is not an object", rhk_none());
  rhk_json_text(l->v[T_TOOL_ID], id, sizeof id);
  call = rhk_tools_find(kit, rhk_cstr(id));
  s->in_reply = false;
  if (call && !failed && call->kind == RHK_COMMAND) status = command_output(s, l, call->call_id, l->v[T_OUTPUT]);
  if (status == RH_OK && call && !failed && call->kind == RHK_FILE) status = file_changed(s, l, call);
  if (call && !failed && call->path && call->kind != RHK_FILE) rhk_see_path(&s->kit, call->path); /* read_file: it exists */
  if (status != RH_OK) return status;
  r.call_id = call ? call->call_id : id[0] ? id : "unknown";
  r.name = call ? call->name : NULL;
  r.failed = failed;
  r.duration_ms = -1;
  r.output = !failed && is_string(l->v[T_OUTPUT]) ? l->v[T_OUTPUT] : rhk_none();
  r.error = rhk_none();
  if (failed) {
    r.error = decoded(s, is_string(e[1]) ? e[1] : l->v[T_OUTPUT]);
    if (r.error.len == 0) r.error = rhk_cstr("the tool failed");
    if (is_string(e[0])) { /* the CLI's kind of failure: policy_violation, tool_not_registered... */
      rh_json_buffer_reset(&s->extra);
      if (rhk_write_raw_member(&s->extra.writer, true, "error_type", e[0])) return no_memory(kit);
      rhk_set_extra(kit, rhk_str(s->extra.data, s->extra.len));
    }
  }
  status = rhk_emit_tool_completed(kit, &r, raw_of(l));
  rhk_tools_close(kit, call);
  return status;
}

/* ---- error --------------------------------------------------------------------------------- */

static rh_status map_error(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  if (!is_string(l->v[T_MESSAGE]) || !is_string(l->v[T_SEVERITY]))
    return unparsed(kit, l, "error line without severity and message strings", rhk_none());
  if (rhk_json_is(l->v[T_SEVERITY], "error")) note(s->last_error, GEMINI_NOTE_MAX, decoded(s, l->v[T_MESSAGE]));
  rh_json_buffer_reset(&s->extra);
  if (rhk_write_raw_member(&s->extra.writer, true, "severity", l->v[T_SEVERITY])) return no_memory(kit);
  rhk_set_extra(kit, rhk_str(s->extra.data, s->extra.len));
  s->in_reply = false;
  return rhk_emit_message(kit, "system", l->v[T_MESSAGE], true, false, raw_of(l));
}

/* ---- result -------------------------------------------------------------------------------- */

static rh_status emit_one_usage(rh_runtime_session *s, const line *l, const char *model, const rh_str *v) {
  rhk_session *kit = &s->kit;
  rhk_usage u;
  int64_t total = rhk_json_int(v[3], -1);
  u.source = NULL;
  u.model = model && model[0] ? model : NULL;
  u.input_tokens = rhk_json_int(v[0], -1);
  u.output_tokens = rhk_json_int(v[1], -1);
  u.cached_input_tokens = rhk_json_int(v[2], -1);
  u.cost_usd = -1;
  if (u.input_tokens <= 0 && u.output_tokens <= 0 && total <= 0) return RH_OK; /* nothing was spent */
  rh_json_buffer_reset(&s->extra);
  /* total_tokens also counts thinking and tool-use prompt tokens, which output_tokens does not. */
  if (total >= 0 && rhk_write_int_member(&s->extra.writer, true, "total_tokens", total)) return no_memory(kit);
  rhk_set_extra(kit, rhk_str(s->extra.data ? s->extra.data : "", s->extra.len));
  return rhk_emit_usage(kit, &u, raw_of(l));
}

/* usage: one per model of stats.models; without it, one from the totals. */
static rh_status emit_usage(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"input_tokens", "output_tokens", "cached", "total_tokens", "models"};
  rhk_json_iter it;
  rh_str v[5], m[5], key, value;
  char model[160];
  bool any = false;
  rh_status status = RH_OK;
  if (!is_object(l->v[T_STATS]) || rhk_json_pick(l->v[T_STATS], names, 5, v) != RH_OK) return RH_OK;
  if (is_object(v[4]) && rhk_json_begin(&it, v[4])) {
    while (status == RH_OK && rhk_json_next(&it, &key, &value)) {
      if (!is_object(value) || rhk_json_pick(value, names, 4, m) != RH_OK) continue;
      status = emit_one_usage(s, l, rhk_json_text(key, model, sizeof model), m);
      any = true;
    }
  }
  if (status != RH_OK || any) return status;
  return emit_one_usage(s, l, s->usage_model, v);
}

rhk_failure_kind gemini_api_failure(rh_str message, bool *known) {
  static const struct { const char *name; rhk_failure_kind kind; } statuses[] = {
      {"UNAUTHENTICATED", RHK_FAIL_AUTH},          {"PERMISSION_DENIED", RHK_FAIL_AUTH},
      {"RESOURCE_EXHAUSTED", RHK_FAIL_RATE_LIMITED}, {"INVALID_ARGUMENT", RHK_FAIL_MODEL_REQUEST},
      {"NOT_FOUND", RHK_FAIL_MODEL_REQUEST},       {"FAILED_PRECONDITION", RHK_FAIL_MODEL_REQUEST},
      {"OUT_OF_RANGE", RHK_FAIL_MODEL_REQUEST},    {"UNAVAILABLE", RHK_FAIL_MODEL_UNAVAILABLE},
      {"INTERNAL", RHK_FAIL_MODEL_UNAVAILABLE},    {"DEADLINE_EXCEEDED", RHK_FAIL_MODEL_UNAVAILABLE}};
  rhk_failure_kind kind = RHK_FAIL_MODEL_API;
  const char *p, *end = message.data + message.len;
  int64_t code = 0;
  size_t i;
  *known = true;
  /* The API's own error body, quoted: {"error":{"code":401,...,"status":"UNAUTHENTICATED"}}. */
  if ((p = find_in(message, "\"code\":"))) {
    for (p += 7; p < end && *p == ' '; p++) {}
    while (p < end && *p >= '0' && *p <= '9' && code < 1000) code = code * 10 + (*p++ - '0');
    if (code >= 100 && code < 600) kind = rhk_failure_kind_for_http_status(code);
  }
  for (i = 0; kind == RHK_FAIL_MODEL_API && i < sizeof statuses / sizeof statuses[0]; i++) {
    char quoted[48], named[48];
    snprintf(quoted, sizeof quoted, "\"status\":\"%s\"", statuses[i].name);
    snprintf(named, sizeof named, "(Status: %s)", statuses[i].name);
    if (find_in(message, quoted) || find_in(message, named)) kind = statuses[i].kind;
  }
  /* The advice the CLI appends to a 429 (parseAndFormatApiError). */
  if (kind == RHK_FAIL_MODEL_API &&
      (find_in(message, "Please wait and try again later") || find_in(message, "Possible quota limitations")))
    kind = RHK_FAIL_RATE_LIMITED;
  if (kind == RHK_FAIL_MODEL_REQUEST && (find_in(message, "exceeds the maximum number of tokens") ||
                                         find_in(message, "input token count")))
    kind = RHK_FAIL_CONTEXT_LIMIT;
  *known = kind != RHK_FAIL_MODEL_API;
  return kind;
}

/* result {status: "error", error: {type, message}}: the error's class names most kinds; a model API
 * error is an object of no class ("unknown") whose message the CLI formats as "[API Error: ...]". */
static rh_status hold_error_result(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"type", "message"};
  static const struct { const char *type; rhk_failure_kind kind; const char *cause; } classes[] = {
      {"FatalTurnLimitedError", RHK_FAIL_TURN_LIMIT, NULL},
      {"FatalAuthenticationError", RHK_FAIL_AUTH, NULL},
      {"FatalUntrustedWorkspaceError", RHK_FAIL_POLICY, NULL},
      {"FatalInputError", RHK_FAIL_RUNTIME, "invalid_input"},
      {"FatalSandboxError", RHK_FAIL_RUNTIME, "sandbox"},
      {"FatalConfigError", RHK_FAIL_RUNTIME, "config"},
      {"FatalToolExecutionError", RHK_FAIL_RUNTIME, "tool_failed"},
      {"no_space_left", RHK_FAIL_RUNTIME, "tool_failed"}};
  rhk_session *kit = &s->kit;
  rh_str e[2] = {{NULL, 0}, {NULL, 0}}, message;
  rhk_failure f;
  rhk_failure_kind kind = RHK_FAIL_RUNTIME;
  const char *cause = NULL;
  size_t i;
  bool known = true;
  s->api_status_unknown = false;
  if (is_object(l->v[T_ERROR])) (void)rhk_json_pick(l->v[T_ERROR], names, 2, e);
  message = decoded(s, e[1]);
  if (!is_object(l->v[T_ERROR])) {
    /* An invalid stream (the model answered nothing usable): the error line before says why. */
    message = rhk_cstr(s->last_error[0] ? s->last_error : "the run ended with status \"error\"");
    kind = strcmp(s->last_error, "Maximum session turns exceeded") == 0 ? RHK_FAIL_TURN_LIMIT
           : find_in(message, "transient API issue")                 ? RHK_FAIL_MODEL_UNAVAILABLE
                                                                     : RHK_FAIL_MODEL_API;
  } else if (rhk_json_is(e[0], "FatalCancellationError")) {
    f = *rhk_failure_of(RHK_FAIL_RUNTIME);
    f.code = "cancelled";
    f.cause = "runtime_cancelled";
    return rhk_hold_failure_with(kit, &f, message.len ? message : rhk_cstr("the run was cancelled"), rhk_none(),
                                 raw_of(l));
  } else if (text_starts(message, "[API Error:")) {
    kind = gemini_api_failure(message, &known);
    s->api_status_unknown = !known;
  } else {
    for (i = 0; i < sizeof classes / sizeof classes[0]; i++) {
      if (rhk_json_is(e[0], classes[i].type)) {
        kind = classes[i].kind;
        cause = classes[i].cause;
        break;
      }
    }
  }
  if (message.len == 0) message = rhk_cstr("the run ended with status \"error\"");
  f = *rhk_failure_of(kind);
  if (cause) f.cause = cause;
  if (kind == RHK_FAIL_POLICY) f.hint = GEMINI_TRUST_HINT;
  return rhk_hold_failure_with(kit, &f, message, rhk_none(), raw_of(l));
}

static rh_status map_result(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"duration_ms"};
  rhk_session *kit = &s->kit;
  rh_str v[1] = {{NULL, 0}};
  double duration;
  rh_status status;
  if (!rhk_json_is(l->v[T_STATUS], "success") && !rhk_json_is(l->v[T_STATUS], "error"))
    return unparsed(kit, l, "result status not mapped: ", l->v[T_STATUS].len ? l->v[T_STATUS] : rhk_cstr("(none)"));
  if (l->v[T_STATS].data && (!is_object(l->v[T_STATS]) || rhk_json_pick(l->v[T_STATS], names, 1, v) != RH_OK))
    return unparsed(kit, l, "result stats is not an object", rhk_none());
  if (l->v[T_ERROR].data && !is_object(l->v[T_ERROR]))
    return unparsed(kit, l, "result error is not an object", rhk_none());
  if ((status = emit_usage(s, l)) != RH_OK) return status;
  s->in_reply = false;
  if (rhk_json_is(l->v[T_STATUS], "error")) return hold_error_result(s, l);
  duration = rhk_json_number(v[0], -1);
  return rhk_hold_completed(kit, rhk_str(s->reply.data ? s->reply.data : "", s->reply.len), s->reply.len > 0,
                            duration, s->reply_cut ? rhk_cstr("\"result_truncated\":true") : rhk_none(), raw_of(l));
}

/* ---- The line ------------------------------------------------------------------------------ */

rh_status gemini_on_stdout_line(rhk_session *kit, const char *data, size_t len, bool truncated) {
  rh_runtime_session *s = SESSION(kit);
  line l;
  rh_str type, doc;
  l.data = data;
  l.len = len;
  if (!rhk_line_pick(kit, RH_STREAM_STDOUT, data, len, truncated, k_top, T_COUNT, l.v, &doc)) return RH_OK;
  type = l.v[T_TYPE];
  if (!is_string(type)) return unparsed(kit, &l, "no \"type\" string", rhk_none());
  if (rhk_json_is(type, "message")) return map_message(s, &l);
  if (rhk_json_is(type, "tool_use")) return map_tool_use(s, &l);
  if (rhk_json_is(type, "tool_result")) return map_tool_result(s, &l);
  if (rhk_json_is(type, "init")) return map_init(s, &l);
  if (rhk_json_is(type, "error")) return map_error(s, &l);
  if (rhk_json_is(type, "result")) return map_result(s, &l);
  return unparsed(kit, &l, "line type not mapped: ", type);
}
