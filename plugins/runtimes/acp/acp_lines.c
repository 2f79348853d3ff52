/* acp_lines.c — the client side of ACP v1: each JSON-RPC line the agent writes, and what we write
 * back (through rh_host.send_input; stdin stays open until the prompt is answered).
 *
 *   response to initialize        protocolVersion must be 1; then session/new {cwd, mcpServers}
 *                                 (session/load with the resume id when the agent can load)
 *   response to session/new|load  the session id kept; session/set_mode (config "mode"), then
 *                                 session/prompt {prompt: [{type: text, text: PROMPT}]}
 *   response to session/prompt    usage; stopReason end_turn -> run.completed (the agent's text),
 *                                 max_turn_requests -> turn_limit, max_tokens | refusal |
 *                                 cancelled -> run.failed; then stdin is closed
 *   an error response             run.failed (auth_failed for "authentication required"), stdin closed
 *   session/update                see map_update (docs/runtimes/acp.md has the table)
 *   (the run cancelled)           session/cancel; open permission requests answered cancelled
 *   session/request_permission    approval.required; the host's answer picks among the options
 *   fs/read_text_file, fs/write_text_file
 *                                 served inside the run's directory, when it is on this machine
 *   terminal/...                  processes in the run's device (acp_terminal.c)
 *   any other request             a JSON-RPC error (method not found), kept as runtime.unparsed
 *   anything else                 runtime.unparsed, with the reason
 */
#define _XOPEN_SOURCE 700 /* realpath, PATH_MAX */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acp.h"

#define SESSION(kit) ((rh_runtime_session *)(void *)(kit))

static const char *const k_top[] = {"jsonrpc", "id", "method", "params", "result", "error"};
enum { T_JSONRPC, T_ID, T_METHOD, T_PARAMS, T_RESULT, T_ERROR, T_COUNT };

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

static rh_status pick(rh_str object, const char *const *names, size_t count, rh_str *values) {
  size_t i;
  if (!rhk_json_is_object(object)) {
    for (i = 0; i < count; i++) values[i] = rhk_none();
    return RH_ERR_INVALID_ARGUMENT;
  }
  return rhk_json_pick(object, names, count, values);
}

/* ---- Writing to the agent -------------------------------------------------------------------- */

#define OUT (&s->out.writer)

static rh_status send_out(rh_runtime_session *s) {
  if (rh_json_write_raw(OUT, "\n", 1) != RH_OK) return no_memory(&s->kit);
  return rhk_send_input(&s->kit, rhk_str(s->out.data, s->out.len), false);
}

static rh_status begin_request(rh_runtime_session *s, int id, const char *method) {
  char head[128];
  rh_json_buffer_reset(&s->out);
  snprintf(head, sizeof head, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":", id, method);
  return rh_json_write_cstr(OUT, head);
}

/* The end of the prompt (answered, failed, or the agent gave up): stdin closes and the agent
 * exits; one that lingers (claude-agent-acp 0.23) is stopped by the host after a grace. */
static void done(rh_runtime_session *s) {
  if (s->phase == ACP_DONE) return;
  s->phase = ACP_DONE;
  acp_terminals_flush(s); /* no tool call will name them now */
  (void)rhk_end_input(&s->kit);
}

static const char *work_dir(const rh_runtime_session *s) {
  return s->kit.work_dir ? s->kit.work_dir : s->kit.cwd && s->kit.cwd[0] == '/' ? s->kit.cwd : NULL;
}

rh_status acp_write_initialize(rh_runtime_session *s, rh_json_buffer *out) {
  s->serve_fs = s->fs && s->kit.local_device && work_dir(s) != NULL;
  s->serve_terminal = acp_terminals_offered(s);
  s->phase = ACP_INITIALIZING;
  if (rh_json_write_cstr(&out->writer, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                                       "\"protocolVersion\":1,\"clientCapabilities\":{\"fs\":{\"readTextFile\":") ||
      rh_json_write_cstr(&out->writer, s->serve_fs ? "true,\"writeTextFile\":true}" : "false,\"writeTextFile\":false}") ||
      rh_json_write_cstr(&out->writer, s->serve_terminal ? ",\"terminal\":true}" : ",\"terminal\":false}") ||
      rh_json_write_cstr(&out->writer, ",\"clientInfo\":{\"name\":\"runhost\",\"title\":\"runhost\","
                                       "\"version\":\"0.1.0\"}}}\n"))
    return no_memory(&s->kit);
  return RH_OK;
}

/* The run's MCP servers (the host's {name: {command, args, env} | {url, headers, type}}) as ACP's
 * array: stdio servers {name, command, args, env: [{name, value}]}, others {type, name, url,
 * headers: [{name, value}]}. */
