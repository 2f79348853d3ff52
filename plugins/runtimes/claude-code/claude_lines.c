/* claude_lines.c — one stream-json line of Claude Code in, unified events out.
 *
 *   system/init            message {role: system} + the session id and work dir, kept
 *   assistant              message | reasoning | tool.started, one per content block
 *   user                   tool.completed (+ command.output for Bash, file.changed for edits)
 *   stream_event           message/reasoning deltas (--include-partial-messages)
 *   result                 usage per model; the outcome held for finish(); stdin closed (live)
 *   control_request        can_use_tool: approval.required for the host; respond() answers it
 *                          with a control_response line; any other request is answered "error"
 *   anything else          runtime.unparsed, with the reason
 *
 * docs/runtimes/claude-code.md has the full table. Each line is read in one walk of its top-level
 * members (rhk_line_pick); strings are copied into payloads as the JSON they already are, and
 * decoded only where the text itself matters (commands' output, errors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claude_code.h"

#define SESSION(kit) ((rh_runtime_session *)(void *)(kit))

/* The top-level members any line type needs, picked in one walk. */
static const char *const k_top[] = {"type",          "subtype",         "message",     "session_id",
                                    "parent_tool_use_id", "tool_use_result", "event",   "error",
                                    "cwd",           "model",           "is_error",    "result",
                                    "duration_ms",   "num_turns",       "total_cost_usd", "usage",
                                    "modelUsage",    "permission_denials", "errors",   "api_error_status",
                                    "api_error_type", "api_message_id", "content",     "text",
                                    "request_id",    "request"};
enum {
  T_TYPE, T_SUBTYPE, T_MESSAGE, T_SESSION_ID, T_PARENT, T_TOOL_USE_RESULT, T_EVENT, T_ERROR,
  T_CWD, T_MODEL, T_IS_ERROR, T_RESULT, T_DURATION_MS, T_NUM_TURNS, T_TOTAL_COST, T_USAGE,
  T_MODEL_USAGE, T_DENIALS, T_ERRORS, T_API_STATUS, T_API_TYPE, T_API_MESSAGE_ID, T_CONTENT, T_TEXT,
  T_REQUEST_ID, T_REQUEST, T_COUNT
};

typedef struct line {
  const char *data; /* the native line */
  size_t len;
  rh_str v[T_COUNT];
  rh_str doc;
} line;

static rh_str raw_of(const line *l) { return rhk_str(l->data, l->len); }

static rh_status unparsed(rhk_session *kit, const line *l, const char *reason, rh_str detail) {
  return rhk_emit_unparsed(kit, RH_STREAM_STDOUT, l->data, l->len, false, reason, detail);
}

static bool is_string(rh_str v) { return v.len >= 2 && v.data[0] == '"'; }
static bool is_object(rh_str v) { return v.len >= 2 && v.data[0] == '{'; }
static bool is_array(rh_str v) { return v.len >= 2 && v.data[0] == '['; }
static bool is_true(rh_str v) { return v.len == 4 && memcmp(v.data, "true", 4) == 0; }

/* A decoded string, appended to the session's text buffer (reset first when `fresh`). */
static rh_str decoded(rh_runtime_session *s, rh_str value, bool fresh) {
  size_t from;
  if (fresh) rh_json_buffer_reset(&s->text);
  from = s->text.len;
  if (!is_string(value) || rhk_json_decode(value, &s->text) != RH_OK) return rhk_str(s->text.data ? s->text.data + from : "", 0);
  return rhk_str(s->text.data + from, s->text.len - from);
}

/* ---- system -------------------------------------------------------------------------------- */

static rh_status system_message(rhk_session *kit, const line *l, const char *text) {
  return rhk_emit_message(kit, "system", rhk_cstr(text), false, false, raw_of(l));
}

static rh_status map_init(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  char id[160], model[160], text[400];
  rh_status status;
  rhk_json_text(l->v[T_SESSION_ID], id, sizeof id);
  rhk_json_text(l->v[T_MODEL], model, sizeof model);
  if ((status = rhk_set_session_id(kit, rhk_cstr(id), true)) != RH_OK) return status;
  if (is_string(l->v[T_CWD]) && (status = rhk_set_work_dir(kit, decoded(s, l->v[T_CWD], true))) != RH_OK) return status;
  if (model[0]) {
    free(s->usage_model);
    if ((s->usage_model = (char *)malloc(strlen(model) + 1))) strcpy(s->usage_model, model);
  }
  rh_json_buffer_reset(&s->extra);
  if ((id[0] && rhk_write_raw_member(&s->extra.writer, true, "session_id", l->v[T_SESSION_ID])) ||
      (model[0] && rhk_write_raw_member(&s->extra.writer, !id[0], "model", l->v[T_MODEL])))
    return rhk_fail(kit, RH_ERR_NO_MEMORY, "out of memory");
  rhk_set_extra(kit, rhk_str(s->extra.data, s->extra.len));
  snprintf(text, sizeof text, "Claude Code session %s started%s%s%s", id[0] ? id : "(no id)", model[0] ? " (model " : "",
           model, model[0] ? ")" : "");
  return system_message(kit, l, text);
}

