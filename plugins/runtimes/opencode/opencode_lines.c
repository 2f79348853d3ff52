/* opencode_lines.c — one line of `opencode run --format json` in, unified events out.
 *
 *   {type, timestamp, sessionID, part | error}
 *   step_start        —; counts the step (a model call)
 *   text              message {role: assistant}; kept as the run's result
 *   reasoning         reasoning (printed with --thinking)
 *   tool_use          tool.started, then command.output (bash) or file.changed (edit, write,
 *                     apply_patch), then tool.completed; opencode prints finished tools only
 *   step_finish       usage; its reason decides the ending (opencode_ending.c)
 *   error             the run's failure, typed (opencode_ending.c)
 *   anything else     runtime.unparsed, with the reason
 *
 * docs/runtimes/opencode.md has the full table. Each line is read in one walk of its top-level
 * members (rhk_line_pick); strings are copied into payloads as the JSON they already are, and
 * decoded only where the text itself matters (command output, paths, errors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencode.h"

#define SESSION(kit) ((rh_runtime_session *)(void *)(kit))

static const char *const k_top[] = {"type", "sessionID", "part", "error"};
enum { T_TYPE, T_SESSION, T_PART, T_ERROR, T_COUNT };

static const char *const k_part[] = {"type", "text", "tool", "callID", "state", "reason", "tokens", "cost"};
enum { P_TYPE, P_TEXT, P_TOOL, P_CALL_ID, P_STATE, P_REASON, P_TOKENS, P_COST, P_COUNT };

static const char *const k_state[] = {"status", "input", "output", "error", "metadata", "time"};
enum { S_STATUS, S_INPUT, S_OUTPUT, S_ERROR, S_METADATA, S_TIME, S_COUNT };

/* What the tools put in state.metadata: bash {output, exit}, write {exists}, apply_patch {files}. */
static const char *const k_meta[] = {"output", "exit", "exists", "files"};
enum { M_OUTPUT, M_EXIT, M_EXISTS, M_FILES, M_COUNT };

typedef struct line {
  const char *data; /* the native line */
  size_t len;
  rh_str v[T_COUNT];
  rh_str p[P_COUNT]; /* the part's members, when it has a part */
  rh_str doc;
} line;

static rh_str raw_of(const line *l) { return rhk_str(l->data, l->len); }

static rh_status unparsed(rhk_session *kit, const line *l, const char *reason, rh_str detail) {
  return rhk_emit_unparsed(kit, RH_STREAM_STDOUT, l->data, l->len, false, reason, detail);
}

static rh_status no_memory(const rhk_session *kit) { return rhk_fail(kit, RH_ERR_NO_MEMORY, "out of memory"); }

static bool is_string(rh_str v) { return v.len >= 2 && v.data[0] == '"'; }
static bool is_object(rh_str v) { return v.len >= 2 && v.data[0] == '{'; }
static bool is_array(rh_str v) { return v.len >= 2 && v.data[0] == '['; }
static bool is_bool(rh_str v, bool value) {
  return value ? v.len == 4 && memcmp(v.data, "true", 4) == 0 : v.len == 5 && memcmp(v.data, "false", 5) == 0;
}

/* A decoded string, into the session's text buffer (reset first). */
static rh_str decoded(rh_runtime_session *s, rh_str value) {
  rh_json_buffer_reset(&s->text);
  if (!is_string(value) || rhk_json_decode(value, &s->text) != RH_OK) return rhk_str("", 0);
  return rhk_str(s->text.data ? s->text.data : "", s->text.len);
}

/* ---- text, reasoning ----------------------------------------------------------------------- */

static rh_status keep_result(rh_runtime_session *s, rh_str text) {
  rh_json_buffer_reset(&s->result);
  s->has_result = true;
  return rhk_json_decode(text, &s->result) == RH_OK ? RH_OK : no_memory(&s->kit);
}

static rh_status map_text(rh_runtime_session *s, const line *l) {
  rh_status status;
  if (!is_string(l->p[P_TEXT])) return unparsed(&s->kit, l, "text part without its text", rhk_none());
  if ((status = keep_result(s, l->p[P_TEXT])) != RH_OK) return status;
  return rhk_emit_message(&s->kit, "assistant", l->p[P_TEXT], true, false, raw_of(l));
}

static rh_status map_reasoning(rh_runtime_session *s, const line *l) {
  if (!is_string(l->p[P_TEXT])) return unparsed(&s->kit, l, "reasoning part without its text", rhk_none());
  return rhk_emit_reasoning(&s->kit, l->p[P_TEXT], true, false, raw_of(l));
}