static rh_status write_mcp_servers(rh_runtime_session *s) {
  static const char *const names[] = {"command", "args", "env", "url", "headers", "type"};
  rhk_json_iter servers, members;
  rh_str object, name, server, v[6], key, value;
  bool first = true, first_member;
  if (rh_json_write_cstr(OUT, "[")) return no_memory(&s->kit);
  if (s->kit.mcp_servers && rhk_json_parse(rhk_cstr(s->kit.mcp_servers), &object) && rhk_json_begin(&servers, object)) {
    while (rhk_json_next(&servers, &name, &server)) {
      if (pick(server, names, 6, v) != RH_OK || (!rhk_json_is_string(v[0]) && !rhk_json_is_string(v[3]))) continue;
      if (rh_json_write_cstr(OUT, first ? "{\"name\":" : ",{\"name\":") || rh_json_write_raw(OUT, name.data, name.len))
        return no_memory(&s->kit);
      first = false;
      if (rhk_json_is_string(v[0])) {
        if (rh_json_write_cstr(OUT, ",\"command\":") || rh_json_write_raw(OUT, v[0].data, v[0].len) ||
            rh_json_write_cstr(OUT, ",\"args\":") ||
            (rhk_json_is_array(v[1]) ? rh_json_write_raw(OUT, v[1].data, v[1].len) : rh_json_write_cstr(OUT, "[]")) ||
            rh_json_write_cstr(OUT, ",\"env\":["))
          return no_memory(&s->kit);
      } else {
        if (rh_json_write_cstr(OUT, ",\"type\":") ||
            (rhk_json_is_string(v[5]) ? rh_json_write_raw(OUT, v[5].data, v[5].len) : rh_json_write_cstr(OUT, "\"http\"")) ||
            rh_json_write_cstr(OUT, ",\"url\":") || rh_json_write_raw(OUT, v[3].data, v[3].len) ||
            rh_json_write_cstr(OUT, ",\"headers\":["))
          return no_memory(&s->kit);
        v[2] = v[4];
      }
      first_member = true;
      if (rhk_json_is_object(v[2]) && rhk_json_begin(&members, v[2])) {
        while (rhk_json_next(&members, &key, &value)) {
          if (!rhk_json_is_string(value)) continue;
          if (rh_json_write_cstr(OUT, first_member ? "{\"name\":" : ",{\"name\":") ||
              rh_json_write_raw(OUT, key.data, key.len) || rh_json_write_cstr(OUT, ",\"value\":") ||
              rh_json_write_raw(OUT, value.data, value.len) || rh_json_write_cstr(OUT, "}"))
            return no_memory(&s->kit);
          first_member = false;
        }
      }
      if (rh_json_write_cstr(OUT, "]}")) return no_memory(&s->kit);
    }
  }
  return rh_json_write_cstr(OUT, "]") ? no_memory(&s->kit) : RH_OK;
}

static rh_status open_session(rh_runtime_session *s) {
  rhk_session *kit = &s->kit;
  const char *dir = work_dir(s);
  const bool load = kit->resume_id != NULL;
  if (!dir) return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "ACP needs the run's absolute working directory");
  if (begin_request(s, ACP_ID_SESSION, load ? "session/load" : "session/new") || rh_json_write_cstr(OUT, "{"))
    return no_memory(kit);
  if (load && (rh_json_write_cstr(OUT, "\"sessionId\":") ||
               rh_json_write_string(OUT, kit->resume_id, strlen(kit->resume_id)) || rh_json_write_cstr(OUT, ",")))
    return no_memory(kit);
  if (rh_json_write_cstr(OUT, "\"cwd\":") || rh_json_write_string(OUT, dir, strlen(dir)) ||
      rh_json_write_cstr(OUT, ",\"mcpServers\":"))
    return no_memory(kit);
  if (write_mcp_servers(s) != RH_OK || rh_json_write_cstr(OUT, "}}")) return no_memory(kit);
  s->phase = ACP_OPENING;
  return send_out(s);
}

static rh_status send_prompt(rh_runtime_session *s) {
  rhk_session *kit = &s->kit;
  if (begin_request(s, ACP_ID_PROMPT, "session/prompt") || rh_json_write_cstr(OUT, "{\"sessionId\":") ||
      rh_json_write_string(OUT, s->session_id, strlen(s->session_id)) ||
      rh_json_write_cstr(OUT, ",\"prompt\":[{\"type\":\"text\",\"text\":") ||
      rh_json_write_string(OUT, kit->prompt, kit->prompt_len) || rh_json_write_cstr(OUT, "}]}}"))
    return no_memory(kit);
  s->phase = ACP_PROMPTING;
  rh_json_buffer_reset(&s->reply);
  return send_out(s);
}

static rh_status set_mode(rh_runtime_session *s) {
  if (begin_request(s, ACP_ID_SET_MODE, "session/set_mode") || rh_json_write_cstr(OUT, "{\"sessionId\":") ||
      rh_json_write_string(OUT, s->session_id, strlen(s->session_id)) || rh_json_write_cstr(OUT, ",\"modeId\":") ||
      rh_json_write_string(OUT, s->mode, strlen(s->mode)) || rh_json_write_cstr(OUT, "}}"))
    return no_memory(&s->kit);
  s->phase = ACP_SETTING_MODE;
  return send_out(s);
}

/* A JSON-RPC error answer to one of the agent's requests. */
rh_status acp_answer_error(rh_runtime_session *s, rh_str id, int code, const char *message) {
  char head[64];
  rh_json_buffer_reset(&s->out);
  snprintf(head, sizeof head, ",\"error\":{\"code\":%d,\"message\":", code);
  if (rh_json_write_cstr(OUT, "{\"jsonrpc\":\"2.0\",\"id\":") || rh_json_write_raw(OUT, id.data, id.len) ||
      rh_json_write_cstr(OUT, head) || rh_json_write_string(OUT, message, strlen(message)) ||
      rh_json_write_cstr(OUT, "}}"))
    return no_memory(&s->kit);
  return send_out(s);
}

/* ---- The ending ---------------------------------------------------------------------------- */

static rh_status hold(rh_runtime_session *s, rhk_failure_kind kind, const char *cause, const char *message,
                      const line *l) {
  rhk_failure f = *rhk_failure_of(kind);
  if (cause) f.cause = cause;
  done(s);
  return rhk_hold_failure_with(&s->kit, &f, rhk_cstr(message), rhk_none(), raw_of(l));
}

