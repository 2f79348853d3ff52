/* kit_emit.c — one emitter per unified event type, each writing the payload docs/events.md
 * defines into the session's reused buffer, then one way out (emit_built): the line-wide extra
 * members, secret scrubbing, and the host's emit().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit_internal.h"

#define W (&s->payload.writer)

static rh_status no_memory(const rhk_session *s) {
  return rhk_fail(s, RH_ERR_NO_MEMORY, "out of memory building an event");
}

static const char *stream_name(rh_stream stream) {
  return stream == RH_STREAM_STDERR ? "stderr" : "stdout";
}

/* The first occurrence of needle[0, m) in hay[0, n), or NULL. */
static const char *find(const char *hay, size_t n, const char *needle, size_t m) {
  const char *p = hay, *end = hay + n;
  if (m == 0 || n < m) return NULL;
  while ((size_t)(end - p) >= m && (p = (const char *)memchr(p, needle[0], (size_t)(end - p) - m + 1))) {
    if (memcmp(p, needle, m) == 0) return p;
    p++;
  }
  return NULL;
}

/* Replaces each secret in s->payload with [redacted]. Secrets are kept JSON-escaped, as a
 * payload holds them, so the search is a plain substring search. */
rh_status rhk_impl_scrub(rhk_session *s) {
  size_t i;
  for (i = 0; i < s->secret_count; i++) {
    const char *secret = s->secrets[i], *hit;
    size_t n = strlen(secret), at = 0;
    if (!find(s->payload.data, s->payload.len, secret, n)) continue;
    rh_json_buffer_reset(&s->scratch);
    while ((hit = find(s->payload.data + at, s->payload.len - at, secret, n))) {
      if (rh_json_write_raw(&s->scratch.writer, s->payload.data + at, (size_t)(hit - s->payload.data) - at) ||
          rh_json_write_cstr(&s->scratch.writer, "[redacted]"))
        return no_memory(s);
      at = (size_t)(hit - s->payload.data) + n;
    }
    if (rh_json_write_raw(&s->scratch.writer, s->payload.data + at, s->payload.len - at)) return no_memory(s);
    rh_json_buffer_reset(&s->payload);
    if (rh_json_write_raw(W, s->scratch.data, s->scratch.len)) return no_memory(s);
  }
  return RH_OK;
}

/* Whether `raw` can go out as it is: UTF-8, and no secret in it (a line that holds one goes
 * without raw; its payload is scrubbed). */
rh_str rhk_impl_safe_raw(const rhk_session *s, rh_str raw) {
  size_t i;
  if (raw.len == 0 || !rh_json_utf8_valid(raw.data, raw.len)) return rhk_none();
  for (i = 0; i < s->secret_count; i++)
    if (find(raw.data, raw.len, s->secrets[i], strlen(s->secrets[i]))) return rhk_none();
  return raw;
}

static rh_status begin(rhk_session *s) {
  rh_json_buffer_reset(&s->payload);
  return rh_json_write_raw(W, "{", 1);
}

/* Closes the payload in s->payload (adding the extra members unless `terminal`) and emits it. */
static rh_status emit_built(rhk_session *s, const char *type, rh_str raw, bool terminal) {
  rh_event event;
  rh_status status;
  if (!terminal && s->extra.len > 0) {
    if (rh_json_write_raw(W, s->payload.len > 1 ? "," : "", s->payload.len > 1 ? 1 : 0) ||
        rh_json_write_raw(W, s->extra.data, s->extra.len))
      return no_memory(s);
  }
  if (rh_json_write_raw(W, "}", 1) || rhk_impl_scrub(s) != RH_OK) return no_memory(s);
  event.struct_size = sizeof(rh_event);
  event.type = rhk_cstr(type);
  event.payload_json = rhk_str(s->payload.data, s->payload.len);
  event.raw = rhk_impl_safe_raw(s, raw);
  status = s->host->emit(s->host, s->run, &event);
  /* A refused event the host keeps as runtime.unparsed itself (host.h): nothing is lost, and
   * reporting it again would report the line twice. */
  return status == RH_ERR_INVALID_ARGUMENT ? RH_OK : status;
}

/* Text as a JSON string: verbatim when it already is one (a view from the reader of a line
 * checked to be UTF-8), else escaped. */
static rh_status write_text(rhk_session *s, bool first, const char *name, rh_str text, bool is_json) {
  if (is_json && text.len >= 2 && text.data[0] == '"') return rhk_write_raw_member(W, first, name, text);
  if (is_json) return rhk_write_string_member(W, first, name, "", 0);
  return rhk_write_string_member(W, first, name, text.data, text.len);
}

