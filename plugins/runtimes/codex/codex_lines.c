/* codex_lines.c — one `codex exec --json` line in, unified events out.
 *
 *   thread.started         message {role: system}; the thread id kept as the session id
 *   turn.started           nothing (the turn's final message starts afresh)
 *   item.started|updated   tool.started for tool items (once per item); text items wait for
 *                          their item.completed, which carries the whole text
 *   item.completed         message | reasoning | command.output + tool.completed |
 *                          file.changed + tool.completed | tool.completed | message {system}
 *   turn.completed         usage; run.completed held for finish()
 *   turn.failed            run.failed, typed from the error's wording, held for finish()
 *   error                  message {role: system}, kept: a notice (retries) unless the run ends
 *                          without a turn result, when it says why
 *   anything else          runtime.unparsed, with the reason
 *
 * docs/runtimes/codex.md has the full table. Each line is read in one walk of its top-level
 * members and one of its item's (rhk_json_pick); strings go into payloads as the JSON they
 * already are, decoded only where the text itself matters (command output, paths, errors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codex.h"

#define SESSION(kit) ((rh_runtime_session *)(void *)(kit))
#define ID_MAX CODEX_ID_MAX

static const char *const k_top[] = {"type", "thread_id", "item", "usage", "error", "message"};
enum { T_TYPE, T_THREAD_ID, T_ITEM, T_USAGE, T_ERROR, T_MESSAGE, T_COUNT };

static const char *const k_item[] = {"id",        "type",      "text",      "command",   "aggregated_output",
                                     "exit_code", "status",    "changes",   "server",    "tool",
                                     "arguments", "result",    "error",     "query",     "action",
                                     "items",     "message",   "sender_thread_id", "receiver_thread_ids", "prompt",
                                     "agents_states"};
enum {
  I_ID, I_TYPE, I_TEXT, I_COMMAND, I_OUTPUT, I_EXIT_CODE, I_STATUS, I_CHANGES, I_SERVER, I_TOOL, I_ARGUMENTS,
  I_RESULT, I_ERROR, I_QUERY, I_ACTION, I_ITEMS, I_MESSAGE, I_SENDER, I_RECEIVERS, I_PROMPT, I_STATES, I_COUNT
};

typedef struct native_line {
  const char *data; /* the native line */
  size_t len;
  rh_str v[T_COUNT];
  rh_str doc;
} native_line;

typedef enum phase { STARTED, UPDATED, COMPLETED } phase;

/* One item of an item.* line. */
typedef struct item {
  rh_str v[I_COUNT];
  char id[ID_MAX];  /* decoded; "" when absent */
  phase at;
} item;

static rh_str raw_of(const native_line *l) { return rhk_str(l->data, l->len); }

static rh_status unparsed(rhk_session *kit, const native_line *l, const char *reason, rh_str detail) {
  return rhk_emit_unparsed(kit, RH_STREAM_STDOUT, l->data, l->len, false, reason, detail);
}

static bool is_string(rh_str v) { return v.len >= 2 && v.data[0] == '"'; }
static bool is_object(rh_str v) { return v.len >= 2 && v.data[0] == '{'; }
static bool is_array(rh_str v) { return v.len >= 2 && v.data[0] == '['; }
static bool is_present(rh_str v) { return v.len > 0 && !(v.len == 4 && memcmp(v.data, "null", 4) == 0); }

