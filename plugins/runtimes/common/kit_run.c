/* kit_run.c — a session's output and its ending: lines from feed(), the outcome the runtime
 * reports, and the one terminal event finish() emits.
 *
 * Order of precedence at the end: a cancellation (run.cancelled), a timeout (run.failed timeout),
 * the outcome the runtime reported (its result line), then what the exit implies: the program
 * could not be started (runtime_not_found, with the runtime's install hint), it was killed by a
 * signal (runtime_crashed), its device lost it (device_lost), it exited without the result line
 * it always prints (no_result), or, for a runtime without one, its exit code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <runhost/exit.h>

#include "kit_internal.h"

#define W (&s->payload.writer)

/* ---- Failure kinds ------------------------------------------------------------------------- */

static const rhk_failure k_failures[RHK_FAIL_KIND_COUNT] = {
    [RHK_FAIL_AUTH] = {"auth_failed", "auth_failed", false, "retry", NULL,
                       "check the runtime's credentials (API key or login), then retry"},
    [RHK_FAIL_RATE_LIMITED] = {"rate_limited", "rate_limited", true, "request_quota", NULL,
                               "the model provider's rate limit was hit: retry later or raise the limit"},
    [RHK_FAIL_BILLING] = {"budget_exceeded", "billing", false, "raise_budget", NULL,
                          "the model provider account has no credit left"},
    [RHK_FAIL_MODEL_UNAVAILABLE] = {"model_unavailable", "model_unavailable", true, "retry", NULL,
                                    "the model API was unavailable or overloaded: retry in a moment"},
    [RHK_FAIL_MODEL_REQUEST] = {"model_api_error", "model_request_rejected", false, "retry", NULL,
                                "the model API rejected the request: check the model name and settings"},
    [RHK_FAIL_MODEL_API] = {"model_api_error", "model_api_error", false, "retry", NULL, NULL},
    [RHK_FAIL_TURN_LIMIT] = {"turn_limit", "turn_limit", false, "raise_budget", "turns",
                             "the run reached its turn limit (max_turns): raise it, or resume the session"},
    [RHK_FAIL_BUDGET_LIMIT] = {"budget_exceeded", "budget_limit", false, "raise_budget", NULL,
                               "the run reached its spending limit (max_budget_usd): raise it, or resume"},
    [RHK_FAIL_CONTEXT_LIMIT] = {"context_limit", "context_limit", false, "retry", NULL,
                                "the conversation no longer fits the model's context: start a new session"},
    [RHK_FAIL_SESSION_NOT_FOUND] = {"session_not_found", "session_not_found", false, "fix_dispatch", NULL,
                                    "the session to resume does not exist on this device and working directory"},
    [RHK_FAIL_POLICY] = {"policy_denied", "runtime_policy", false, "review_policy", NULL, NULL},
    [RHK_FAIL_RUNTIME] = {"runtime_error", "runtime_error", false, "retry", NULL, NULL},
    [RHK_FAIL_NO_RESULT] = {"runtime_error", "no_result", true, "retry", NULL,
                            "the runtime ended before reporting a result; its output so far is kept"},
};

const rhk_failure *rhk_failure_of(rhk_failure_kind kind) {
  return &k_failures[(int)kind >= 0 && (int)kind < (int)RHK_FAIL_KIND_COUNT ? (int)kind : (int)RHK_FAIL_RUNTIME];
}

rhk_failure_kind rhk_failure_kind_for_http_status(int64_t status) {
  if (status == 401 || status == 403) return RHK_FAIL_AUTH;
  if (status == 429) return RHK_FAIL_RATE_LIMITED;
  if (status == 402) return RHK_FAIL_BILLING;
  if (status == 408 || status >= 500) return RHK_FAIL_MODEL_UNAVAILABLE;
  if (status == 400 || status == 404 || status == 413 || status == 422) return RHK_FAIL_MODEL_REQUEST;
  return RHK_FAIL_MODEL_API;
}

