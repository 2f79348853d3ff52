/* acp_terminal.c — ACP's terminal/... served by running real processes in the run's device, through
 * the host's "runhost.processes/1" extension (runhost/runtime.h).
 *
 *   terminal/create {command, args?, env?, cwd?, outputByteLimit?}  -> {terminalId}
 *       the process starts in the run's device: argv [command, args...]; with no args a command
 *       holding spaces or shell syntax runs as /bin/sh -c COMMAND (agents send whole command
 *       lines there). Each line it writes is command.output, for the tool call whose content
 *       names the terminal once the agent says so; its exit code goes on the last one.
 *   terminal/output {terminalId}          -> {output, truncated, exitStatus?}
 *       the last outputByteLimit bytes (default 1 MiB), cut at a character boundary
 *   terminal/wait_for_exit {terminalId}   -> {exitCode, signal}, answered when it exits
 *   terminal/kill {terminalId}            -> {}: stopped; its output stays readable
 *   terminal/release {terminalId}         -> {}: stopped if running, then forgotten
 *
 * Offered (clientCapabilities.terminal) when the host has the extension and the run's device can
 * start processes, unless the config says "terminal": false. What is still running when the
 * agent's process ends is killed by the host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp.h"

static rh_status no_memory(rh_runtime_session *s) { return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory"); }

static bool ends_line(char c) { return c == '\n'; }

void acp_terminals_init(rh_runtime_session *s) {
  size_t i;
  for (i = 0; i < ACP_TERMINALS_MAX; i++) {
    rh_json_buffer_init(&s->terminals[i].output);
    rh_json_buffer_init(&s->terminals[i].line[0]);
    rh_json_buffer_init(&s->terminals[i].line[1]);
    rh_json_buffer_init(&s->terminals[i].held);
  }
}

bool acp_terminals_offered(rh_runtime_session *s) {
  const rh_processes_ext *p;
  s->processes = NULL;
  if (!s->terminal) return false;
  p = (const rh_processes_ext *)s->kit.host->get_extension(s->kit.host, RH_EXT_PROCESSES);
  if (p && p->struct_size >= sizeof(rh_processes_ext)) s->processes = p;
  return s->processes && s->processes->available(s->kit.host, s->kit.run);
}

static void free_waiters(acp_terminal *t) {
  size_t i;
  for (i = 0; i < t->waiting; i++) free(t->waiters[i]);
  t->waiting = 0;
}

void acp_terminals_free(rh_runtime_session *s) {
  size_t i;
  for (i = 0; i < ACP_TERMINALS_MAX; i++) {
    free_waiters(&s->terminals[i]);
    rh_json_buffer_free(&s->terminals[i].output);
    rh_json_buffer_free(&s->terminals[i].line[0]);
    rh_json_buffer_free(&s->terminals[i].line[1]);
    rh_json_buffer_free(&s->terminals[i].held);
  }
}

/* ---- Output and exit, from the host ---------------------------------------------------------- */

static void put_line(acp_terminal *t, rh_stream stream, const char *data, size_t len, bool truncated, bool has_code) {
  (void)rhk_emit_command_line(&t->session->kit, stream, rhk_str(data, len), t->tool_call_id[0] ? t->tool_call_id : NULL,
                              has_code, t->exit_code, truncated, rhk_none());
}

/* The held lines out, in order (with the tool call's id when it is known by now). */
static void flush_held(acp_terminal *t) {
  size_t at = 0;
  const unsigned char *h = (const unsigned char *)t->held.data;
  while (at + 7 <= t->held.len) {
    const size_t len = (size_t)h[at + 3] | (size_t)h[at + 4] << 8 | (size_t)h[at + 5] << 16 | (size_t)h[at + 6] << 24;
    if (at + 7 + len > t->held.len) break;
    put_line(t, (rh_stream)h[at], t->held.data + at + 7, len, h[at + 2] != 0, h[at + 1] != 0);
    at += 7 + len;
  }
  rh_json_buffer_reset(&t->held);
}

/* One command.output line of the terminal: for its tool call once the agent names it; held until
 * then (bounded), so that a quick command's lines do not lose their tool call to the race. */