rh_status rhk_emit_message(rhk_session *s, const char *role, rh_str text, bool text_is_json,
                           bool delta, rh_str raw) {
  if (begin(s) || rhk_write_string_member(W, true, "role", role, strlen(role)) ||
      write_text(s, false, "text", text, text_is_json) || (delta && rh_json_write_cstr(W, ",\"delta\":true")))
    return no_memory(s);
  return emit_built(s, "message", raw, false);
}

rh_status rhk_emit_reasoning(rhk_session *s, rh_str text, bool text_is_json, bool delta, rh_str raw) {
  if (begin(s) || write_text(s, true, "text", text, text_is_json) ||
      (delta && rh_json_write_cstr(W, ",\"delta\":true")))
    return no_memory(s);
  return emit_built(s, "reasoning", raw, false);
}

static const char *kind_name(rhk_tool_kind kind) {
  switch (kind) {
  case RHK_COMMAND: return "command";
  case RHK_MCP: return "mcp";
  case RHK_FILE: return "file";
  default: return "tool";
  }
}

rh_status rhk_emit_tool_started(rhk_session *s, const rhk_tool_call *call, rh_str input, rh_str raw) {
  const char *kind = kind_name(call->kind);
  if (begin(s) || rhk_write_string_member(W, true, "tool_call_id", call->call_id, strlen(call->call_id)) ||
      rhk_write_string_member(W, false, "name", call->name, strlen(call->name)) ||
      (input.len > 0 && rhk_write_raw_member(W, false, "input", input)) ||
      rhk_write_string_member(W, false, "kind", kind, strlen(kind)))
    return no_memory(s);
  return emit_built(s, "tool.started", raw, false);
}

rh_status rhk_emit_approval_request(rhk_session *s, const rhk_approval_request *r, rh_str raw) {
  const char *kind = kind_name(r->kind);
  if (begin(s) || rhk_write_raw_member(W, true, "approval_id", r->request_id) ||
      (r->call_id && rhk_write_string_member(W, false, "tool_call_id", r->call_id, strlen(r->call_id))) ||
      rhk_write_key(W, false, "action") || rh_json_write_raw(W, "{", 1) ||
      rhk_write_string_member(W, true, "kind", kind, strlen(kind)) ||
      rhk_write_string_member(W, false, "name", r->name.data ? r->name.data : "", r->name.len) ||
      (r->input.len > 0 && rhk_write_raw_member(W, false, "input", r->input)) ||
      (r->summary.len > 0 && rhk_write_string_member(W, false, "summary", r->summary.data, r->summary.len)) ||
      rh_json_write_raw(W, "}", 1))
    return no_memory(s);
  return emit_built(s, "approval.required", raw, false);
}

rh_status rhk_emit_tool_completed(rhk_session *s, const rhk_tool_result *r, rh_str raw) {
  if (begin(s) || rhk_write_string_member(W, true, "tool_call_id", r->call_id, strlen(r->call_id)) ||
      (r->name && rhk_write_string_member(W, false, "name", r->name, strlen(r->name))) ||
      rh_json_write_cstr(W, r->failed ? ",\"status\":\"error\"" : ",\"status\":\"success\"") ||
      (r->output.len > 0 && rhk_write_raw_member(W, false, "output", r->output)) ||
      (r->error.data && rhk_write_string_member(W, false, "error", r->error.data, r->error.len)) ||
      (r->duration_ms >= 0 && rhk_write_number_member(W, false, "duration_ms", r->duration_ms)))
    return no_memory(s);
  return emit_built(s, "tool.completed", raw, false);
}

rh_status rhk_emit_command_line(rhk_session *s, rh_stream stream, rh_str text, const char *call_id,
                                bool has_exit, int64_t exit_code, bool truncated, rh_str raw) {
  const char *name = stream_name(stream);
  size_t len = text.len;
  if (len > RHK_TEXT_LIMIT) len = RHK_TEXT_LIMIT, truncated = true;
  if (begin(s) || rhk_write_string_member(W, true, "stream", name, strlen(name)) ||
      rhk_write_string_member(W, false, "text", text.data ? text.data : "", len) ||
      (call_id && rhk_write_string_member(W, false, "tool_call_id", call_id, strlen(call_id))) ||
      (has_exit && rhk_write_int_member(W, false, "exit_code", exit_code)) ||
      (truncated && rh_json_write_cstr(W, ",\"truncated\":true")))
    return no_memory(s);
  return emit_built(s, "command.output", raw, false);
}

