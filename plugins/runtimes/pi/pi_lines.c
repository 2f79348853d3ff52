/* pi_lines.c — one `pi --mode json` line in, unified events out.
 *
 *   session                      the session id kept (run.* session_id, resume) and the work dir;
 *                                message {role: system}
 *   agent_start, turn_start,     nothing: structure only
 *   turn_end, message_start,
 *   message_update               nothing: each carries the whole message so far; message_end has it
 *   message_end assistant        message {assistant} per text block, reasoning per thinking block,
 *                                usage {input, output, cached, cost, model}; its stopReason
 *                                "error" holds run.failed (typed from errorMessage), any other
 *                                keeps the text as the run's result
 *   message_end user|toolResult  nothing: the prompt echoed; tool_execution_end has the result
 *   tool_execution_start         tool.started {name, input: args, kind: bash -> command, write |
 *                                edit -> file, others -> tool}
 *   tool_execution_update        nothing: partial output; the end has all of it
 *   tool_execution_end           bash: command.output per line (exit_code from pi's "Command
 *                                exited with code N"); write | edit: file.changed; then
 *                                tool.completed {status, output | error}
 *   agent_end                    run.completed held with the last assistant text, unless that
 *                                message failed
 *   auto_retry_start             message {role: system}: pi retries after a failed model call
 *   auto_retry_end               success false: run.failed held, typed from finalError
 *   compaction_start|end         message {role: system}
 *   queue_update                 nothing
 *   anything else                runtime.unparsed, with the reason
 *
 * Pi exits 0 whatever happened, so this is the only place its failures are seen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pi.h"

#define SESSION(kit) ((rh_runtime_session *)(void *)(kit))

static const char *const k_top[] = {"type",    "id",          "cwd",      "message",      "toolCallId",
                                    "toolName", "args",       "result",   "isError",      "attempt",
                                    "maxAttempts", "delayMs", "errorMessage", "success",  "finalError",
                                    "reason"};
enum {
  T_TYPE, T_ID, T_CWD, T_MESSAGE, T_CALL_ID, T_TOOL_NAME, T_ARGS, T_RESULT, T_IS_ERROR, T_ATTEMPT,
  T_MAX_ATTEMPTS, T_DELAY, T_ERROR_MESSAGE, T_SUCCESS, T_FINAL_ERROR, T_REASON, T_COUNT
};

static const char *const k_message[] = {"role", "content", "stopReason", "errorMessage", "usage", "model"};
enum { M_ROLE, M_CONTENT, M_STOP, M_ERROR, M_USAGE, M_MODEL, M_COUNT };

typedef struct line {
  const char *data;
  size_t len;
  rh_str v[T_COUNT];
  rh_str doc;
} line;

static rh_str raw_of(const line *l) { return rhk_str(l->data, l->len); }

static rh_status no_memory(rhk_session *kit) { return rhk_fail(kit, RH_ERR_NO_MEMORY, "out of memory"); }

static rh_status unparsed(rhk_session *kit, const line *l, const char *reason, rh_str detail) {
  return rhk_emit_unparsed(kit, RH_STREAM_STDOUT, l->data, l->len, false, reason, detail);
}

/* ---- Failures ------------------------------------------------------------------------------ */

/* Pi's error text starts with the HTTP status when the model API answered one ("429 slow down");
 * "Connection error." when it could not be reached. */
static rh_status hold_failure(rh_runtime_session *s, rh_str message, const line *l) {
  rhk_failure_kind kind = RHK_FAIL_MODEL_API;
  int64_t status = 0;
  size_t i = 0;
  while (i < message.len && i < 4 && message.data[i] >= '0' && message.data[i] <= '9') status = status * 10 + (message.data[i++] - '0');
  rh_json_buffer_reset(&s->extra);
  if (i == 3 && (i == message.len || message.data[i] == ' ')) {
    kind = rhk_failure_kind_for_http_status(status);
    if (rhk_write_int_member(&s->extra.writer, true, "api_status", status) != RH_OK) return no_memory(&s->kit);
  } else if (message.len >= 16 && memcmp(message.data, "Connection error", 16) == 0) {
    kind = RHK_FAIL_MODEL_UNAVAILABLE;
  }
  if (message.len == 0) message = rhk_cstr("the model call failed");
  return rhk_hold_failure(&s->kit, kind, message, rhk_str(s->extra.data, s->extra.len), raw_of(l));
}