static void emit_line(acp_terminal *t, rh_stream stream, const char *data, size_t len, bool truncated, bool has_code) {
  unsigned char head[7];
  if (!t->tool_call_id[0] && !t->unlinked) {
    if (t->held.len + sizeof head + len > ACP_HELD_MAX) {
      t->unlinked = true; /* too much to hold: out as it comes */
      flush_held(t);
    } else {
      head[0] = (unsigned char)stream;
      head[1] = has_code;
      head[2] = truncated;
      head[3] = (unsigned char)(len & 0xFF);
      head[4] = (unsigned char)(len >> 8 & 0xFF);
      head[5] = (unsigned char)(len >> 16 & 0xFF);
      head[6] = (unsigned char)(len >> 24 & 0xFF);
      if (rh_json_write_raw(&t->held.writer, (const char *)head, sizeof head) == RH_OK &&
          (len == 0 || rh_json_write_raw(&t->held.writer, data, len) == RH_OK))
        return;
      t->unlinked = true; /* out of memory: out as it comes */
      flush_held(t);
    }
  }
  put_line(t, stream, data, len, truncated, has_code);
}

void acp_terminals_flush(rh_runtime_session *s) {
  size_t i;
  for (i = 0; i < ACP_TERMINALS_MAX; i++) {
    if (!s->terminals[i].process) continue;
    s->terminals[i].unlinked = true;
    flush_held(&s->terminals[i]);
  }
}

/* Keeps the last output_limit bytes, starting at a character boundary. */
static bool keep_output(acp_terminal *t, const char *data, size_t len) {
  rh_json_buffer *b = &t->output;
  if (rh_json_write_raw(&b->writer, data, len) != RH_OK) return false;
  if (b->len > t->output_limit) {
    size_t cut = b->len - t->output_limit;
    while (cut < b->len && ((unsigned char)b->data[cut] & 0xC0) == 0x80) cut++;
    memmove(b->data, b->data + cut, b->len - cut);
    b->len -= cut;
    t->truncated = true;
  }
  return true;
}

static void on_output(void *user, uint64_t process, rh_stream stream, const char *data, size_t len) {
  acp_terminal *t = (acp_terminal *)user;
  rh_json_buffer *line;
  size_t i, from = 0;
  if (t->process != process || stream < RH_STREAM_STDOUT || stream > RH_STREAM_STDERR) return;
  if (!keep_output(t, data, len)) return;
  line = &t->line[stream - 1];
  for (i = 0; i < len; i++) {
    if (!ends_line(data[i])) continue;
    if (line->len) {
      if (rh_json_write_raw(&line->writer, data + from, i - from) == RH_OK)
        emit_line(t, stream, line->data, line->len, false, false);
      rh_json_buffer_reset(line);
    } else {
      emit_line(t, stream, data + from, i - from, false, false);
    }
    from = i + 1;
  }
  if (from < len && rh_json_write_raw(&line->writer, data + from, len - from) == RH_OK && line->len > RHK_TEXT_LIMIT) {
    emit_line(t, stream, line->data, line->len, true, false); /* an endless line: cut, the rest goes on */
    rh_json_buffer_reset(line);
  }
}

static const char *signal_name(int sig, char *buf, size_t cap) {
  static const struct {
    int number;
    const char *name;
  } k_signals[] = {{1, "SIGHUP"},  {2, "SIGINT"},   {3, "SIGQUIT"},  {4, "SIGILL"},   {6, "SIGABRT"},
                   {8, "SIGFPE"},  {9, "SIGKILL"},  {10, "SIGUSR1"}, {11, "SIGSEGV"}, {12, "SIGUSR2"},
                   {13, "SIGPIPE"}, {14, "SIGALRM"}, {15, "SIGTERM"}};
  size_t i;
  for (i = 0; i < sizeof k_signals / sizeof k_signals[0]; i++)
    if (k_signals[i].number == sig) return k_signals[i].name;
  snprintf(buf, cap, "SIG%d", sig);
  return buf;
}

/* {"exitCode": N|null, "signal": "SIG..."|null} */
static bool write_exit_status(const acp_terminal *t, rh_json_buffer *out) {
  char head[64], sig[16];
  if (t->has_code) {
    snprintf(head, sizeof head, "{\"exitCode\":%d,\"signal\":null}", (int)t->exit_code);
    return rh_json_write_cstr(&out->writer, head) == RH_OK;
  }
  if (!t->signal) return rh_json_write_cstr(&out->writer, "{\"exitCode\":null,\"signal\":null}") == RH_OK; /* lost */
  snprintf(head, sizeof head, "{\"exitCode\":null,\"signal\":\"%s\"}", signal_name(t->signal, sig, sizeof sig));
  return rh_json_write_cstr(&out->writer, head) == RH_OK;
}

