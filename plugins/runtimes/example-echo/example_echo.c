/* example-echo: a runtime adapter that runs `printf '%s\n' <prompt>` and reports what it prints.
 *
 * The smallest complete runtime adapter. It reads the prompt from the dispatch, launches printf
 * (not echo, which would take a prompt such as "-n" for an option), turns each stdout line into
 * a "message" event and each stderr line into "command.output", and maps the way the process
 * ended onto run.completed, run.failed or run.cancelled. Lines are reassembled across feed()
 * calls and cut at 1 MiB, so a runtime that never writes a newline cannot exhaust memory.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <runhost/exit.h>
#include <runhost/json.h>
#include <runhost/lines.h>
#include <runhost/runhost.h>

#define ECHO_VERSION "0.1.0"
#define ECHO_LINE_LIMIT ((size_t)1 << 20) /* longer lines are cut here: memory stays bounded */

struct rh_runtime_session {
  const rh_host *host; /* from the context: valid until destroy */
  rh_run *run;
  char *prompt;
  size_t prompt_len;
  rh_lines out; /* each stream's unfinished line, at most ECHO_LINE_LIMIT bytes */
  rh_lines err;
  rh_json_buffer payload; /* each event's payload, built here and reused */
};

static const rh_host *g_host; /* from init(), for failures before a session has its own */

static rh_status fail(const rh_host *host, rh_status status, const char *message) {
  rh_str text = {message, strlen(message)};
  host->set_error(host, text);
  return status;
}

/* Emits an event whose payload is what s->payload holds. */
static rh_status emit(rh_runtime_session *s, const char *type, rh_str raw) {
  rh_event event = {sizeof(rh_event), {type, strlen(type)}, {s->payload.data, s->payload.len}, raw};
  rh_status status = s->host->emit(s->host, s->run, &event);
  return status == RH_OK ? RH_OK : fail(s->host, status, "example-echo: the host refused an event");
}

static rh_status emit_line(rh_runtime_session *s, rh_stream stream, const char *line, size_t len,
                           bool truncated) {
  const rh_writer *w = &s->payload.writer;
  rh_str raw = {line, len};
  rh_status status;
  rh_json_buffer_reset(&s->payload);
  if ((status = rh_json_write_cstr(w, stream == RH_STREAM_STDOUT
                                          ? "{\"role\":\"assistant\",\"text\":"
                                          : "{\"stream\":\"stderr\",\"text\":")) ||
      (status = rh_json_write_string(w, line, len)) ||
      (status = rh_json_write_cstr(w, truncated ? ",\"truncated\":true}" : "}")))
    return fail(s->host, status, "example-echo: out of memory building an event");
  return emit(s, stream == RH_STREAM_STDOUT ? "message" : "command.output", raw);
}

static rh_status on_stdout_line(void *ctx, const char *line, size_t len, bool truncated) {
  return emit_line((rh_runtime_session *)ctx, RH_STREAM_STDOUT, line, len, truncated);
}

static rh_status on_stderr_line(void *ctx, const char *line, size_t len, bool truncated) {
  return emit_line((rh_runtime_session *)ctx, RH_STREAM_STDERR, line, len, truncated);
}

static rh_status echo_create(const rh_runtime_adapter *self, const rh_runtime_context *ctx,
                             rh_runtime_session **out) {
  rh_runtime_session *s;
  rh_str dispatch, prompt;
  rh_status status;
  (void)self;
  if (ctx->struct_size < offsetof(rh_runtime_context, dispatch_json) + sizeof(rh_str))
    return fail(g_host, RH_ERR_INVALID_ARGUMENT, "example-echo: the runtime context is too short");
  if (rh_json_parse(ctx->dispatch_json, &dispatch) != RH_OK ||
      rh_json_find(dispatch, "prompt", &prompt) != RH_OK ||
      rh_json_type_of(prompt) != RH_JSON_STRING)
    return fail(ctx->host, RH_ERR_INVALID_ARGUMENT,
                "example-echo: the dispatch has no \"prompt\" string");
  if (!(s = (rh_runtime_session *)calloc(1, sizeof *s)))
    return fail(ctx->host, RH_ERR_NO_MEMORY, "example-echo: out of memory");
  if ((status = rh_json_string_dup(prompt, &s->prompt, &s->prompt_len)) != RH_OK) {
    free(s);
    return fail(ctx->host, status, "example-echo: out of memory copying the prompt");
  }
  if (strlen(s->prompt) != s->prompt_len) { /* argv strings end at the first NUL */
    free(s->prompt);
    free(s);
    return fail(ctx->host, RH_ERR_INVALID_ARGUMENT,
                "example-echo: the \"prompt\" contains U+0000, which a command line cannot carry");
  }
  s->host = ctx->host;
  s->run = ctx->run;
  rh_lines_init(&s->out, ECHO_LINE_LIMIT);
  rh_lines_init(&s->err, ECHO_LINE_LIMIT);
  rh_json_buffer_init(&s->payload);
  *out = s;
  return RH_OK;
}

static rh_status echo_launch(rh_runtime_session *s, const rh_writer *spec_out) {
  rh_status status;
  if ((status = rh_json_write_cstr(spec_out, "{\"argv\":[\"printf\",\"%s\\n\",")) ||
      (status = rh_json_write_string(spec_out, s->prompt, s->prompt_len)) ||
      (status = rh_json_write_cstr(spec_out, "]}")))
    return fail(s->host, status, "example-echo: could not write the launch spec");
  return RH_OK;
}