/* ---- message_end --------------------------------------------------------------------------- */

static rh_status assistant_usage(rh_runtime_session *s, rh_str usage, rh_str model, const line *l) {
  static const char *const names[] = {"input", "output", "cacheRead", "cost"};
  static const char *const cost_names[] = {"total"};
  rh_str u[4], c[1] = {{NULL, 0}};
  rhk_usage out;
  char model_text[256];
  if (!rhk_json_is_object(usage) || rhk_json_pick(usage, names, 4, u) != RH_OK) return RH_OK;
  if (rhk_json_is_object(u[3])) (void)rhk_json_pick(u[3], cost_names, 1, c);
  out.source = NULL;
  out.model = rhk_json_is_string(model) ? rhk_json_text(model, model_text, sizeof model_text) : NULL;
  out.input_tokens = rhk_json_int(u[0], -1);
  out.output_tokens = rhk_json_int(u[1], -1);
  out.cached_input_tokens = rhk_json_int(u[2], -1);
  out.cost_usd = rhk_json_number(c[0], -1);
  if (out.input_tokens <= 0 && out.output_tokens <= 0) return RH_OK; /* a failed call: nothing was used */
  return rhk_emit_usage(&s->kit, &out, raw_of(l));
}

static rh_status assistant_message(rh_runtime_session *s, const line *l, const rh_str *m) {
  static const char *const block_names[] = {"type", "text", "thinking"};
  rhk_session *kit = &s->kit;
  rhk_json_iter it;
  rh_str key, block, b[3];
  rh_status status = RH_OK;
  bool first_text = true;
  if (m[M_CONTENT].data && !rhk_json_is_array(m[M_CONTENT])) return unparsed(kit, l, "assistant content is not an array", rhk_none());
  if (m[M_CONTENT].data && rhk_json_begin(&it, m[M_CONTENT])) {
    while (status == RH_OK && rhk_json_next(&it, &key, &block)) {
      if (!rhk_json_is_object(block) || rhk_json_pick(block, block_names, 3, b) != RH_OK) continue;
      if (rhk_json_is(b[0], "text") && rhk_json_is_string(b[1]) && b[1].len > 2) {
        status = rhk_emit_message(kit, "assistant", b[1], true, false, raw_of(l));
        if (status == RH_OK && first_text) rh_json_buffer_reset(&s->reply);
        first_text = false;
        if (status == RH_OK && rhk_json_decode(b[1], &s->reply) != RH_OK) status = no_memory(kit);
        s->has_reply = true;
      } else if (rhk_json_is(b[0], "thinking") && rhk_json_is_string(b[2]) && b[2].len > 2) {
        status = rhk_emit_reasoning(kit, b[2], true, false, raw_of(l));
      }
      /* toolCall blocks: tool_execution_start reports the call. */
    }
  }
  if (status == RH_OK) status = assistant_usage(s, m[M_USAGE], m[M_MODEL], l);
  if (status != RH_OK) return status;
  s->last_failed = rhk_json_is(m[M_STOP], "error");
  if (s->last_failed) return hold_failure(s, rhk_decoded(&s->text, m[M_ERROR]), l);
  return RH_OK;
}

static rh_status map_message_end(rh_runtime_session *s, const line *l) {
  rh_str m[M_COUNT];
  if (!rhk_json_is_object(l->v[T_MESSAGE]) || rhk_json_pick(l->v[T_MESSAGE], k_message, M_COUNT, m) != RH_OK)
    return unparsed(&s->kit, l, "message_end without a message object", rhk_none());
  if (rhk_json_is(m[M_ROLE], "assistant")) return assistant_message(s, l, m);
  if (rhk_json_is(m[M_ROLE], "user") || rhk_json_is(m[M_ROLE], "toolResult")) return RH_OK;
  return unparsed(&s->kit, l, "message role not mapped: ", m[M_ROLE].len ? m[M_ROLE] : rhk_cstr("(none)"));
}

