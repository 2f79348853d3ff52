/* custom: the runtime adapter for "any command". It runs the dispatch's "command" (an argv array,
 * never a shell string) with the prompt on stdin and in $RUNHOST_PROMPT, and reports what the
 * command prints in one of two output modes, chosen by the dispatch's "outputMode":
 *
 *   "text" (default)  every stdout or stderr line becomes command.output {stream, text};
 *   "jsonl"           every stdout line is one unified event already, {"type", "payload"},
 *                     emitted as it stands with the line as `raw`; a line that is not one is
 *                     kept as runtime.unparsed with the reason (one whose payload the host
 *                     refuses, the host keeps so itself). stderr lines are command.output.
 *
 * A jsonl command may end with its own run.completed or run.failed line: the last one is held
 * and becomes the terminal event instead of the one the exit status implies, unless the host
 * cancelled the run or it timed out. Lines are reassembled across feed() calls and cut at 1 MiB
 * (the rest of such a line is dropped), so memory stays bounded whatever the command prints.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <runhost/exit.h>
#include <runhost/json.h>
#include <runhost/lines.h>
#include <runhost/runhost.h>

#define CUSTOM_VERSION "0.1.0"
#define CUSTOM_LINE_LIMIT ((size_t)1 << 20)        /* longer lines are cut here */
#define CUSTOM_PROMPT_ENV_LIMIT ((size_t)64 << 10) /* longer prompts go to stdin only */

static const char k_need_command[] = "the custom runtime needs \"command\": an array of strings";

typedef enum output_mode { MODE_TEXT = 0, MODE_JSONL = 1 } output_mode;

struct rh_runtime_session {
  const rh_host *host; /* from the context: valid until destroy */
  rh_run *run;
  char **argv; /* NULL-terminated, from the dispatch's "command" */
  size_t argc;
  char *prompt; /* may hold U+0000: stdin can carry it, the environment cannot */
  size_t prompt_len;
  char *run_id;
  size_t run_id_len;
  output_mode mode;
  rh_lines out; /* each stream's unfinished line, at most CUSTOM_LINE_LIMIT bytes */
  rh_lines err;
  rh_json_buffer payload; /* each event's payload, built here and reused */
  rh_json_buffer scratch; /* messages and copied host errors */
  /* The last run.completed or run.failed the command printed (jsonl), held for finish(). */
  const char *held_type; /* NULL when nothing is held */
  rh_json_buffer held_payload;
  rh_json_buffer held_line;
};

static const rh_host *g_host; /* from init(), for failures before a session has its own */

static const char *const k_event_types[] = {
    "run.started",      "message",           "reasoning",         "tool.started",
    "tool.completed",   "command.output",    "file.changed",      "preview.ready",
    "artifact.created", "approval.required", "approval.resolved", "deployment.ready",
    "usage",            "run.completed",     "run.failed",        "run.cancelled",
    "runtime.unparsed"};

static rh_str str_of(const char *data, size_t len) {
  rh_str s;
  s.data = data;
  s.len = len;
  return s;
}

static rh_str cstr(const char *text) { return str_of(text, strlen(text)); }

static rh_status fail(const rh_host *host, rh_status status, const char *message) {
  host->set_error(host, cstr(message));
  return status;
}

/* ---- Small helpers ------------------------------------------------------------------------ */

static bool is_blank(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
  return true;
}

static const char *unified_type(const char *name) {
  size_t i;
  for (i = 0; i < sizeof k_event_types / sizeof k_event_types[0]; i++)
    if (strcmp(name, k_event_types[i]) == 0) return k_event_types[i];
  return NULL;
}

static const char *stream_name(rh_stream stream) {
  return stream == RH_STREAM_STDERR ? "stderr" : "stdout";
}

/* Writes `"name":` then `text` as a JSON string, after a comma unless `first`. */
static rh_status write_member(const rh_writer *w, bool first, const char *name, const char *text,
                              size_t len) {
  rh_status status;
  if ((status = rh_json_write_cstr(w, first ? "\"" : ",\"")) ||
      (status = rh_json_write_cstr(w, name)) || (status = rh_json_write_cstr(w, "\":")))
    return status;
  return rh_json_write_string(w, text, len);
}