static rh_status no_memory(rh_runtime_session *s) { return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory"); }

/* A decoded string, in the session's text buffer (reset first). */
static rh_str decoded(rh_runtime_session *s, rh_str value) {
  rh_json_buffer_reset(&s->text);
  if (!is_string(value) || rhk_json_decode(value, &s->text) != RH_OK) return rhk_str("", 0);
  return rhk_str(s->text.data ? s->text.data : "", s->text.len);
}

void codex_remember_error(rh_runtime_session *s, rh_str message, rh_stream stream, rh_str line) {
  size_t n = message.len < CODEX_ERROR_MAX - 1 ? message.len : CODEX_ERROR_MAX - 1;
  while (n > 0 && n < message.len && ((unsigned char)message.data[n] & 0xC0) == 0x80) n--; /* whole characters */
  if (n > 0) memcpy(s->last_error, message.data, n);
  s->last_error[n] = '\0';
  s->last_error_stream = stream;
  rh_json_buffer_reset(&s->last_error_line);
  if (line.len <= 65536) (void)rh_json_write_raw(&s->last_error_line.writer, line.data, line.len);
}

/* ---- thread, turn, error ------------------------------------------------------------------- */

static rh_status map_thread_started(rh_runtime_session *s, const native_line *l) {
  rhk_session *kit = &s->kit;
  char id[ID_MAX], text[2 * ID_MAX + 80];
  rh_status status;
  if (!is_string(l->v[T_THREAD_ID])) return unparsed(kit, l, "thread.started without a thread_id", rhk_none());
  rhk_json_text(l->v[T_THREAD_ID], id, sizeof id);
  if ((status = rhk_set_session_id(kit, rhk_cstr(id), true)) != RH_OK) return status;
  if (kit->resume_id && strcmp(id, kit->resume_id) != 0)
    snprintf(text, sizeof text, "Codex started a new thread %s instead of resuming %s", id, kit->resume_id);
  else if (kit->resume_id)
    snprintf(text, sizeof text, "Codex thread %s resumed", id);
  else
    snprintf(text, sizeof text, "Codex thread %s started", id);
  rh_json_buffer_reset(&s->extra);
  if (rhk_write_raw_member(&s->extra.writer, true, "session_id", l->v[T_THREAD_ID])) return no_memory(s);
  rhk_set_extra(kit, rhk_str(s->extra.data, s->extra.len));
  return rhk_emit_message(kit, "system", rhk_cstr(text), false, false, raw_of(l));
}

static rh_status map_usage(rh_runtime_session *s, const native_line *l) {
  static const char *const names[] = {"input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens",
                                      "cache_write_input_tokens"};
  rh_str v[5];
  rhk_usage u;
  int64_t reasoning, cache_write;
  bool first = true;
  if (!is_object(l->v[T_USAGE]) || rhk_json_pick(l->v[T_USAGE], names, 5, v) != RH_OK) return RH_OK;
  u.source = s->options.usage_source; /* NULL: the kit's "openai" */
  u.model = s->options.model;
  u.input_tokens = rhk_json_int(v[0], -1); /* OpenAI counts cached tokens in input_tokens too */
  u.cached_input_tokens = rhk_json_int(v[1], -1);
  u.output_tokens = rhk_json_int(v[2], -1); /* reasoning tokens included */
  u.cost_usd = -1;                          /* codex does not report money */
  if (u.input_tokens < 0 && u.output_tokens < 0) return RH_OK;
  reasoning = rhk_json_int(v[3], -1);
  cache_write = rhk_json_int(v[4], -1);
  rh_json_buffer_reset(&s->extra);
  if (reasoning >= 0) {
    if (rhk_write_int_member(&s->extra.writer, first, "reasoning_output_tokens", reasoning)) return no_memory(s);
    first = false;
  }
  if (cache_write >= 0 && rhk_write_int_member(&s->extra.writer, first, "cache_write_input_tokens", cache_write))
    return no_memory(s);
  rhk_set_extra(&s->kit, rhk_str(s->extra.data ? s->extra.data : "", s->extra.len));
  return rhk_emit_usage(&s->kit, &u, raw_of(l));
}

static rh_status map_turn_completed(rh_runtime_session *s, const native_line *l) {
  rh_status status = map_usage(s, l);
  if (status != RH_OK) return status;
  return rhk_hold_completed(&s->kit, rhk_str(s->final_message.data ? s->final_message.data : "", s->final_message.len),
                            s->has_final_message, -1, rhk_none(), raw_of(l));
}

rh_status codex_hold_failure(rh_runtime_session *s, rh_str message, rhk_failure_kind fallback, rh_str raw) {
  int64_t http_status;
  rhk_failure failure = codex_classify_error(message, fallback, &http_status);
  if (s->options.usage_source) failure.usage_source = s->options.usage_source;
  rh_json_buffer_reset(&s->terminal);
  if (http_status > 0 && rhk_write_int_member(&s->terminal.writer, true, "api_status", http_status))
    return no_memory(s);
  return rhk_hold_failure_with(&s->kit, &failure, message,
                               rhk_str(s->terminal.data ? s->terminal.data : "", s->terminal.len), raw);
}

static rh_status map_turn_failed(rh_runtime_session *s, const native_line *l) {
  rh_str message = rhk_none();
  if (is_object(l->v[T_ERROR])) (void)rh_json_find(l->v[T_ERROR], "message", &message);
  if (is_string(message)) {
    rh_str text = decoded(s, message);
    if (text.len > 0) return codex_hold_failure(s, text, RHK_FAIL_MODEL_API, raw_of(l));
  }
  /* No message of its own: the last error codex printed, else its own words. */
  return codex_hold_failure(s, s->last_error[0] ? rhk_cstr(s->last_error) : rhk_cstr("the turn failed"),
                            RHK_FAIL_MODEL_API, raw_of(l));
}

static rh_status map_error(rh_runtime_session *s, const native_line *l) {
  rh_str text;
  if (!is_string(l->v[T_MESSAGE])) return unparsed(&s->kit, l, "error without a message", rhk_none());
  text = decoded(s, l->v[T_MESSAGE]);
  codex_remember_error(s, text, RH_STREAM_STDOUT, raw_of(l));
  return rhk_emit_message(&s->kit, "system", l->v[T_MESSAGE], true, false, raw_of(l));
}

/* ---- tool items ---------------------------------------------------------------------------- */

/* The open call of an item, opened (with its tool.started) when the item was not seen before. */
static rh_status call_of(rh_runtime_session *s, const native_line *l, const item *it, const char *name,
                         rhk_tool_kind kind, rh_str input, rhk_tool_call **out) {
  rhk_tool_call *call = it->id[0] ? rhk_tools_find(&s->kit, rhk_cstr(it->id)) : NULL;
  *out = call;
  if (call) return RH_OK;
  if (!(call = rhk_tools_open(&s->kit, rhk_cstr(it->id), rhk_cstr(name), kind))) {
    (void)rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory opening a tool call");
    return RH_ERR_NO_MEMORY;
  }
  *out = call;
  return rhk_emit_tool_started(&s->kit, call, input, raw_of(l));
}

static rh_status complete(rh_runtime_session *s, const native_line *l, rhk_tool_call *call, bool failed, rh_str output,
                          rh_str error) {
  rhk_tool_result r;
  rh_status status;
  r.call_id = call->call_id;
  r.name = call->name;
  r.failed = failed;
  r.output = is_present(output) ? output : rhk_none();
  r.error = failed ? (error.len ? error : rhk_cstr("the tool call failed")) : rhk_none();
  r.duration_ms = -1;
  status = rhk_emit_tool_completed(&s->kit, &r, raw_of(l));
  rhk_tools_close(&s->kit, call);
  return status;
}

/* {"a":<raw>,"b":<raw>} of the members present, into s->build. */
static rh_str object_of(rh_runtime_session *s, const char *const *names, const rh_str *values, size_t count) {
  const rh_writer *w = &s->build.writer;
  bool first = true;
  size_t i;
  rh_json_buffer_reset(&s->build);
  if (rh_json_write_raw(w, "{", 1)) return rhk_none();
  for (i = 0; i < count; i++) {
    if (!values[i].len) continue;
    if (rhk_write_raw_member(w, first, names[i], values[i])) return rhk_none();
    first = false;
  }
  if (rh_json_write_raw(w, "}", 1)) return rhk_none();
  return rhk_str(s->build.data, s->build.len);
}

static rh_status map_command(rh_runtime_session *s, const native_line *l, const item *it) {
  static const char *const names[] = {"command"};
  rhk_tool_call *call;
  rh_str text, error = rhk_none();
  int64_t code = rhk_json_int(it->v[I_EXIT_CODE], INT64_MIN);
  bool has_code = code != INT64_MIN, failed;
  char why[64];
  rh_status status;
  if (!is_string(it->v[I_COMMAND])) return unparsed(&s->kit, l, "command_execution without a command", rhk_none());
  status = call_of(s, l, it, "exec_command", RHK_COMMAND, object_of(s, names, &it->v[I_COMMAND], 1), &call);
  if (status != RH_OK || it->at != COMPLETED) return status;
  /* One event per line of the output (stdout and stderr, as codex merges them), the exit code on
   * the last. The native line goes once, with tool.completed: not once per output line. */
  text = decoded(s, it->v[I_OUTPUT]);
  status = rhk_emit_command_text(&s->kit, RH_STREAM_STDOUT, text, call->call_id, has_code, code, rhk_none());
  if (status != RH_OK) return status;
  failed = !rhk_json_is(it->v[I_STATUS], "completed") || (has_code && code != 0);
  if (rhk_json_is(it->v[I_STATUS], "declined")) error = rhk_cstr("codex declined to run the command");
  else if (has_code && code != 0) {
    snprintf(why, sizeof why, "the command exited with code %lld", (long long)code);
    error = rhk_cstr(why);
  } else if (failed) error = rhk_cstr("the command did not finish");
  return complete(s, l, call, failed,
                  is_string(it->v[I_OUTPUT]) && it->v[I_OUTPUT].len > 2 ? it->v[I_OUTPUT] : rhk_none(), error);
}

static rh_status map_file_change(rh_runtime_session *s, const native_line *l, const item *it) {
  static const char *const names[] = {"changes"};
  static const char *const change_names[] = {"path", "kind"};
  rhk_tool_call *call;
  rhk_json_iter iter;
  rh_str change, c[2], path;
  rhk_change kind;
  rh_status status;
  if (!is_array(it->v[I_CHANGES])) return unparsed(&s->kit, l, "file_change without a changes array", rhk_none());
  status = call_of(s, l, it, "apply_patch", RHK_FILE, object_of(s, names, &it->v[I_CHANGES], 1), &call);
  if (status != RH_OK || it->at != COMPLETED) return status;
  if (!rhk_json_is(it->v[I_STATUS], "completed"))
    return complete(s, l, call, true, it->v[I_CHANGES], rhk_cstr("the patch was not applied"));
  rhk_json_begin(&iter, it->v[I_CHANGES]);
  while (rhk_json_next(&iter, NULL, &change)) {
    if (!is_object(change) || rhk_json_pick(change, change_names, 2, c) != RH_OK || !is_string(c[0])) continue;
    kind = rhk_json_is(c[1], "add") ? RHK_CREATED : rhk_json_is(c[1], "delete") ? RHK_DELETED : RHK_MODIFIED;
    path = decoded(s, c[0]);
    status = rhk_emit_file_changed(&s->kit, path.data, path.len, kind, NULL, 0, -1, raw_of(l));
    /* RH_ERR_NOT_FOUND: outside the work dir (or none known); the device's watcher has it. */
    if (status != RH_OK && status != RH_ERR_NOT_FOUND) return status;
  }
  return complete(s, l, call, false, it->v[I_CHANGES], rhk_none());
}

/* The text blocks of an MCP result's content, joined: why a failed call failed. */
static rh_str result_text(rh_runtime_session *s, rh_str result) {
  rhk_json_iter iter;
  rh_str content, block, type, text;
  bool first = true;
  rh_json_buffer_reset(&s->text);
  if (!is_object(result) || rh_json_find(result, "content", &content) != RH_OK || !rhk_json_begin(&iter, content))
    return rhk_none();
  while (rhk_json_next(&iter, NULL, &block) && s->text.len < 4096) {
    if (!is_object(block) || rh_json_find(block, "type", &type) != RH_OK || !rhk_json_is(type, "text") ||
        rh_json_find(block, "text", &text) != RH_OK || !is_string(text))
      continue;
    if (!first && rh_json_write_raw(&s->text.writer, "\n", 1)) break;
    (void)rhk_json_decode(text, &s->text);
    first = false;
  }
  return rhk_str(s->text.data ? s->text.data : "", s->text.len);
}

static rh_status map_mcp(rh_runtime_session *s, const native_line *l, const item *it) {
  rhk_tool_call *call;
  rh_str message = rhk_none();
  char server[128], tool[128], name[260];
  bool failed;
  rh_status status;
  if (!is_string(it->v[I_SERVER]) || !is_string(it->v[I_TOOL]))
    return unparsed(&s->kit, l, "mcp_tool_call without a server and tool", rhk_none());
  snprintf(name, sizeof name, "%s.%s", rhk_json_text(it->v[I_SERVER], server, sizeof server),
           rhk_json_text(it->v[I_TOOL], tool, sizeof tool));
  status = call_of(s, l, it, name, RHK_MCP, is_present(it->v[I_ARGUMENTS]) ? it->v[I_ARGUMENTS] : rhk_none(), &call);
  if (status != RH_OK || it->at != COMPLETED) return status;
  failed = !rhk_json_is(it->v[I_STATUS], "completed");
  if (failed) {
    if (is_object(it->v[I_ERROR]) && rh_json_find(it->v[I_ERROR], "message", &message) == RH_OK && is_string(message))
      message = decoded(s, message);
    else
      message = result_text(s, it->v[I_RESULT]);
  }
  return complete(s, l, call, failed, it->v[I_RESULT], message);
}

static rh_status map_web_search(rh_runtime_session *s, const native_line *l, const item *it) {
  static const char *const names[] = {"query", "action"};
  rh_str members[2];
  rhk_tool_call *call;
  rh_status status;
  members[0] = it->v[I_QUERY];
  members[1] = it->v[I_ACTION];
  if ((status = call_of(s, l, it, "web_search", RHK_TOOL, object_of(s, names, members, 2), &call)) != RH_OK ||
      it->at != COMPLETED)
    return status;
  return complete(s, l, call, false, object_of(s, names, members, 2), rhk_none());
}

static rh_status map_collab(rh_runtime_session *s, const native_line *l, const item *it) {
  static const char *const names[] = {"sender_thread_id", "receiver_thread_ids", "prompt"};
  rh_str members[3];
  rhk_tool_call *call;
  char tool[64];
  rh_status status;
  if (!is_string(it->v[I_TOOL])) return unparsed(&s->kit, l, "collab_tool_call without a tool", rhk_none());
  members[0] = it->v[I_SENDER];
  members[1] = it->v[I_RECEIVERS];
  members[2] = is_present(it->v[I_PROMPT]) ? it->v[I_PROMPT] : rhk_none();
  rhk_json_text(it->v[I_TOOL], tool, sizeof tool);
  status = call_of(s, l, it, tool, RHK_TOOL, object_of(s, names, members, 3), &call);
  if (status != RH_OK || it->at != COMPLETED) return status;
  return complete(s, l, call, !rhk_json_is(it->v[I_STATUS], "completed"), it->v[I_STATES],
                  rhk_cstr("the agent tool call failed"));
}

static uint64_t hash_of(rh_str text) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  size_t i;
  for (i = 0; i < text.len; i++) h = (h ^ (unsigned char)text.data[i]) * 1099511628211ull;
  return h;
}