/* An error answer to one of our requests: the run cannot go on. */
static rh_status request_failed(rh_runtime_session *s, const line *l, const char *method) {
  static const char *const names[] = {"code", "message", "data"};
  rh_str e[3];
  char detail[1600], message[1700];
  int64_t code;
  rh_str text;
  size_t n;
  (void)pick(l->v[T_ERROR], names, 3, e);
  code = rhk_json_int(e[0], 0);
  text = rhk_decoded(&s->text, e[1]);
  snprintf(detail, sizeof detail, "%.*s", (int)(text.len > 1024 ? 1024 : text.len), text.data); /* NUL-terminated */
  /* JSON-RPC's "data" holds the detail some agents give only there (codex-acp: "Internal error"
   * with the model API's failure in data): appended, text or JSON, cut at 512 bytes. */
  if (e[2].data && rh_json_type_of(e[2]) != RH_JSON_NULL) {
    text = rhk_json_is_string(e[2]) ? rhk_decoded(&s->text, e[2]) : e[2];
    n = strlen(detail);
    snprintf(detail + n, sizeof detail - n, ": %.*s", (int)(text.len > 512 ? 512 : text.len), text.data);
  }
  snprintf(message, sizeof message, "%s failed: %s (JSON-RPC error %lld)", method, detail, (long long)code);
  if (code == -32000 || strstr(detail, "uthenticat")) return hold(s, RHK_FAIL_AUTH, NULL, message, l);
  if (strcmp(method, "session/load") == 0) return hold(s, RHK_FAIL_SESSION_NOT_FOUND, NULL, message, l);
  /* A model API failure the agent passed on: some agents put its HTTP status in the error code
   * (Gemini CLI), others only say it in the message (OpenCode: -32603 "Internal error: ..."). */
  if (code >= 400 && code < 600) return hold(s, rhk_failure_kind_for_http_status(code), NULL, message, l);
  if (strstr(detail, "rate limit") || strstr(detail, "Rate limit") || strstr(detail, "429"))
    return hold(s, RHK_FAIL_RATE_LIMITED, NULL, message, l);
  if (strstr(detail, "overloaded") || strstr(detail, "Service Unavailable"))
    return hold(s, RHK_FAIL_MODEL_UNAVAILABLE, NULL, message, l);
  return hold(s, RHK_FAIL_RUNTIME, "acp_error", message, l);
}

/* Hermes ends a turn whose model calls all failed with end_turn and says so as its message:
 * "API call failed after 3 retries: HTTP 429: slow down". That is a failure, typed by the status. */
static rh_status model_failure_in_reply(rh_runtime_session *s, const line *l) {
  char message[600];
  const char *http;
  int64_t status = 0;
  size_t len = s->reply.len > 512 ? 512 : s->reply.len;
  snprintf(message, sizeof message, "%.*s", (int)len, s->reply.data);
  if ((http = strstr(message, "HTTP ")) && http[5] >= '1' && http[5] <= '5' && http[6] >= '0' && http[6] <= '9' &&
      http[7] >= '0' && http[7] <= '9')
    status = (http[5] - '0') * 100 + (http[6] - '0') * 10 + (http[7] - '0');
  return hold(s, status ? rhk_failure_kind_for_http_status(status) : RHK_FAIL_MODEL_API, NULL, message, l);
}

static rh_status prompt_answered(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"stopReason", "usage"};
  static const char *const usage_names[] = {"inputTokens", "outputTokens", "cachedReadTokens"};
  rhk_session *kit = &s->kit;
  rh_str r[2], u[3];
  rhk_usage usage;
  char reason[64], message[160];
  rh_status status;
  (void)pick(l->v[T_RESULT], names, 2, r);
  if (pick(r[1], usage_names, 3, u) == RH_OK) {
    usage.source = NULL;
    usage.model = NULL;
    usage.input_tokens = rhk_json_int(u[0], -1);
    usage.output_tokens = rhk_json_int(u[1], -1);
    usage.cached_input_tokens = rhk_json_int(u[2], -1);
    usage.cost_usd = -1;
    if ((usage.input_tokens > 0 || usage.output_tokens > 0) && (status = rhk_emit_usage(kit, &usage, raw_of(l))) != RH_OK)
      return status;
  }
  rhk_json_text(r[0], reason, sizeof reason);
  if (strcmp(reason, "end_turn") == 0 && s->reply.len > 22 && memcmp(s->reply.data, "API call failed after ", 22) == 0)
    return model_failure_in_reply(s, l);
  if (strcmp(reason, "end_turn") == 0) {
    done(s);
    return rhk_hold_completed(kit, rhk_str(s->reply.data ? s->reply.data : "", s->reply.len), true, -1, rhk_none(),
                              raw_of(l));
  }
  snprintf(message, sizeof message, "the agent stopped: %s", reason[0] ? reason : "(no stopReason)");
  if (strcmp(reason, "max_turn_requests") == 0) return hold(s, RHK_FAIL_TURN_LIMIT, NULL, message, l);
  if (strcmp(reason, "max_tokens") == 0) return hold(s, RHK_FAIL_CONTEXT_LIMIT, "max_tokens", message, l);
  if (strcmp(reason, "refusal") == 0) return hold(s, RHK_FAIL_RUNTIME, "refusal", message, l);
  return hold(s, RHK_FAIL_RUNTIME, reason[0] ? "stop_reason" : "no_stop_reason", message, l);
}