/* ---- Emitting ----------------------------------------------------------------------------- */

/* The native line as an event's `raw`. Strings cross the ABI as UTF-8, so a line that is not
 * goes without: the payload's text or line has it, with U+FFFD for the bad bytes. */
static rh_str raw_of(const char *line, size_t len) {
  return rh_json_utf8_valid(line, len) ? str_of(line, len) : str_of(NULL, 0);
}

static rh_status emit_event(rh_runtime_session *s, const char *type, rh_str payload, rh_str raw) {
  rh_event event;
  event.struct_size = sizeof(rh_event);
  event.type = cstr(type);
  event.payload_json = payload;
  event.raw = raw;
  return s->host->emit(s->host, s->run, &event);
}

/* Emits the event whose payload s->payload holds; a refusal becomes this call's error. */
static rh_status emit_built(rh_runtime_session *s, const char *type, rh_str raw) {
  rh_status status = emit_event(s, type, str_of(s->payload.data, s->payload.len), raw);
  rh_str why;
  if (status == RH_OK) return RH_OK;
  why = s->host->last_error(s->host);
  rh_json_buffer_reset(&s->scratch);
  if (rh_json_write_cstr(&s->scratch.writer, "custom: the host refused ") ||
      rh_json_write_cstr(&s->scratch.writer, type) ||
      rh_json_write_cstr(&s->scratch.writer, ": ") ||
      rh_json_write_raw(&s->scratch.writer, why.data, why.len) ||
      rh_json_write_raw(&s->scratch.writer, "", 1))
    return fail(s->host, status, "custom: the host refused an event");
  return fail(s->host, status, s->scratch.data);
}

static rh_status out_of_memory(rh_runtime_session *s) {
  return fail(s->host, RH_ERR_NO_MEMORY, "custom: out of memory building an event");
}

/* command.output {stream, text, truncated?} */
static rh_status emit_output(rh_runtime_session *s, rh_stream stream, const char *line,
                             size_t len, bool truncated) {
  const rh_writer *w = &s->payload.writer;
  const char *name = stream_name(stream);
  rh_json_buffer_reset(&s->payload);
  if (rh_json_write_cstr(w, "{") || write_member(w, true, "stream", name, strlen(name)) ||
      write_member(w, false, "text", line, len) ||
      rh_json_write_cstr(w, truncated ? ",\"truncated\":true}" : "}"))
    return out_of_memory(s);
  return emit_built(s, "command.output", raw_of(line, len));
}

/* runtime.unparsed {stream, line, reason: reason + detail, truncated?} */
static rh_status emit_unparsed(rh_runtime_session *s, rh_stream stream, const char *line,
                               size_t len, bool truncated, const char *reason, rh_str detail) {
  const rh_writer *w = &s->payload.writer;
  const char *name = stream_name(stream);
  rh_json_buffer_reset(&s->payload);
  if (rh_json_write_cstr(w, "{") || write_member(w, true, "stream", name, strlen(name)) ||
      write_member(w, false, "line", line, len) ||
      rh_json_write_cstr(w, ",\"reason\":\"") || rh_json_write_escaped(w, reason, strlen(reason)) ||
      rh_json_write_escaped(w, detail.data, detail.len) ||
      rh_json_write_cstr(w, truncated ? "\",\"truncated\":true}" : "\"}"))
    return out_of_memory(s);
  return emit_built(s, "runtime.unparsed", raw_of(line, len));
}

static rh_status emit_unparsed_reason(rh_runtime_session *s, const char *line, size_t len,
                                      const char *reason) {
  return emit_unparsed(s, RH_STREAM_STDOUT, line, len, false, reason, str_of(NULL, 0));
}

/* ---- jsonl lines -------------------------------------------------------------------------- */

