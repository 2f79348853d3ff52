/* runhost/json.h — optional JSON helpers for plugin authors: a small reader and a writer.
 *
 * A convenience, not part of the binary interface: no ABI type or function refers to it,
 * runhost.h does not include it, and a plugin may use any JSON library instead. Header-only,
 * C11 and the C standard library; every function is static inline, so each plugin compiles its
 * own copy. The reader works on views: a value is an rh_str holding exactly the bytes of one
 * JSON value inside the caller's text, valid as long as that text is. It never reads past a
 * view's length, nests at most RH_JSON_MAX_DEPTH deep, and answers malformed input with
 * RH_ERR_INVALID_ARGUMENT. The writer escapes strings onto any rh_writer and replaces invalid
 * UTF-8 with U+FFFD, so what it writes is always valid JSON; rh_json_buffer is an rh_writer
 * that collects into memory (for rh_event payloads, say).
 *
 *   rh_str doc, command;
 *   char text[256];
 *   if (rh_json_parse(request_json, &doc) == RH_OK &&
 *       rh_json_find_path(doc, "action.input.command", &command) == RH_OK &&
 *       rh_json_string(command, text, sizeof text, NULL) == RH_OK) {
 *     rh_json_write_cstr(out, "{\"seen\":");
 *     rh_json_write_string(out, text, strlen(text));
 *     rh_json_write_cstr(out, "}");
 *   }
 *
 * Thread rules: none of its own; each function touches only what it is handed.
 */
#ifndef RUNHOST_JSON_H
#define RUNHOST_JSON_H

#include <float.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

RH_BEGIN_DECLS

/* Arrays and objects nested deeper than this are refused, which bounds the reader's stack. */
#define RH_JSON_MAX_DEPTH 64

typedef enum rh_json_type {
  RH_JSON_INVALID = 0,
  RH_JSON_NULL,
  RH_JSON_BOOL,
  RH_JSON_NUMBER,
  RH_JSON_STRING,
  RH_JSON_ARRAY,
  RH_JSON_OBJECT
} rh_json_type;

/* A walk over the elements of an array or the members of an object: rh_json_iter_begin, then
 * rh_json_iter_next until it returns false, then `status` says whether the walk ended at the
 * closing bracket (RH_OK) or at malformed text (RH_ERR_INVALID_ARGUMENT). */
typedef struct rh_json_iter {
  const char *pos; /* where the next element starts; NULL once the walk has ended */
  const char *end;
  const char *after; /* just past the closing bracket, once reached */
  char close;        /* ']' or '}' */
  bool started;      /* an element has been read, so the next one needs a comma */
  int depth;         /* this container's nesting, counted against RH_JSON_MAX_DEPTH */
  rh_status status;
} rh_json_iter;

/* ---- Reader ---------------------------------------------------------------------------- */