static rh_status map_system(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"attempt", "max_retries", "retry_delay_ms", "error_status", "compact_metadata",
                                      "retry_in_ms", "retry_attempt"};
  rhk_session *kit = &s->kit;
  rh_str v[7], sub = l->v[T_SUBTYPE], error_text;
  char text[700], word[64];
  if (rhk_json_is(sub, "init")) return map_init(s, l);
  /* Progress signals with nothing for the unified stream: usage comes from the result line; a
   * permission denial reaches it as the tool's failed tool.completed (same text) and in the
   * terminal event's permission_denials. */
  if (rhk_json_is(sub, "thinking_tokens") || rhk_json_is(sub, "status") || rhk_json_is(sub, "permission_denied"))
    return RH_OK;
  if (rhk_json_is(sub, "notification") || rhk_json_is(sub, "informational")) {
    rh_str body = rhk_json_is(sub, "notification") ? l->v[T_TEXT] : l->v[T_CONTENT];
    if (!is_string(body)) return unparsed(kit, l, "system notice without its text", rhk_none());
    return rhk_emit_message(kit, "system", body, true, false, raw_of(l));
  }
  if (rhk_json_pick(l->doc, names, 7, v) != RH_OK) return unparsed(kit, l, "not valid JSON", rhk_none());
  if (rhk_json_is(sub, "api_retry")) {
    char http[32] = "";
    int64_t status = rhk_json_int(v[3], -1);
    rhk_json_text(l->v[T_ERROR], word, sizeof word);
    if (status > 0) snprintf(http, sizeof http, ", HTTP %lld", (long long)status);
    snprintf(text, sizeof text, "model API request failed (%s%s); retry %lld of %lld in %lld ms", word[0] ? word : "error",
             http, (long long)rhk_json_int(v[0], 0), (long long)rhk_json_int(v[1], 0), (long long)rhk_json_int(v[2], 0));
    return system_message(kit, l, text);
  }
  if (rhk_json_is(sub, "api_error")) {
    rh_str message = rhk_none();
    if (is_object(l->v[T_ERROR])) (void)rh_json_find(l->v[T_ERROR], "message", &message);
    error_text = decoded(s, message, true);
    snprintf(text, sizeof text, "model API error: %.*s; retry %lld of %lld in %lld ms", (int)(error_text.len > 400 ? 400 : error_text.len),
             error_text.data ? error_text.data : "", (long long)rhk_json_int(v[6], 0), (long long)rhk_json_int(v[1], 0),
             (long long)rhk_json_int(v[5], 0));
    return system_message(kit, l, text);
  }
  if (rhk_json_is(sub, "compact_boundary")) {
    rh_str trigger = rhk_none(), pre = rhk_none();
    if (is_object(v[4])) {
      (void)rh_json_find(v[4], "trigger", &trigger);
      (void)rh_json_find(v[4], "pre_tokens", &pre);
    }
    snprintf(text, sizeof text, "conversation compacted (%s, %lld tokens before)", rhk_json_text(trigger, word, sizeof word),
             (long long)rhk_json_int(pre, 0));
    return system_message(kit, l, text);
  }
  return unparsed(kit, l, "system subtype not mapped: ", sub.len ? sub : rhk_cstr("(none)"));
}

/* ---- assistant ----------------------------------------------------------------------------- */

static const char *const k_block[] = {"type", "text", "thinking", "id", "name", "input", "content", "tool_use_id",
                                      "is_error"};
enum { B_TYPE, B_TEXT, B_THINKING, B_ID, B_NAME, B_INPUT, B_CONTENT, B_TOOL_USE_ID, B_IS_ERROR, B_COUNT };

static rhk_tool_kind kind_of(const char *name) {
  if (strcmp(name, "Bash") == 0) return RHK_COMMAND;
  if (strcmp(name, "Write") == 0 || strcmp(name, "Edit") == 0 || strcmp(name, "MultiEdit") == 0 ||
      strcmp(name, "NotebookEdit") == 0)
    return RHK_FILE;
  if (strncmp(name, "mcp__", 5) == 0) return RHK_MCP;
  return RHK_TOOL;
}

/* The file a file tool edits, and (for Write) the size it will have, noted on the call. */
static rh_status note_file(rh_runtime_session *s, rhk_tool_call *call, rh_str input) {
  static const char *const names[] = {"file_path", "notebook_path", "content"};
  rh_str v[3], path;
  size_t size;
  if (!is_object(input) || rhk_json_pick(input, names, 3, v) != RH_OK) return RH_OK;
  path = decoded(s, is_string(v[0]) ? v[0] : v[1], true);
  if (path.len == 0) return RH_OK;
  if (!(call->path = (char *)malloc(path.len + 1))) return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory");
  memcpy(call->path, path.data, path.len);
  call->path[path.len] = '\0';
  call->change = RHK_MODIFIED;
  if (strcmp(call->name, "Write") == 0) {
    call->change = -1; /* created or modified: the result says which */
    if (is_string(v[2]) && rh_json_string(v[2], NULL, 0, &size) != RH_ERR_INVALID_ARGUMENT) call->size_bytes = (int64_t)size;
  }
  return RH_OK;
}

static rh_status start_tool(rh_runtime_session *s, const line *l, const rh_str *b) {
  char id[160], name[256];
  rhk_tool_call *call;
  rh_status status;
  rhk_json_text(b[B_ID], id, sizeof id);
  rhk_json_text(b[B_NAME], name, sizeof name);
  if (!name[0]) return unparsed(&s->kit, l, "tool_use block without a name", rhk_none());
  if (!(call = rhk_tools_open(&s->kit, rhk_cstr(id), rhk_cstr(name), kind_of(name))))
    return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory opening a tool call");
  if (call->kind == RHK_FILE && (status = note_file(s, call, b[B_INPUT])) != RH_OK) return status;
  return rhk_emit_tool_started(&s->kit, call, b[B_INPUT], raw_of(l));
}