static rh_status copy_into(rh_json_buffer *buffer, const char *data, size_t len) {
  rh_json_buffer_reset(buffer);
  return rh_json_write_raw(&buffer->writer, data, len);
}

/* Gives up the held terminal event, keeping its line as runtime.unparsed with `reason`. */
static rh_status release_held(rh_runtime_session *s, const char *reason) {
  if (!s->held_type) return RH_OK;
  s->held_type = NULL;
  return emit_unparsed_reason(s, s->held_line.data, s->held_line.len, reason);
}

static rh_status hold_terminal(rh_runtime_session *s, const char *type, rh_str payload,
                               const char *line, size_t len) {
  rh_status status = release_held(s, "replaced by a later run.completed or run.failed line");
  if (copy_into(&s->held_payload, payload.data, payload.len) ||
      copy_into(&s->held_line, line, len))
    return fail(s->host, RH_ERR_NO_MEMORY, "custom: out of memory holding a terminal event");
  s->held_type = type;
  return status;
}

/* One complete stdout line in jsonl mode. */
static rh_status take_json_line(rh_runtime_session *s, const char *line, size_t len) {
  rh_str doc, type_value, payload;
  char type_name[32];
  size_t type_len = 0;
  const char *type = NULL;
  if (is_blank(line, len)) return RH_OK; /* blank lines separate nothing; skip them */
  if (!rh_json_utf8_valid(line, len))
    return emit_unparsed_reason(s, line, len, "not valid UTF-8");
  if (rh_json_parse(str_of(line, len), &doc) != RH_OK)
    return emit_unparsed_reason(s, line, len, "not valid JSON");
  if (rh_json_type_of(doc) != RH_JSON_OBJECT)
    return emit_unparsed_reason(s, line, len, "not a JSON object");
  if (rh_json_find(doc, "type", &type_value) != RH_OK ||
      rh_json_type_of(type_value) != RH_JSON_STRING)
    return emit_unparsed_reason(s, line, len, "no \"type\" string");
  if (rh_json_string(type_value, type_name, sizeof type_name, &type_len) == RH_OK &&
      strlen(type_name) == type_len) /* a name with U+0000 in it is no type */
    type = unified_type(type_name);
  if (!type)
    return emit_unparsed(s, RH_STREAM_STDOUT, line, len, false, "not a unified event type: ",
                         str_of(type_value.data, type_value.len));
  if (rh_json_find(doc, "payload", &payload) != RH_OK ||
      rh_json_type_of(payload) != RH_JSON_OBJECT)
    return emit_unparsed_reason(s, line, len, "no \"payload\" object");
  /* The host reports these itself: a second run.started, or a cancellation the host did not
   * make, would break the stream's guarantees. */
  if (strcmp(type, "run.started") == 0 || strcmp(type, "run.cancelled") == 0)
    return emit_unparsed(s, RH_STREAM_STDOUT, line, len, false, type,
                         cstr(" is the host's to report, not the command's"));
  if (strcmp(type, "run.completed") == 0 || strcmp(type, "run.failed") == 0)
    return hold_terminal(s, type, payload, line, len);
  /* When the host refuses the event (its payload does not match the schema), the host itself
   * keeps the line, from `raw`, as runtime.unparsed with the reason (host.h, emit): emitting one
   * here too would report the line twice. The line is dealt with either way. */
  (void)emit_event(s, type, payload, str_of(line, len));
  return RH_OK;
}

/* ---- Lines -------------------------------------------------------------------------------- */

static rh_status take_line(rh_runtime_session *s, rh_stream stream, const char *line, size_t len,
                           bool truncated) {
  if (stream == RH_STREAM_STDERR || s->mode == MODE_TEXT)
    return emit_output(s, stream, line, len, truncated);
  if (truncated) {
    rh_str no_detail = {NULL, 0};
    return emit_unparsed(s, stream, line, len, true,
                         "longer than 1 MiB: cut there, the rest dropped", no_detail);
  }
  return take_json_line(s, line, len);
}