static inline const char *rh_json_impl_skip_space(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static inline const char *rh_json_impl_digits(const char *p, const char *end) {
  while (p < end && *p >= '0' && *p <= '9') p++;
  return p;
}

/* Past a number in JSON's grammar (no leading zeros, no bare '.'), or NULL. */
static inline const char *rh_json_impl_number(const char *p, const char *end) {
  const char *digits;
  if (p < end && *p == '-') p++;
  if (p < end && *p == '0') p++;
  else if (p == (digits = rh_json_impl_digits(p, end))) return NULL;
  else p = digits;
  if (p < end && *p == '.') {
    if ((digits = rh_json_impl_digits(p + 1, end)) == p + 1) return NULL;
    p = digits;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    if (++p < end && (*p == '+' || *p == '-')) p++;
    if (p == (digits = rh_json_impl_digits(p, end))) return NULL;
    p = digits;
  }
  return p;
}

static inline long rh_json_impl_hex4(const char *p, const char *end) {
  long value = 0;
  int i;
  for (i = 0; i < 4; i++) {
    char c = end - p > i ? p[i] : 0;
    int digit = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

static inline int rh_json_impl_encode_utf8(unsigned long cp, char out[4]) {
  static const unsigned char lead[] = {0, 0, 0xC0, 0xE0, 0xF0};
  int len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4, i;
  for (i = len - 1; i > 0; i--, cp >>= 6) out[i] = (char)(0x80 | (cp & 0x3F));
  out[0] = (char)(lead[len] | cp);
  return len;
}

/* Reads one character of a string body at *pp into `out` as UTF-8 and moves past it. Returns
 * its length (1-4), 0 after the closing quote, -1 on malformed text. Raw bytes pass through,
 * a lead byte together with its continuation bytes; a lone surrogate escape becomes U+FFFD. */
static inline int rh_json_impl_next_char(const char **pp, const char *end, char out[4]) {
  static const char escapes[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
  const char *p = *pp, *simple;
  unsigned char c;
  long cp, low;
  int n = 1;
  if (p >= end || (c = (unsigned char)*p) < 0x20) return -1;
  if (c == '"') return *pp = p + 1, 0;
  if (c != '\\') {
    out[0] = (char)c;
    while (c >= 0xC0 && n < 4 && p + n < end && ((unsigned char)p[n] & 0xC0) == 0x80) {
      out[n] = p[n];
      n++;
    }
    return *pp = p + n, n;
  }
  if (++p == end) return -1;
  if (*p != 'u') {
    if (!(simple = (const char *)memchr(escapes, *p, sizeof escapes - 1))) return -1;
    out[0] = decoded[simple - escapes];
    return *pp = p + 1, 1;
  }
  if ((cp = rh_json_impl_hex4(p + 1, end)) < 0) return -1;
  p += 5;
  if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
      (low = rh_json_impl_hex4(p + 2, end)) >= 0xDC00 && low <= 0xDFFF) {
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    p += 6;
  }
  if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
  *pp = p;
  return rh_json_impl_encode_utf8((unsigned long)cp, out);
}

/* Past a string (p at its opening quote), or NULL when malformed. Accepts exactly what
 * rh_json_impl_next_char does, without decoding: the reader skips far more strings than it
 * reads, so this is the loop most of its time goes to. */
static inline const char *rh_json_impl_string(const char *p, const char *end) {
  static const char escapes[] = "\"\\/bfnrt";
  unsigned char c;
  if (p == end || *p != '"') return NULL;
  for (p++;;) {
    while (p < end && (c = (unsigned char)*p) >= 0x20 && c != '"' && c != '\\') p++;
    if (p == end || (unsigned char)*p < 0x20) return NULL;
    if (*p == '"') return p + 1;
    if (++p == end) return NULL;
    if (*p == 'u') {
      if (rh_json_impl_hex4(p + 1, end) < 0) return NULL;
      p += 5;
    } else if (memchr(escapes, *p, sizeof escapes - 1)) {
      p++;
    } else {
      return NULL;
    }
  }
}

static inline const char *rh_json_impl_word(const char *p, const char *end, const char *word) {
  size_t n = strlen(word);
  return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* The type of a value view, judged by its first byte; RH_JSON_INVALID for an empty view. */
static inline rh_json_type rh_json_type_of(rh_str value) {
  if (value.len == 0) return RH_JSON_INVALID;
  switch (value.data[0]) {
  case '"': return RH_JSON_STRING;
  case '{': return RH_JSON_OBJECT;
  case '[': return RH_JSON_ARRAY;
  case 't':
  case 'f': return RH_JSON_BOOL;
  case 'n': return RH_JSON_NULL;
  default:
    return value.data[0] == '-' || (value.data[0] >= '0' && value.data[0] <= '9') ? RH_JSON_NUMBER
                                                                                  : RH_JSON_INVALID;
  }
}

/* Starts a walk over an array or object. RH_ERR_INVALID_ARGUMENT when it is neither. */
static inline rh_status rh_json_iter_begin(rh_json_iter *it, rh_str container) {
  rh_json_type type = rh_json_type_of(container);
  if (type != RH_JSON_ARRAY && type != RH_JSON_OBJECT) return RH_ERR_INVALID_ARGUMENT;
  it->pos = container.data + 1;
  it->end = container.data + container.len;
  it->after = NULL;
  it->close = container.data[0] == '[' ? ']' : '}';
  it->started = false;
  it->depth = 1;
  it->status = RH_OK;
  return RH_OK;
}

static inline bool rh_json_iter_next(rh_json_iter *it, rh_str *key, rh_str *value);

/* Past the value at p (after any whitespace), or NULL when it is malformed or too deep. */
static inline const char *rh_json_impl_skip(const char *p, const char *end, int depth) {
  rh_json_iter it;
  rh_str container;
  p = rh_json_impl_skip_space(p, end);
  if (p == end) return NULL;
  switch (*p) {
  case '"': return rh_json_impl_string(p, end);
  case 't': return rh_json_impl_word(p, end, "true");
  case 'f': return rh_json_impl_word(p, end, "false");
  case 'n': return rh_json_impl_word(p, end, "null");
  case '[':
  case '{':
    if (depth >= RH_JSON_MAX_DEPTH) return NULL;
    container.data = p;
    container.len = (size_t)(end - p);
    rh_json_iter_begin(&it, container);
    it.depth = depth + 1;
    while (rh_json_iter_next(&it, NULL, NULL)) {}
    return it.status == RH_OK ? it.after : NULL;
  default: return rh_json_impl_number(p, end);
  }
}

static inline bool rh_json_impl_iter_fail(rh_json_iter *it) {
  it->pos = NULL;
  it->status = RH_ERR_INVALID_ARGUMENT;
  return false;
}

/* Checks that `text` is exactly one JSON value (whitespace around it allowed) and sets *value
 * to its view. RH_OK or RH_ERR_INVALID_ARGUMENT. */
static inline rh_status rh_json_parse(rh_str text, rh_str *value) {
  const char *begin = text.data ? text.data : "", *end = begin + (text.data ? text.len : 0);
  const char *after = rh_json_impl_skip(begin, end, 0);
  if (!after || rh_json_impl_skip_space(after, end) != end) return RH_ERR_INVALID_ARGUMENT;
  value->data = rh_json_impl_skip_space(begin, end);
  value->len = (size_t)(after - value->data);
  return RH_OK;
}

/* Reads the next element into *value (and, in an object, the member's name into *key, as a
 * string view, quotes included); either may be NULL. False at the end or on malformed text. */
static inline bool rh_json_iter_next(rh_json_iter *it, rh_str *key, rh_str *value) {
  const char *end = it->end, *p, *start;
  if (!it->pos) return false;
  p = rh_json_impl_skip_space(it->pos, end);
  if (p < end && *p == it->close) {
    it->pos = NULL;
    it->after = p + 1;
    return false;
  }
  if (it->started && (p == end || *p++ != ',')) return rh_json_impl_iter_fail(it);
  if (it->close == '}') {
    start = rh_json_impl_skip_space(p, end);
    if (!(p = rh_json_impl_string(start, end))) return rh_json_impl_iter_fail(it);
    if (key) {
      key->data = start;
      key->len = (size_t)(p - start);
    }
    p = rh_json_impl_skip_space(p, end);
    if (p == end || *p++ != ':') return rh_json_impl_iter_fail(it);
  }
  start = rh_json_impl_skip_space(p, end);
  if (!(p = rh_json_impl_skip(start, end, it->depth))) return rh_json_impl_iter_fail(it);
  if (value) {
    value->data = start;
    value->len = (size_t)(p - start);
  }
  it->pos = p;
  it->started = true;
  return true;
}

/* Whether a string value decodes to exactly the `len` bytes at `text`. */
static inline bool rh_json_equals(rh_str string, const char *text, size_t len) {
  const char *p, *end;
  char c[4];
  int n = -1;
  if (rh_json_type_of(string) != RH_JSON_STRING) return false;
  for (p = string.data + 1, end = string.data + string.len;
       (n = rh_json_impl_next_char(&p, end, c)) > 0; text += n, len -= (size_t)n) {
    if ((size_t)n > len || memcmp(c, text, (size_t)n) != 0) return false;
  }
  return n == 0 && len == 0;
}

static inline rh_status rh_json_impl_find(rh_str object, const char *key, size_t key_len,
                                          rh_str *value) {
  rh_json_iter it;
  rh_str name, member, match = {NULL, 0};
  if (rh_json_type_of(object) != RH_JSON_OBJECT || rh_json_iter_begin(&it, object) != RH_OK)
    return RH_ERR_INVALID_ARGUMENT;
  /* Every member is read, so a malformed object fails, and the last duplicate wins, as it
   * does in the host's parser: a policy must judge the value the host will act on. */
  while (rh_json_iter_next(&it, &name, &member))
    if (rh_json_equals(name, key, key_len)) match = member;
  if (it.status != RH_OK) return it.status;
  if (!match.data) return RH_ERR_NOT_FOUND;
  *value = match;
  return RH_OK;
}

/* Finds member `key` of an object. RH_ERR_NOT_FOUND when absent; RH_ERR_INVALID_ARGUMENT when
 * `object` is not a well-formed object. */
static inline rh_status rh_json_find(rh_str object, const char *key, rh_str *value) {
  return rh_json_impl_find(object, key, strlen(key), value);
}

/* Finds several members of an object in one walk (rh_json_find walks the whole object for each):
 * values[i] becomes member keys[i] (the last of duplicates, as with rh_json_find), or {NULL, 0}
 * when there is none. RH_ERR_INVALID_ARGUMENT when `object` is not a well-formed object. */
static inline rh_status rh_json_find_each(rh_str object, const char *const *keys, size_t count,
                                          rh_str *values) {
  rh_json_iter it;
  rh_str name, member;
  size_t i;
  for (i = 0; i < count; i++) values[i].data = NULL, values[i].len = 0;
  if (rh_json_type_of(object) != RH_JSON_OBJECT || rh_json_iter_begin(&it, object) != RH_OK)
    return RH_ERR_INVALID_ARGUMENT;
  while (rh_json_iter_next(&it, &name, &member))
    for (i = 0; i < count; i++)
      if (rh_json_equals(name, keys[i], strlen(keys[i]))) values[i] = member;
  if (it.status != RH_OK) {
    for (i = 0; i < count; i++) values[i].data = NULL, values[i].len = 0;
    return it.status;
  }
  return RH_OK;
}

/* Follows a dotted path of member names ("action.input.command"). A step whose value is not
 * an object counts as RH_ERR_NOT_FOUND; names containing '.' need rh_json_find. */
static inline rh_status rh_json_find_path(rh_str object, const char *path, rh_str *value) {
  for (;;) {
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    rh_status status = rh_json_impl_find(object, path, len, &object);
    if (status != RH_OK) return status;
    if (!dot) break;
    if (rh_json_type_of(object) != RH_JSON_OBJECT) return RH_ERR_NOT_FOUND;
    path = dot + 1;
  }
  *value = object;
  return RH_OK;
}

/* Decodes a string value into `buf` (NUL-terminated when cap > 0; buf may be NULL when cap is
 * 0) and sets *len, when non-NULL, to the full decoded length. RH_ERR_LIMIT when it did not fit:
 * `buf` then holds the whole characters that did. RH_ERR_INVALID_ARGUMENT when not a string. */
static inline rh_status rh_json_string(rh_str value, char *buf, size_t cap, size_t *len) {
  const char *p, *end;
  size_t stored = 0, total = 0;
  bool fits = true;
  char c[4];
  int n;
  if (rh_json_type_of(value) != RH_JSON_STRING) return RH_ERR_INVALID_ARGUMENT;
  for (p = value.data + 1, end = value.data + value.len;
       (n = rh_json_impl_next_char(&p, end, c)) > 0; total += (size_t)n) {
    fits = fits && stored + (size_t)n < cap;
    if (fits) {
      memcpy(buf + stored, c, (size_t)n);
      stored += (size_t)n;
    }
  }
  if (n < 0) return RH_ERR_INVALID_ARGUMENT;
  if (cap > 0) buf[stored] = '\0';
  if (len) *len = total;
  return fits ? RH_OK : RH_ERR_LIMIT;
}

/* Decodes a string value into a malloc'd, NUL-terminated copy (free() it); *len, when non-NULL,
 * gets its length. RH_ERR_NO_MEMORY or RH_ERR_INVALID_ARGUMENT on failure. */
static inline rh_status rh_json_string_dup(rh_str value, char **out, size_t *len) {
  size_t total;
  char *copy;
  rh_status status = rh_json_string(value, NULL, 0, &total);
  if (status != RH_OK && status != RH_ERR_LIMIT) return status;
  if (total == SIZE_MAX || !(copy = (char *)malloc(total + 1))) return RH_ERR_NO_MEMORY;
  rh_json_string(value, copy, total + 1, NULL);
  *out = copy;
  if (len) *len = total;
  return RH_OK;
}

static inline void rh_json_string_array_free(char **strings, size_t count) {
  size_t i;
  for (i = 0; strings && i < count; i++) free(strings[i]);
  free(strings);
}

/* Copies an array of strings: *out gets *count malloc'd C strings and a NULL after them (free
 * with rh_json_string_array_free). RH_ERR_INVALID_ARGUMENT when `array` is not an array of
 * strings or one holds U+0000, which a C string cannot carry; RH_ERR_NO_MEMORY. */
static inline rh_status rh_json_string_array_dup(rh_str array, char ***out, size_t *count) {
  rh_json_iter it;
  rh_str item;
  char **strings;
  size_t n = 0, i, len;
  if (rh_json_type_of(array) != RH_JSON_ARRAY) return RH_ERR_INVALID_ARGUMENT;
  for (rh_json_iter_begin(&it, array); rh_json_iter_next(&it, NULL, &item); n++)
    if (rh_json_type_of(item) != RH_JSON_STRING) return RH_ERR_INVALID_ARGUMENT;
  if (it.status != RH_OK) return it.status;
  if (!(strings = (char **)calloc(n + 1, sizeof *strings))) return RH_ERR_NO_MEMORY;
  for (i = 0, rh_json_iter_begin(&it, array); rh_json_iter_next(&it, NULL, &item); i++) {
    rh_status status = rh_json_string_dup(item, &strings[i], &len);
    if (status == RH_OK && strlen(strings[i]) != len) status = RH_ERR_INVALID_ARGUMENT;
    if (status != RH_OK) {
      rh_json_string_array_free(strings, n);
      return status;
    }
  }
  *out = strings;
  *count = n;
  return RH_OK;
}

static inline rh_status rh_json_bool(rh_str value, bool *out) {
  if (value.len == 4 && memcmp(value.data, "true", 4) == 0) return *out = true, RH_OK;
  if (value.len == 5 && memcmp(value.data, "false", 5) == 0) return *out = false, RH_OK;
  return RH_ERR_INVALID_ARGUMENT;
}

/* An integer without fraction or exponent, within int64_t; RH_ERR_INVALID_ARGUMENT otherwise. */
static inline rh_status rh_json_int64(rh_str value, int64_t *out) {
  const char *p, *end;
  uint64_t magnitude = 0, limit;
  bool negative;
  p = value.data;
  end = p + value.len;
  if (rh_json_impl_number(p, end) != end || value.len == 0) return RH_ERR_INVALID_ARGUMENT;
  negative = *p == '-';
  limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  if (negative) p++;
  for (; p < end; p++) {
    uint64_t digit = (uint64_t)(*p - '0');
    if (*p < '0' || *p > '9' || magnitude > (limit - digit) / 10) return RH_ERR_INVALID_ARGUMENT;
    magnitude = magnitude * 10 + digit;
  }
  *out = !negative ? (int64_t)magnitude : magnitude == 0 ? 0 : -(int64_t)(magnitude - 1) - 1;
  return RH_OK;
}

/* Any number, via strtod, which follows LC_NUMERIC: runhost leaves it at "C". Numbers longer
 * than 63 characters, or beyond double's range, are RH_ERR_LIMIT. */
static inline rh_status rh_json_double(rh_str value, double *out) {
  char text[64];
  double number;
  if (rh_json_impl_number(value.data, value.data + value.len) != value.data + value.len ||
      value.len == 0)
    return RH_ERR_INVALID_ARGUMENT;
  if (value.len >= sizeof text) return RH_ERR_LIMIT;
  memcpy(text, value.data, value.len);
  text[value.len] = '\0';
  number = strtod(text, NULL);
  if (number > DBL_MAX || number < -DBL_MAX) return RH_ERR_LIMIT;
  *out = number;
  return RH_OK;
}

/* ---- Writer ---------------------------------------------------------------------------- */

static inline rh_status rh_json_write_raw(const rh_writer *out, const char *data, size_t len) {
  return len > 0 ? out->write(out, data, len) : RH_OK;
}

static inline rh_status rh_json_write_cstr(const rh_writer *out, const char *text) {
  return rh_json_write_raw(out, text, strlen(text));
}

/* The length of the well-formed UTF-8 sequence at s (at most n bytes), or 0 when it is not
 * one: a stray continuation byte, a cut sequence, an overlong form, a surrogate, > U+10FFFF. */
static inline size_t rh_json_impl_utf8_len(const unsigned char *s, size_t n) {
  unsigned long cp, min;
  size_t len, i;
  if (s[0] < 0x80) return 1;
  if (s[0] >= 0xC2 && s[0] <= 0xDF) len = 2, cp = s[0] & 0x1Fu, min = 0x80;
  else if ((s[0] & 0xF0) == 0xE0) len = 3, cp = s[0] & 0x0Fu, min = 0x800;
  else if (s[0] >= 0xF0 && s[0] <= 0xF4) len = 4, cp = s[0] & 0x07u, min = 0x10000;
  else return 0;
  if (len > n) return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3Fu);
  }
  return cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ? 0 : len;
}

/* Whether `data` is well-formed UTF-8 throughout (JSON text must be): no stray continuation
 * byte, cut sequence, overlong form, surrogate or value past U+10FFFF. ASCII runs are checked
 * eight bytes at a time. */
static inline bool rh_json_utf8_valid(const char *data, size_t len) {
  const unsigned char *s = (const unsigned char *)data;
  size_t i = 0, n;
  while (i < len) {
    while (i + 8 <= len) {
      uint64_t word;
      memcpy(&word, s + i, 8);
      if (word & UINT64_C(0x8080808080808080)) break;
      i += 8;
    }
    if (i >= len) break;
    if (!(n = rh_json_impl_utf8_len(s + i, len - i))) return false;
    i += n;
  }
  return true;
}

/* Writes `data` escaped for the inside of a JSON string, without the quotes, so one string can
 * be written in parts: quote and backslash escaped, control characters as \n, \t... or \u00XX,
 * each byte of invalid UTF-8 as \ufffd. */
static inline rh_status rh_json_write_escaped(const rh_writer *out, const char *data, size_t len) {
  static const char controls[] = "\b\t\n\f\r", letters[] = "btnfr", hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)data;
  size_t i = 0, clean = 0; /* data[clean, i) needs no escaping and is not yet written */
  rh_status status = RH_OK;
  while (i < len && status == RH_OK) {
    size_t n = rh_json_impl_utf8_len(s + i, len - i);
    const char *control = (const char *)memchr(controls, s[i], sizeof controls - 1);
    char escape[6] = {'\\', 'u', '0', '0', hex[s[i] >> 4 & 0xF], hex[s[i] & 0xF]};
    size_t escape_len = 6;
    if (n == 0) {
      memcpy(escape, "\\ufffd", 6);
      n = 1;
    } else if (s[i] == '"' || s[i] == '\\') escape[1] = (char)s[i], escape_len = 2;
    else if (control) escape[1] = letters[control - controls], escape_len = 2;
    else if (s[i] >= 0x20) escape_len = 0;
    if (escape_len > 0) {
      status = rh_json_write_raw(out, data + clean, i - clean);
      if (status == RH_OK) status = rh_json_write_raw(out, escape, escape_len);
      clean = i + n;
    }
    i += n;
  }
  return status == RH_OK && len > 0 ? rh_json_write_raw(out, data + clean, len - clean) : status;
}

/* Writes `data` as one JSON string literal, quotes included. */
static inline rh_status rh_json_write_string(const rh_writer *out, const char *data, size_t len) {
  rh_status status = rh_json_write_raw(out, "\"", 1);
  if (status == RH_OK) status = rh_json_write_escaped(out, data, len);
  return status == RH_OK ? rh_json_write_raw(out, "\"", 1) : status;
}

/* Writes `count` NUL-terminated strings as one JSON array of strings: the writer's side of
 * rh_json_string_array_dup. `strings` may be NULL when count is 0. */
static inline rh_status rh_json_write_string_array(const rh_writer *out, char *const *strings,
                                                   size_t count) {
  rh_status status = rh_json_write_raw(out, "[", 1);
  size_t i;
  for (i = 0; i < count && status == RH_OK; i++) {
    if (i > 0) status = rh_json_write_raw(out, ",", 1);
    if (status == RH_OK) status = rh_json_write_string(out, strings[i], strlen(strings[i]));
  }
  return status == RH_OK ? rh_json_write_raw(out, "]", 1) : status;
}

/* An rh_writer that appends to a growing malloc'd buffer. Pass &buffer.writer wherever an
 * rh_writer is wanted; the writer points back at the buffer, so do not copy or move it. */
typedef struct rh_json_buffer {
  rh_writer writer;
  char *data; /* not NUL-terminated; NULL until something is written */
  size_t len;
  size_t cap;
} rh_json_buffer;

static inline rh_status rh_json_impl_buffer_write(const rh_writer *self, const char *data,
                                                  size_t len) {
  rh_json_buffer *buffer = (rh_json_buffer *)self->host_data;
  char *grown;
  size_t cap = buffer->cap > 0 ? buffer->cap : 256;
  if (len == 0) return RH_OK;
  while (cap - buffer->len < len) {
    if (cap > SIZE_MAX / 2) return RH_ERR_NO_MEMORY;
    cap *= 2;
  }
  if (cap != buffer->cap) {
    if (!(grown = (char *)realloc(buffer->data, cap))) return RH_ERR_NO_MEMORY;
    buffer->data = grown;
    buffer->cap = cap;
  }
  memcpy(buffer->data + buffer->len, data, len);
  buffer->len += len;
  return RH_OK;
}

static inline void rh_json_buffer_init(rh_json_buffer *buffer) {
  buffer->writer.struct_size = sizeof(rh_writer);
  buffer->writer.host_data = buffer; /* the writer's owner is whoever made it: here, us */
  buffer->writer.write = rh_json_impl_buffer_write;
  buffer->data = NULL;
  buffer->len = buffer->cap = 0;
}

/* Empties the buffer but keeps its memory for reuse. */
static inline void rh_json_buffer_reset(rh_json_buffer *buffer) { buffer->len = 0; }

static inline void rh_json_buffer_free(rh_json_buffer *buffer) {
  free(buffer->data);
  rh_json_buffer_init(buffer);
}

RH_END_DECLS

#endif /* RUNHOST_JSON_H */