static rh_status echo_feed(rh_runtime_session *s, rh_stream stream, const char *data, size_t len) {
  rh_status status;
  if (stream == RH_STREAM_STDOUT) {
    status = rh_lines_feed(&s->out, data, len, on_stdout_line, s);
  } else if (stream == RH_STREAM_STDERR) {
    status = rh_lines_feed(&s->err, data, len, on_stderr_line, s);
  } else {
    return fail(s->host, RH_ERR_INVALID_ARGUMENT, "example-echo: unknown output stream");
  }
  if (status == RH_ERR_NO_MEMORY) return fail(s->host, status, "example-echo: out of memory buffering a line");
  return status;
}

/* Emits run.failed with the unified error {code, message, retryable}. */
static rh_status emit_failure(rh_runtime_session *s, const char *code, const char *message,
                              bool retryable) {
  const rh_writer *w = &s->payload.writer;
  rh_str no_raw = {NULL, 0};
  rh_status status;
  rh_json_buffer_reset(&s->payload);
  if ((status = rh_json_write_cstr(w, "{\"error\":{\"code\":")) ||
      (status = rh_json_write_string(w, code, strlen(code))) ||
      (status = rh_json_write_cstr(w, ",\"message\":")) ||
      (status = rh_json_write_string(w, message, strlen(message))) ||
      (status =
           rh_json_write_cstr(w, retryable ? ",\"retryable\":true}}" : ",\"retryable\":false}}")))
    return fail(s->host, status, "example-echo: out of memory building run.failed");
  return emit(s, "run.failed", no_raw);
}

static rh_status emit_fixed(rh_runtime_session *s, const char *type, const char *payload) {
  rh_str no_raw = {NULL, 0};
  rh_status status;
  rh_json_buffer_reset(&s->payload);
  if ((status = rh_json_write_cstr(&s->payload.writer, payload)) != RH_OK)
    return fail(s->host, status, "example-echo: out of memory building an event");
  return emit(s, type, no_raw);
}

static rh_status echo_finish(rh_runtime_session *s, const rh_exit *ended) {
  uint32_t flags =
      ended->struct_size >= offsetof(rh_exit, flags) + sizeof ended->flags ? ended->flags : 0;
  rh_exit_failure implied = rh_exit_failure_of(ended);
  rh_json_buffer message;
  rh_status flushed = rh_lines_flush(&s->out, on_stdout_line, s);
  rh_status status = rh_lines_flush(&s->err, on_stderr_line, s);
  if (flushed == RH_OK) flushed = status;

  if (flags & RH_EXIT_FLAG_CANCELLED) {
    status = emit_fixed(s, "run.cancelled", "{}");
  } else if (flags & RH_EXIT_FLAG_TIMED_OUT) {
    status = emit_failure(s, "timeout", "example-echo: printf ran out of time", true);
  } else if (!implied.code) {
    status = emit_fixed(s, "run.completed", "{\"exit_code\":0}");
  } else {
    /* runhost/exit.h says what the exit means, the way the host and its adapters say it. */
    rh_json_buffer_init(&message);
    status = rh_json_write_cstr(&message.writer, "example-echo: ");
    if (status == RH_OK) status = rh_exit_write_message(ended, "printf", &message.writer);
    if (status == RH_OK) status = rh_json_write_raw(&message.writer, "", 1); /* NUL-terminated */
    status = status == RH_OK ? emit_failure(s, implied.code, message.data, implied.retryable)
                             : fail(s->host, status, "example-echo: out of memory building run.failed");
    rh_json_buffer_free(&message);
  }
  return status != RH_OK ? status : flushed;
}

static void echo_destroy(rh_runtime_session *s) {
  free(s->prompt);
  rh_lines_free(&s->out);
  rh_lines_free(&s->err);
  rh_json_buffer_free(&s->payload);
  free(s);
}

static rh_status echo_init(const rh_host *host, const char *library_path) {
  (void)library_path;
  g_host = host;
  return RH_OK;
}

static void echo_deinit(void) { g_host = NULL; }

static const rh_runtime_adapter k_adapter = {
    .struct_size = sizeof(rh_runtime_adapter),
    .protocol = RH_PROTOCOL_LINES,
    .capabilities = 0,
    .create = echo_create,
    .launch = echo_launch,
    .feed = echo_feed,
    .respond = NULL /* no approvals to answer */,
    .finish = echo_finish,
    .destroy = echo_destroy,
};

static const rh_plugin_desc k_desc = {
    .struct_size = sizeof(rh_plugin_desc),
    .kind = RH_PLUGIN_KIND_RUNTIME,
    .id = "example-echo",
    .name = "Example echo runtime",
    .version = ECHO_VERSION,
    .vendor = "runhost examples",
    .description = "Prints the prompt back with printf; a minimal runtime adapter to copy from.",
    .iface = {.runtime = &k_adapter},
    .get_extension = NULL,
};

static const rh_plugin_desc *const k_plugins[] = {&k_desc};

static const rh_plugin_entry k_entry = {
    .struct_size = sizeof(rh_plugin_entry),
    .abi = RH_ABI_VERSION_INIT,
    .init = echo_init,
    .deinit = echo_deinit,
    .plugin_count = 1,
    .plugins = k_plugins,
};

RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void) { return &k_entry; }