static rh_status on_stdout_line(void *ctx, const char *line, size_t len, bool truncated) {
  return take_line((rh_runtime_session *)ctx, RH_STREAM_STDOUT, line, len, truncated);
}

static rh_status on_stderr_line(void *ctx, const char *line, size_t len, bool truncated) {
  return take_line((rh_runtime_session *)ctx, RH_STREAM_STDERR, line, len, truncated);
}

/* ---- The adapter -------------------------------------------------------------------------- */

static void free_session(rh_runtime_session *s) {
  rh_json_string_array_free(s->argv, s->argc);
  free(s->prompt);
  free(s->run_id);
  rh_lines_free(&s->out);
  rh_lines_free(&s->err);
  rh_json_buffer_free(&s->payload);
  rh_json_buffer_free(&s->scratch);
  rh_json_buffer_free(&s->held_payload);
  rh_json_buffer_free(&s->held_line);
  free(s);
}

/* Reads "command", "prompt" and "outputMode" from the dispatch into `s`. */
static rh_status read_dispatch(rh_runtime_session *s, rh_str text) {
  rh_str dispatch, value;
  rh_status status;
  if (rh_json_parse(text, &dispatch) != RH_OK || rh_json_type_of(dispatch) != RH_JSON_OBJECT)
    return fail(s->host, RH_ERR_INVALID_ARGUMENT, "custom: the dispatch is not a JSON object");

  if (rh_json_find(dispatch, "command", &value) != RH_OK)
    return fail(s->host, RH_ERR_INVALID_ARGUMENT, k_need_command);
  status = rh_json_string_array_dup(value, &s->argv, &s->argc);
  if (status == RH_ERR_NO_MEMORY) return fail(s->host, status, "custom: out of memory");
  if (status != RH_OK) return fail(s->host, RH_ERR_INVALID_ARGUMENT, k_need_command);
  if (s->argc == 0)
    return fail(s->host, RH_ERR_INVALID_ARGUMENT,
                "the custom runtime needs \"command\": an array of strings; it is empty");

  if (rh_json_find(dispatch, "prompt", &value) != RH_OK) value = cstr("\"\"");
  if (rh_json_type_of(value) != RH_JSON_STRING)
    return fail(s->host, RH_ERR_INVALID_ARGUMENT, "the custom runtime needs \"prompt\" to be a string");
  if ((status = rh_json_string_dup(value, &s->prompt, &s->prompt_len)) != RH_OK)
    return fail(s->host, status, "custom: out of memory copying the prompt");

  s->mode = MODE_TEXT;
  if (rh_json_find(dispatch, "outputMode", &value) == RH_OK &&
      rh_json_type_of(value) != RH_JSON_NULL) {
    if (rh_json_equals(value, "jsonl", 5)) s->mode = MODE_JSONL;
    else if (!rh_json_equals(value, "text", 4))
      return fail(s->host, RH_ERR_INVALID_ARGUMENT,
                  "the custom runtime's \"outputMode\" must be \"text\" or \"jsonl\"");
  }
  return RH_OK;
}

static rh_status custom_create(const rh_runtime_adapter *self, const rh_runtime_context *ctx,
                               rh_runtime_session **out) {
  rh_runtime_session *s;
  rh_status status;
  (void)self;
  if (ctx->struct_size < offsetof(rh_runtime_context, dispatch_json) + sizeof(rh_str))
    return fail(g_host, RH_ERR_INVALID_ARGUMENT, "custom: the runtime context is too short");
  if (!(s = (rh_runtime_session *)calloc(1, sizeof *s)))
    return fail(ctx->host, RH_ERR_NO_MEMORY, "custom: out of memory");
  s->host = ctx->host;
  s->run = ctx->run;
  rh_lines_init(&s->out, CUSTOM_LINE_LIMIT);
  rh_lines_init(&s->err, CUSTOM_LINE_LIMIT);
  rh_json_buffer_init(&s->payload);
  rh_json_buffer_init(&s->scratch);
  rh_json_buffer_init(&s->held_payload);
  rh_json_buffer_init(&s->held_line);
  if ((status = read_dispatch(s, ctx->dispatch_json)) != RH_OK) {
    free_session(s);
    return status;
  }
  s->run_id_len = ctx->run_id.len;
  if (!(s->run_id = (char *)malloc(s->run_id_len + 1))) {
    free_session(s);
    return fail(ctx->host, RH_ERR_NO_MEMORY, "custom: out of memory");
  }
  if (s->run_id_len > 0) memcpy(s->run_id, ctx->run_id.data, s->run_id_len);
  s->run_id[s->run_id_len] = '\0';
  *out = s;
  return RH_OK;
}