static rh_status map_response(rh_runtime_session *s, const line *l) {
  static const char *const init_names[] = {"protocolVersion", "agentCapabilities", "agentInfo"};
  static const char *const cap_names[] = {"loadSession"};
  static const char *const session_names[] = {"sessionId"};
  rhk_session *kit = &s->kit;
  const int64_t id = rhk_json_int(l->v[T_ID], -1);
  rh_str r[3], c[1];
  char text[560];
  rh_status status;
  const bool failed = l->v[T_ERROR].data != NULL;
  switch (id) {
    case ACP_ID_INITIALIZE:
      if (failed) return request_failed(s, l, "initialize");
      (void)pick(l->v[T_RESULT], init_names, 3, r);
      if (rhk_json_int(r[0], -1) != ACP_PROTOCOL_VERSION) {
        snprintf(text, sizeof text,
                 "the agent answered initialize with ACP protocol version %.*s; runhost speaks version 1 only",
                 (int)(r[0].len > 32 ? 32 : r[0].len), r[0].len ? r[0].data : "(none)");
        return hold(s, RHK_FAIL_RUNTIME, "acp_protocol", text, l);
      }
      s->load_session = pick(r[1], cap_names, 1, c) == RH_OK && rhk_json_is_true(c[0]);
      if (rhk_json_is_object(r[2])) { /* agentInfo {name, version}: named in the session's first message */
        static const char *const info_names[] = {"name", "version"};
        rh_str n[2];
        char agent[64] = "", version[64] = "";
        if (pick(r[2], info_names, 2, n) == RH_OK) {
          rhk_json_text(n[0], agent, sizeof agent);
          rhk_json_text(n[1], version, sizeof version);
        }
        if (agent[0]) snprintf(s->agent, sizeof s->agent, "%s%s%s", agent, version[0] ? " " : "", version);
      }
      if (kit->resume_id && !s->load_session)
        return hold(s, RHK_FAIL_SESSION_NOT_FOUND, NULL, "the agent cannot load a session (no loadSession capability)", l);
      return open_session(s);
    case ACP_ID_SESSION:
      if (failed) return request_failed(s, l, kit->resume_id ? "session/load" : "session/new");
      if (kit->resume_id) {
        snprintf(s->session_id, sizeof s->session_id, "%s", kit->resume_id);
      } else {
        (void)pick(l->v[T_RESULT], session_names, 1, r);
        if (!rhk_json_is_string(r[0])) return hold(s, RHK_FAIL_RUNTIME, "acp_error", "session/new answered without a sessionId", l);
        rhk_json_text(r[0], s->session_id, sizeof s->session_id);
      }
      if ((status = rhk_set_session_id(kit, rhk_cstr(s->session_id), true)) != RH_OK) return status;
      snprintf(text, sizeof text, "%s session %s %s", s->agent[0] ? s->agent : s->name, s->session_id,
               kit->resume_id ? "loaded" : "started");
      if ((status = rhk_emit_message(kit, "system", rhk_cstr(text), false, false, raw_of(l))) != RH_OK) return status;
      return s->mode ? set_mode(s) : send_prompt(s);
    case ACP_ID_SET_MODE:
      if (failed) return request_failed(s, l, "session/set_mode");
      return send_prompt(s);
    case ACP_ID_PROMPT:
      if (failed) return request_failed(s, l, "session/prompt");
      return prompt_answered(s, l);
    default:
      return unparsed(kit, l, "a response to no request runhost sent", rhk_none());
  }
}

/* ---- session/update ------------------------------------------------------------------------ */

static rhk_tool_kind kind_of(rh_str kind) {
  if (rhk_json_is(kind, "execute")) return RHK_COMMAND;
  if (rhk_json_is(kind, "edit") || rhk_json_is(kind, "delete") || rhk_json_is(kind, "move")) return RHK_FILE;
  return RHK_TOOL;
}

/* The text of a content block ({type: text, text}), as raw JSON, or none. */
static rh_str block_text(rh_str block) {
  static const char *const names[] = {"type", "text"};
  rh_str b[2];
  if (pick(block, names, 2, b) != RH_OK || !rhk_json_is(b[0], "text") || !rhk_json_is_string(b[1])) return rhk_none();
  return b[1];
}

/* A tool call's content: its text joined into s->text (decoded), and each diff as file.changed. */
static rh_status tool_content(rh_runtime_session *s, rh_str content, bool report_diffs, const line *l) {
  static const char *const names[] = {"type", "content", "path", "oldText"};
  rhk_json_iter it;
  rh_str key, item, v[4], text;
  rh_status status;
  rh_json_buffer_reset(&s->text);
  if (!rhk_json_is_array(content) || !rhk_json_begin(&it, content)) return RH_OK;
  while (rhk_json_next(&it, &key, &item)) {
    if (pick(item, names, 4, v) != RH_OK) continue;
    if (rhk_json_is(v[0], "content") && (text = block_text(v[1])).data) {
      if (s->text.len && rh_json_write_raw(&s->text.writer, "\n", 1)) return no_memory(&s->kit);
      if (rhk_json_decode(text, &s->text) != RH_OK) return no_memory(&s->kit);
    } else if (rhk_json_is(v[0], "diff") && report_diffs && rhk_json_is_string(v[2])) {
      char path[4097];
      rhk_json_text(v[2], path, sizeof path);
      status = rhk_emit_file_changed(&s->kit, path, strlen(path),
                                     /* no old text (null; "" from some agents): a new file */
                                     !v[3].data || rh_json_type_of(v[3]) == RH_JSON_NULL || rhk_json_is(v[3], "")
                                         ? RHK_CREATED
                                         : RHK_MODIFIED,
                                     NULL, 0, -1, raw_of(l));
      if (status != RH_OK && status != RH_ERR_NOT_FOUND) return status;
    }
  }
  return RH_OK;
}

static const char *const k_tool_names[] = {"toolCallId", "title", "kind", "status", "content", "rawInput", "rawOutput"};
enum { C_ID, C_TITLE, C_KIND, C_STATUS, C_CONTENT, C_RAW_INPUT, C_RAW_OUTPUT, C_COUNT };

static rhk_tool_call *open_call(rh_runtime_session *s, const rh_str *c) {
  char id[160], name[256];
  rhk_json_text(c[C_ID], id, sizeof id);
  rhk_json_text(c[C_TITLE], name, sizeof name);
  if (!name[0]) rhk_json_text(c[C_KIND], name, sizeof name);
  if (!name[0]) snprintf(name, sizeof name, "tool");
  return rhk_tools_open(&s->kit, rhk_cstr(id), rhk_cstr(name), kind_of(c[C_KIND]));
}