static void forget(acp_terminal *t) {
  t->unlinked = true;
  flush_held(t);
  free_waiters(t);
  t->process = 0;
  t->released = false;
}

static void on_exit(void *user, uint64_t process, const rh_exit *exit) {
  acp_terminal *t = (acp_terminal *)user;
  rh_runtime_session *s = t->session;
  rh_json_buffer status;
  size_t i;
  int stream, last;
  if (t->process != process || t->exited) return;
  t->exited = true;
  t->has_code = exit->kind == RH_EXIT_EXITED || exit->kind == RH_EXIT_SPAWN_FAILED;
  t->exit_code = exit->kind == RH_EXIT_EXITED ? exit->code : exit->kind == RH_EXIT_SIGNALED ? 128 + exit->signal : 127;
  t->signal = exit->kind == RH_EXIT_SIGNALED ? exit->signal : 0;
  if (exit->kind == RH_EXIT_SPAWN_FAILED) {
    static const char k_failed[] = "the command could not be started\n";
    (void)keep_output(t, k_failed, sizeof k_failed - 1);
  }
  /* What is left of a line; the exit code on the last event (an empty line when nothing is left). */
  last = t->line[1].len ? 1 : t->line[0].len ? 0 : -1;
  for (stream = 0; stream < 2; stream++) {
    if (!t->line[stream].len || stream == last) continue;
    emit_line(t, (rh_stream)(stream + 1), t->line[stream].data, t->line[stream].len, false, false);
  }
  if (last < 0) emit_line(t, RH_STREAM_STDOUT, "", 0, false, true);
  else emit_line(t, (rh_stream)(last + 1), t->line[last].data, t->line[last].len, false, true);
  rh_json_buffer_reset(&t->line[0]);
  rh_json_buffer_reset(&t->line[1]);
  rh_json_buffer_init(&status);
  if (write_exit_status(t, &status))
    for (i = 0; i < t->waiting; i++) (void)acp_answer_result(s, rhk_cstr(t->waiters[i]), rhk_str(status.data, status.len));
  rh_json_buffer_free(&status);
  free_waiters(t);
  if (t->released) forget(t);
}

/* ---- The agent's requests -------------------------------------------------------------------- */

static acp_terminal *find(rh_runtime_session *s, rh_str params) {
  static const char *const names[] = {"terminalId"};
  rh_str v[1];
  char id[64];
  unsigned number;
  size_t i;
  char extra;
  if (!rhk_json_is_object(params) || rhk_json_pick(params, names, 1, v) != RH_OK || !rhk_json_is_string(v[0])) return NULL;
  rhk_json_text(v[0], id, sizeof id);
  if (sscanf(id, "term-%u%c", &number, &extra) != 1) return NULL;
  for (i = 0; i < ACP_TERMINALS_MAX; i++)
    if (s->terminals[i].process && !s->terminals[i].released && s->terminals[i].number == number) return &s->terminals[i];
  return NULL;
}

/* Whether a command line needs a shell: anything but a bare word. */
static bool needs_shell(const char *command) { return strpbrk(command, " \t\n|&;<>()$`\\\"'*?[]{}~#=%") != NULL; }