/* ---- tool_use ------------------------------------------------------------------------------ */

static rhk_tool_kind kind_of(const char *tool) {
  if (strcmp(tool, "bash") == 0) return RHK_COMMAND;
  if (strcmp(tool, "edit") == 0 || strcmp(tool, "write") == 0 || strcmp(tool, "apply_patch") == 0) return RHK_FILE;
  return RHK_TOOL;
}

/* A permission refusal, in the wording opencode gives the model (its own UI looks for the same). */
static bool refused(rh_str error) {
  static const char *const words[] = {"rejected permission", "specified a rule which prevents"};
  size_t i, n;
  for (i = 0; i < sizeof words / sizeof words[0]; i++) {
    const char *p = error.data, *end = error.data + error.len;
    n = strlen(words[i]);
    while (p && (size_t)(end - p) >= n) {
      if (memcmp(p, words[i], n) == 0) return true;
      p = (const char *)memchr(p + 1, words[i][0], (size_t)(end - p - 1));
    }
  }
  return false;
}

/* command.output for a bash call: what it printed (stdout and stderr together, as opencode runs it;
 * the CLI keeps the last 30,000 characters), the exit code (metadata.exit, null when opencode
 * killed the command) on the last line. */
static rh_status command_output(rh_runtime_session *s, const line *l, const rhk_tool_call *call, const rh_str *st,
                                const rh_str *meta) {
  rh_str printed = meta[M_OUTPUT], text;
  int64_t code = 0;
  bool has_exit = meta[M_EXIT].data && rh_json_int64(meta[M_EXIT], &code) == RH_OK;
  if (!is_string(printed)) {
    if (!rhk_json_is(st[S_STATUS], "completed") || !is_string(st[S_OUTPUT])) {
      return has_exit ? rhk_emit_command_text(&s->kit, RH_STREAM_STDOUT, rhk_str("", 0), call->call_id, true, code, raw_of(l))
                      : RH_OK;
    }
    printed = st[S_OUTPUT];
  }
  text = decoded(s, printed);
  /* opencode's stand-in for a command that printed nothing. */
  if (text.len == 11 && memcmp(text.data, "(no output)", 11) == 0) text.len = 0;
  return rhk_emit_command_text(&s->kit, RH_STREAM_STDOUT, text, call->call_id, has_exit, code, raw_of(l));
}

static rh_status file_changed(rh_runtime_session *s, const line *l, rh_str path, rhk_change change, rh_str from,
                              int64_t size) {
  rh_status status;
  if (path.len == 0) return RH_OK;
  status = rhk_emit_file_changed(&s->kit, path.data, path.len, change, from.data, from.len, size, raw_of(l));
  return status == RH_ERR_NOT_FOUND ? RH_OK : status; /* outside the work dir: the device's watcher has it */
}

/* apply_patch: metadata.files[] {filePath, type add|update|delete|move, movePath}. */
static rh_status patch_changes(rh_runtime_session *s, const line *l, rh_str files) {
  static const char *const names[] = {"filePath", "type", "movePath"};
  rh_str file, v[3], from;
  rhk_json_iter it;
  rh_status status = RH_OK;
  rh_json_buffer *moved = &s->build;
  if (!is_array(files)) return RH_OK;
  rhk_json_begin(&it, files);
  while (status == RH_OK && rhk_json_next(&it, NULL, &file)) {
    if (!is_object(file) || rhk_json_pick(file, names, 3, v) != RH_OK || !is_string(v[0])) continue;
    if (rhk_json_is(v[1], "move") && is_string(v[2])) {
      rh_json_buffer_reset(moved); /* the old path, apart from s->text where the new one goes */
      if (rhk_json_decode(v[0], moved) != RH_OK) return no_memory(&s->kit);
      from = rhk_str(moved->data, moved->len);
      status = file_changed(s, l, decoded(s, v[2]), RHK_RENAMED, from, -1);
    } else {
      rhk_change change = rhk_json_is(v[1], "add") ? RHK_CREATED : rhk_json_is(v[1], "delete") ? RHK_DELETED : RHK_MODIFIED;
      status = file_changed(s, l, decoded(s, v[0]), change, rhk_none(), -1);
    }
  }
  return status;
}

/* file.changed for a file tool that succeeded. write: created unless metadata.exists says the
 * file was there, with the content's size; edit: modified, or created when oldString is "" (which
 * opencode allows only for a new file); apply_patch: each file of the patch. */