/* {"argv": command, "env": {"RUNHOST_PROMPT", "RUNHOST_RUN_ID"}, "stdin": prompt} */
static rh_status custom_launch(rh_runtime_session *s, const rh_writer *spec_out) {
  /* The environment cannot carry U+0000, and a very long prompt is better read from stdin. */
  bool prompt_in_env =
      s->prompt_len <= CUSTOM_PROMPT_ENV_LIMIT && strlen(s->prompt) == s->prompt_len;
  rh_status status = rh_json_write_cstr(spec_out, "{\"argv\":[");
  size_t i;
  for (i = 0; i < s->argc && status == RH_OK; i++) {
    if (i > 0) status = rh_json_write_cstr(spec_out, ",");
    if (status == RH_OK) status = rh_json_write_string(spec_out, s->argv[i], strlen(s->argv[i]));
  }
  if (status == RH_OK) status = rh_json_write_cstr(spec_out, "],\"env\":{");
  if (status == RH_OK && prompt_in_env) {
    status = write_member(spec_out, true, "RUNHOST_PROMPT", s->prompt, s->prompt_len);
    if (status == RH_OK) status = rh_json_write_cstr(spec_out, ",");
  }
  if (status == RH_OK)
    status = write_member(spec_out, true, "RUNHOST_RUN_ID", s->run_id, s->run_id_len);
  if (status == RH_OK) status = rh_json_write_cstr(spec_out, "}");
  if (status == RH_OK) status = write_member(spec_out, false, "stdin", s->prompt, s->prompt_len);
  if (status == RH_OK) status = rh_json_write_cstr(spec_out, "}");
  return status == RH_OK ? RH_OK : fail(s->host, status, "custom: could not write the launch spec");
}

static rh_status custom_feed(rh_runtime_session *s, rh_stream stream, const char *data,
                             size_t len) {
  rh_status status;
  if (stream == RH_STREAM_STDOUT) {
    status = rh_lines_feed(&s->out, data, len, on_stdout_line, s);
  } else if (stream == RH_STREAM_STDERR) {
    status = rh_lines_feed(&s->err, data, len, on_stderr_line, s);
  } else {
    return fail(s->host, RH_ERR_INVALID_ARGUMENT, "custom: unknown output stream");
  }
  if (status == RH_ERR_NO_MEMORY) return fail(s->host, status, "custom: out of memory buffering a line");
  return status;
}

/* ---- finish() ----------------------------------------------------------------------------- */

/* Starts a message in s->scratch: "custom: " then pieces, each raw (the payload writer escapes). */
static void message_begin(rh_runtime_session *s) {
  rh_json_buffer_reset(&s->scratch);
  rh_json_write_cstr(&s->scratch.writer, "custom: ");
}

static void message_add(rh_runtime_session *s, const char *text) {
  rh_json_write_cstr(&s->scratch.writer, text);
}

static void message_add_program(rh_runtime_session *s) {
  rh_json_write_cstr(&s->scratch.writer, "\"");
  rh_json_write_cstr(&s->scratch.writer, s->argv[0]);
  rh_json_write_cstr(&s->scratch.writer, "\"");
}

