/* codex_errors.c — which failure a codex error message means.
 *
 * `codex exec --json` says why a turn failed in words only: turn.failed {error: {message}}, the
 * `error` notices before it, and "Error: ..." on stderr when it fails before a turn starts. The
 * words are codex's own (its CodexErr display strings, 0.169) or the model API's error message
 * it passes on; the checks below go from the most specific wording to the HTTP status a message
 * names, then to broad families. docs/runtimes/codex.md has the table.
 */
#include <string.h>

#include "codex.h"

/* The plan's usage limit (ChatGPT sign-in): not a rate limit a retry soon would clear. */
static const rhk_failure k_usage_limit = {
    "quota_exceeded", "usage_limit", false, "request_quota", NULL,
    "the Codex plan's usage limit was reached: wait until it resets, or raise the plan"};

#define LOWERED_MAX 4096 /* codex cuts its error messages for display at 2 KiB */

/* `text` in ASCII lower case, NUL-terminated, cut at LOWERED_MAX bytes (and at a U+0000). */
static void lowered(rh_str text, char *out) {
  size_t n = text.len < LOWERED_MAX ? text.len : LOWERED_MAX, i;
  for (i = 0; i < n && text.data[i]; i++) {
    char c = text.data[i];
    out[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
  }
  out[i] = '\0';
}

/* Whether the lowered message holds one of the (lower-case) needles. */
static bool has_any(const char *lower, const char *const *needles, size_t count) {
  size_t i;
  for (i = 0; i < count; i++)
    if (strstr(lower, needles[i])) return true;
  return false;
}

/* The HTTP status after one of codex's markers ("last status: 429 Too Many Requests",
 * "unexpected status 401 Unauthorized: ...", "(status 403)"), or 0. */
static int64_t http_status_in(rh_str text) {
  static const char *const markers[] = {"last status: ", "unexpected status ", "(status "};
  size_t m, i, n;
  for (m = 0; m < sizeof markers / sizeof markers[0]; m++) {
    n = strlen(markers[m]);
    for (i = 0; i + n + 3 <= text.len; i++) {
      const char *d = text.data + i + n;
      if (memcmp(text.data + i, markers[m], n) != 0) continue;
      if (d[0] >= '1' && d[0] <= '5' && d[1] >= '0' && d[1] <= '9' && d[2] >= '0' && d[2] <= '9' &&
          (i + n + 3 == text.len || d[3] < '0' || d[3] > '9'))
        return (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    }
  }
  return 0;
}

rhk_failure codex_classify_error(rh_str message, rhk_failure_kind fallback, int64_t *http_status) {
  static const char *const session[] = {"no rollout found for thread id", "no thread with id", "thread/resume failed"};
  static const char *const context[] = {"context window", "context_length_exceeded", "maximum context length",
                                        "context length exceeded"};
  static const char *const billing[] = {"quota exceeded", "insufficient_quota", "exceeded your current quota",
                                        "out of credits", "spend cap", "upgrade to plus"};
  static const char *const usage_limit[] = {"hit your usage limit", "usage_limit_reached",
                                            "usage limit has been reached"};
  static const char *const auth[] = {"missing environment variable", "unauthorized", "forbidden", "invalid_api_key",
                                     "incorrect api key", "invalid api key", "access token", "refresh token",
                                     "log in again", "not logged in", "authentication"};
  static const char *const rate[] = {"too many requests", "rate limit", "rate_limit"};
  static const char *const unavailable[] = {"experiencing high demand", "at capacity", "overloaded",
                                            "stream disconnected", "connection failed",
                                            "error while reading the server response", "request timed out",
                                            "timeout waiting", "service unavailable"};
  static const char *const request[] = {"does not exist", "model_not_found", "not supported", "invalid_request",
                                        "invalid request", "image poisoning", "unsupported model"};
  static const char *const policy[] = {"sandbox denied", "blocked by policy"};
  static const char *const runtime[] = {"turn aborted", "interrupted", "fatal error", "agent loop died",
                                        "error loading config", "sandbox error", "unsupported operation"};
  char lower[LOWERED_MAX + 1];
  int64_t status = http_status_in(message);
  rhk_failure_kind kind;
  *http_status = status;
  lowered(message, lower);
#define HAS(list) has_any(lower, (list), sizeof(list) / sizeof((list)[0]))
  /* Wording that names the cause beats the status (a 400 may be the context window); the status
   * beats words a body may hold in passing (a 500's body may mention authentication). */
  if (HAS(session)) kind = RHK_FAIL_SESSION_NOT_FOUND;
  else if (HAS(context)) kind = RHK_FAIL_CONTEXT_LIMIT;
  else if (HAS(usage_limit)) return k_usage_limit;
  else if (HAS(billing)) kind = RHK_FAIL_BILLING;
  else if (status > 0) kind = rhk_failure_kind_for_http_status(status);
  else if (HAS(auth)) kind = RHK_FAIL_AUTH;
  else if (HAS(rate)) kind = RHK_FAIL_RATE_LIMITED;
  else if (HAS(unavailable)) kind = RHK_FAIL_MODEL_UNAVAILABLE;
  else if (HAS(request)) kind = RHK_FAIL_MODEL_REQUEST;
  else if (HAS(policy)) kind = RHK_FAIL_POLICY;
  else if (HAS(runtime)) kind = RHK_FAIL_RUNTIME;
  else kind = fallback;
#undef HAS
  return *rhk_failure_of(kind);
}
