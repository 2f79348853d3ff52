/* opencode_ending.c — how an opencode run ended.
 *
 * `opencode run --format json` prints no result line. It prints an `error` line for every error
 * its session reports (and then exits 1), and otherwise stops when the agent loop goes idle and
 * exits 0. So the ending is decided once the process has exited and every line was mapped:
 *
 *   an error line             run.failed, typed by the error's name and HTTP status (the first
 *                             one: later ones are system messages)
 *   exit 0, last step "stop"  run.completed {result: the last step's text}, unless the run needed
 *                             more steps than max_turns (turn_limit)
 *   exit 0, last step
 *     "length"                run.failed output_limit: the reply was cut at the model's limit
 *     "tool-calls"            the loop stopped after a tool call: a permission opencode run
 *                             could not ask for (policy_denied), else no final answer (no_result)
 *   exit 0, no finished step  run.failed no_result (retryable)
 *   exit N != 0, no error     run.failed runtime_error with the last stderr line;
 *                             "Session not found" is session_not_found
 *   a signal, a lost process  runtime_crashed, device_lost (the kit)
 *
 * docs/runtimes/opencode.md has the tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencode.h"

static const rhk_failure k_content_filter = {
    "model_api_error", "content_filter", false, "retry", NULL,
    "the model provider's content filter blocked the reply: change the prompt or the model"};
static const rhk_failure k_output_limit = {
    "runtime_error", "output_limit", false, "retry", NULL,
    "the model's reply was cut at its output token limit: raise the model's limit or ask for less at once"};
static const rhk_failure k_aborted = {"runtime_error", "aborted", true, "retry", NULL,
                                      "the model request was aborted before it finished"};
static const rhk_failure k_refused = {
    "policy_denied", "runtime_policy", false, "review_policy", NULL,
    "opencode run cannot ask for a permission, so it rejects it: allow it in the opencode config's "
    "\"permission\" or set permission_mode \"auto\" (rules that deny still apply)"};
static const rhk_failure k_no_answer = {
    "runtime_error", "no_result", true, "retry", NULL,
    "opencode stopped after a tool call without a final answer; its output so far is kept"};

static bool is_string(rh_str v) { return v.len >= 2 && v.data[0] == '"'; }

static bool contains(rh_str hay, const char *needle) {
  size_t n = strlen(needle);
  const char *p = hay.data, *end = hay.data + hay.len;
  while (p && (size_t)(end - p) >= n) {
    if (memcmp(p, needle, n) == 0) return true;
    p = (const char *)memchr(p + 1, needle[0], (size_t)(end - p - 1));
  }
  return false;
}

/* A failure kind, with the session's usage source where its recovery names one. */
static rhk_failure failure_of(const rh_runtime_session *s, rhk_failure_kind kind) {
  rhk_failure f = *rhk_failure_of(kind);
  if (kind == RHK_FAIL_RATE_LIMITED || kind == RHK_FAIL_BILLING || kind == RHK_FAIL_BUDGET_LIMIT)
    f.usage_source = s->options.usage_source;
  return f;
}

/* ---- Error lines --------------------------------------------------------------------------- */

/* The failure an error's name (and, for APIError, its HTTP status) implies. */
static rhk_failure classify(const rh_runtime_session *s, rh_str name, rh_str status, rh_str retryable,
                            rh_str message, rh_str body) {
  int64_t code = rhk_json_int(status, 0);
  if (rhk_json_is(name, "APIError")) {
    /* OpenAI's "out of credit" is a 429 too: it is billing, not a rate limit. */
    if (contains(body, "insufficient_quota") || contains(message, "insufficient_quota") ||
        contains(message, "credit balance"))
      return failure_of(s, RHK_FAIL_BILLING);
    if (contains(body, "context_length_exceeded")) return failure_of(s, RHK_FAIL_CONTEXT_LIMIT);
    if (code > 0) return failure_of(s, rhk_failure_kind_for_http_status(code));
    /* No status: the request never got an answer (connection refused, reset, a timeout). */
    return failure_of(s, retryable.len == 4 && memcmp(retryable.data, "true", 4) == 0 ? RHK_FAIL_MODEL_UNAVAILABLE
                                                                                       : RHK_FAIL_MODEL_API);
  }
  if (rhk_json_is(name, "ProviderAuthError")) return failure_of(s, RHK_FAIL_AUTH);
  if (rhk_json_is(name, "ContextOverflowError")) return failure_of(s, RHK_FAIL_CONTEXT_LIMIT);
  if (rhk_json_is(name, "ContentFilterError")) return k_content_filter;
  if (rhk_json_is(name, "MessageOutputLengthError")) return k_output_limit;
  if (rhk_json_is(name, "MessageAbortedError")) return k_aborted;
  return failure_of(s, RHK_FAIL_RUNTIME); /* UnknownError, StructuredOutputError, config errors... */
}