typedef struct failure {
  const char *code;
  bool retryable;
  const char *action; /* recovery.action */
  bool hint;          /* add recovery.hint naming the program (install_runtime) */
  bool has_exit_code;
  int32_t exit_code;
  bool has_signal;
  int32_t signal;
} failure;

/* run.failed {error: {code, message: s->scratch, retryable, recovery}, exit_code?, signal?} */
static rh_status emit_failure(rh_runtime_session *s, const failure *f, bool truncated) {
  const rh_writer *w = &s->payload.writer;
  char number[48];
  rh_str no_raw = {NULL, 0};
  rh_json_buffer_reset(&s->payload);
  if (rh_json_write_cstr(w, "{\"error\":{") ||
      write_member(w, true, "code", f->code, strlen(f->code)) ||
      write_member(w, false, "message", s->scratch.data, s->scratch.len) ||
      rh_json_write_cstr(w, f->retryable ? ",\"retryable\":true" : ",\"retryable\":false") ||
      rh_json_write_cstr(w, ",\"recovery\":{") ||
      write_member(w, true, "action", f->action, strlen(f->action)))
    return out_of_memory(s);
  if (f->hint &&
      (rh_json_write_cstr(w, ",\"hint\":\"install ") ||
       rh_json_write_escaped(w, s->argv[0], strlen(s->argv[0])) ||
       rh_json_write_cstr(w, " on the device (or put it on PATH), or fix \\\"command\\\" in the "
                             "dispatch\"")))
    return out_of_memory(s);
  if (rh_json_write_cstr(w, "}}")) return out_of_memory(s);
  if (f->has_exit_code) {
    snprintf(number, sizeof number, ",\"exit_code\":%ld", (long)f->exit_code);
    if (rh_json_write_cstr(w, number)) return out_of_memory(s);
  }
  if (f->has_signal) {
    snprintf(number, sizeof number, ",\"signal\":%ld", (long)f->signal);
    if (rh_json_write_cstr(w, number)) return out_of_memory(s);
  }
  if (rh_json_write_cstr(w, truncated ? ",\"output_truncated\":true}" : "}"))
    return out_of_memory(s);
  return emit_built(s, "run.failed", no_raw);
}

static rh_status emit_fixed(rh_runtime_session *s, const char *type, const char *members,
                            bool truncated) {
  rh_str no_raw = {NULL, 0};
  const rh_writer *w = &s->payload.writer;
  rh_json_buffer_reset(&s->payload);
  if (rh_json_write_cstr(w, "{") || rh_json_write_cstr(w, members) ||
      rh_json_write_cstr(w, truncated ? (*members ? ",\"output_truncated\":true}"
                                                  : "\"output_truncated\":true}")
                                      : "}"))
    return out_of_memory(s);
  return emit_built(s, type, no_raw);
}

/* Emits the held run.completed or run.failed, with output_truncated added when asked. When the
 * host refuses it (and keeps its line as runtime.unparsed), the caller emits the exit's own
 * terminal event instead. */
static rh_status emit_held(rh_runtime_session *s, bool truncated) {
  const char *type = s->held_type, *payload = s->held_payload.data;
  size_t len = s->held_payload.len, end = len - 1; /* the closing brace */
  s->held_type = NULL;
  if (truncated) {
    size_t before = end; /* is the object empty? look back past whitespace for '{' */
    while (payload[before - 1] == ' ' || payload[before - 1] == '\t' ||
           payload[before - 1] == '\r' || payload[before - 1] == '\n')
      before--; /* stops at the opening brace at the latest */
    if (copy_into(&s->payload, payload, end) ||
        rh_json_write_cstr(&s->payload.writer,
                           payload[before - 1] == '{' ? "\"output_truncated\":true}"
                                                      : ",\"output_truncated\":true}"))
      return out_of_memory(s);
  } else if (copy_into(&s->payload, payload, len)) {
    return out_of_memory(s);
  }
  return emit_event(s, type, str_of(s->payload.data, s->payload.len),
                    str_of(s->held_line.data, s->held_line.len));
}