static rh_status file_changes(rh_runtime_session *s, const line *l, const rhk_tool_call *call, const rh_str *st,
                              const rh_str *meta) {
  static const char *const in_names[] = {"filePath", "content", "oldString"};
  rh_str in[3] = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
  size_t size;
  int64_t size_bytes = -1;
  rhk_change change = RHK_MODIFIED;
  if (strcmp(call->name, "apply_patch") == 0) return patch_changes(s, l, meta[M_FILES]);
  if (is_object(st[S_INPUT])) (void)rhk_json_pick(st[S_INPUT], in_names, 3, in);
  if (!is_string(in[0])) return RH_OK;
  if (strcmp(call->name, "write") == 0) {
    change = is_bool(meta[M_EXISTS], true) ? RHK_MODIFIED : RHK_CREATED;
    if (is_string(in[1]) && rh_json_string(in[1], NULL, 0, &size) != RH_ERR_INVALID_ARGUMENT) size_bytes = (int64_t)size;
  } else if (rhk_json_is(in[2], "")) {
    change = RHK_CREATED;
  }
  return file_changed(s, l, decoded(s, in[0]), change, rhk_none(), size_bytes);
}

static double duration_of(rh_str time) {
  static const char *const names[] = {"start", "end"};
  rh_str v[2];
  double start, end;
  if (!is_object(time) || rhk_json_pick(time, names, 2, v) != RH_OK) return -1;
  start = rhk_json_number(v[0], -1);
  end = rhk_json_number(v[1], -1);
  return start >= 0 && end >= start ? end - start : -1;
}

/* opencode's "invalid" tool stands for a call it could not make (a tool that is not there, or
 * arguments that do not fit): the call is shown under the name the model used, and failed. */
static rh_str invalid_tool_name(rh_str input) {
  rh_str name;
  if (is_object(input) && rh_json_find(input, "tool", &name) == RH_OK && is_string(name) && name.len > 2) return name;
  return rhk_none();
}

static rh_status map_tool(rh_runtime_session *s, const line *l) {
  rhk_session *kit = &s->kit;
  rh_str st[S_COUNT], meta[M_COUNT] = {{NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}}, status_v, input;
  char id[160], name[256];
  rhk_tool_call *call;
  rhk_tool_result r;
  bool invalid, done, failed;
  int64_t code;
  char why[64];
  rh_status status;
  if (!is_string(l->p[P_TOOL]) || !is_object(l->p[P_STATE]) || rhk_json_pick(l->p[P_STATE], k_state, S_COUNT, st) != RH_OK)
    return unparsed(kit, l, "tool part without its tool and state", rhk_none());
  status_v = st[S_STATUS];
  done = rhk_json_is(status_v, "completed") || rhk_json_is(status_v, "error");
  if (!done && !rhk_json_is(status_v, "running") && !rhk_json_is(status_v, "pending"))
    return unparsed(kit, l, "tool state not mapped: ", status_v.len ? status_v : rhk_cstr("(no status)"));
  input = st[S_INPUT];
  invalid = rhk_json_is(l->p[P_TOOL], "invalid") && invalid_tool_name(input).len > 0;
  rhk_json_text(invalid ? invalid_tool_name(input) : l->p[P_TOOL], name, sizeof name);
  rhk_json_text(l->p[P_CALL_ID], id, sizeof id);
  if (!name[0]) return unparsed(kit, l, "tool part with an empty tool name", rhk_none());
  /* A call seen before (a running state, in a future version) is not started twice. */
  call = id[0] ? rhk_tools_find(kit, rhk_cstr(id)) : NULL;
  if (!call) { /* "invalid" keeps only the tool's name and why, not the model's arguments */
    if (!(call = rhk_tools_open(kit, rhk_cstr(id), rhk_cstr(name), invalid ? RHK_TOOL : kind_of(name))))
      return no_memory(kit);
    if ((status = rhk_emit_tool_started(kit, call, input.len && !invalid ? input : rhk_none(), raw_of(l))) != RH_OK)
      return status;
  }
  if (!done) return RH_OK;
  failed = rhk_json_is(status_v, "error") || invalid;
  if (is_object(st[S_METADATA])) (void)rhk_json_pick(st[S_METADATA], k_meta, M_COUNT, meta);
  if (call->kind == RHK_COMMAND && (status = command_output(s, l, call, st, meta)) != RH_OK) return status;
  if (call->kind == RHK_FILE && !failed && (status = file_changes(s, l, call, st, meta)) != RH_OK) return status;
  r.call_id = call->call_id;
  r.name = call->name;
  r.failed = failed;
  r.output = rhk_none();
  r.error = rhk_none();
  r.duration_ms = duration_of(st[S_TIME]);
  if (rhk_json_is(status_v, "error")) {
    r.error = decoded(s, st[S_ERROR]);
    if (r.error.len == 0) r.error = rhk_cstr("the tool failed");
    if (refused(r.error)) s->step_refused = true;
  } else if (call->kind == RHK_COMMAND && meta[M_EXIT].data && rh_json_int64(meta[M_EXIT], &code) == RH_OK && code != 0) {
    /* The tool ran; the command failed. Its output stays the output. */
    snprintf(why, sizeof why, "the command exited with code %lld", (long long)code);
    r.failed = true;
    r.error = rhk_cstr(why);
    r.output = st[S_OUTPUT];
  } else if (invalid) {
    r.error = decoded(s, st[S_OUTPUT]);
    if (r.error.len == 0) r.error = rhk_cstr("opencode could not make the call");
  } else {
    r.output = st[S_OUTPUT];
  }
  status = rhk_emit_tool_completed(kit, &r, raw_of(l));
  rhk_tools_close(kit, call);
  return status;
}