static rh_status tool_finished(rh_runtime_session *s, rhk_tool_call *call, const rh_str *c, const line *l) {
  rhk_session *kit = &s->kit;
  rhk_tool_result r;
  const bool failed = rhk_json_is(c[C_STATUS], "failed");
  rh_json_buffer output;
  rh_status status = tool_content(s, c[C_CONTENT], !failed, l);
  if (status != RH_OK) return status;
  if (call->kind == RHK_COMMAND && s->text.len &&
      (status = rhk_emit_command_text(kit, RH_STREAM_STDOUT, rhk_str(s->text.data, s->text.len), call->call_id, false, 0,
                                      raw_of(l))) != RH_OK)
    return status;
  rh_json_buffer_init(&output);
  if (c[C_RAW_OUTPUT].data) {
    if (rh_json_write_raw(&output.writer, c[C_RAW_OUTPUT].data, c[C_RAW_OUTPUT].len)) status = RH_ERR_NO_MEMORY;
  } else if (s->text.len && rh_json_write_string(&output.writer, s->text.data, s->text.len)) {
    status = RH_ERR_NO_MEMORY;
  }
  if (status != RH_OK) {
    rh_json_buffer_free(&output);
    return no_memory(kit);
  }
  r.call_id = call->call_id;
  r.name = call->name;
  r.failed = failed;
  r.duration_ms = -1;
  r.output = rhk_str(output.data, output.len);
  r.error = failed ? (s->text.len ? rhk_str(s->text.data, s->text.len) : rhk_cstr("the tool failed")) : rhk_none();
  status = rhk_emit_tool_completed(kit, &r, raw_of(l));
  rh_json_buffer_free(&output);
  rhk_tools_close(kit, call);
  return status;
}

/* Terminals a tool call's content names ({type: terminal, terminalId}): their output is the call's. */
static void link_terminals(rh_runtime_session *s, rh_str content, const char *call_id) {
  static const char *const names[] = {"type", "terminalId"};
  rhk_json_iter it;
  rh_str key, item, v[2];
  if (!s->serve_terminal || !rhk_json_is_array(content) || !rhk_json_begin(&it, content)) return;
  while (rhk_json_next(&it, &key, &item))
    if (pick(item, names, 2, v) == RH_OK && rhk_json_is(v[0], "terminal")) acp_terminal_link(s, v[1], call_id);
}

static rh_status map_tool_call(rh_runtime_session *s, rh_str update, const line *l) {
  rhk_session *kit = &s->kit;
  rh_str c[C_COUNT];
  char id[160];
  rhk_tool_call *call;
  rh_status status;
  if (pick(update, k_tool_names, C_COUNT, c) != RH_OK || !rhk_json_is_string(c[C_ID]))
    return unparsed(kit, l, "a tool call without a toolCallId", rhk_none());
  call = rhk_tools_find(kit, rhk_cstr(rhk_json_text(c[C_ID], id, sizeof id)));
  if (!call) {
    /* The text before a tool call is not the final answer: that comes after the last one. */
    rh_json_buffer_reset(&s->reply);
    if (!(call = open_call(s, c))) return no_memory(kit);
    if ((status = rhk_emit_tool_started(kit, call, rhk_json_is_object(c[C_RAW_INPUT]) ? c[C_RAW_INPUT] : rhk_none(), raw_of(l))) != RH_OK)
      return status;
  }
  link_terminals(s, c[C_CONTENT], call->call_id);
  if (rhk_json_is(c[C_STATUS], "completed") || rhk_json_is(c[C_STATUS], "failed")) return tool_finished(s, call, c, l);
  return RH_OK;
}

static rh_status map_plan(rh_runtime_session *s, rh_str update, const line *l) {
  static const char *const names[] = {"entries"};
  rhk_session *kit = &s->kit;
  rh_str e[1];
  rh_json_buffer input;
  rhk_tool_call *call;
  rhk_tool_result r;
  char id[32];
  rh_status status;
  (void)pick(update, names, 1, e);
  rh_json_buffer_init(&input);
  if (rh_json_write_cstr(&input.writer, "{\"entries\":") ||
      (rhk_json_is_array(e[0]) ? rh_json_write_raw(&input.writer, e[0].data, e[0].len) : rh_json_write_cstr(&input.writer, "[]")) ||
      rh_json_write_cstr(&input.writer, "}")) {
    rh_json_buffer_free(&input);
    return no_memory(kit);
  }
  snprintf(id, sizeof id, "plan_%llu", (unsigned long long)kit->tools.opened + 1);
  if (!(call = rhk_tools_open(kit, rhk_cstr(id), rhk_cstr("plan"), RHK_TOOL))) {
    rh_json_buffer_free(&input);
    return no_memory(kit);
  }
  status = rhk_emit_tool_started(kit, call, rhk_str(input.data, input.len), raw_of(l));
  rh_json_buffer_free(&input);
  if (status != RH_OK) return status;
  r.call_id = call->call_id;
  r.name = call->name;
  r.failed = false;
  r.duration_ms = -1;
  r.output = rhk_none();
  r.error = rhk_none();
  status = rhk_emit_tool_completed(kit, &r, raw_of(l));
  rhk_tools_close(kit, call);
  return status;
}

static rh_status map_usage_update(rh_runtime_session *s, rh_str update, const line *l) {
  static const char *const names[] = {"cost"};
  static const char *const cost_names[] = {"amount", "currency"};
  rh_str u[1], c[2];
  rhk_usage usage;
  double amount;
  if (pick(update, names, 1, u) != RH_OK || pick(u[0], cost_names, 2, c) != RH_OK || !rhk_json_is(c[1], "USD"))
    return RH_OK; /* the context window's fill alone: no spend to report */
  amount = rhk_json_number(c[0], -1);
  if (!(amount > s->last_cost)) return RH_OK;
  usage.source = NULL;
  usage.model = NULL;
  usage.input_tokens = usage.output_tokens = usage.cached_input_tokens = -1;
  usage.cost_usd = amount - s->last_cost; /* ACP's cost is the session's total so far */
  s->last_cost = amount;
  return rhk_emit_usage(&s->kit, &usage, raw_of(l));
}

static rh_status system_note(rh_runtime_session *s, const char *what, rh_str detail, const line *l) {
  char text[600];
  rh_str d = rhk_decoded(&s->text, detail);
  snprintf(text, sizeof text, "%s%s%.*s", what, d.len ? ": " : "", (int)(d.len > 512 ? 512 : d.len), d.data);
  return rhk_emit_message(&s->kit, "system", rhk_cstr(text), false, false, raw_of(l));
}

/* Notices some agents send as a chunk of their own message (codex-acp 0.16 passes Codex's
 * warnings so): the agent's diagnostics, not its answer. Known by how they start. */