/* ---- Lines --------------------------------------------------------------------------------- */

/* A runtime's stderr is its own log: the output of the commands it runs comes in its lines. */
static rh_status stderr_default(rhk_session *s, const char *line, size_t len, bool truncated) {
  return rhk_emit_diagnostic(s, line, len, truncated, rhk_str(line, len));
}

/* Keeps the last non-blank stderr line (cut at 512 bytes) for failure messages. */
static void remember_stderr(rhk_session *s, const char *line, size_t len) {
  char *copy;
  while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\r' || line[len - 1] == '\t')) len--;
  if (len == 0) return;
  if (len > 512) len = 512;
  if (!(copy = (char *)malloc(len + 1))) return;
  memcpy(copy, line, len);
  copy[len] = '\0';
  free(s->last_stderr);
  s->last_stderr = copy;
}

static rh_status on_line(void *ctx, const char *line, size_t len, bool truncated, rh_stream stream) {
  rhk_session *s = (rhk_session *)ctx;
  rh_status status;
  if (stream == RH_STREAM_STDERR) {
    remember_stderr(s, line, len);
    status = (s->info->on_stderr_line ? s->info->on_stderr_line : stderr_default)(s, line, len, truncated);
  } else {
    status = s->info->on_stdout_line(s, line, len, truncated);
  }
  rhk_set_extra(s, rhk_none()); /* extras last one line */
  return status;
}

static rh_status on_stdout(void *ctx, const char *line, size_t len, bool truncated) {
  return on_line(ctx, line, len, truncated, RH_STREAM_STDOUT);
}

static rh_status on_stderr(void *ctx, const char *line, size_t len, bool truncated) {
  return on_line(ctx, line, len, truncated, RH_STREAM_STDERR);
}

/* A buffer that held one huge line (or its events) gives its memory back once the line is done. */
static void shrink_buffer(rh_json_buffer *b) {
  if (b->cap > RHK_KEEP_BUFFER) rh_json_buffer_free(b);
}

static void shrink(rhk_session *s, rh_lines *lines) {
  if (lines->pending.len == 0) shrink_buffer(&lines->pending);
  shrink_buffer(&s->payload);
  shrink_buffer(&s->scratch);
}

rh_status rhk_feed(rhk_session *s, rh_stream stream, const char *data, size_t len) {
  rh_status status;
  if (stream == RH_STREAM_STDOUT) {
    status = rh_lines_feed(&s->out, data, len, on_stdout, s);
    shrink(s, &s->out);
  } else if (stream == RH_STREAM_STDERR) {
    status = rh_lines_feed(&s->err, data, len, on_stderr, s);
    shrink(s, &s->err);
  } else {
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "unknown output stream");
  }
  if (status == RH_ERR_NO_MEMORY) return rhk_fail(s, status, "out of memory buffering a line");
  return status;
}

/* ---- Holding the outcome ------------------------------------------------------------------- */

static rh_status copy_into(rh_json_buffer *b, rh_str text) {
  rh_json_buffer_reset(b);
  return rh_json_write_raw(&b->writer, text.data, text.len);
}

static rh_status hold(rhk_session *s, rhk_outcome_kind kind, rh_str message, rh_str extra, rh_str line) {
  if (copy_into(&s->outcome_message, message) || copy_into(&s->outcome_extra, extra) ||
      copy_into(&s->outcome_line, line))
    return rhk_fail(s, RH_ERR_NO_MEMORY, "out of memory holding the run's outcome");
  s->outcome = kind;
  return RH_OK;
}

rh_status rhk_hold_completed(rhk_session *s, rh_str result, bool has_result, double duration_ms,
                             rh_str extra, rh_str line) {
  s->outcome_has_result = has_result;
  s->outcome_duration_ms = duration_ms;
  return hold(s, RHK_OUTCOME_COMPLETED, result, extra, line);
}