/* A server-side tool's result inside an assistant message (web search). */
static rh_status server_tool_result(rh_runtime_session *s, const line *l, const rh_str *b) {
  char id[160];
  rhk_tool_call *call;
  rhk_tool_result r;
  rh_status status;
  rhk_json_text(b[B_TOOL_USE_ID], id, sizeof id);
  call = rhk_tools_find(&s->kit, rhk_cstr(id));
  r.call_id = call ? call->call_id : id;
  r.name = call ? call->name : NULL;
  r.failed = false;
  r.output = b[B_CONTENT];
  r.error = rhk_none();
  r.duration_ms = -1;
  status = rhk_emit_tool_completed(&s->kit, &r, raw_of(l));
  rhk_tools_close(&s->kit, call);
  return status;
}

static void copy_id(char *dst, rh_str id) {
  char text[CLAUDE_ID_MAX + 1];
  rhk_json_text(id, text, sizeof text);
  memcpy(dst, text, sizeof text);
}

static rh_status map_assistant(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"id", "content"};
  rhk_session *kit = &s->kit;
  rh_str m[2], block, b[B_COUNT], unknown = rhk_none();
  rhk_json_iter it;
  char id[CLAUDE_ID_MAX + 1];
  bool streamed, api_error;
  rh_status status = RH_OK;
  if (!is_object(l->v[T_MESSAGE]) || rhk_json_pick(l->v[T_MESSAGE], names, 2, m) != RH_OK || !is_array(m[1]))
    return unparsed(kit, l, "assistant line without a message {content: [...]}", rhk_none());
  /* An assistant line with "error" is the CLI's own wording of a failed model call, not the
   * model's: it goes out as a system message, and the result line turns it into run.failed. */
  api_error = is_string(l->v[T_ERROR]);
  if (api_error) rhk_json_text(l->v[T_ERROR], s->api_error, sizeof s->api_error);
  copy_id(id, m[0]);
  streamed = id[0] && strcmp(id, s->streamed_message_id) == 0;
  rhk_json_begin(&it, m[1]);
  while (status == RH_OK && rhk_json_next(&it, NULL, &block)) {
    if (!is_object(block) || rhk_json_pick(block, k_block, B_COUNT, b) != RH_OK) {
      unknown = rhk_cstr("(not an object)");
      continue;
    }
    if (rhk_json_is(b[B_TYPE], "text")) {
      if (!is_string(b[B_TEXT])) unknown = rhk_cstr("text (without text)");
      else if (!streamed)
        status = rhk_emit_message(kit, api_error ? "system" : "assistant", b[B_TEXT], true, false, raw_of(l));
    } else if (rhk_json_is(b[B_TYPE], "thinking")) {
      if (!is_string(b[B_THINKING])) unknown = rhk_cstr("thinking (without thinking)");
      else if (!streamed) status = rhk_emit_reasoning(kit, b[B_THINKING], true, false, raw_of(l));
    } else if (rhk_json_is(b[B_TYPE], "redacted_thinking")) {
      status = rhk_emit_reasoning(kit, rhk_cstr("[redacted thinking]"), false, false, raw_of(l));
    } else if (rhk_json_is(b[B_TYPE], "tool_use") || rhk_json_is(b[B_TYPE], "server_tool_use") ||
               rhk_json_is(b[B_TYPE], "mcp_tool_use")) {
      status = start_tool(s, l, b);
    } else if (rhk_json_is(b[B_TYPE], "web_search_tool_result") || rhk_json_is(b[B_TYPE], "web_fetch_tool_result") ||
               rhk_json_is(b[B_TYPE], "mcp_tool_result")) {
      status = server_tool_result(s, l, b);
    } else {
      unknown = b[B_TYPE].len ? b[B_TYPE] : rhk_cstr("(no type)");
    }
  }
  if (status != RH_OK) return status;
  if (!it.ok) return unparsed(kit, l, "assistant content is not a well-formed array", rhk_none());
  if (unknown.len) return unparsed(kit, l, "assistant content block not mapped: ", unknown);
  return RH_OK;
}

/* ---- user: tool results -------------------------------------------------------------------- */

/* "Exit code N" (optionally after "Error: ") as the first line of a failed Bash result. */
static bool exit_code_line(rh_str text, int64_t *code, size_t *rest) {
  const char *p = text.data, *end = text.data + text.len;
  int64_t value = 0;
  bool negative = false, digits = false;
  if ((size_t)(end - p) >= 7 && memcmp(p, "Error: ", 7) == 0) p += 7;
  if ((size_t)(end - p) < 10 || memcmp(p, "Exit code ", 10) != 0) return false;
  p += 10;
  if (p < end && *p == '-') negative = true, p++;
  while (p < end && *p >= '0' && *p <= '9' && value < 100000000) value = value * 10 + (*p++ - '0'), digits = true;
  if (!digits || (p < end && *p != '\n' && *p != '\r')) return false;
  while (p < end && (*p == '\r' || *p == '\n')) p++;
  *code = negative ? -value : value;
  *rest = (size_t)(p - text.data);
  return true;
}

/* The text of a tool_result's content: the string, or its text blocks joined by newlines. False
 * when the content holds something else (images...), which then goes out as JSON. */
static bool content_text(rh_runtime_session *s, rh_str content, rh_str *text) {
  rhk_json_iter it;
  rh_str block, type, value;
  bool first = true;
  rh_json_buffer_reset(&s->text);
  if (is_string(content)) {
    *text = decoded(s, content, true);
    return true;
  }
  if (!is_array(content)) {
    *text = rhk_str("", 0);
    return content.len == 0 || (content.len == 4 && memcmp(content.data, "null", 4) == 0);
  }
  rhk_json_begin(&it, content);
  while (rhk_json_next(&it, NULL, &block)) {
    if (!is_object(block) || rh_json_find(block, "type", &type) != RH_OK || !rhk_json_is(type, "text") ||
        rh_json_find(block, "text", &value) != RH_OK || !is_string(value))
      return false;
    if (!first && rh_json_write_raw(&s->text.writer, "\n", 1)) return false;
    (void)decoded(s, value, false);
    first = false;
  }
  *text = rhk_str(s->text.data ? s->text.data : "", s->text.len);
  return it.ok;
}