static bool is_agent_notice(rh_str text_json) {
  static const char *const k_notices[] = {"\"Model metadata for `", "\"could not create PATH aliases"};
  size_t i, n;
  for (i = 0; i < sizeof k_notices / sizeof k_notices[0]; i++) {
    n = strlen(k_notices[i]);
    if (text_json.len >= n && memcmp(text_json.data, k_notices[i], n) == 0) return true;
  }
  return false;
}

static rh_status map_update(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"update"};
  static const char *const update_names[] = {"sessionUpdate", "content", "currentModeId", "message", "title"};
  static const char *const quiet[] = {"user_message_chunk", "available_commands_update", "config_option_update",
                                      "session_info_update"};
  rhk_session *kit = &s->kit;
  rh_str p[1], u[5], text;
  size_t i;
  rh_status status;
  if (pick(l->v[T_PARAMS], names, 1, p) != RH_OK || pick(p[0], update_names, 5, u) != RH_OK || !rhk_json_is_string(u[0]))
    return unparsed(kit, l, "session/update without an update.sessionUpdate", rhk_none());
  if (rhk_json_is(u[0], "agent_message_chunk")) {
    if (!(text = block_text(u[1])).data) return unparsed(kit, l, "an agent message chunk that is not text", rhk_none());
    if (is_agent_notice(text)) return rhk_emit_message(kit, "system", text, true, false, raw_of(l));
    if ((status = rhk_emit_message(kit, "assistant", text, true, true, raw_of(l))) != RH_OK) return status;
    return rhk_json_decode(text, &s->reply) == RH_OK ? RH_OK : no_memory(kit);
  }
  if (rhk_json_is(u[0], "agent_thought_chunk")) {
    if (!(text = block_text(u[1])).data) return unparsed(kit, l, "a thought chunk that is not text", rhk_none());
    return rhk_emit_reasoning(kit, text, true, true, raw_of(l));
  }
  if (rhk_json_is(u[0], "tool_call")) return map_tool_call(s, p[0], l);
  if (rhk_json_is(u[0], "tool_call_update")) return map_tool_call(s, p[0], l);
  if (rhk_json_is(u[0], "plan")) return map_plan(s, p[0], l);
  if (rhk_json_is(u[0], "usage_update")) return map_usage_update(s, p[0], l);
  if (rhk_json_is(u[0], "current_mode_update")) return system_note(s, "The agent's mode is now", u[2], l);
  if (rhk_json_is(u[0], "notice")) return system_note(s, "The agent notes", u[3].data ? u[3] : u[4], l);
  if (rhk_json_is(u[0], "compaction_update") || rhk_json_is(u[0], "compaction_summary_chunk"))
    return system_note(s, "The agent compacts its context", rhk_none(), l);
  for (i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
    if (rhk_json_is(u[0], quiet[i])) return RH_OK;
  return unparsed(kit, l, "session update not mapped: ", u[0]);
}

/* ---- The agent's requests ------------------------------------------------------------------ */

static acp_pending *free_slot(rh_runtime_session *s) {
  size_t i;
  for (i = 0; i < ACP_PENDING_MAX; i++)
    if (!s->pending[i].rpc_id) return &s->pending[i];
  return NULL;
}

static rh_status map_permission(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"toolCall", "options"};
  static const char *const option_names[] = {"optionId", "kind"};
  rhk_session *kit = &s->kit;
  rh_str p[2], c[C_COUNT], key, option, o[2];
  rhk_json_iter it;
  acp_pending *slot;
  rhk_approval_request request;
  rhk_tool_call *call = NULL;
  rh_json_buffer request_id;
  char id[160] = "", name[256];
  rh_status status;
  if (pick(l->v[T_PARAMS], names, 2, p) != RH_OK || !rhk_json_is_array(p[1]))
    return acp_answer_error(s, l->v[T_ID], -32602, "session/request_permission needs toolCall and options");
  if (!(slot = free_slot(s))) return acp_answer_error(s, l->v[T_ID], -32603, "too many permission requests at once");
  memset(slot, 0, sizeof *slot);
  if (!(slot->rpc_id = (char *)malloc(l->v[T_ID].len + 1))) return no_memory(kit);
  memcpy(slot->rpc_id, l->v[T_ID].data, l->v[T_ID].len);
  slot->rpc_id[l->v[T_ID].len] = '\0';
  if (rhk_json_begin(&it, p[1])) {
    while (rhk_json_next(&it, &key, &option)) {
      char *target = NULL;
      if (pick(option, option_names, 2, o) != RH_OK || !rhk_json_is_string(o[0])) continue;
      if (rhk_json_is(o[1], "allow_once")) target = slot->allow_once;
      else if (rhk_json_is(o[1], "allow_always")) target = slot->allow_always;
      else if (rhk_json_is(o[1], "reject_once")) target = slot->reject_once;
      else if (rhk_json_is(o[1], "reject_always")) target = slot->reject_always;
      if (target && !target[0]) rhk_json_text(o[0], target, ACP_OPTION_ID_MAX);
    }
  }
  (void)pick(p[0], k_tool_names, C_COUNT, c);
  if (rhk_json_is_string(c[C_ID])) call = rhk_tools_find(kit, rhk_cstr(rhk_json_text(c[C_ID], id, sizeof id)));
  /* Some agents ask before they report the call (Gemini CLI), some about an id of its own that
   * is never reported (Hermes' "edit-approval-1"): the approval names the agent's id, which is
   * the tool_call_id the call gets when it is reported (a usable native id is kept as it is). */
  rhk_json_text(c[C_TITLE], name, sizeof name);
  if (!name[0] && call) snprintf(name, sizeof name, "%s", call->name);
  if (!name[0]) snprintf(name, sizeof name, "tool");
  /* The host answers with this id: the JSON-RPC id as a string (it may be a number). */
  rh_json_buffer_init(&request_id);
  if (rh_json_write_string(&request_id.writer, slot->rpc_id, strlen(slot->rpc_id)) != RH_OK) {
    rh_json_buffer_free(&request_id);
    return no_memory(kit);
  }
  request.request_id = rhk_str(request_id.data, request_id.len);
  request.call_id = call ? call->call_id : rhk_json_is_string(c[C_ID]) && id[0] ? id : NULL;
  request.kind = call ? call->kind : kind_of(c[C_KIND]);
  request.name = rhk_cstr(name);
  request.input = rhk_json_is_object(c[C_RAW_INPUT]) ? c[C_RAW_INPUT] : rhk_none();
  request.summary = rhk_cstr(name);
  status = rhk_emit_approval_request(kit, &request, raw_of(l));
  rh_json_buffer_free(&request_id);
  return status;
}

