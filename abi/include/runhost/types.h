/* runhost/types.h — the value types every other runhost header uses: status codes, borrowed
 * string views and host-owned output sinks.
 *
 * Both the host and plugins use these; none of them owns memory across a call. A plugin that
 * returns text (a launch spec, a policy decision) never allocates it for the host: it writes
 * into an rh_writer the host hands in, so nothing is ever freed by the side that did not
 * allocate it.
 *
 *   static rh_status describe(rh_connector_instance *self, const rh_writer *out) {
 *     static const char json[] = "{\"id\":\"github\",\"name\":\"GitHub\"}";
 *     return out->write(out, json, sizeof json - 1);
 *   }
 *
 * Thread rules: the types themselves carry none; each function that takes them says its own.
 */
#ifndef RUNHOST_TYPES_H
#define RUNHOST_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"

RH_BEGIN_DECLS

/* Every fallible call returns an rh_status. RH_OK is zero; anything else is a failure whose
 * human-readable detail the failing side has set: a plugin through rh_host.set_error, the host
 * through rh_host.last_error. Codes are only ever appended. A plugin must treat an unknown
 * code from the host as RH_ERR_FAILED. */
typedef int32_t rh_status;
enum {
  RH_OK = 0,
  RH_ERR_INVALID_ARGUMENT = 1, /* the caller passed something malformed */
  RH_ERR_UNSUPPORTED = 2,      /* the callee does not implement this */
  RH_ERR_NO_MEMORY = 3,
  RH_ERR_NOT_FOUND = 4,
  RH_ERR_IO = 5,         /* a file, pipe or network operation failed */
  RH_ERR_TIMEOUT = 6,    /* a time limit passed */
  RH_ERR_CANCELLED = 7,  /* the operation was cancelled */
  RH_ERR_LIMIT = 8,      /* a size limit was reached (e.g. an rh_writer is full) */
  RH_ERR_FAILED = 9      /* anything else; the detail says what */
};

/* A borrowed string view: `len` bytes at `data`, not NUL-terminated, UTF-8 unless a field
 * says otherwise. Valid only for the duration of the call it is passed to; copy it to keep it.
 * {NULL, 0} is the empty string.
 *
 * Value type, frozen: never grows, so it carries no struct_size. */
typedef struct rh_str {
  const char *data;
  size_t len;
} rh_str;

/* An output sink owned by the host, handed to a plugin for the duration of one call.
 *
 * The plugin calls write() zero or more times; each call appends. write() returns RH_OK, or
 * RH_ERR_LIMIT once the host's limit for that output is reached (the plugin should then stop
 * and return RH_ERR_LIMIT itself). Thread: the thread of the call it was handed to. The
 * pointer is borrowed: invalid once that call returns. */
typedef struct rh_writer {
  uint32_t struct_size; /* sizeof(rh_writer), set by the host */
  void *host_data;      /* the host's; plugins never touch it */
  rh_status (*write)(const struct rh_writer *self, const char *data, size_t len);
} rh_writer;

/* Severity for rh_host.log; the host maps these onto its logger. */
typedef int32_t rh_log_level;
enum {
  RH_LOG_TRACE = 0,
  RH_LOG_DEBUG = 1,
  RH_LOG_INFO = 2,
  RH_LOG_WARN = 3,
  RH_LOG_ERROR = 4
};

/* Builds an rh_str from a string literal: RH_STR_LIT("hello"). */
#define RH_STR_LIT(s) {(s), sizeof(s) - 1}

RH_END_DECLS

#endif /* RUNHOST_TYPES_H */