/* command.output for a Bash call: from tool_use_result's stdout/stderr, else from the content
 * ("Exit code N" first when it failed). The exit code goes on the last line. */
static rh_status command_output(rh_runtime_session *s, const line *l, const char *call_id, rh_str tur,
                                bool is_error, rh_str text) {
  static const char *const names[] = {"stdout", "stderr", "interrupted", "returnCodeInterpretation", "backgroundTaskId"};
  rhk_session *kit = &s->kit;
  rh_str v[5], out, err;
  int64_t code;
  size_t rest;
  bool known;
  rh_status status;
  if (is_object(tur) && rhk_json_pick(tur, names, 5, v) == RH_OK && is_string(v[0])) {
    /* Exit 0 is known only for a plain success: no interpretation of a non-zero code, not
     * interrupted, not sent to the background. */
    known = !is_error && !is_true(v[2]) && !v[3].data && !v[4].data;
    rh_json_buffer_reset(&s->text);
    out = decoded(s, v[0], false);
    err = decoded(s, v[1], false); /* may move the buffer: take both views after */
    out = rhk_str(s->text.data ? s->text.data : "", out.len);
    err = rhk_str(s->text.data ? s->text.data + out.len : "", err.len);
    if ((status = rhk_emit_command_text(kit, RH_STREAM_STDOUT, out, call_id, known && err.len == 0, 0, raw_of(l))) != RH_OK)
      return status;
    if (err.len > 0) return rhk_emit_command_text(kit, RH_STREAM_STDERR, err, call_id, known, 0, raw_of(l));
    return RH_OK;
  }
  if (is_error && exit_code_line(text, &code, &rest))
    return rhk_emit_command_text(kit, RH_STREAM_STDOUT, rhk_str(text.data + rest, text.len - rest), call_id, true, code,
                                 raw_of(l));
  if (!is_error) return rhk_emit_command_text(kit, RH_STREAM_STDOUT, text, call_id, false, 0, raw_of(l));
  return RH_OK; /* a failure with no output of its own (denied, invalid input): tool.completed says why */
}

static rh_status file_changed(rh_runtime_session *s, const line *l, const rhk_tool_call *call, rh_str tur) {
  static const char *const names[] = {"type", "filePath"};
  rh_str v[2] = {{NULL, 0}, {NULL, 0}}, path;
  int change = call->change;
  rh_status status;
  if (is_object(tur)) (void)rhk_json_pick(tur, names, 2, v);
  if (rhk_json_is(v[0], "create")) change = RHK_CREATED;
  else if (rhk_json_is(v[0], "update")) change = RHK_MODIFIED;
  if (change < 0) change = RHK_MODIFIED;
  path = call->path ? rhk_cstr(call->path) : decoded(s, v[1], true);
  if (path.len == 0) return RH_OK;
  status = rhk_emit_file_changed(&s->kit, path.data, path.len, (rhk_change)change, NULL, 0, call->size_bytes, raw_of(l));
  return status == RH_ERR_NOT_FOUND ? RH_OK : status; /* outside the work dir: the device's watcher has it */
}

static rh_status tool_result(rh_runtime_session *s, const line *l, const rh_str *b, rh_str tur) {
  rhk_session *kit = &s->kit;
  char id[160];
  rhk_tool_call *call;
  rhk_tool_result r;
  rh_str text;
  bool is_error = is_true(b[B_IS_ERROR]), plain;
  rh_status status = RH_OK;
  rhk_json_text(b[B_TOOL_USE_ID], id, sizeof id);
  call = rhk_tools_find(kit, rhk_cstr(id));
  plain = content_text(s, b[B_CONTENT], &text);
  if (call && call->kind == RHK_COMMAND) status = command_output(s, l, call->call_id, tur, is_error, text);
  if (status == RH_OK && call && call->kind == RHK_FILE && !is_error) status = file_changed(s, l, call, tur);
  if (status != RH_OK) return status;
  /* command_output and file_changed reuse the text buffer: read the content again. */
  plain = content_text(s, b[B_CONTENT], &text);
  r.call_id = call ? call->call_id : id[0] ? id : "unknown";
  r.name = call ? call->name : NULL;
  r.failed = is_error;
  r.duration_ms = -1;
  r.output = rhk_none();
  r.error = rhk_none();
  if (is_error) {
    r.error = text.len ? text : rhk_cstr("the tool failed");
  } else if (plain) {
    rh_json_buffer_reset(&s->output);
    if (rh_json_write_string(&s->output.writer, text.data, text.len)) return rhk_fail(kit, RH_ERR_NO_MEMORY, "out of memory");
    r.output = rhk_str(s->output.data, s->output.len);
  } else {
    r.output = b[B_CONTENT];
  }
  status = rhk_emit_tool_completed(kit, &r, raw_of(l));
  rhk_tools_close(kit, call);
  return status;
}

