/* kit_json.c — reading and writing the JSON of native lines and unified payloads, fast.
 *
 * Adapters read every line of a runtime's output, so the reader's speed is the adapters'
 * throughput. json.h decodes strings a character at a time even to skip them; this scanner skips
 * a string with one table lookup per byte and never copies. It checks the same grammar (RFC 8259;
 * depth bounded by RH_JSON_MAX_DEPTH); UTF-8 validity is rh_json_utf8_valid's job (json.h), done once per line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_kit.h"

/* ---- Scanning ------------------------------------------------------------------------------ */

/* Bytes that end a run of plain string content: the quote, the backslash, control characters. */
static const unsigned char k_string_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1 /* '"' */, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 /* '\\' */, 0, 0, 0,
};

static const char *skip_space(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Whether any byte of w is a quote, a backslash or a control character (eight at a time: the
 * classic "has a zero byte" and "has a byte less than n" bit tricks; a rare false alarm only
 * sends the caller to the byte loop). */
static bool word_has_stop(uint64_t w) {
  const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
  const uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
  return (((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | ((w - ones * 0x20) & ~w)) & highs;
}

/* Past the string starting at p (on its quote), or NULL. */
static const char *skip_string(const char *p, const char *end) {
  p++;
  for (;;) {
    uint64_t w;
    while (end - p >= 8) {
      memcpy(&w, p, 8);
      if (word_has_stop(w)) break;
      p += 8;
    }
    while (p < end && !k_string_stop[(unsigned char)*p]) p++;
    if (p >= end) return NULL;
    if (*p == '"') return p + 1;
    if (*p != '\\' || end - p < 2) return NULL; /* a control character, or a cut escape */
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
      p += 2;
      break;
    case 'u':
      if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5])) return NULL;
      p += 6;
      break;
    default: return NULL;
    }
  }
}

static const char *skip_digits(const char *p, const char *end) {
  while (p < end && *p >= '0' && *p <= '9') p++;
  return p;
}

static const char *skip_number(const char *p, const char *end) {
  const char *d;
  if (p < end && *p == '-') p++;
  if (p < end && *p == '0') p++;
  else if ((d = skip_digits(p, end)) == p) return NULL;
  else p = d;
  if (p < end && *p == '.') {
    if ((d = skip_digits(p + 1, end)) == p + 1) return NULL;
    p = d;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    if (++p < end && (*p == '+' || *p == '-')) p++;
    if ((d = skip_digits(p, end)) == p) return NULL;
    p = d;
  }
  return p;
}