/* ---- Tools --------------------------------------------------------------------------------- */

static rhk_tool_kind kind_of(const char *name) {
  if (strcmp(name, "bash") == 0) return RHK_COMMAND;
  if (strcmp(name, "write") == 0 || strcmp(name, "edit") == 0) return RHK_FILE;
  return RHK_TOOL;
}

/* The file a file tool (or read) touches, and for write, its size after. */
static rh_status note_file(rh_runtime_session *s, rhk_tool_call *call, rh_str args) {
  static const char *const names[] = {"path", "content"};
  rh_str v[2], path;
  size_t size;
  if (!rhk_json_is_object(args) || rhk_json_pick(args, names, 2, v) != RH_OK) return RH_OK;
  path = rhk_decoded(&s->text, v[0]);
  if (path.len == 0) return RH_OK;
  if (!(call->path = (char *)malloc(path.len + 1))) return no_memory(&s->kit);
  memcpy(call->path, path.data, path.len);
  call->path[path.len] = '\0';
  call->change = RHK_MODIFIED;
  if (strcmp(call->name, "write") == 0) {
    call->change = -1; /* created or modified: decided when it succeeds */
    if (rhk_json_is_string(v[1]) && rh_json_string(v[1], NULL, 0, &size) != RH_ERR_INVALID_ARGUMENT) call->size_bytes = (int64_t)size;
  }
  return RH_OK;
}

static rh_status map_tool_start(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  char name[256], id[160];
  rhk_tool_call *call;
  rh_status status;
  if (!rhk_json_is_string(l->v[T_TOOL_NAME]) || !rhk_json_is_string(l->v[T_CALL_ID]))
    return unparsed(kit, l, "tool_execution_start without toolName and toolCallId strings", rhk_none());
  rhk_json_text(l->v[T_TOOL_NAME], name, sizeof name);
  rhk_json_text(l->v[T_CALL_ID], id, sizeof id);
  if (!name[0]) return unparsed(kit, l, "tool_execution_start with an empty toolName", rhk_none());
  if (!(call = rhk_tools_open(kit, rhk_cstr(id), rhk_cstr(name), kind_of(name)))) return no_memory(kit);
  if ((call->kind == RHK_FILE || strcmp(name, "read") == 0) && (status = note_file(s, call, l->v[T_ARGS])) != RH_OK)
    return status;
  return rhk_emit_tool_started(kit, call, rhk_json_is_object(l->v[T_ARGS]) ? l->v[T_ARGS] : rhk_none(), raw_of(l));
}

/* The text blocks of a tool result, decoded and joined, into s->text. */
static rh_str result_text(rh_runtime_session *s, rh_str result) {
  static const char *const names[] = {"content"};
  static const char *const block_names[] = {"type", "text"};
  rh_str content[1], key, block, b[2];
  rhk_json_iter it;
  rh_json_buffer_reset(&s->text);
  if (!rhk_json_is_object(result) || rhk_json_pick(result, names, 1, content) != RH_OK || !rhk_json_is_array(content[0]))
    return rhk_str("", 0);
  if (rhk_json_begin(&it, content[0])) {
    while (rhk_json_next(&it, &key, &block)) {
      if (rhk_json_is_object(block) && rhk_json_pick(block, block_names, 2, b) == RH_OK && rhk_json_is(b[0], "text") && rhk_json_is_string(b[1]))
        (void)rhk_json_decode(b[1], &s->text);
    }
  }
  return rhk_str(s->text.data ? s->text.data : "", s->text.len);
}