static rh_status map_user(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  rh_str content, block, b[B_COUNT], unknown = rhk_none(), tur = l->v[T_TOOL_USE_RESULT];
  rhk_json_iter it;
  rh_status status = RH_OK;
  if (!is_object(l->v[T_MESSAGE]) || rh_json_find(l->v[T_MESSAGE], "content", &content) != RH_OK)
    return unparsed(kit, l, "user line without a message {content}", rhk_none());
  if (is_string(content)) return rhk_emit_message(kit, "user", content, true, false, raw_of(l));
  if (!is_array(content)) return unparsed(kit, l, "user content is neither text nor an array", rhk_none());
  rhk_json_begin(&it, content);
  while (status == RH_OK && rhk_json_next(&it, NULL, &block)) {
    if (!is_object(block) || rhk_json_pick(block, k_block, B_COUNT, b) != RH_OK) {
      unknown = rhk_cstr("(not an object)");
    } else if (rhk_json_is(b[B_TYPE], "tool_result")) {
      status = tool_result(s, l, b, tur);
      tur = rhk_none(); /* tool_use_result describes the line's (first) result */
    } else if (rhk_json_is(b[B_TYPE], "text") && is_string(b[B_TEXT])) {
      status = rhk_emit_message(kit, "user", b[B_TEXT], true, false, raw_of(l));
    } else {
      unknown = b[B_TYPE].len ? b[B_TYPE] : rhk_cstr("(no type)");
    }
  }
  if (status != RH_OK) return status;
  if (!it.ok) return unparsed(kit, l, "user content is not a well-formed array", rhk_none());
  if (unknown.len) return unparsed(kit, l, "user content block not mapped: ", unknown);
  return RH_OK;
}

/* ---- stream_event -------------------------------------------------------------------------- */

static rh_status map_stream_event(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"type", "message", "content_block", "delta"};
  static const char *const delta_names[] = {"type", "text", "thinking"};
  rhk_session *kit = &s->kit;
  rh_str e[4], d[3], id;
  if (!is_object(l->v[T_EVENT]) || rhk_json_pick(l->v[T_EVENT], names, 4, e) != RH_OK)
    return unparsed(kit, l, "stream_event without an event object", rhk_none());
  if (rhk_json_is(e[0], "message_start")) {
    s->stream_message_id[0] = '\0';
    if (is_object(e[1]) && rh_json_find(e[1], "id", &id) == RH_OK) copy_id(s->stream_message_id, id);
    return RH_OK;
  }
  if (rhk_json_is(e[0], "content_block_start")) {
    s->block_fresh = true;
    return RH_OK;
  }
  if (rhk_json_is(e[0], "content_block_delta")) {
    bool delta = !s->block_fresh;
    if (!is_object(e[3]) || rhk_json_pick(e[3], delta_names, 3, d) != RH_OK)
      return unparsed(kit, l, "content_block_delta without a delta object", rhk_none());
    if (rhk_json_is(d[0], "text_delta") || rhk_json_is(d[0], "thinking_delta")) {
      bool text = rhk_json_is(d[0], "text_delta");
      rh_str piece = text ? d[1] : d[2];
      if (!is_string(piece)) return unparsed(kit, l, "delta without its text", rhk_none());
      s->block_fresh = false;
      if (is_string(l->v[T_API_MESSAGE_ID])) copy_id(s->streamed_message_id, l->v[T_API_MESSAGE_ID]);
      else memcpy(s->streamed_message_id, s->stream_message_id, sizeof s->streamed_message_id);
      return text ? rhk_emit_message(kit, "assistant", piece, true, delta, raw_of(l))
                  : rhk_emit_reasoning(kit, piece, true, delta, raw_of(l));
    }
    /* Tool input and signatures arrive whole in the assistant line. */
    if (rhk_json_is(d[0], "input_json_delta") || rhk_json_is(d[0], "signature_delta") ||
        rhk_json_is(d[0], "citations_delta"))
      return RH_OK;
    return unparsed(kit, l, "stream delta not mapped: ", d[0].len ? d[0] : rhk_cstr("(no type)"));
  }
  if (rhk_json_is(e[0], "content_block_stop") || rhk_json_is(e[0], "message_delta") ||
      rhk_json_is(e[0], "message_stop") || rhk_json_is(e[0], "ping"))
    return RH_OK;
  return unparsed(kit, l, "stream event not mapped: ", e[0].len ? e[0] : rhk_cstr("(no type)"));
}

/* ---- result -------------------------------------------------------------------------------- */

static int64_t sum_tokens(rh_str a, rh_str b, rh_str c) {
  int64_t x = rhk_json_int(a, -1), y = rhk_json_int(b, 0), z = rhk_json_int(c, 0);
  return x < 0 ? -1 : x + (y > 0 ? y : 0) + (z > 0 ? z : 0);
}

/* usage: one per model of modelUsage; without it, one from usage and total_cost_usd. Input tokens
 * count everything the model read: fresh, cache writes and cache reads (cached_input_tokens). */
static rh_status emit_usage(rh_runtime_session *s, const line *l) {
  static const char *const per_model[] = {"inputTokens", "outputTokens", "cacheReadInputTokens",
                                          "cacheCreationInputTokens", "costUSD"};
  static const char *const totals[] = {"input_tokens", "output_tokens", "cache_read_input_tokens",
                                       "cache_creation_input_tokens"};
  rhk_session *kit = &s->kit;
  rhk_json_iter it;
  rh_str key, value, v[5];
  char model[160];
  rhk_usage u;
  bool any = false;
  rh_status status = RH_OK;
  if (is_object(l->v[T_MODEL_USAGE]) && rhk_json_begin(&it, l->v[T_MODEL_USAGE])) {
    while (status == RH_OK && rhk_json_next(&it, &key, &value)) {
      if (!is_object(value) || rhk_json_pick(value, per_model, 5, v) != RH_OK) continue;
      u.source = NULL;
      u.model = rhk_json_text(key, model, sizeof model);
      u.input_tokens = sum_tokens(v[0], v[2], v[3]);
      u.output_tokens = rhk_json_int(v[1], -1);
      u.cached_input_tokens = rhk_json_int(v[2], -1);
      u.cost_usd = rhk_json_number(v[4], -1);
      status = rhk_emit_usage(kit, &u, raw_of(l));
      any = true;
    }
  }
  if (status != RH_OK || any) return status;
  if (is_object(l->v[T_USAGE]) && rhk_json_pick(l->v[T_USAGE], totals, 4, v) == RH_OK) {
    u.source = NULL;
    u.model = s->usage_model;
    u.input_tokens = sum_tokens(v[0], v[2], v[3]);
    u.output_tokens = rhk_json_int(v[1], -1);
    u.cached_input_tokens = rhk_json_int(v[2], -1);
    u.cost_usd = rhk_json_number(l->v[T_TOTAL_COST], -1);
    if (u.input_tokens > 0 || u.output_tokens > 0 || u.cost_usd > 0) status = rhk_emit_usage(kit, &u, raw_of(l));
  }
  return status;
}