rh_status rhk_hold_failure_with(rhk_session *s, const rhk_failure *failure, rh_str message,
                                rh_str extra, rh_str line) {
  s->failure = *failure;
  return hold(s, RHK_OUTCOME_FAILED, message, extra, line);
}

rh_status rhk_hold_failure(rhk_session *s, rhk_failure_kind kind, rh_str message, rh_str extra, rh_str line) {
  return rhk_hold_failure_with(s, rhk_failure_of(kind), message, extra, line);
}

/* ---- The terminal event -------------------------------------------------------------------- */

static rh_status no_memory(const rhk_session *s) {
  return rhk_fail(s, RH_ERR_NO_MEMORY, "out of memory building the terminal event");
}

static rh_status emit_terminal(rhk_session *s, const char *type, rh_str raw) {
  rh_event event;
  rh_status status;
  if (rhk_impl_scrub(s) != RH_OK) return no_memory(s); /* a message may quote stderr */
  event.struct_size = sizeof(rh_event);
  event.type = rhk_cstr(type);
  event.payload_json = rhk_str(s->payload.data, s->payload.len);
  event.raw = rhk_impl_safe_raw(s, raw);
  status = s->host->emit(s->host, s->run, &event);
  if (status == RH_OK) return RH_OK;
  return rhk_fail(s, status, "the host refused the terminal event");
}

/* The members every terminal payload ends with: session_id, the held extra, output_truncated. */
static rh_status write_tail(rhk_session *s, bool first, bool with_extra, bool truncated) {
  if (s->session_id && rhk_write_string_member(W, first, "session_id", s->session_id, strlen(s->session_id)))
    return no_memory(s);
  if (s->session_id) first = false;
  if (with_extra && s->outcome_extra.len > 0) {
    if ((!first && rh_json_write_raw(W, ",", 1)) ||
        rh_json_write_raw(W, s->outcome_extra.data, s->outcome_extra.len))
      return no_memory(s);
    first = false;
  }
  if (truncated && rh_json_write_cstr(W, first ? "\"output_truncated\":true" : ",\"output_truncated\":true"))
    return no_memory(s);
  return rh_json_write_raw(W, "}", 1) ? no_memory(s) : RH_OK;
}

/* run.failed {error: {code, message, retryable, recovery, cause?}, exit_code?, signal?, ...}.
 * The message is s->scratch's text. */
static rh_status emit_failed(rhk_session *s, const rhk_failure *f, const rh_exit *exit, bool with_extra,
                             bool truncated, rh_str raw) {
  const char *source = f->usage_source ? f->usage_source : s->info->usage_source ? s->info->usage_source : s->info->id;
  bool needs_source = strcmp(f->action, "raise_budget") == 0 || strcmp(f->action, "request_quota") == 0;
  rh_json_buffer_reset(&s->payload);
  if (rh_json_write_cstr(W, "{\"error\":{") || rhk_write_string_member(W, true, "code", f->code, strlen(f->code)) ||
      rhk_write_string_member(W, false, "message", s->scratch.data, s->scratch.len) ||
      rh_json_write_cstr(W, f->retryable ? ",\"retryable\":true" : ",\"retryable\":false") ||
      rh_json_write_cstr(W, ",\"recovery\":{") ||
      rhk_write_string_member(W, true, "action", f->action, strlen(f->action)) ||
      (needs_source && source && rhk_write_string_member(W, false, "usage_source", source, strlen(source))) ||
      (f->hint && rhk_write_string_member(W, false, "hint", f->hint, strlen(f->hint))) ||
      rh_json_write_raw(W, "}", 1) ||
      (f->cause && rhk_write_string_member(W, false, "cause", f->cause, strlen(f->cause))) ||
      rh_json_write_raw(W, "}", 1))
    return no_memory(s);
  if (exit && exit->kind == RH_EXIT_EXITED && rhk_write_int_member(W, false, "exit_code", exit->code)) return no_memory(s);
  if (exit && exit->kind == RH_EXIT_SIGNALED && rhk_write_int_member(W, false, "signal", exit->signal)) return no_memory(s);
  if (write_tail(s, false, with_extra, truncated) != RH_OK) return no_memory(s);
  return emit_terminal(s, "run.failed", raw);
}