/* The message for people: what the error says, with the HTTP status or the provider. */
static rh_status write_message(rh_json_buffer *out, rh_str name, rh_str data_message, rh_str status, rh_str provider) {
  const rh_writer *w = &out->writer;
  char text[64];
  int64_t code = rhk_json_int(status, 0);
  rh_status st = RH_OK;
  rh_json_buffer_reset(out);
  if (rhk_json_is(name, "APIError")) {
    if (code > 0) snprintf(text, sizeof text, "model API error (HTTP %lld): ", (long long)code);
    else snprintf(text, sizeof text, "model API error: ");
    st = rh_json_write_cstr(w, text);
  } else if (rhk_json_is(name, "ProviderAuthError")) {
    st = rh_json_write_cstr(w, "the model provider ");
    if (st == RH_OK && is_string(provider)) st = rhk_json_decode(provider, out);
    if (st == RH_OK) st = rh_json_write_cstr(w, " refused the credentials: ");
  } else if (is_string(name)) {
    st = rhk_json_decode(name, out);
    if (st == RH_OK) st = rh_json_write_cstr(w, ": ");
  }
  if (st == RH_OK && is_string(data_message)) st = rhk_json_decode(data_message, out);
  else if (st == RH_OK) st = rh_json_write_cstr(w, "(no message)");
  return st;
}

rh_status opencode_map_error(rh_runtime_session *s, rh_str error, rh_str raw) {
  static const char *const names[] = {"name", "data"};
  static const char *const data_names[] = {"message", "statusCode", "isRetryable", "responseBody", "providerID"};
  rh_str v[2], d[5] = {{NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}, {NULL, 0}};
  rh_json_buffer *body = &s->build;
  rh_status status;
  if (rhk_json_pick(error, names, 2, v) != RH_OK || !is_string(v[0]))
    return rhk_emit_unparsed(&s->kit, RH_STREAM_STDOUT, raw.data, raw.len, false, "error without a name", rhk_none());
  if (v[1].data && v[1].data[0] == '{') (void)rhk_json_pick(v[1], data_names, 5, d);
  /* Each error is said when it happens; the first one is also the run's failure at exit. */
  if (write_message(&s->text, v[0], d[0], d[1], d[4]) != RH_OK) return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory");
  if ((status = rhk_emit_message(&s->kit, "system", rhk_str(s->text.data, s->text.len), false, false, raw)) != RH_OK)
    return status;
  if (s->error_seen) return RH_OK; /* the run already failed: a later error is news, not the cause */
  rh_json_buffer_reset(body);
  if (is_string(d[3]) && rhk_json_decode(d[3], body) != RH_OK) return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory");
  s->error_seen = true;
  s->error_failure = classify(s, v[0], d[1], d[2], d[0], rhk_str(body->data ? body->data : "", body->len));
  s->api_status = rhk_json_is(v[0], "APIError") ? rhk_json_int(d[1], 0) : 0;
  rh_json_buffer_reset(&s->error_line);
  status = write_message(&s->error_message, v[0], d[0], d[1], d[4]);
  if (status == RH_OK) status = rh_json_write_raw(&s->error_line.writer, raw.data, raw.len);
  return status == RH_OK ? RH_OK : rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory keeping the error");
}