rh_status acp_answer_permission(rh_runtime_session *s, rh_str decision_json, const rh_writer *out) {
  rhk_answer answer;
  acp_pending *slot = NULL;
  const char *option;
  char rpc_id[160];
  size_t i;
  rh_status status = rhk_read_answer(&s->kit, decision_json, &answer);
  if (status != RH_OK) return status;
  rhk_json_text(answer.request_id, rpc_id, sizeof rpc_id);
  for (i = 0; i < ACP_PENDING_MAX && !slot; i++)
    if (s->pending[i].rpc_id && strcmp(s->pending[i].rpc_id, rpc_id) == 0) slot = &s->pending[i];
  if (!slot) return RH_OK; /* not pending (answered already, or never asked): nothing to write */
  option = answer.allow ? (slot->allow_once[0] ? slot->allow_once : slot->allow_always)
                        : (slot->reject_once[0] ? slot->reject_once : slot->reject_always);
  /* No option of that kind offered: a deny is "cancelled" (never an allow); an allow the agent
   * offered no way to give is the same. */
  if (rh_json_write_cstr(out, "{\"jsonrpc\":\"2.0\",\"id\":") || rh_json_write_cstr(out, slot->rpc_id) ||
      (option[0] ? (rh_json_write_cstr(out, ",\"result\":{\"outcome\":{\"outcome\":\"selected\",\"optionId\":") ||
                    rh_json_write_string(out, option, strlen(option)) || rh_json_write_cstr(out, "}}}\n"))
                 : rh_json_write_cstr(out, ",\"result\":{\"outcome\":{\"outcome\":\"cancelled\"}}}\n")))
    status = rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory writing the answer");
  free(slot->rpc_id);
  slot->rpc_id = NULL;
  return status;
}

void acp_cancel(rh_runtime_session *s) {
  size_t i;
  if (s->phase == ACP_DONE) return;
  for (i = 0; i < ACP_PENDING_MAX; i++) {
    if (!s->pending[i].rpc_id) continue;
    rh_json_buffer_reset(&s->out);
    if (!rh_json_write_cstr(OUT, "{\"jsonrpc\":\"2.0\",\"id\":") && !rh_json_write_cstr(OUT, s->pending[i].rpc_id) &&
        !rh_json_write_cstr(OUT, ",\"result\":{\"outcome\":{\"outcome\":\"cancelled\"}}}"))
      (void)send_out(s);
    free(s->pending[i].rpc_id);
    s->pending[i].rpc_id = NULL;
  }
  if (s->phase != ACP_PROMPTING || !s->session_id[0]) { /* no prompt to cancel yet: the conversation ends */
    done(s);
    return;
  }
  rh_json_buffer_reset(&s->out);
  if (!rh_json_write_cstr(OUT, "{\"jsonrpc\":\"2.0\",\"method\":\"session/cancel\",\"params\":{\"sessionId\":") &&
      !rh_json_write_string(OUT, s->session_id, strlen(s->session_id)) && !rh_json_write_cstr(OUT, "}}"))
    (void)send_out(s);
}

/* The absolute path of `path` when it lies inside the run's directory (no "..", no symlink out). */
static bool inside(rh_runtime_session *s, const char *path, char *resolved, bool must_exist) {
  char dir_real[PATH_MAX], parent[PATH_MAX], *slash;
  const char *dir = work_dir(s);
  size_t n;
  if (!dir || path[0] != '/' || !realpath(dir, dir_real)) return false;
  if (must_exist) {
    if (!realpath(path, resolved)) return false;
  } else {
    snprintf(parent, sizeof parent, "%s", path);
    if (!(slash = strrchr(parent, '/')) || !slash[1] || strcmp(slash + 1, "..") == 0 || strcmp(slash + 1, ".") == 0)
      return false;
    *slash = '\0';
    if (!realpath(parent[0] ? parent : "/", resolved)) return false;
    n = strlen(resolved);
    if (n + 1 + strlen(slash + 1) >= PATH_MAX) return false;
    snprintf(resolved + n, PATH_MAX - n, "/%s", slash + 1);
  }
  n = strlen(dir_real);
  return strncmp(resolved, dir_real, n) == 0 && (resolved[n] == '/' || resolved[n] == '\0');
}

rh_status acp_answer_result(rh_runtime_session *s, rh_str id, rh_str result) {
  rh_json_buffer_reset(&s->out);
  if (rh_json_write_cstr(OUT, "{\"jsonrpc\":\"2.0\",\"id\":") || rh_json_write_raw(OUT, id.data, id.len) ||
      rh_json_write_cstr(OUT, ",\"result\":") || rh_json_write_raw(OUT, result.data, result.len) ||
      rh_json_write_cstr(OUT, "}"))
    return no_memory(&s->kit);
  return send_out(s);
}