/* The spec for the host: {"argv": [...], "env": {...}, "cwd": ...}. */
static rh_status write_spec(rh_runtime_session *s, const rh_str *p, rh_json_buffer *spec, const char **problem) {
  static const char *const env_names[] = {"name", "value"};
  rhk_json_iter it;
  rh_str key, item, e[2];
  char command[4096];
  bool first = true;
  const rh_writer *out = &spec->writer;
  *problem = NULL;
  rhk_json_text(p[0], command, sizeof command);
  if (!command[0]) return (*problem = "terminal/create needs a command"), RH_ERR_INVALID_ARGUMENT;
  if (rh_json_write_cstr(out, "{\"argv\":[")) return no_memory(s);
  if (p[1].data && rh_json_type_of(p[1]) != RH_JSON_NULL && !rhk_json_is_array(p[1]))
    return (*problem = "terminal/create: args must be strings"), RH_ERR_INVALID_ARGUMENT;
  if (rhk_json_is_array(p[1]) && rhk_json_begin(&it, p[1])) {
    while (rhk_json_next(&it, &key, &item)) {
      if (!rhk_json_is_string(item)) return (*problem = "terminal/create: args must be strings"), RH_ERR_INVALID_ARGUMENT;
      if ((first && rh_json_write_raw(out, p[0].data, p[0].len)) || rh_json_write_cstr(out, ",") ||
          rh_json_write_raw(out, item.data, item.len))
        return no_memory(s);
      first = false;
    }
  }
  if (first) { /* no args: a whole command line runs in a shell */
    if ((needs_shell(command) && rh_json_write_cstr(out, "\"/bin/sh\",\"-c\",")) ||
        rh_json_write_raw(out, p[0].data, p[0].len))
      return no_memory(s);
  }
  if (rh_json_write_cstr(out, "],\"env\":{")) return no_memory(s);
  first = true;
  if (rhk_json_is_array(p[2]) && rhk_json_begin(&it, p[2])) {
    while (rhk_json_next(&it, &key, &item)) {
      if (rhk_json_pick(item, env_names, 2, e) != RH_OK || !rhk_json_is_string(e[0]) || !rhk_json_is_string(e[1]))
        return (*problem = "terminal/create: env must be [{name, value}] strings"), RH_ERR_INVALID_ARGUMENT;
      if ((!first && rh_json_write_cstr(out, ",")) || rh_json_write_raw(out, e[0].data, e[0].len) ||
          rh_json_write_cstr(out, ":") || rh_json_write_raw(out, e[1].data, e[1].len))
        return no_memory(s);
      first = false;
    }
  }
  if (rh_json_write_cstr(out, "}")) return no_memory(s);
  if (rhk_json_is_string(p[3]) && (rh_json_write_cstr(out, ",\"cwd\":") || rh_json_write_raw(out, p[3].data, p[3].len)))
    return no_memory(s);
  return rh_json_write_cstr(out, "}") ? no_memory(s) : RH_OK;
}

static rh_status create(rh_runtime_session *s, rh_str id, rh_str params) {
  static const char *const names[] = {"command", "args", "env", "cwd", "outputByteLimit"};
  rh_str p[5];
  acp_terminal *t = NULL;
  rh_json_buffer spec;
  rh_process_sink sink;
  const char *problem;
  char answer[64];
  uint64_t process;
  int64_t limit;
  rh_status status;
  size_t i;
  if (!rhk_json_is_object(params) || rhk_json_pick(params, names, 5, p) != RH_OK || !rhk_json_is_string(p[0]))
    return acp_answer_error(s, id, -32602, "terminal/create needs a command");
  for (i = 0; i < ACP_TERMINALS_MAX && !t; i++)
    if (!s->terminals[i].process) t = &s->terminals[i];
  if (!t) return acp_answer_error(s, id, -32603, "too many terminals: release one first");
  rh_json_buffer_init(&spec);
  status = write_spec(s, p, &spec, &problem);
  if (status != RH_OK) {
    rh_json_buffer_free(&spec);
    return problem ? acp_answer_error(s, id, -32602, problem) : status;
  }
  sink.struct_size = sizeof sink;
  sink.user = t;
  sink.output = on_output;
  sink.exit = on_exit;
  status = s->processes->start(s->kit.host, s->kit.run, rhk_str(spec.data, spec.len), &sink, &process);
  rh_json_buffer_free(&spec);
  if (status != RH_OK) {
    rh_str why = s->kit.host->last_error(s->kit.host);
    char message[512];
    snprintf(message, sizeof message, "%.*s", (int)(why.len < 500 ? why.len : 500), why.data ? why.data : "");
    return acp_answer_error(s, id, status == RH_ERR_INVALID_ARGUMENT || status == RH_ERR_NOT_FOUND ? -32602 : -32603,
                            message[0] ? message : "the command could not be started");
  }
  limit = rhk_json_int(p[4], -1);
  t->session = s;
  t->process = process;
  t->number = ++s->terminal_count;
  t->output_limit = limit >= 0 && (uint64_t)limit < ACP_TERMINAL_OUTPUT_DEFAULT ? (size_t)limit : ACP_TERMINAL_OUTPUT_DEFAULT;
  t->truncated = t->exited = t->released = t->has_code = false;
  t->exit_code = 0;
  t->signal = 0;
  t->tool_call_id[0] = '\0';
  t->unlinked = false;
  rh_json_buffer_reset(&t->held);
  rh_json_buffer_reset(&t->output);
  rh_json_buffer_reset(&t->line[0]);
  rh_json_buffer_reset(&t->line[1]);
  snprintf(answer, sizeof answer, "{\"terminalId\":\"term-%u\"}", t->number);
  return acp_answer_result(s, id, rhk_cstr(answer));
}