/* ---- The ending ---------------------------------------------------------------------------- */

/* Members of every terminal payload the adapter decides: num_turns (the steps), api_status. */
static rh_str terminal_extra(rh_runtime_session *s, bool with_status) {
  const rh_writer *w = &s->extra.writer;
  bool first = true;
  rh_json_buffer_reset(&s->extra);
  if (s->steps > 0) {
    if (rhk_write_int_member(w, first, "num_turns", s->steps)) return rhk_none();
    first = false;
  }
  if (with_status && s->api_status > 0 && rhk_write_int_member(w, first, "api_status", s->api_status)) return rhk_none();
  return rhk_str(s->extra.data ? s->extra.data : "", s->extra.len);
}

static rh_status hold(rh_runtime_session *s, const rhk_failure *f, const char *message) {
  return rhk_hold_failure_with(&s->kit, f, rhk_cstr(message), terminal_extra(s, false), rhk_none());
}

static rh_status hold_exit_zero(rh_runtime_session *s) {
  const opencode_options *o = &s->options;
  const char *reason = s->reason;
  char message[OPENCODE_NOTE_MAX + 160];
  rhk_failure f;
  if (o->max_turns > 0 && s->steps > o->max_turns) {
    f = failure_of(s, RHK_FAIL_TURN_LIMIT);
    snprintf(message, sizeof message, "the run needed more than its %lld turns (max_turns); opencode made it stop",
             (long long)o->max_turns);
    return hold(s, &f, message);
  }
  if (strcmp(reason, "length") == 0) return hold(s, &k_output_limit, "the model's last reply was cut at its output limit");
  if (strcmp(reason, "content-filter") == 0) return hold(s, &k_content_filter, "the model provider's content filter blocked the reply");
  if (strcmp(reason, "error") == 0) {
    f = failure_of(s, RHK_FAIL_MODEL_API);
    return hold(s, &f, "the model's last reply ended with an error");
  }
  if (strcmp(reason, "tool-calls") == 0 || strcmp(reason, "unknown") == 0) {
    if (s->step_refused || s->rejected[0]) {
      if (s->rejected[0]) snprintf(message, sizeof message, "a permission was rejected (nobody to ask): %s", s->rejected);
      else snprintf(message, sizeof message, "a permission rule refused a tool call, and opencode stopped");
      return hold(s, &k_refused, message);
    }
    return hold(s, &k_no_answer, "exited after a tool call without a final answer");
  }
  return rhk_hold_completed(&s->kit, rhk_str(s->result.data ? s->result.data : "", s->result.len), s->has_result, -1,
                            terminal_extra(s, false), rhk_none());
}

rh_status opencode_decide(rh_runtime_session *s, const rh_exit *exit) {
  rhk_session *kit = &s->kit;
  if (s->error_seen)
    return rhk_hold_failure_with(kit, &s->error_failure, rhk_str(s->error_message.data, s->error_message.len),
                                 terminal_extra(s, true), rhk_str(s->error_line.data, s->error_line.len));
  if (exit->kind != RH_EXIT_EXITED) return RH_OK; /* a signal, a lost process, no process: the kit says which */
  if (exit->code != 0) {
    if (s->steps == 0 && kit->last_stderr && strstr(kit->last_stderr, "Session not found")) {
      rhk_failure f = *rhk_failure_of(RHK_FAIL_SESSION_NOT_FOUND);
      char message[700];
      if (kit->resume_id) snprintf(message, sizeof message, "no session %.512s to resume (opencode: Session not found)", kit->resume_id);
      else snprintf(message, sizeof message, "the session to resume was not found (opencode: Session not found)");
      (void)rhk_set_session_id(kit, rhk_none(), true); /* no session to resume: do not offer one */
      return hold(s, &f, message);
    }
    return RH_OK; /* the kit: runtime_error, exit code and the last stderr line */
  }
  if (!s->step_finished || s->step_open) return RH_OK; /* the kit: no_result, retryable */
  return hold_exit_zero(s);
}
