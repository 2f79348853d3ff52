/* runhost/lines.h — optional helper for runtime adapters: whole lines out of the chunks feed()
 * receives, with a bound on how long a line may grow.
 *
 * Not part of the binary interface: static inline functions over rh_json_buffer (json.h),
 * compiled into your plugin. feed() may hand an adapter any chunking — half a line, many lines,
 * a line split inside a UTF-8 sequence. An rh_lines per stream reassembles them and calls you
 * once per line (without its '\n'). A line longer than `limit` is passed on cut at the limit
 * with truncated = true, and the rest of it, up to its newline, is skipped: memory stays bounded
 * however long a runtime's line is.
 *
 *   static rh_status on_line(void *ctx, const char *line, size_t len, bool truncated) { ... }
 *   rh_lines out;
 *   rh_lines_init(&out, (size_t)1 << 20);
 *   rh_lines_feed(&out, data, len, on_line, session);   // in feed()
 *   rh_lines_flush(&out, on_line, session);             // in finish(): a last line without '\n'
 *   rh_lines_free(&out);                                // in destroy()
 *
 * Thread rules: none of its own; an rh_lines belongs to one session, used on its thread.
 */
#ifndef RUNHOST_LINES_H
#define RUNHOST_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "json.h"
#include "types.h"

typedef struct rh_lines {
  rh_json_buffer pending; /* the unfinished line: never more than `limit` bytes */
  size_t limit;           /* longest line passed on whole */
  bool dropping;          /* the current line was cut: skip the rest of it, up to its newline */
} rh_lines;

/* Called once per line; `line` is borrowed for the call. A failure is remembered and returned by
 * rh_lines_feed, which carries on with the next line (its bytes belong to other lines). */
typedef rh_status (*rh_line_fn)(void *ctx, const char *line, size_t len, bool truncated);

static inline void rh_lines_init(rh_lines *lines, size_t limit) {
  rh_json_buffer_init(&lines->pending);
  lines->limit = limit > 0 ? limit : 1;
  lines->dropping = false;
}

static inline void rh_lines_free(rh_lines *lines) { rh_json_buffer_free(&lines->pending); }

/* Takes `len` more bytes of the current line; `complete` when a newline followed them. */
static inline rh_status rh_lines_take_(rh_lines *lines, const char *data, size_t len, bool complete,
                                       rh_line_fn fn, void *ctx) {
  const bool cut = len > lines->limit - lines->pending.len;
  rh_status status;
  if (cut) len = lines->limit - lines->pending.len;
  if (lines->pending.len == 0 && (complete || cut)) { /* all of it is here: no copy */
    status = fn(ctx, data, len, cut);
  } else {
    status = rh_json_write_raw(&lines->pending.writer, data, len);
    if (status != RH_OK) return status;
    if (!complete && !cut) return RH_OK;
    status = fn(ctx, lines->pending.data, lines->pending.len, cut);
  }
  rh_json_buffer_reset(&lines->pending);
  lines->dropping = cut;
  return status;
}

/* Feeds a chunk; calls `fn` for each line it completes. Returns the first failure, if any. */
static inline rh_status rh_lines_feed(rh_lines *lines, const char *data, size_t len, rh_line_fn fn,
                                      void *ctx) {
  rh_status first_failure = RH_OK;
  while (len > 0) {
    const char *newline = (const char *)memchr(data, '\n', len);
    const size_t part = newline ? (size_t)(newline - data) : len;
    const size_t used = newline ? part + 1 : len;
    rh_status status = lines->dropping ? RH_OK : rh_lines_take_(lines, data, part, newline != NULL, fn, ctx);
    if (newline) lines->dropping = false;
    if (first_failure == RH_OK) first_failure = status;
    data += used;
    len -= used;
  }
  return first_failure;
}

/* Passes on a last line that had no newline (at the end of the output). */
static inline rh_status rh_lines_flush(rh_lines *lines, rh_line_fn fn, void *ctx) {
  rh_status status = RH_OK;
  if (lines->pending.len > 0) status = fn(ctx, lines->pending.data, lines->pending.len, false);
  rh_json_buffer_reset(&lines->pending);
  lines->dropping = false;
  return status;
}

#endif /* RUNHOST_LINES_H */