/* ---- step_start, step_finish --------------------------------------------------------------- */

static rh_status map_step_start(rh_runtime_session *s) {
  s->steps++;
  s->step_open = true;
  s->step_refused = false;
  s->has_result = false; /* the result is the last step's text */
  rh_json_buffer_reset(&s->result);
  return RH_OK;
}

/* usage from a step's tokens {input, output, reasoning, cache {read, write}} and cost. opencode's
 * input leaves the cached tokens out and its output the reasoning: the unified counts have them. */
static rh_status map_step_finish(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"input", "output", "reasoning", "cache"};
  static const char *const cache_names[] = {"read", "write"};
  rh_str t[4], c[2] = {{NULL, 0}, {NULL, 0}};
  rhk_usage u;
  int64_t reasoning, write;
  if (!is_string(l->p[P_REASON]) && l->p[P_REASON].data)
    return unparsed(&s->kit, l, "step_finish with a reason that is not a string", rhk_none());
  s->step_open = false;
  s->step_finished = true;
  rhk_json_text(l->p[P_REASON], s->reason, sizeof s->reason);
  u.source = s->options.usage_source;
  u.model = s->options.model;
  u.input_tokens = u.output_tokens = u.cached_input_tokens = -1;
  u.cost_usd = rhk_json_number(l->p[P_COST], -1);
  if (is_object(l->p[P_TOKENS]) && rhk_json_pick(l->p[P_TOKENS], names, 4, t) == RH_OK) {
    if (is_object(t[3])) (void)rhk_json_pick(t[3], cache_names, 2, c);
    u.cached_input_tokens = rhk_json_int(c[0], -1);
    write = rhk_json_int(c[1], 0);
    reasoning = rhk_json_int(t[2], 0);
    u.input_tokens = rhk_json_int(t[0], -1);
    if (u.input_tokens >= 0) u.input_tokens += (u.cached_input_tokens > 0 ? u.cached_input_tokens : 0) + (write > 0 ? write : 0);
    u.output_tokens = rhk_json_int(t[1], -1);
    if (u.output_tokens >= 0 && reasoning > 0) u.output_tokens += reasoning;
  }
  if (u.input_tokens <= 0 && u.output_tokens <= 0 && u.cost_usd <= 0) return RH_OK; /* nothing spent */
  return rhk_emit_usage(&s->kit, &u, raw_of(l));
}

/* ---- The line ------------------------------------------------------------------------------ */