static const char *skip_word(const char *p, const char *end, const char *word, size_t n) {
  return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

static const char *skip_value(const char *p, const char *end, int depth);

/* Past the container at p ('[' or '{'), or NULL. */
static const char *skip_container(const char *p, const char *end, int depth) {
  rhk_json_iter it;
  if (depth >= RH_JSON_MAX_DEPTH) return NULL;
  it.pos = p + 1;
  it.end = end;
  it.close = *p == '[' ? ']' : '}';
  it.started = false;
  it.ok = false;
  it.depth = depth + 1;
  while (rhk_json_next(&it, NULL, NULL)) {}
  return it.ok ? it.pos : NULL;
}

/* Past the value at p (no leading space), or NULL. */
static const char *skip_value(const char *p, const char *end, int depth) {
  if (p >= end) return NULL;
  switch (*p) {
  case '"': return skip_string(p, end);
  case '{':
  case '[': return skip_container(p, end, depth);
  case 't': return skip_word(p, end, "true", 4);
  case 'f': return skip_word(p, end, "false", 5);
  case 'n': return skip_word(p, end, "null", 4);
  default: return skip_number(p, end);
  }
}

bool rhk_json_begin(rhk_json_iter *it, rh_str container) {
  it->ok = false;
  it->started = false;
  it->depth = 1;
  if (container.len < 2 || (container.data[0] != '[' && container.data[0] != '{')) {
    it->pos = NULL;
    it->end = NULL;
    it->close = 0;
    return false;
  }
  it->pos = container.data + 1;
  it->end = container.data + container.len;
  it->close = container.data[0] == '[' ? ']' : '}';
  return true;
}

/* On the way out, `pos` is just past the closing bracket when `ok`. */
bool rhk_json_next(rhk_json_iter *it, rh_str *key, rh_str *value) {
  const char *p, *end = it->end, *start, *after;
  if (!it->pos) return false;
  p = skip_space(it->pos, end);
  if (p < end && *p == it->close) {
    it->pos = p + 1;
    it->ok = true;
    it->end = NULL; /* ended: the next call returns false */
    return false;
  }
  if (it->started) {
    if (p >= end || *p != ',') goto bad;
    p = skip_space(p + 1, end);
  }
  if (it->close == '}') {
    if (p >= end || *p != '"' || !(after = skip_string(p, end))) goto bad;
    if (key) {
      key->data = p;
      key->len = (size_t)(after - p);
    }
    p = skip_space(after, end);
    if (p >= end || *p != ':') goto bad;
    p = skip_space(p + 1, end);
  }
  start = p;
  if (!(after = skip_value(p, end, it->depth))) goto bad;
  if (value) {
    value->data = start;
    value->len = (size_t)(after - start);
  }
  it->pos = after;
  it->started = true;
  return true;
bad:
  it->pos = NULL;
  it->ok = false;
  return false;
}

bool rhk_json_parse(rh_str text, rh_str *value) {
  const char *begin = text.data ? text.data : "", *end = begin + (text.data ? text.len : 0);
  const char *p = skip_space(begin, end), *after = skip_value(p, end, 0);
  if (!after || skip_space(after, end) != end) return false;
  value->data = p;
  value->len = (size_t)(after - p);
  return true;
}

/* ---- Picking ------------------------------------------------------------------------------- */

/* Whether the string view `key` (quotes included) is `name`: escapes are decoded when present. */
static bool key_is(rh_str key, const char *name, size_t n) {
  if (key.len == n + 2 && memcmp(key.data + 1, name, n) == 0) return true;
  if (!memchr(key.data, '\\', key.len)) return false;
  return rh_json_equals(key, name, n);
}

/* Picks members of the object starting at object.data (anything may follow it); *after is
 * just past its closing brace. */
static rh_status pick(rh_str object, const char *const *names, size_t count, rh_str *values,
                      const char **after) {
  rhk_json_iter it;
  rh_str key, value;
  size_t i, lens[32];
  if (count > 32) return RH_ERR_INVALID_ARGUMENT;
  for (i = 0; i < count; i++) {
    values[i].data = NULL;
    values[i].len = 0;
    lens[i] = strlen(names[i]);
  }
  if (object.len == 0 || object.data[0] != '{' || !rhk_json_begin(&it, object))
    return RH_ERR_INVALID_ARGUMENT;
  while (rhk_json_next(&it, &key, &value)) {
    for (i = 0; i < count; i++) {
      /* Cheap first test: the first letter, before any compare. */
      if (key.len > 1 && key.data[1] == names[i][0] && key_is(key, names[i], lens[i])) {
        values[i] = value;
        break;
      }
    }
  }
  if (!it.ok) return RH_ERR_INVALID_ARGUMENT;
  *after = it.pos;
  return RH_OK;
}

rh_status rhk_json_pick(rh_str object, const char *const *names, size_t count, rh_str *values) {
  const char *after;
  rh_status status = pick(object, names, count, values, &after);
  if (status == RH_OK && after != object.data + object.len) return RH_ERR_INVALID_ARGUMENT;
  return status;
}

rh_status rhk_json_pick_text(rh_str text, const char *const *names, size_t count, rh_str *values,
                             rh_str *object) {
  const char *end = text.data + text.len, *start = skip_space(text.data, end), *after;
  rh_status status = pick(rhk_str(start, (size_t)(end - start)), names, count, values, &after);
  if (status != RH_OK) return start < end && *start != '{' ? RH_ERR_NOT_FOUND : status;
  if (skip_space(after, end) != end) return RH_ERR_INVALID_ARGUMENT;
  object->data = start;
  object->len = (size_t)(after - start);
  return RH_OK;
}

bool rhk_json_is(rh_str value, const char *text) {
  size_t n = strlen(text);
  if (value.len < 2 || value.data[0] != '"') return false;
  if (value.len == n + 2 && memcmp(value.data + 1, text, n) == 0) return true;
  return memchr(value.data, '\\', value.len) && rh_json_equals(value, text, n);
}

const char *rhk_json_text(rh_str value, char *buf, size_t cap) {
  if (cap == 0) return "";
  buf[0] = '\0';
  if (rh_json_type_of(value) == RH_JSON_STRING) (void)rh_json_string(value, buf, cap, NULL);
  return buf;
}

int64_t rhk_json_int(rh_str value, int64_t fallback) {
  int64_t out;
  return value.len > 0 && rh_json_int64(value, &out) == RH_OK ? out : fallback;
}

double rhk_json_number(rh_str value, double fallback) {
  double out;
  return value.len > 0 && rh_json_double(value, &out) == RH_OK ? out : fallback;
}

static int hex4(const char *p) {
  int v = 0, i;
  for (i = 0; i < 4; i++) {
    char c = p[i];
    v = v * 16 + (c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c - 'A' + 10);
  }
  return v;
}

static int utf8_encode(unsigned long cp, char out[4]) {
  if (cp < 0x80) return out[0] = (char)cp, 1;
  if (cp < 0x800) return out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), 2;
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

rh_status rhk_json_decode(rh_str value, rh_json_buffer *out) {
  const char *p, *end, *run;
  char utf8[4];
  rh_status status;
  if (value.len < 2 || value.data[0] != '"' || value.data[value.len - 1] != '"') return RH_ERR_INVALID_ARGUMENT;
  p = value.data + 1;
  end = value.data + value.len - 1;
  while (p < end) {
    run = p;
    p = (const char *)memchr(p, '\\', (size_t)(end - p));
    if (!p) p = end;
    if (p > run && (status = rh_json_write_raw(&out->writer, run, (size_t)(p - run))) != RH_OK) return status;
    if (p >= end) break;
    if (end - p < 2) return RH_ERR_INVALID_ARGUMENT;
    if (p[1] == 'u') {
      unsigned long cp;
      if (end - p < 6) return RH_ERR_INVALID_ARGUMENT;
      cp = (unsigned long)hex4(p + 2);
      p += 6;
      if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
        unsigned long low = (unsigned long)hex4(p + 2);
        if (low >= 0xDC00 && low <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          p += 6;
        }
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
      status = rh_json_write_raw(&out->writer, utf8, (size_t)utf8_encode(cp, utf8));
    } else {
      static const char escapes[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
      const char *e = (const char *)memchr(escapes, p[1], sizeof escapes - 1);
      if (!e) return RH_ERR_INVALID_ARGUMENT;
      status = rh_json_write_raw(&out->writer, &decoded[e - escapes], 1);
      p += 2;
    }
    if (status != RH_OK) return status;
  }
  return RH_OK;
}

/* ---- Writing ------------------------------------------------------------------------------- */

rh_status rhk_write_key(const rh_writer *w, bool first, const char *name) {
  rh_status status = rh_json_write_raw(w, first ? "\"" : ",\"", first ? 1 : 2);
  if (status == RH_OK) status = rh_json_write_cstr(w, name);
  return status == RH_OK ? rh_json_write_raw(w, "\":", 2) : status;
}

rh_status rhk_write_string_member(const rh_writer *w, bool first, const char *name,
                                  const char *text, size_t len) {
  rh_status status = rhk_write_key(w, first, name);
  return status == RH_OK ? rh_json_write_string(w, text, len) : status;
}

rh_status rhk_write_raw_member(const rh_writer *w, bool first, const char *name, rh_str json) {
  rh_status status = rhk_write_key(w, first, name);
  return status == RH_OK ? rh_json_write_raw(w, json.data, json.len) : status;
}

rh_status rhk_write_int_member(const rh_writer *w, bool first, const char *name, int64_t value) {
  char text[32];
  int n = snprintf(text, sizeof text, "%lld", (long long)value);
  rh_status status = rhk_write_key(w, first, name);
  return status == RH_OK ? rh_json_write_raw(w, text, (size_t)n) : status;
}

rh_status rhk_write_number_member(const rh_writer *w, bool first, const char *name, double value) {
  char text[40];
  int n = 0, precision;
  rh_status status;
  if (!(value == value) || value > 1e308 || value < -1e308) value = 0; /* JSON has no NaN or inf */
  for (precision = 15; precision <= 17; precision++) {
    n = snprintf(text, sizeof text, "%.*g", precision, value);
    if (strtod(text, NULL) == value) break;
  }
  status = rhk_write_key(w, first, name);
  return status == RH_OK ? rh_json_write_raw(w, text, (size_t)n) : status;
}

rh_str rhk_decoded(rh_json_buffer *buffer, rh_str value) {
  rh_json_buffer_reset(buffer);
  if (!rhk_json_is_string(value) || rhk_json_decode(value, buffer) != RH_OK) return rhk_str("", 0);
  return rhk_str(buffer->data ? buffer->data : "", buffer->len);
}