/* The terminal event the way the process ended implies (runhost/exit.h). */
static rh_status emit_exit(rh_runtime_session *s, const rh_exit *ended, bool truncated) {
  const rh_exit_failure implied = rh_exit_failure_of(ended);
  failure f = {"runtime_error", false, "retry", false, false, 0, false, 0};
  if (!implied.code) return emit_fixed(s, "run.completed", "\"exit_code\":0", truncated);
  f.code = implied.code;
  f.retryable = implied.retryable;
  f.action = implied.action;
  f.hint = ended->kind == RH_EXIT_SPAWN_FAILED;
  f.has_exit_code = ended->kind == RH_EXIT_EXITED;
  f.exit_code = ended->code;
  f.has_signal = ended->kind == RH_EXIT_SIGNALED;
  f.signal = ended->signal;
  message_begin(s);
  rh_exit_write_message(ended, s->argv[0], &s->scratch.writer);
  return emit_failure(s, &f, truncated);
}

static rh_status custom_finish(rh_runtime_session *s, const rh_exit *ended) {
  uint32_t flags =
      ended->struct_size >= offsetof(rh_exit, flags) + sizeof ended->flags ? ended->flags : 0;
  bool truncated = (flags & RH_EXIT_FLAG_OUTPUT_TRUNCATED) != 0;
  failure timeout = {"timeout", true, "retry", false, false, 0, false, 0};
  rh_status flushed = rh_lines_flush(&s->out, on_stdout_line, s);
  rh_status status = rh_lines_flush(&s->err, on_stderr_line, s);
  if (flushed == RH_OK) flushed = status;

  if (flags & RH_EXIT_FLAG_CANCELLED) {
    status = release_held(s, "the run was cancelled, which overrides the command's own ending");
    if (flushed == RH_OK) flushed = status;
    status = emit_fixed(s, "run.cancelled", "\"reason\":\"cancelled\"", truncated);
  } else if (flags & RH_EXIT_FLAG_TIMED_OUT) {
    status = release_held(s, "the run timed out, which overrides the command's own ending");
    if (flushed == RH_OK) flushed = status;
    message_begin(s);
    message_add_program(s);
    message_add(s, " ran out of time");
    status = emit_failure(s, &timeout, truncated);
  } else if (s->held_type && emit_held(s, truncated) == RH_OK) {
    status = RH_OK;
  } else {
    status = emit_exit(s, ended, truncated);
  }
  return status != RH_OK ? status : flushed;
}

static void custom_destroy(rh_runtime_session *s) { free_session(s); }

static rh_status custom_init(const rh_host *host, const char *library_path) {
  (void)library_path;
  g_host = host;
  return RH_OK;
}

static void custom_deinit(void) { g_host = NULL; }

static const rh_runtime_adapter k_adapter = {
    .struct_size = sizeof(rh_runtime_adapter),
    .protocol = RH_PROTOCOL_LINES,
    .capabilities = 0,
    .create = custom_create,
    .launch = custom_launch,
    .feed = custom_feed,
    .respond = NULL /* a plain command has no way to take an approval */,
    .finish = custom_finish,
    .destroy = custom_destroy,
};

static const rh_plugin_desc k_desc = {
    .struct_size = sizeof(rh_plugin_desc),
    .kind = RH_PLUGIN_KIND_RUNTIME,
    .id = "custom",
    .name = "Custom command",
    .version = CUSTOM_VERSION,
    .vendor = "runhost",
    .description = "Runs the dispatch's \"command\"; its output as text lines or as unified "
                   "events in JSON lines.",
    .iface = {.runtime = &k_adapter},
    .get_extension = NULL,
};

static const rh_plugin_desc *const k_plugins[] = {&k_desc};

static const rh_plugin_entry k_entry = {
    .struct_size = sizeof(rh_plugin_entry),
    .abi = RH_ABI_VERSION_INIT,
    .init = custom_init,
    .deinit = custom_deinit,
    .plugin_count = 1,
    .plugins = k_plugins,
};

RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void) { return &k_entry; }