/* The failure kind of an API error, from what the CLI says most precisely first: the assistant
 * line's error class, the API's error type, then the HTTP status. */
static rhk_failure_kind api_failure(const rh_runtime_session *s, const line *l) {
  static const struct { const char *name; rhk_failure_kind kind; } classes[] = {
      {"authentication_failed", RHK_FAIL_AUTH}, {"oauth_org_not_allowed", RHK_FAIL_AUTH},
      {"account_on_hold", RHK_FAIL_AUTH}, {"verification_required", RHK_FAIL_AUTH},
      {"cloud_credential_error", RHK_FAIL_AUTH}, {"billing_error", RHK_FAIL_BILLING},
      {"rate_limit", RHK_FAIL_RATE_LIMITED}, {"overloaded", RHK_FAIL_MODEL_UNAVAILABLE},
      {"server_error", RHK_FAIL_MODEL_UNAVAILABLE}, {"invalid_request", RHK_FAIL_MODEL_REQUEST},
      {"model_not_found", RHK_FAIL_MODEL_REQUEST},
      {"authentication_error", RHK_FAIL_AUTH}, {"permission_error", RHK_FAIL_AUTH},
      {"rate_limit_error", RHK_FAIL_RATE_LIMITED}, {"overloaded_error", RHK_FAIL_MODEL_UNAVAILABLE},
      {"api_error", RHK_FAIL_MODEL_UNAVAILABLE}, {"invalid_request_error", RHK_FAIL_MODEL_REQUEST},
      {"not_found_error", RHK_FAIL_MODEL_REQUEST}, {"request_too_large", RHK_FAIL_MODEL_REQUEST}};
  char type[48];
  size_t i;
  int64_t status;
  for (i = 0; s->api_error[0] && i < 11; i++)
    if (strcmp(s->api_error, classes[i].name) == 0) return classes[i].kind;
  rhk_json_text(l->v[T_API_TYPE], type, sizeof type);
  for (i = 11; type[0] && i < sizeof classes / sizeof classes[0]; i++)
    if (strcmp(type, classes[i].name) == 0) return classes[i].kind;
  if ((status = rhk_json_int(l->v[T_API_STATUS], 0)) > 0) return rhk_failure_kind_for_http_status(status);
  return RHK_FAIL_MODEL_API;
}

/* The failure's message for people: the result text, else the errors joined. */
static rh_str failure_message(rh_runtime_session *s, const line *l) {
  rhk_json_iter it;
  rh_str e;
  bool first = true;
  rh_json_buffer_reset(&s->text);
  if (is_string(l->v[T_RESULT])) return decoded(s, l->v[T_RESULT], true);
  if (is_array(l->v[T_ERRORS]) && rhk_json_begin(&it, l->v[T_ERRORS])) {
    while (rhk_json_next(&it, NULL, &e)) {
      if (!is_string(e)) continue;
      if (!first) rh_json_write_cstr(&s->text.writer, "; ");
      (void)decoded(s, e, false);
      first = false;
    }
  }
  return rhk_str(s->text.data ? s->text.data : "", s->text.len);
}

/* Terminal extras: num_turns, api_status, and the tools the CLI refused as {tool_call_id, name}. */
static rh_status terminal_extra(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"tool_use_id", "tool_name"};
  const rh_writer *w = &s->terminal.writer;
  rhk_json_iter it;
  rh_str d, v[2];
  bool first = true, any = false;
  size_t n = 0;
  rh_json_buffer_reset(&s->terminal);
  if (l->v[T_NUM_TURNS].data && rhk_json_int(l->v[T_NUM_TURNS], -1) >= 0) {
    if (rhk_write_int_member(w, first, "num_turns", rhk_json_int(l->v[T_NUM_TURNS], 0))) return RH_ERR_NO_MEMORY;
    first = false;
  }
  if (rhk_json_int(l->v[T_API_STATUS], 0) > 0) {
    if (rhk_write_int_member(w, first, "api_status", rhk_json_int(l->v[T_API_STATUS], 0))) return RH_ERR_NO_MEMORY;
    first = false;
  }
  if (is_array(l->v[T_DENIALS]) && rhk_json_begin(&it, l->v[T_DENIALS])) {
    while (rhk_json_next(&it, NULL, &d) && n < 64) {
      if (!is_object(d) || rhk_json_pick(d, names, 2, v) != RH_OK || !is_string(v[0]) || !is_string(v[1])) continue;
      if (rh_json_write_cstr(w, any ? ",{" : first ? "\"permission_denials\":[{" : ",\"permission_denials\":[{") ||
          rhk_write_raw_member(w, true, "tool_call_id", v[0]) || rhk_write_raw_member(w, false, "name", v[1]) ||
          rh_json_write_raw(w, "}", 1))
        return RH_ERR_NO_MEMORY;
      any = true;
      n++;
    }
    if (any && rh_json_write_raw(w, "]", 1)) return RH_ERR_NO_MEMORY;
  }
  return RH_OK;
}