/* Each new state of the to-do list is one call of codex's plan tool: tool.started with the list,
 * tool.completed at once. The item's last state (at the turn's end) repeats the one before. */
static rh_status map_todo(rh_runtime_session *s, const native_line *l, const item *it) {
  static const char *const names[] = {"items"};
  rhk_tool_call *call;
  char native[ID_MAX + 16];
  uint64_t hash = hash_of(it->v[I_ITEMS]);
  bool same_item = strcmp(it->id, s->todo_id) == 0;
  rh_status status;
  if (!is_array(it->v[I_ITEMS])) return unparsed(&s->kit, l, "todo_list without an items array", rhk_none());
  if (same_item && s->todo_states > 0 && hash == s->todo_hash) return RH_OK; /* nothing new */
  if (!same_item) {
    snprintf(s->todo_id, sizeof s->todo_id, "%s", it->id);
    s->todo_states = 0;
  }
  if (s->todo_states == 0) snprintf(native, sizeof native, "%s", it->id);
  else snprintf(native, sizeof native, "%s.%u", it->id, s->todo_states);
  s->todo_states++;
  s->todo_hash = hash;
  if (!(call = rhk_tools_open(&s->kit, rhk_cstr(native), rhk_cstr("todo_list"), RHK_TOOL))) return no_memory(s);
  if ((status = rhk_emit_tool_started(&s->kit, call, object_of(s, names, &it->v[I_ITEMS], 1), raw_of(l))) != RH_OK) {
    rhk_tools_close(&s->kit, call);
    return status;
  }
  return complete(s, l, call, false, rhk_none(), rhk_none());
}