static void message(rhk_session *s, const char *text) {
  rh_json_buffer_reset(&s->scratch);
  rh_json_write_cstr(&s->scratch.writer, s->info->display_name);
  rh_json_write_cstr(&s->scratch.writer, ": ");
  rh_json_write_cstr(&s->scratch.writer, text);
}

static void message_add(rhk_session *s, const char *text) { rh_json_write_cstr(&s->scratch.writer, text); }

static const char *program(const rhk_session *s) {
  return s->config.executable ? s->config.executable : s->info->program;
}

/* What the exit implies (runhost/exit.h says it for every adapter and the host), except that a
 * runtime that always ends with a result line failed when it exits without one, even with 0. */
static rh_status emit_from_exit(rhk_session *s, const rh_exit *exit, bool truncated) {
  const rh_exit_failure implied = rh_exit_failure_of(exit);
  const bool exited = exit->kind == RH_EXIT_EXITED;
  rhk_failure f = *rhk_failure_of(RHK_FAIL_RUNTIME);
  if (!implied.code && !s->info->expects_result) {
    rh_json_buffer_reset(&s->payload);
    if (rh_json_write_cstr(W, "{\"exit_code\":0")) return no_memory(s);
    if (write_tail(s, false, false, truncated) != RH_OK) return no_memory(s);
    return emit_terminal(s, "run.completed", rhk_none());
  }
  if (exited && s->info->expects_result) {
    f = *rhk_failure_of(RHK_FAIL_NO_RESULT);
    if (exit->code != 0) f.retryable = false; /* it said why on stderr, most likely: read it first */
  } else {
    f.code = implied.code;
    f.cause = NULL;
    f.retryable = implied.retryable;
    f.action = implied.action;
    f.hint = exit->kind == RH_EXIT_SPAWN_FAILED ? s->info->install_hint : NULL;
  }
  message(s, "");
  rh_exit_write_message(exit, program(s), &s->scratch.writer);
  if (exited && s->info->expects_result) message_add(s, " without a result line");
  if (exited && s->last_stderr) {
    message_add(s, "; last stderr line: ");
    message_add(s, s->last_stderr);
  }
  return emit_failed(s, &f, exit, false, truncated, rhk_none());
}

static rh_status emit_completed(rhk_session *s, const rh_exit *exit, bool truncated) {
  rh_json_buffer_reset(&s->payload);
  if (rh_json_write_raw(W, "{", 1)) return no_memory(s);
  {
    bool first = true;
    if (exit->kind == RH_EXIT_EXITED) {
      if (rhk_write_int_member(W, first, "exit_code", exit->code)) return no_memory(s);
      first = false;
    }
    if (s->outcome_has_result) {
      if (rhk_write_string_member(W, first, "result", s->outcome_message.data, s->outcome_message.len))
        return no_memory(s);
      first = false;
    }
    if (s->outcome_duration_ms >= 0) {
      if (rhk_write_number_member(W, first, "duration_ms", s->outcome_duration_ms)) return no_memory(s);
      first = false;
    }
    if (write_tail(s, first, true, truncated) != RH_OK) return no_memory(s);
  }
  return emit_terminal(s, "run.completed", rhk_str(s->outcome_line.data, s->outcome_line.len));
}

rh_status rhk_flush(rhk_session *s) {
  rh_status out = rh_lines_flush(&s->out, on_stdout, s);
  rh_status err = rh_lines_flush(&s->err, on_stderr, s);
  rhk_set_extra(s, rhk_none());
  return out != RH_OK ? out : err;
}