/* Buffers that grew for one large line give their memory back after it. */
static void shrink(rh_runtime_session *s) {
  rh_json_buffer *const buffers[] = {&s->text, &s->build};
  size_t i;
  for (i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
    if (buffers[i]->cap > RHK_KEEP_BUFFER) rh_json_buffer_free(buffers[i]);
}

static rh_status map_line(rh_runtime_session *s, const char *data, size_t len, bool truncated);

rh_status opencode_on_stdout_line(rhk_session *kit, const char *data, size_t len, bool truncated) {
  rh_runtime_session *s = SESSION(kit);
  rh_status status = map_line(s, data, len, truncated);
  shrink(s);
  return status;
}

static rh_status map_part(rh_runtime_session *s, line *l, const char *what, const char *part_type) {
  char message[96];
  if (!is_object(l->v[T_PART]) || rhk_json_pick(l->v[T_PART], k_part, P_COUNT, l->p) != RH_OK) {
    snprintf(message, sizeof message, "%s line without a part object", what);
    return unparsed(&s->kit, l, message, rhk_none());
  }
  if (l->p[P_TYPE].data && !rhk_json_is(l->p[P_TYPE], part_type)) {
    snprintf(message, sizeof message, "%s line whose part is not a %s part: ", what, part_type);
    return unparsed(&s->kit, l, message, l->p[P_TYPE]);
  }
  if (strcmp(what, "text") == 0) return map_text(s, l);
  if (strcmp(what, "reasoning") == 0) return map_reasoning(s, l);
  if (strcmp(what, "tool_use") == 0) return map_tool(s, l);
  if (strcmp(what, "step_start") == 0) return map_step_start(s);
  return map_step_finish(s, l);
}

static rh_status map_line(rh_runtime_session *s, const char *data, size_t len, bool truncated) {
  static const struct { const char *line; const char *part; } k_parts[] = {
      {"text", "text"}, {"reasoning", "reasoning"}, {"tool_use", "tool"}, {"step_start", "step-start"},
      {"step_finish", "step-finish"}};
  rhk_session *kit = &s->kit;
  line l;
  rh_str type;
  size_t i;
  rh_status status;
  l.data = data;
  l.len = len;
  if (!rhk_line_pick(kit, RH_STREAM_STDOUT, data, len, truncated, k_top, T_COUNT, l.v, &l.doc)) return RH_OK;
  type = l.v[T_TYPE];
  if (!is_string(type)) return unparsed(kit, &l, "no \"type\" string", rhk_none());
  if (l.v[T_SESSION].data && !is_string(l.v[T_SESSION])) return unparsed(kit, &l, "sessionID is not a string", rhk_none());
  if (is_string(l.v[T_SESSION]) && (status = rhk_set_session_id(kit, decoded(s, l.v[T_SESSION]), false)) != RH_OK)
    return status;
  for (i = 0; i < sizeof k_parts / sizeof k_parts[0]; i++)
    if (rhk_json_is(type, k_parts[i].line)) return map_part(s, &l, k_parts[i].line, k_parts[i].part);
  if (rhk_json_is(type, "error")) {
    if (!is_object(l.v[T_ERROR])) return unparsed(kit, &l, "error line without an error object", rhk_none());
    return opencode_map_error(s, l.v[T_ERROR], raw_of(&l));
  }
  return unparsed(kit, &l, "line type not mapped: ", type);
}

/* ---- stderr -------------------------------------------------------------------------------- */

/* Skips ANSI escape sequences (opencode colours stderr even with NO_COLOR). */
static size_t plain_text(const char *in, size_t len, char *out, size_t cap) {
  size_t i = 0, n = 0;
  while (i < len && n + 1 < cap) {
    if (in[i] == '\x1b' && i + 1 < len && in[i + 1] == '[') {
      i += 2;
      while (i < len && !((in[i] >= '@' && in[i] <= '~'))) i++;
      i++;
      continue;
    }
    out[n++] = in[i++];
  }
  out[n] = '\0';
  return n;
}

/* Each stderr line is command.output {stream: stderr}, as the kit does by default; the line that
 * says a permission was rejected for want of anyone to ask is also kept for the ending. */
rh_status opencode_on_stderr_line(rhk_session *kit, const char *data, size_t len, bool truncated) {
  rh_runtime_session *s = SESSION(kit);
  static const char marker[] = "permission requested: ";
  rh_str raw = rhk_str(data, len);
  char plain[OPENCODE_NOTE_MAX + 64];
  size_t n = plain_text(data, len < 2048 ? len : 2048, plain, sizeof plain);
  const char *at = n >= sizeof marker - 1 ? strstr(plain, marker) : NULL;
  if (at) {
    const char *what = at + sizeof marker - 1, *end = strstr(what, "; auto-rejecting");
    size_t m = end ? (size_t)(end - what) : strlen(what);
    if (m >= sizeof s->rejected) m = sizeof s->rejected - 1;
    memcpy(s->rejected, what, m);
    s->rejected[m] = '\0';
  }
  return rhk_emit_diagnostic(kit, data, len, truncated, raw); /* opencode's own log */
}