static rh_status output(rh_runtime_session *s, rh_str id, acp_terminal *t) {
  rh_json_buffer result;
  rh_status status;
  bool ok;
  rh_json_buffer_init(&result);
  ok = !rh_json_write_cstr(&result.writer, "{\"output\":") &&
       !rh_json_write_string(&result.writer, t->output.data ? t->output.data : "", t->output.len) &&
       !rh_json_write_cstr(&result.writer, t->truncated ? ",\"truncated\":true" : ",\"truncated\":false");
  if (ok && t->exited) ok = !rh_json_write_cstr(&result.writer, ",\"exitStatus\":") && write_exit_status(t, &result);
  ok = ok && !rh_json_write_cstr(&result.writer, "}");
  status = ok ? acp_answer_result(s, id, rhk_str(result.data, result.len)) : no_memory(s);
  rh_json_buffer_free(&result);
  return status;
}

static rh_status wait_for_exit(rh_runtime_session *s, rh_str id, acp_terminal *t) {
  rh_json_buffer result;
  rh_status status;
  char *copy;
  if (t->exited) {
    rh_json_buffer_init(&result);
    status = write_exit_status(t, &result) ? acp_answer_result(s, id, rhk_str(result.data, result.len)) : no_memory(s);
    rh_json_buffer_free(&result);
    return status;
  }
  if (t->waiting == ACP_WAITERS_MAX) return acp_answer_error(s, id, -32603, "too many waits on this terminal");
  if (!(copy = (char *)malloc(id.len + 1))) return no_memory(s);
  memcpy(copy, id.data, id.len);
  copy[id.len] = '\0';
  t->waiters[t->waiting++] = copy;
  return RH_OK;
}

static rh_status stop(rh_runtime_session *s, acp_terminal *t) {
  if (t->exited) return RH_OK;
  return s->processes->kill(s->kit.host, s->kit.run, t->process);
}

rh_status acp_terminal_request(rh_runtime_session *s, const char *method, rh_str id, rh_str params) {
  acp_terminal *t;
  if (strcmp(method, "terminal/create") == 0) return create(s, id, params);
  if (!(t = find(s, params))) return acp_answer_error(s, id, -32602, "no such terminal");
  if (strcmp(method, "terminal/output") == 0) return output(s, id, t);
  if (strcmp(method, "terminal/wait_for_exit") == 0) return wait_for_exit(s, id, t);
  if (strcmp(method, "terminal/kill") == 0) {
    (void)stop(s, t);
    return acp_answer_result(s, id, rhk_cstr("{}"));
  }
  if (strcmp(method, "terminal/release") == 0) {
    (void)stop(s, t);
    t->released = true;
    t->unlinked = true; /* no tool call will name it now */
    flush_held(t);
    if (t->exited) forget(t);
    return acp_answer_result(s, id, rhk_cstr("{}"));
  }
  return acp_answer_error(s, id, -32601, "runhost does not serve this method");
}

void acp_terminal_link(rh_runtime_session *s, rh_str terminal_id, const char *call_id) {
  char params[128];
  acp_terminal *t;
  if (!rhk_json_is_string(terminal_id) || terminal_id.len > 100) return;
  snprintf(params, sizeof params, "{\"terminalId\":%.*s}", (int)terminal_id.len, terminal_id.data);
  if (!(t = find(s, rhk_cstr(params))) || !call_id || t->tool_call_id[0]) return;
  snprintf(t->tool_call_id, sizeof t->tool_call_id, "%s", call_id);
  flush_held(t);
}