/* ---- items --------------------------------------------------------------------------------- */

static rh_status keep_final(rh_runtime_session *s, rh_str text) {
  rh_json_buffer_reset(&s->final_message);
  if (rhk_json_decode(text, &s->final_message) != RH_OK) return no_memory(s);
  s->has_final_message = true;
  return RH_OK;
}

static rh_status map_item(rh_runtime_session *s, const native_line *l, phase at) {
  rhk_session *kit = &s->kit;
  rh_str type;
  item it;
  rh_status status;
  if (!is_object(l->v[T_ITEM]) || rhk_json_pick(l->v[T_ITEM], k_item, I_COUNT, it.v) != RH_OK ||
      !is_string(it.v[I_TYPE]))
    return unparsed(kit, l, "item line without an item {id, type}", rhk_none());
  /* A web_search item holds two "id"s (codex's item id, then the search's own): the last one
   * read is the same on every line of the item, so it pairs them as well. */
  rhk_json_text(it.v[I_ID], it.id, sizeof it.id);
  it.at = at;
  type = it.v[I_TYPE];
  if (rhk_json_is(type, "agent_message") || rhk_json_is(type, "plan")) {
    if (at != COMPLETED) return RH_OK; /* the completed item carries the whole text */
    if (!is_string(it.v[I_TEXT])) return unparsed(kit, l, "text item without its text", rhk_none());
    /* A plan stands for the final answer only when the turn has no agent message. */
    if (rhk_json_is(type, "agent_message") || !s->has_final_message) {
      if ((status = keep_final(s, it.v[I_TEXT])) != RH_OK) return status;
    }
    return rhk_emit_message(kit, "assistant", it.v[I_TEXT], true, false, raw_of(l));
  }
  if (rhk_json_is(type, "reasoning")) {
    if (at != COMPLETED) return RH_OK;
    if (!is_string(it.v[I_TEXT])) return unparsed(kit, l, "reasoning item without its text", rhk_none());
    return rhk_emit_reasoning(kit, it.v[I_TEXT], true, false, raw_of(l));
  }
  if (rhk_json_is(type, "error")) { /* a warning codex carried on with */
    if (at != COMPLETED) return RH_OK;
    if (!is_string(it.v[I_MESSAGE])) return unparsed(kit, l, "error item without a message", rhk_none());
    return rhk_emit_message(kit, "system", it.v[I_MESSAGE], true, false, raw_of(l));
  }
  if (rhk_json_is(type, "command_execution")) return map_command(s, l, &it);
  if (rhk_json_is(type, "file_change")) return map_file_change(s, l, &it);
  if (rhk_json_is(type, "mcp_tool_call")) return map_mcp(s, l, &it);
  if (rhk_json_is(type, "web_search")) return map_web_search(s, l, &it);
  if (rhk_json_is(type, "todo_list")) return map_todo(s, l, &it);
  if (rhk_json_is(type, "collab_tool_call")) return map_collab(s, l, &it);
  return unparsed(kit, l, "item type not mapped: ", type);
}

