/* runhost/exit.h — optional helpers for plugin authors: what a runtime's exit means when the
 * runtime said nothing of its own about how it ended.
 *
 * A convenience, not part of the binary interface (like json.h): header-only, C11 and the C
 * standard library, every function static inline. The host's own fallback, the bundled adapters
 * and the examples all use it, so every run that ends on its exit alone reads the same way:
 *
 *   kind          error code           retryable  recovery.action   message
 *   exited 0      (none: a success)
 *   exited N      runtime_error        no         retry             "PROG" exited with code N
 *   signaled S    runtime_crashed      yes        retry             "PROG" was killed by signal S
 *   spawn failed  runtime_not_found    no         install_runtime   could not start "PROG": WHY
 *   lost          device_lost          yes        resume_device     the device lost track of "PROG"
 *
 *   rh_exit_failure f = rh_exit_failure_of(exit);
 *   if (f.code) {
 *     rh_json_buffer message;
 *     rh_json_buffer_init(&message);
 *     rh_exit_write_message(exit, "make", &message.writer);   // "make" exited with code 3
 *     ... run.failed {error: {code: f.code, message, retryable: f.retryable,
 *                             recovery: {action: f.action}}, exit_code or signal}
 *   }
 *
 * Thread rules: none of its own.
 */
#ifndef RUNHOST_EXIT_H
#define RUNHOST_EXIT_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "types.h"

RH_BEGIN_DECLS

typedef struct rh_exit_failure {
  const char *code;   /* the unified error code; NULL when the exit is a success (code 0) */
  bool retryable;
  const char *action; /* recovery.action; NULL with code */
} rh_exit_failure;

static inline rh_exit_failure rh_exit_failure_of(const rh_exit *exit) {
  rh_exit_failure f = {"runtime_error", false, "retry"};
  switch (exit->kind) {
    case RH_EXIT_EXITED:
      if (exit->code == 0) f.code = NULL, f.action = NULL;
      break;
    case RH_EXIT_SIGNALED:
      f.code = "runtime_crashed", f.retryable = true;
      break;
    case RH_EXIT_SPAWN_FAILED:
      f.code = "runtime_not_found", f.action = "install_runtime";
      break;
    case RH_EXIT_LOST:
      f.code = "device_lost", f.retryable = true, f.action = "resume_device";
      break;
    default:
      break;
  }
  return f;
}

/* Why a program could not be started, from the errno a spawn failure carries; NULL for one this
 * table does not know (the message then says "errno N"). */
static inline const char *rh_exit_spawn_reason(int error) {
  switch (error) {
#ifdef ENOENT
    case ENOENT: return "not found (is it installed, and on PATH?)";
#endif
#ifdef EACCES
    case EACCES: return "permission denied";
#endif
#ifdef ENOEXEC
    case ENOEXEC: return "not an executable format";
#endif
#ifdef ENOTDIR
    case ENOTDIR: return "a path component is not a directory";
#endif
#ifdef ELOOP
    case ELOOP: return "too many symbolic links";
#endif
#ifdef ENAMETOOLONG
    case ENAMETOOLONG: return "name too long";
#endif
#ifdef E2BIG
    case E2BIG: return "argument list too long";
#endif
#ifdef ENOMEM
    case ENOMEM: return "out of memory";
#endif
#ifdef ETXTBSY
    case ETXTBSY: return "text file busy";
#endif
    default: return NULL;
  }
}

static inline void rh_exit_impl_put(const rh_writer *out, rh_status *status, const char *text) {
  size_t n = strlen(text);
  if (*status == RH_OK && n > 0) *status = out->write(out, text, n);
}

/* Writes the message of the table above onto `out` (plain text, not JSON-escaped); `program` is
 * the name to show, quoted ("the runtime", unquoted, when NULL). */
static inline rh_status rh_exit_write_message(const rh_exit *exit, const char *program, const rh_writer *out) {
  char text[96];
  const char *quote = program ? "\"" : "", *reason;
  rh_status status = RH_OK;
  if (!program) program = "the runtime";
  text[0] = '\0';
  if (exit->kind == RH_EXIT_SPAWN_FAILED) rh_exit_impl_put(out, &status, "could not start ");
  if (exit->kind == RH_EXIT_LOST) rh_exit_impl_put(out, &status, "the device lost track of ");
  rh_exit_impl_put(out, &status, quote);
  rh_exit_impl_put(out, &status, program);
  rh_exit_impl_put(out, &status, quote);
  switch (exit->kind) {
    case RH_EXIT_EXITED:
      snprintf(text, sizeof text, " exited with code %d", (int)exit->code);
      break;
    case RH_EXIT_SIGNALED:
      snprintf(text, sizeof text, " was killed by signal %d", (int)exit->signal);
      break;
    case RH_EXIT_SPAWN_FAILED:
      if ((reason = rh_exit_spawn_reason((int)exit->code))) snprintf(text, sizeof text, ": %s", reason);
      else snprintf(text, sizeof text, ": errno %d", (int)exit->code);
      break;
    case RH_EXIT_LOST:
      break;
    default:
      snprintf(text, sizeof text, " ended in a way this host does not know (exit kind %d)", (int)exit->kind);
  }
  rh_exit_impl_put(out, &status, text);
  return status;
}

RH_END_DECLS

#endif /* RUNHOST_EXIT_H */