static rh_status map_result(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  rh_str sub = l->v[T_SUBTYPE], extra, message;
  rhk_failure_kind kind;
  rh_status status;
  if (!is_string(sub)) return unparsed(kit, l, "result line without a subtype", rhk_none());
  if (is_string(l->v[T_SESSION_ID]) && (status = rhk_set_session_id(kit, decoded(s, l->v[T_SESSION_ID], true), true)) != RH_OK)
    return status;
  if ((status = emit_usage(s, l)) != RH_OK) return status;
  if (terminal_extra(s, l) != RH_OK) return rhk_fail(kit, RH_ERR_NO_MEMORY, "out of memory");
  extra = rhk_str(s->terminal.data ? s->terminal.data : "", s->terminal.len);
  if (rhk_json_is(sub, "success") && !is_true(l->v[T_IS_ERROR])) {
    rh_str result = decoded(s, l->v[T_RESULT], true);
    return rhk_hold_completed(kit, result, is_string(l->v[T_RESULT]), rhk_json_number(l->v[T_DURATION_MS], -1), extra,
                              raw_of(l));
  }
  if (rhk_json_is(sub, "error_max_turns")) kind = RHK_FAIL_TURN_LIMIT;
  else if (rhk_json_is(sub, "error_max_budget_usd")) kind = RHK_FAIL_BUDGET_LIMIT;
  else if (rhk_json_is(sub, "success")) kind = api_failure(s, l); /* is_error: the model API failed */
  else kind = RHK_FAIL_RUNTIME;                                     /* error_during_execution and the rest */
  message = failure_message(s, l);
  if (kind == RHK_FAIL_RUNTIME && message.len >= 29 && memcmp(message.data, "No conversation found with session ID", 29) == 0) {
    kind = RHK_FAIL_SESSION_NOT_FOUND;
    (void)rhk_set_session_id(kit, rhk_none(), true); /* no session to resume: do not offer one */
  }
  if ((kind == RHK_FAIL_MODEL_API || kind == RHK_FAIL_MODEL_REQUEST) && message.len >= 18 &&
      memcmp(message.data, "Prompt is too long", 18) == 0)
    kind = RHK_FAIL_CONTEXT_LIMIT;
  if (message.len == 0) {
    char sub_text[64];
    rh_json_buffer_reset(&s->text);
    rh_json_write_cstr(&s->text.writer, "the run ended with result ");
    rh_json_write_cstr(&s->text.writer, rhk_json_text(sub, sub_text, sizeof sub_text));
    message = rhk_str(s->text.data, s->text.len);
  }
  return rhk_hold_failure(kit, kind, message, extra, raw_of(l));
}

/* ---- Permission requests (live approvals) --------------------------------------------------- */

/* One line a UI can show: "Bash: echo hi > greet.txt", "Write: notes.txt", else the CLI's own
 * description of the call. Built in s->text. */
static rh_str request_summary(rh_runtime_session *s, rh_str tool, rh_str input, rh_str description) {
  static const char *const names[] = {"command", "file_path", "notebook_path", "url", "pattern", "query"};
  rh_str v[6], detail = rhk_none();
  size_t i;
  rh_json_buffer_reset(&s->text);
  if (is_object(input) && rhk_json_pick(input, names, 6, v) == RH_OK)
    for (i = 0; i < 6 && detail.len == 0; i++)
      if (is_string(v[i])) detail = v[i];
  if (detail.len == 0 && is_string(description)) detail = description;
  if (rhk_json_decode(tool, &s->text) != RH_OK) return rhk_none();
  if (detail.len > 0 && (rh_json_write_cstr(&s->text.writer, ": ") || rhk_json_decode(detail, &s->text) != RH_OK))
    return rhk_none();
  for (i = 0; i < s->text.len; i++)
    if (s->text.data[i] == '\n' || s->text.data[i] == '\r' || s->text.data[i] == '\t') s->text.data[i] = ' ';
  if (s->text.len > 200) { /* one line, cut on a character boundary */
    size_t cut = 200;
    while (cut > 0 && ((unsigned char)s->text.data[cut] & 0xC0) == 0x80) cut--;
    s->text.len = cut;
    rh_json_write_cstr(&s->text.writer, "...");
  }
  return rhk_str(s->text.data, s->text.len);
}

/* A request the host has no answer for (hooks, SDK MCP servers: runhost registers none): answered
 * with an error so the CLI does not wait for ever, and kept as runtime.unparsed. */
static rh_status refuse_request(rh_runtime_session *s, const line *l, rh_str subtype) {
  rhk_session *kit = &s->kit;
  rh_json_buffer_reset(&s->output);
  if (rh_json_write_cstr(&s->output.writer, "{\"type\":\"control_response\",\"response\":{\"subtype\":\"error\",\"request_id\":") ||
      rh_json_write_raw(&s->output.writer, l->v[T_REQUEST_ID].data, l->v[T_REQUEST_ID].len) ||
      rh_json_write_cstr(&s->output.writer, ",\"error\":\"runhost does not handle this control request\"}}\n"))
    return rhk_fail(kit, RH_ERR_NO_MEMORY, "out of memory");
  if (s->live && !s->stdin_closed) (void)rhk_send_input(kit, rhk_str(s->output.data, s->output.len), false);
  return unparsed(kit, l, "a control request runhost does not handle (answered with an error): ", subtype);
}