/* Pi ends a failed command's output with "Command exited with code N" (a line of its own). */
static bool exit_code_of(rh_str text, int64_t *code, size_t *output_len) {
  static const char marker[] = "Command exited with code ";
  const size_t n = sizeof marker - 1;
  size_t start = text.len, end = text.len, i;
  int64_t value = 0;
  while (end > 0 && (text.data[end - 1] == '\n' || text.data[end - 1] == ' ')) end--;
  for (start = end; start > 0 && text.data[start - 1] != '\n'; start--) {
  }
  if (end - start <= n || memcmp(text.data + start, marker, n) != 0) return false;
  for (i = start + n; i < end; i++) {
    if (text.data[i] < '0' || text.data[i] > '9' || value > 100000000) return false;
    value = value * 10 + (text.data[i] - '0');
  }
  *code = value;
  *output_len = start;
  return true;
}

static rh_status map_tool_end(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  char id[160], message[96];
  rhk_tool_call *call;
  rhk_tool_result r;
  rh_str text;
  rh_json_buffer output;
  int64_t code = 0;
  size_t output_len = 0;
  bool failed, has_code = false;
  rh_status status = RH_OK;
  if (!rhk_json_is_string(l->v[T_CALL_ID])) return unparsed(kit, l, "tool_execution_end without a toolCallId string", rhk_none());
  if (!rhk_json_is_true(l->v[T_IS_ERROR]) && !rhk_json_is_false(l->v[T_IS_ERROR]))
    return unparsed(kit, l, "tool_execution_end without isError true or false", rhk_none());
  failed = rhk_json_is_true(l->v[T_IS_ERROR]);
  rhk_json_text(l->v[T_CALL_ID], id, sizeof id);
  call = rhk_tools_find(kit, rhk_cstr(id));
  text = result_text(s, l->v[T_RESULT]);
  if (call && call->kind == RHK_COMMAND) {
    has_code = exit_code_of(text, &code, &output_len);
    if (!has_code) output_len = text.len;
    while (has_code && output_len > 0 && text.data[output_len - 1] == '\n') output_len--; /* pi's blank lines */
    status = rhk_emit_command_text(kit, RH_STREAM_STDOUT, rhk_str(text.data, output_len), call->call_id,
                                   has_code || !failed, has_code ? code : 0, raw_of(l));
  }
  if (status == RH_OK && call && !failed && call->kind == RHK_FILE) status = rhk_emit_tool_file_changed(kit, call, raw_of(l));
  if (call && !failed && call->path && call->kind != RHK_FILE) rhk_see_path(kit, call->path); /* read: it exists */
  if (status != RH_OK) return status;
  /* The output as a JSON string (s->text holds it; file_changed did not touch it). */
  rh_json_buffer_init(&output);
  if (rh_json_write_string(&output.writer, text.data, text.len) != RH_OK) {
    rh_json_buffer_free(&output);
    return no_memory(kit);
  }
  r.call_id = call ? call->call_id : id[0] ? id : "unknown";
  r.name = call ? call->name : NULL;
  r.failed = failed;
  r.duration_ms = -1;
  r.output = rhk_str(output.data, output.len);
  r.error = rhk_none();
  if (failed && has_code) {
    snprintf(message, sizeof message, "the command exited with code %lld", (long long)code);
    r.error = rhk_cstr(message);
  } else if (failed) {
    r.error = text.len ? rhk_str(text.data, text.len) : rhk_cstr("the tool failed");
  }
  status = rhk_emit_tool_completed(kit, &r, raw_of(l));
  rh_json_buffer_free(&output);
  if (call) rhk_tools_close(kit, call);
  return status;
}

/* ---- The rest ------------------------------------------------------------------------------ */

static rh_status map_session(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  char id[160], text[256];
  rh_status status;
  if (!rhk_json_is_string(l->v[T_ID])) return unparsed(kit, l, "session without an id string", rhk_none());
  rhk_json_text(l->v[T_ID], id, sizeof id);
  if ((status = rhk_set_session_id(kit, rhk_cstr(id), true)) != RH_OK) return status;
  if (rhk_json_is_string(l->v[T_CWD])) {
    rh_str cwd = rhk_decoded(&s->text, l->v[T_CWD]);
    if (cwd.len && (status = rhk_set_work_dir(kit, cwd)) != RH_OK) return status;
  }
  snprintf(text, sizeof text, "Pi session %s started", id);
  return rhk_emit_message(kit, "system", rhk_cstr(text), false, false, raw_of(l));
}