rh_status rhk_finish(rhk_session *s, const rh_exit *exit) {
  uint32_t flags = exit->struct_size >= offsetof(rh_exit, flags) + sizeof exit->flags ? exit->flags : 0;
  bool truncated = (flags & RH_EXIT_FLAG_OUTPUT_TRUNCATED) != 0;
  rh_status flushed, status;
  if (s->finished) return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "finish() was already called");
  s->finished = true;
  flushed = rhk_flush(s);

  if (flags & RH_EXIT_FLAG_CANCELLED) {
    rh_json_buffer_reset(&s->payload);
    if (rh_json_write_cstr(W, "{\"reason\":\"cancelled\"") || write_tail(s, false, false, truncated) != RH_OK)
      return no_memory(s);
    status = emit_terminal(s, "run.cancelled", rhk_none());
  } else if (flags & RH_EXIT_FLAG_TIMED_OUT) {
    rhk_failure f = {"timeout", NULL, true, "retry", NULL, "the run went over its time limit; raise timeoutSeconds or resume the session"};
    message(s, "the run went over its time limit and was stopped");
    status = emit_failed(s, &f, exit, false, truncated, rhk_none());
  } else if (s->outcome == RHK_OUTCOME_COMPLETED) {
    status = emit_completed(s, exit, truncated);
  } else if (s->outcome == RHK_OUTCOME_FAILED) {
    message(s, "");
    if (s->outcome_message.len == 0) message_add(s, "the runtime reported a failure");
    else rh_json_write_raw(&s->scratch.writer, s->outcome_message.data, s->outcome_message.len);
    status = emit_failed(s, &s->failure, exit, true, truncated, rhk_str(s->outcome_line.data, s->outcome_line.len));
  } else {
    status = emit_from_exit(s, exit, truncated);
  }
  return status != RH_OK ? status : flushed;
}

/* ---- Live approvals ------------------------------------------------------------------------ */

rh_status rhk_read_answer(const rhk_session *s, rh_str decision_json, rhk_answer *answer) {
  static const char *const names[] = {"request_id", "decision", "reason"};
  rh_str v[3], object;
  if (rhk_json_pick_text(decision_json, names, 3, v, &object) != RH_OK || v[0].len < 2 || v[0].data[0] != '"')
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "respond(): the answer is not an object with a \"request_id\" string");
  if (!rhk_json_is(v[1], "allow") && !rhk_json_is(v[1], "deny"))
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "respond(): \"decision\" must be \"allow\" or \"deny\"");
  answer->request_id = v[0];
  answer->allow = rhk_json_is(v[1], "allow");
  answer->reason = v[2].len >= 2 && v[2].data[0] == '"' ? v[2] : rhk_none();
  return RH_OK;
}

bool rhk_can_send_input(const rhk_session *s) {
  return s->host->struct_size >= offsetof(rh_host, send_input) + sizeof s->host->send_input && s->host->send_input;
}

rh_status rhk_send_input(rhk_session *s, rh_str data, bool close) {
  if (!rhk_can_send_input(s)) return rhk_fail(s, RH_ERR_UNSUPPORTED, "the host cannot write to the runtime's stdin (ABI < 1.2)");
  return s->host->send_input(s->host, s->run, data, close ? RH_INPUT_CLOSE : 0u);
}

rh_status rhk_end_input(rhk_session *s) {
  if (!rhk_can_send_input(s)) return rhk_fail(s, RH_ERR_UNSUPPORTED, "the host cannot write to the runtime's stdin (ABI < 1.2)");
  if (s->host->send_input(s->host, s->run, rhk_none(), RH_INPUT_CLOSE | RH_INPUT_END) == RH_OK) return RH_OK;
  return s->host->send_input(s->host, s->run, rhk_none(), RH_INPUT_CLOSE); /* a host without RH_INPUT_END */
}