static rh_status map_control_request(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"subtype", "tool_name", "input", "tool_use_id", "description"};
  enum { R_SUBTYPE, R_TOOL, R_INPUT, R_TOOL_USE_ID, R_DESCRIPTION, R_COUNT };
  rhk_session *kit = &s->kit;
  rh_str r[R_COUNT];
  rhk_approval_request request;
  rhk_tool_call *call = NULL;
  char tool[256], tool_use_id[160];
  if (!is_string(l->v[T_REQUEST_ID]) || !is_object(l->v[T_REQUEST]) ||
      rhk_json_pick(l->v[T_REQUEST], names, R_COUNT, r) != RH_OK || !is_string(r[R_SUBTYPE]))
    return unparsed(kit, l, "control_request without a request_id and a request with a subtype", rhk_none());
  if (!rhk_json_is(r[R_SUBTYPE], "can_use_tool")) return refuse_request(s, l, r[R_SUBTYPE]);
  if (!is_string(r[R_TOOL])) return refuse_request(s, l, r[R_SUBTYPE]);
  if (!s->live)  /* launched without the stdio prompt tool: nothing can answer */
    return unparsed(kit, l, "a permission request, but stdin is not kept open to answer it", rhk_none());
  rhk_json_text(r[R_TOOL], tool, sizeof tool);
  if (is_string(r[R_TOOL_USE_ID])) call = rhk_tools_find(kit, rhk_cstr(rhk_json_text(r[R_TOOL_USE_ID], tool_use_id, sizeof tool_use_id)));
  request.request_id = l->v[T_REQUEST_ID];
  request.call_id = call ? call->call_id : NULL;
  request.kind = kind_of(tool);
  request.name = rhk_cstr(tool);
  request.input = is_object(r[R_INPUT]) ? r[R_INPUT] : rhk_none();
  request.summary = request_summary(s, r[R_TOOL], r[R_INPUT], r[R_DESCRIPTION]);
  return rhk_emit_approval_request(kit, &request, raw_of(l));
}

rh_status claude_respond(rh_runtime_session *s, rh_str decision_json, const rh_writer *out) {
  rhk_answer answer;
  rh_status status = rhk_read_answer(&s->kit, decision_json, &answer);
  if (status != RH_OK) return status;
  if (rh_json_write_cstr(out, "{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":") ||
      rh_json_write_raw(out, answer.request_id.data, answer.request_id.len) ||
      rh_json_write_cstr(out, answer.allow ? ",\"response\":{\"behavior\":\"allow\"" : ",\"response\":{\"behavior\":\"deny\",\"message\":") ||
      (!answer.allow && (answer.reason.len > 0 ? rh_json_write_raw(out, answer.reason.data, answer.reason.len)
                                               : rh_json_write_cstr(out, "\"The operator declined this action.\""))) ||
      rh_json_write_cstr(out, "}}}\n"))
    return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory writing the answer");
  return RH_OK;
}

/* ---- The line ------------------------------------------------------------------------------ */

/* A sub-agent's lines carry its parent tool call: every event of the line says which. */
static void parent_extra(rh_runtime_session *s, rh_str parent) {
  char id[160];
  rhk_tool_call *call;
  if (!is_string(parent)) return;
  call = rhk_tools_find(&s->kit, rhk_cstr(rhk_json_text(parent, id, sizeof id)));
  rh_json_buffer_reset(&s->extra);
  if (call ? rhk_write_string_member(&s->extra.writer, true, "parent_tool_call_id", call->call_id, strlen(call->call_id))
           : rhk_write_raw_member(&s->extra.writer, true, "parent_tool_call_id", parent))
    return;
  rhk_set_extra(&s->kit, rhk_str(s->extra.data, s->extra.len));
}

/* Buffers that grew for one large line give their memory back after it. */
static void shrink(rh_runtime_session *s) {
  rh_json_buffer *const buffers[] = {&s->text, &s->output, &s->extra};
  size_t i;
  for (i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
    if (buffers[i]->cap > RHK_KEEP_BUFFER) rh_json_buffer_free(buffers[i]);
}

static rh_status map_line(rh_runtime_session *s, const char *data, size_t len, bool truncated);

rh_status claude_on_stdout_line(rhk_session *kit, const char *data, size_t len, bool truncated) {
  rh_runtime_session *s = SESSION(kit);
  rh_status status = map_line(s, data, len, truncated);
  shrink(s);
  return status;
}

static rh_status map_line(rh_runtime_session *s, const char *data, size_t len, bool truncated) {
  rhk_session *kit = &s->kit;
  line l;
  rh_str type;
  l.data = data;
  l.len = len;
  if (!rhk_line_pick(kit, RH_STREAM_STDOUT, data, len, truncated, k_top, T_COUNT, l.v, &l.doc)) return RH_OK;
  type = l.v[T_TYPE];
  if (!is_string(type)) return unparsed(kit, &l, "no \"type\" string", rhk_none());
  parent_extra(s, l.v[T_PARENT]);
  if (rhk_json_is(type, "assistant")) return map_assistant(s, &l);
  if (rhk_json_is(type, "user")) return map_user(s, &l);
  if (rhk_json_is(type, "stream_event")) return map_stream_event(s, &l);
  if (rhk_json_is(type, "system")) return map_system(s, &l);
  if (rhk_json_is(type, "result")) {
    rh_status status = map_result(s, &l);
    /* One prompt, one result: the CLI waits for more input until stdin closes. */
    if (s->live && !s->stdin_closed) {
      s->stdin_closed = true;
      (void)rhk_send_input(kit, rhk_none(), true);
    }
    return status;
  }
  /* Liveness and progress heartbeats: nothing to report. */
  if (rhk_json_is(type, "keep_alive") || rhk_json_is(type, "tool_progress")) return RH_OK;
  if (rhk_json_is(type, "control_request")) return map_control_request(s, &l);
  return unparsed(kit, &l, "line type not mapped: ", type);
}