static rh_status serve_read(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"path", "line", "limit"};
  rh_str p[3];
  char path[PATH_MAX], resolved[PATH_MAX];
  FILE *f;
  rh_json_buffer content, result;
  int64_t first, limit, at = 1;
  char block[65536];
  size_t got;
  bool done_reading = false, failed = false;
  rh_status status;
  if (pick(l->v[T_PARAMS], names, 3, p) != RH_OK || !rhk_json_is_string(p[0]))
    return acp_answer_error(s, l->v[T_ID], -32602, "fs/read_text_file needs a path");
  rhk_json_text(p[0], path, sizeof path);
  if (!inside(s, path, resolved, false)) return acp_answer_error(s, l->v[T_ID], -32602, "the path is outside the run's directory");
  /* ACP's "Resource not found" (-32002) says the file does not exist; agents treat it as ENOENT. */
  if (!inside(s, path, resolved, true) || !(f = fopen(resolved, "rb")))
    return acp_answer_error(s, l->v[T_ID], errno == ENOENT || errno == ENOTDIR ? -32002 : -32603,
                        errno == ENOENT || errno == ENOTDIR ? "Resource not found" : strerror(errno));
  first = rhk_json_int(p[1], 1);
  limit = rhk_json_int(p[2], -1);
  rh_json_buffer_init(&content);
  /* Read in blocks, keeping the lines asked for (1-based `line`, `limit` lines), up to
   * ACP_FILE_LIMIT bytes: the reactor waits on this, so it stops as soon as it has them. */
  while (!done_reading && (got = fread(block, 1, sizeof block, f)) > 0) {
    size_t i, from = 0;
    for (i = 0; i < got && !done_reading; i++) {
      const bool keep = at >= first && (limit < 0 || at < first + limit);
      if (block[i] != '\n') continue;
      if (keep && rh_json_write_raw(&content.writer, block + from, i + 1 - from)) failed = true;
      from = i + 1;
      at++;
      done_reading = failed || (limit >= 0 && at >= first + limit) || content.len >= ACP_FILE_LIMIT;
    }
    if (!done_reading && from < got && at >= first && (limit < 0 || at < first + limit) &&
        rh_json_write_raw(&content.writer, block + from, got - from))
      failed = true;
    done_reading = done_reading || failed || content.len >= ACP_FILE_LIMIT;
  }
  fclose(f);
  rh_json_buffer_init(&result);
  status = failed || rh_json_write_cstr(&result.writer, "{\"content\":") ||
                   rh_json_write_string(&result.writer, content.data ? content.data : "", content.len) ||
                   rh_json_write_cstr(&result.writer, "}")
               ? no_memory(&s->kit)
               : acp_answer_result(s, l->v[T_ID], rhk_str(result.data, result.len));
  rh_json_buffer_free(&content);
  rh_json_buffer_free(&result);
  return status;
}

static rh_status serve_write(rh_runtime_session *s, const line *l) {
  static const char *const names[] = {"path", "content"};
  rh_str p[2], text;
  char path[PATH_MAX], resolved[PATH_MAX];
  struct stat st;
  FILE *f;
  bool existed, ok;
  rh_status status;
  if (pick(l->v[T_PARAMS], names, 2, p) != RH_OK || !rhk_json_is_string(p[0]) || !rhk_json_is_string(p[1]))
    return acp_answer_error(s, l->v[T_ID], -32602, "fs/write_text_file needs a path and content");
  rhk_json_text(p[0], path, sizeof path);
  if (!inside(s, path, resolved, false)) return acp_answer_error(s, l->v[T_ID], -32602, "the path is outside the run's directory");
  existed = stat(resolved, &st) == 0;
  text = rhk_decoded(&s->text, p[1]);
  if (!(f = fopen(resolved, "wb"))) return acp_answer_error(s, l->v[T_ID], -32603, strerror(errno));
  ok = fwrite(text.data, 1, text.len, f) == text.len;
  ok = fclose(f) == 0 && ok;
  if (!ok) return acp_answer_error(s, l->v[T_ID], -32603, "the file could not be written");
  status = rhk_emit_file_changed(&s->kit, resolved, strlen(resolved), existed ? RHK_MODIFIED : RHK_CREATED, NULL, 0,
                                 (int64_t)text.len, raw_of(l));
  if (status != RH_OK && status != RH_ERR_NOT_FOUND) return status;
  return acp_answer_result(s, l->v[T_ID], rhk_cstr("null"));
}

static rh_status map_request(rh_runtime_session *s, const line *l) {
  char method[128];
  rh_status status;
  rhk_json_text(l->v[T_METHOD], method, sizeof method);
  if (strcmp(method, "session/request_permission") == 0) return map_permission(s, l);
  if (s->serve_fs && strcmp(method, "fs/read_text_file") == 0) return serve_read(s, l);
  if (s->serve_fs && strcmp(method, "fs/write_text_file") == 0) return serve_write(s, l);
  if (s->serve_terminal && strncmp(method, "terminal/", 9) == 0)
    return acp_terminal_request(s, method, l->v[T_ID], l->v[T_PARAMS]);
  if ((status = acp_answer_error(s, l->v[T_ID], -32601, "runhost does not serve this method")) != RH_OK) return status;
  return unparsed(&s->kit, l, "a request runhost does not serve (answered: method not found): ", l->v[T_METHOD]);
}

/* ---- The line ------------------------------------------------------------------------------ */

rh_status acp_on_stdout_line(rhk_session *kit, const char *data, size_t len, bool truncated) {
  rh_runtime_session *s = SESSION(kit);
  line l;
  l.data = data;
  l.len = len;
  if (!rhk_line_pick(kit, RH_STREAM_STDOUT, data, len, truncated, k_top, T_COUNT, l.v, &l.doc)) return RH_OK;
  if (!rhk_json_is(l.v[T_JSONRPC], "2.0")) return unparsed(kit, &l, "not a JSON-RPC 2.0 message", rhk_none());
  if (rhk_json_is_string(l.v[T_METHOD]) && l.v[T_ID].data) return map_request(s, &l);
  if (rhk_json_is(l.v[T_METHOD], "session/update")) return map_update(s, &l);
  if (rhk_json_is_string(l.v[T_METHOD])) return unparsed(kit, &l, "a notification not mapped: ", l.v[T_METHOD]);
  if (l.v[T_ID].data && (l.v[T_RESULT].data || l.v[T_ERROR].data)) return map_response(s, &l);
  return unparsed(kit, &l, "neither a request, a notification nor a response", rhk_none());
}