/* ---- The line ------------------------------------------------------------------------------ */

rh_status codex_on_stdout_line(rhk_session *kit, const char *data, size_t len, bool truncated) {
  rh_runtime_session *s = SESSION(kit);
  native_line l;
  rh_str type;
  l.data = data;
  l.len = len;
  if (!rhk_line_pick(kit, RH_STREAM_STDOUT, data, len, truncated, k_top, T_COUNT, l.v, &l.doc)) return RH_OK;
  type = l.v[T_TYPE];
  if (!is_string(type)) return unparsed(kit, &l, "no \"type\" string", rhk_none());
  if (rhk_json_is(type, "item.completed")) return map_item(s, &l, COMPLETED);
  if (rhk_json_is(type, "item.started")) return map_item(s, &l, STARTED);
  if (rhk_json_is(type, "item.updated")) return map_item(s, &l, UPDATED);
  if (rhk_json_is(type, "thread.started")) return map_thread_started(s, &l);
  if (rhk_json_is(type, "turn.started")) {
    rh_json_buffer_reset(&s->final_message);
    s->has_final_message = false;
    return RH_OK;
  }
  if (rhk_json_is(type, "turn.completed")) return map_turn_completed(s, &l);
  if (rhk_json_is(type, "turn.failed")) return map_turn_failed(s, &l);
  if (rhk_json_is(type, "error")) return map_error(s, &l);
  /* A plan's text streaming in: its item.completed carries the whole of it. */
  if (rhk_json_is(type, "item.plan.delta")) return RH_OK;
  if (rhk_json_is(type, "request_user_input"))
    return unparsed(kit, &l, "a question for the user: codex exec takes no answers, so nothing can reply", rhk_none());
  return unparsed(kit, &l, "line type not mapped: ", type);
}

/* stderr: each line is command.output {stream: stderr}, as the kit does by default; the line codex
 * prints when it gives up before a turn ("Error: ...") is also kept to say why the run failed. */
rh_status codex_on_stderr_line(rhk_session *kit, const char *line, size_t len, bool truncated) {
  rh_runtime_session *s = SESSION(kit);
  rh_str raw = rhk_str(line, len);
  if (len > 0 && line[len - 1] == '\r') len--;
  if (!truncated && len > 7 && memcmp(line, "Error: ", 7) == 0)
    codex_remember_error(s, rhk_str(line + 7, len - 7), RH_STREAM_STDERR, raw);
  else if (!truncated && len > 14 && memcmp(line, "Error loading ", 14) == 0)
    codex_remember_error(s, rhk_str(line, len), RH_STREAM_STDERR, raw);
  return rhk_emit_diagnostic(kit, line, len, truncated, raw); /* codex's own log ("could not create PATH aliases") */
}