rh_status rhk_emit_command_text(rhk_session *s, rh_stream stream, rh_str text, const char *call_id,
                                bool has_exit_code, int64_t exit_code, rh_str raw) {
  const char *p = text.data, *end = text.data + text.len;
  rh_status status;
  if (text.len == 0)
    return has_exit_code ? rhk_emit_command_line(s, stream, rhk_str("", 0), call_id, true, exit_code, false, raw) : RH_OK;
  while (p < end) {
    const char *nl = (const char *)memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl ? nl : end, *next = nl ? nl + 1 : end;
    size_t len = (size_t)(line_end - p);
    bool last = next >= end;
    if (len > 0 && p[len - 1] == '\r') len--;
    status = rhk_emit_command_line(s, stream, rhk_str(p, len), call_id, has_exit_code && last, exit_code, false, raw);
    if (status != RH_OK) return status;
    p = next;
  }
  return RH_OK;
}

bool rhk_relative_path(const rhk_session *s, const char *path, size_t len, char *out, size_t cap) {
  const char *p = path, *end = path + len, *seg;
  size_t n;
  if (len > 0 && path[0] == '/') {
    size_t dir = s->work_dir ? strlen(s->work_dir) : 0;
    if (dir == 0) return false;
    if (dir == 1) p = path + 1; /* the work dir is "/" */
    else if (len > dir && memcmp(path, s->work_dir, dir) == 0 && path[dir] == '/') p = path + dir + 1;
    else return false;
  }
  while (end - p >= 2 && p[0] == '.' && p[1] == '/') p += 2;
  while (p < end && *p == '/') p++;
  n = (size_t)(end - p);
  if (n == 0 || n >= cap || n > 4096) return false;
  /* No ".." segment, and no line terminator (the schema's pattern would refuse it). */
  for (seg = p; seg < end;) {
    const char *slash = (const char *)memchr(seg, '/', (size_t)(end - seg));
    size_t sl = (size_t)((slash ? slash : end) - seg);
    if (sl == 2 && seg[0] == '.' && seg[1] == '.') return false;
    seg = slash ? slash + 1 : end;
  }
  if (memchr(p, '\n', n) || memchr(p, '\r', n) || memchr(p, '\0', n)) return false;
  { /* U+2028, U+2029 */
    const char *q;
    for (q = p; q + 2 < end; q++)
      if ((unsigned char)q[0] == 0xE2 && (unsigned char)q[1] == 0x80 &&
          ((unsigned char)q[2] == 0xA8 || (unsigned char)q[2] == 0xA9))
        return false;
  }
  memcpy(out, p, n);
  out[n] = '\0';
  return true;
}

rh_status rhk_emit_file_changed(rhk_session *s, const char *path, size_t path_len, rhk_change change,
                                const char *from, size_t from_len, int64_t size_bytes, rh_str raw) {
  static const char *const changes[] = {"created", "modified", "deleted", "renamed"};
  char rel[4097], rel_from[4097];
  bool has_from = from != NULL;
  if (!rhk_relative_path(s, path, path_len, rel, sizeof rel)) return RH_ERR_NOT_FOUND;
  if (has_from && !rhk_relative_path(s, from, from_len, rel_from, sizeof rel_from)) has_from = false;
  if (begin(s) || rhk_write_string_member(W, true, "path", rel, strlen(rel)) ||
      rhk_write_string_member(W, false, "change", changes[change], strlen(changes[change])) ||
      (has_from && rhk_write_string_member(W, false, "from", rel_from, strlen(rel_from))) ||
      (size_bytes >= 0 && rhk_write_int_member(W, false, "size_bytes", size_bytes)) ||
      rh_json_write_cstr(W, ",\"source_runtime\":true"))
    return no_memory(s);
  return emit_built(s, "file.changed", raw, false);
}

rh_status rhk_emit_usage(rhk_session *s, const rhk_usage *u, rh_str raw) {
  const char *source = u->source ? u->source : s->info->usage_source;
  if (begin(s) || rhk_write_string_member(W, true, "source", source, strlen(source)) ||
      (u->input_tokens >= 0 && rhk_write_int_member(W, false, "input_tokens", u->input_tokens)) ||
      (u->output_tokens >= 0 && rhk_write_int_member(W, false, "output_tokens", u->output_tokens)) ||
      (u->cached_input_tokens >= 0 && rhk_write_int_member(W, false, "cached_input_tokens", u->cached_input_tokens)) ||
      (u->cost_usd >= 0 && rhk_write_number_member(W, false, "cost_usd", u->cost_usd)) ||
      (u->model && rhk_write_string_member(W, false, "model", u->model, strlen(u->model))))
    return no_memory(s);
  return emit_built(s, "usage", raw, false);
}