static rh_status map_agent_end(rh_runtime_session *s, const line *l) {
  if (s->last_failed) return RH_OK; /* held already, unless pi retries and succeeds */
  return rhk_hold_completed(&s->kit, rhk_str(s->reply.data ? s->reply.data : "", s->reply.len), s->has_reply, -1,
                            rhk_none(), raw_of(l));
}

static rh_status map_retry_start(rh_runtime_session *s, const line *l) {
  char text[1200];
  rh_str error = rhk_decoded(&s->text, l->v[T_ERROR_MESSAGE]);
  snprintf(text, sizeof text, "Pi retries (attempt %lld of %lld, in %lld ms) after: %.*s",
           (long long)rhk_json_int(l->v[T_ATTEMPT], 0), (long long)rhk_json_int(l->v[T_MAX_ATTEMPTS], 0),
           (long long)rhk_json_int(l->v[T_DELAY], 0), (int)(error.len > 1024 ? 1024 : error.len), error.data);
  return rhk_emit_message(&s->kit, "system", rhk_cstr(text), false, false, raw_of(l));
}

static rh_status map_retry_end(rh_runtime_session *s, const line *l) {
  if (!rhk_json_is_false(l->v[T_SUCCESS])) return RH_OK; /* it worked: agent_end holds the ending */
  s->last_failed = true;
  return hold_failure(s, rhk_decoded(&s->text, l->v[T_FINAL_ERROR]), l);
}

static rh_status map_compaction(rh_runtime_session *s, const line *l, bool start) {
  char text[160], reason[64];
  rhk_json_text(l->v[T_REASON], reason, sizeof reason);
  snprintf(text, sizeof text, start ? "Pi compacts the conversation (%s)" : "Pi compacted the conversation (%s)",
           reason[0] ? reason : "no reason given");
  return rhk_emit_message(&s->kit, "system", rhk_cstr(text), false, false, raw_of(l));
}

rh_status pi_on_stdout_line(rhk_session *kit, const char *data, size_t len, bool truncated) {
  static const char *const quiet[] = {"agent_start", "turn_start", "turn_end", "message_start", "message_update",
                                      "tool_execution_update", "queue_update"};
  rh_runtime_session *s = SESSION(kit);
  line l;
  size_t i;
  l.data = data;
  l.len = len;
  if (!rhk_line_pick(kit, RH_STREAM_STDOUT, data, len, truncated, k_top, T_COUNT, l.v, &l.doc)) return RH_OK;
  if (!rhk_json_is_string(l.v[T_TYPE])) return unparsed(kit, &l, "a line without a \"type\" string", rhk_none());
  for (i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
    if (rhk_json_is(l.v[T_TYPE], quiet[i])) return RH_OK;
  if (rhk_json_is(l.v[T_TYPE], "message_end")) return map_message_end(s, &l);
  if (rhk_json_is(l.v[T_TYPE], "tool_execution_start")) return map_tool_start(s, &l);
  if (rhk_json_is(l.v[T_TYPE], "tool_execution_end")) return map_tool_end(s, &l);
  if (rhk_json_is(l.v[T_TYPE], "session")) return map_session(s, &l);
  if (rhk_json_is(l.v[T_TYPE], "agent_end")) return map_agent_end(s, &l);
  if (rhk_json_is(l.v[T_TYPE], "auto_retry_start")) return map_retry_start(s, &l);
  if (rhk_json_is(l.v[T_TYPE], "auto_retry_end")) return map_retry_end(s, &l);
  if (rhk_json_is(l.v[T_TYPE], "compaction_start")) return map_compaction(s, &l, true);
  if (rhk_json_is(l.v[T_TYPE], "compaction_end")) return map_compaction(s, &l, false);
  return unparsed(kit, &l, "line type not mapped: ", l.v[T_TYPE]);
}