rh_status rhk_emit_unparsed(rhk_session *s, rh_stream stream, const char *line, size_t len,
                            bool truncated, const char *reason, rh_str detail) {
  const char *name = stream_name(stream);
  rh_str saved = s->extra;
  rh_status status;
  if (len > RHK_TEXT_LIMIT) {
    len = RHK_TEXT_LIMIT;
    truncated = true;
  }
  if (begin(s) || rhk_write_string_member(W, true, "stream", name, strlen(name)) ||
      rhk_write_string_member(W, false, "line", line, len) || rh_json_write_cstr(W, ",\"reason\":\"") ||
      rh_json_write_escaped(W, reason, strlen(reason)) || rh_json_write_escaped(W, detail.data, detail.len) ||
      rh_json_write_cstr(W, truncated ? "\",\"truncated\":true" : "\""))
    return no_memory(s);
  s->extra = rhk_none(); /* an unparsed line stands alone */
  status = emit_built(s, "runtime.unparsed", truncated ? rhk_none() : rhk_str(line, len), false);
  s->extra = saved;
  return status;
}

static bool blank(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
  return true;
}

bool rhk_line_object(rhk_session *s, rh_stream stream, const char *line, size_t len, bool truncated,
                     rh_str *doc) {
  char reason[96];
  if (truncated) {
    snprintf(reason, sizeof reason, "longer than %zu bytes: cut there, the rest dropped", s->config.line_limit);
    (void)rhk_emit_unparsed(s, stream, line, len, true, reason, rhk_none());
    return false;
  }
  if (blank(line, len)) return false;
  if (!rh_json_utf8_valid(line, len)) {
    (void)rhk_emit_unparsed(s, stream, line, len, false, "not valid UTF-8", rhk_none());
    return false;
  }
  if (!rhk_json_parse(rhk_str(line, len), doc)) {
    (void)rhk_emit_unparsed(s, stream, line, len, false, "not valid JSON", rhk_none());
    return false;
  }
  if (doc->data[0] != '{') {
    (void)rhk_emit_unparsed(s, stream, line, len, false, "not a JSON object", rhk_none());
    return false;
  }
  return true;
}

bool rhk_line_pick(rhk_session *s, rh_stream stream, const char *line, size_t len, bool truncated,
                   const char *const *names, size_t count, rh_str *values, rh_str *doc) {
  char reason[96];
  rh_status status;
  if (truncated) {
    snprintf(reason, sizeof reason, "longer than %zu bytes: cut there, the rest dropped", s->config.line_limit);
    (void)rhk_emit_unparsed(s, stream, line, len, true, reason, rhk_none());
    return false;
  }
  if (blank(line, len)) return false;
  if (!rh_json_utf8_valid(line, len)) {
    (void)rhk_emit_unparsed(s, stream, line, len, false, "not valid UTF-8", rhk_none());
    return false;
  }
  status = rhk_json_pick_text(rhk_str(line, len), names, count, values, doc);
  if (status == RH_OK) return true;
  if (status == RH_ERR_NOT_FOUND && rhk_json_parse(rhk_str(line, len), doc))
    (void)rhk_emit_unparsed(s, stream, line, len, false, "not a JSON object", rhk_none());
  else
    (void)rhk_emit_unparsed(s, stream, line, len, false, "not valid JSON", rhk_none());
  return false;
}

rh_status rhk_emit_diagnostic(rhk_session *s, const char *line, size_t len, bool truncated, rh_str raw) {
  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
  if (len == 0) return RH_OK;
  if (len > RHK_TEXT_LIMIT) { /* cut on a character boundary */
    len = RHK_TEXT_LIMIT;
    while (len > 0 && ((unsigned char)line[len] & 0xC0) == 0x80) len--;
    truncated = true;
  }
  if (begin(s) || rh_json_write_cstr(W, "\"role\":\"system\",\"stream\":\"stderr\"") ||
      write_text(s, false, "text", rhk_str(line, len), false) || (truncated && rh_json_write_cstr(W, ",\"truncated\":true")))
    return no_memory(s);
  return emit_built(s, "message", truncated ? rhk_none() : raw, false);
}
