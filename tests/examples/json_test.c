/* Unit tests of runhost/json.h and runhost/exit.h, in plain C11: the reader on valid, malformed, truncated and deeply
 * nested input, string decoding (escapes, surrogate pairs, truncation), numbers and booleans,
 * and the writer's escaping of control characters and invalid UTF-8. Input lives in buffers of
 * exactly its own length, so a read past the end shows up under AddressSanitizer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <runhost/exit.h>
#include <runhost/json.h>

static int g_passed, g_failed;

#define CHECK(cond)            \
  ((cond) ? (void)g_passed++   \
          : (void)(g_failed++, \
                   fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond)))

/* A view of `len` bytes copied to a heap block of exactly that size (see the header comment). */
static rh_str exact(const char *text, size_t len) {
  char *copy = (char *)malloc(len ? len : 1);
  rh_str view = {copy, len};
  if (!copy) abort();
  memcpy(copy, text, len);
  return view;
}

static rh_str text_of(const char *text) { return exact(text, strlen(text)); }

static void release(rh_str view) { free((void *)view.data); }

static bool parses(const char *text) {
  rh_str view = text_of(text), value;
  bool ok = rh_json_parse(view, &value) == RH_OK;
  release(view);
  return ok;
}

/* Decodes the JSON string literal `literal` and compares it with `len` bytes of `expected`. */
static bool decodes_to(const char *literal, const char *expected, size_t len) {
  rh_str view = text_of(literal);
  char buf[64];
  size_t got = 0;
  bool ok = rh_json_string(view, buf, sizeof buf, &got) == RH_OK && got == len &&
            memcmp(buf, expected, len) == 0;
  release(view);
  return ok;
}

static void test_parse(void) {
  static const char *const valid[] = {"0",
                                      "-0",
                                      "12.5e-3",
                                      "1E+2",
                                      "true",
                                      "false",
                                      "null",
                                      "\"\"",
                                      "[]",
                                      "{}",
                                      " [ 1 , 2 ] ",
                                      "{\"a\":{\"b\":[null,true,\"x\\u00e9\"]}}",
                                      "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
                                      "\"\\ud800\""};
  static const char *const invalid[] = {
      "",         " ",         "{",          "[1,]",        "[,1]",      "[1 2]",
      "{\"a\":}", "{\"a\" 1}", "{a:1}",      "{\"a\":1,}",  "01",        "1.",
      ".5",       "-",         "1e",         "+1",          "tru",       "nul",
      "True",     "\"abc",     "\"\\x\"",    "\"\\u12G4\"", "\"\\u12\"", "\"a\nb\"",
      "1 2",      "[1]]",      "{\"a\":1}x", "[\"\\",       "'a'"};
  size_t i;
  for (i = 0; i < sizeof valid / sizeof *valid; i++) CHECK(parses(valid[i]));
  for (i = 0; i < sizeof invalid / sizeof *invalid; i++) CHECK(!parses(invalid[i]));
  {
    rh_str nul_inside = exact("[1,\0]", 5), value, empty = {NULL, 0};
    CHECK(rh_json_parse(nul_inside, &value) == RH_ERR_INVALID_ARGUMENT);
    CHECK(rh_json_parse(empty, &value) == RH_ERR_INVALID_ARGUMENT);
    release(nul_inside);
  }
  {
    rh_str spaced = text_of("  {\"a\":1}\n"), value;
    CHECK(rh_json_parse(spaced, &value) == RH_OK && value.len == 7 && value.data[0] == '{');
    release(spaced);
  }
}

/* Every proper prefix of an object is malformed, and none may be read past its end. */
static void test_truncated_input(void) {
  static const char doc[] = "{\"k\":[1,-2.5e3,\"s\\u00e9\\ud83d\\ude00\",{\"n\":null},true]}";
  size_t len, failures = 0;
  for (len = 0; len < sizeof doc - 1; len++) {
    rh_str prefix = exact(doc, len), value;
    if (rh_json_parse(prefix, &value) != RH_ERR_INVALID_ARGUMENT) failures++;
    release(prefix);
  }
  CHECK(failures == 0);
  CHECK(parses(doc));
}

static char *nested(size_t depth) {
  char *text = (char *)malloc(2 * depth + 1);
  if (!text) abort();
  memset(text, '[', depth);
  memset(text + depth, ']', depth);
  text[2 * depth] = '\0';
  return text;
}

static void test_depth_limit(void) {
  char *at_limit = nested(RH_JSON_MAX_DEPTH), *over = nested(RH_JSON_MAX_DEPTH + 1);
  char *huge = nested(100000);
  CHECK(parses(at_limit));
  CHECK(!parses(over));
  CHECK(!parses(huge)); /* refused at depth 65, not by running out of stack */
  free(at_limit);
  free(over);
  free(huge);
}

static void test_find(void) {
  rh_str doc = text_of(
             "{\"action\":{\"name\":\"Bash\",\"input\":{\"command\":\"ls\"}},"
             "\"dup\":1,\"dup\":2,\"\\u0061b\":true,\"text\":\"x\"}"),
         value, root;
  int64_t number = 0;
  CHECK(rh_json_parse(doc, &root) == RH_OK);
  CHECK(rh_json_find_path(root, "action.input.command", &value) == RH_OK &&
        rh_json_equals(value, "ls", 2));
  CHECK(rh_json_find(root, "dup", &value) == RH_OK && rh_json_int64(value, &number) == RH_OK &&
        number == 2);                               /* the last duplicate wins, as in the host */
  CHECK(rh_json_find(root, "ab", &value) == RH_OK); /* names compare decoded */
  CHECK(rh_json_find(root, "missing", &value) == RH_ERR_NOT_FOUND);
  CHECK(rh_json_find_path(root, "action.input.missing", &value) == RH_ERR_NOT_FOUND);
  CHECK(rh_json_find_path(root, "text.deeper", &value) == RH_ERR_NOT_FOUND); /* not an object */
  CHECK(rh_json_find_path(root, "action.name.x", &value) == RH_ERR_NOT_FOUND);
  CHECK(rh_json_find(root, "text", &value) == RH_OK);
  CHECK(rh_json_find(value, "x", &value) == RH_ERR_INVALID_ARGUMENT); /* a string has no members */
  {
    static const char *const keys[] = {"dup", "missing", "ab", "action"};
    rh_str found[4];
    CHECK(rh_json_find_each(root, keys, 4, found) == RH_OK);
    CHECK(rh_json_int64(found[0], &number) == RH_OK && number == 2); /* the last duplicate */
    CHECK(found[1].data == NULL && found[1].len == 0);
    CHECK(rh_json_type_of(found[2]) == RH_JSON_BOOL && rh_json_type_of(found[3]) == RH_JSON_OBJECT);
    CHECK(rh_json_find_each(found[2], keys, 4, found) == RH_ERR_INVALID_ARGUMENT);
    CHECK(found[3].data == NULL);
  }
  release(doc);
  doc = text_of("{\"a\":1,\"b\":}");
  CHECK(rh_json_find(doc, "a", &value) ==
        RH_ERR_INVALID_ARGUMENT); /* malformed, though a came first */
  {
    static const char *const keys[] = {"a"};
    rh_str found[1];
    CHECK(rh_json_find_each(doc, keys, 1, found) == RH_ERR_INVALID_ARGUMENT && !found[0].data);
  }
  release(doc);
  /* Strings are skipped without being decoded: every escape is still checked. */
  doc = text_of("[\"a\\u00e9\\n\\/\\\"\", \"\\ud83d\\ude00\"]");
  CHECK(rh_json_parse(doc, &value) == RH_OK);
  release(doc);
  {
    static const char *const bad[] = {"\"\\x\"", "\"\\u12g4\"", "\"\\u12\"", "\"a\tb\"", "\"open", "\"\\"};
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      doc = text_of(bad[i]);
      CHECK(rh_json_parse(doc, &value) == RH_ERR_INVALID_ARGUMENT);
      release(doc);
    }
  }
}

static void test_iteration(void) {
  rh_str doc = text_of("[1, \"two\", [3], {\"four\": 4}]"), bad = text_of("[1, 2,]"), item, key;
  rh_json_iter it;
  rh_json_type types[8];
  size_t count = 0;
  CHECK(rh_json_iter_begin(&it, doc) == RH_OK);
  while (rh_json_iter_next(&it, NULL, &item) && count < 8) types[count++] = rh_json_type_of(item);
  CHECK(it.status == RH_OK && count == 4);
  CHECK(types[0] == RH_JSON_NUMBER && types[1] == RH_JSON_STRING && types[2] == RH_JSON_ARRAY &&
        types[3] == RH_JSON_OBJECT);
  count = 0;
  CHECK(rh_json_iter_begin(&it, bad) == RH_OK);
  while (rh_json_iter_next(&it, NULL, &item)) count++;
  CHECK(it.status == RH_ERR_INVALID_ARGUMENT && count == 2);
  release(doc);
  doc = text_of("{\"k1\": 1, \"k2\": [2]}");
  count = 0;
  CHECK(rh_json_iter_begin(&it, doc) == RH_OK);
  while (rh_json_iter_next(&it, &key, &item)) count += rh_json_equals(key, count ? "k2" : "k1", 2);
  CHECK(it.status == RH_OK && count == 2);
  CHECK(rh_json_iter_begin(&it, key) == RH_ERR_INVALID_ARGUMENT); /* a string is no container */
  release(doc);
  release(bad);
}

static void test_strings(void) {
  CHECK(decodes_to("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "a\"b\\c/d\b\f\n\r\t", 12));
  CHECK(decodes_to("\"\\u00e9\\u20AC\"", "\xc3\xa9\xe2\x82\xac", 5));
  CHECK(decodes_to("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4)); /* surrogate pair */
  CHECK(decodes_to("\"\\ud83d\"", "\xef\xbf\xbd", 3));            /* lone high: U+FFFD */
  CHECK(decodes_to("\"\\ude00x\"", "\xef\xbf\xbdx", 4));          /* lone low */
  CHECK(decodes_to("\"\\ud83d\\u0041\"",
                   "\xef\xbf\xbd"
                   "A",
                   4)); /* high, then no low */
  CHECK(decodes_to("\"a\\u0000b\"", "a\0b", 3));
  CHECK(decodes_to("\"h\xc3\xa9llo\"", "h\xc3\xa9llo", 6)); /* raw UTF-8 passes through */
  {
    rh_str value = text_of("\"h\xc3\xa9llo\""), number = text_of("5");
    char buf[8] = "xxxxxxx", *copy = NULL;
    size_t len = 0;
    CHECK(rh_json_string(value, buf, 3, &len) == RH_ERR_LIMIT && len == 6);
    CHECK(strcmp(buf, "h") == 0); /* é does not fit whole, so it is left out */
    CHECK(rh_json_string(value, NULL, 0, &len) == RH_ERR_LIMIT && len == 6);
    CHECK(rh_json_string(value, buf, 7, &len) == RH_OK && strcmp(buf, "h\xc3\xa9llo") == 0);
    CHECK(rh_json_string_dup(value, &copy, &len) == RH_OK && len == 6 &&
          strcmp(copy, "h\xc3\xa9llo") == 0);
    CHECK(rh_json_string(number, buf, sizeof buf, &len) == RH_ERR_INVALID_ARGUMENT);
    CHECK(rh_json_equals(value, "h\xc3\xa9llo", 6) && !rh_json_equals(value, "h\xc3\xa9ll", 5));
    CHECK(!rh_json_equals(number, "5", 1));
    free(copy);
    release(value);
    release(number);
  }
}

static void test_string_arrays(void) {
  rh_str good = text_of("[\"a\", \"b\\u00e9\"]"), mixed = text_of("[\"a\", 3]"),
         nul = text_of("[\"a\\u0000b\"]"), empty = text_of("[]"), object = text_of("{}");
  char **strings = NULL;
  size_t count = 0;
  CHECK(rh_json_string_array_dup(good, &strings, &count) == RH_OK && count == 2 &&
        strcmp(strings[0], "a") == 0 && strcmp(strings[1], "b\xc3\xa9") == 0 && !strings[2]);
  rh_json_string_array_free(strings, count);
  CHECK(rh_json_string_array_dup(empty, &strings, &count) == RH_OK && count == 0);
  rh_json_string_array_free(strings, count);
  CHECK(rh_json_string_array_dup(mixed, &strings, &count) == RH_ERR_INVALID_ARGUMENT);
  CHECK(rh_json_string_array_dup(nul, &strings, &count) == RH_ERR_INVALID_ARGUMENT);
  CHECK(rh_json_string_array_dup(object, &strings, &count) == RH_ERR_INVALID_ARGUMENT);
  release(good);
  release(mixed);
  release(nul);
  release(empty);
  release(object);
}

static rh_status int64_of(const char *text, int64_t *out) {
  rh_str view = text_of(text);
  rh_status status = rh_json_int64(view, out);
  release(view);
  return status;
}

static rh_status double_of(const char *text, double *out) {
  rh_str view = text_of(text);
  rh_status status = rh_json_double(view, out);
  release(view);
  return status;
}

static void test_scalars(void) {
  int64_t i = 0;
  double d = 0;
  bool b = false;
  rh_str yes = text_of("true"), no = text_of("false"), null = text_of("null");
  CHECK(int64_of("42", &i) == RH_OK && i == 42);
  CHECK(int64_of("-0", &i) == RH_OK && i == 0);
  CHECK(int64_of("9223372036854775807", &i) == RH_OK && i == INT64_MAX);
  CHECK(int64_of("-9223372036854775808", &i) == RH_OK && i == INT64_MIN);
  CHECK(int64_of("9223372036854775808", &i) == RH_ERR_INVALID_ARGUMENT);
  CHECK(int64_of("-9223372036854775809", &i) == RH_ERR_INVALID_ARGUMENT);
  CHECK(int64_of("1.5", &i) == RH_ERR_INVALID_ARGUMENT);
  CHECK(int64_of("1e3", &i) == RH_ERR_INVALID_ARGUMENT);
  CHECK(int64_of("\"1\"", &i) == RH_ERR_INVALID_ARGUMENT);
  CHECK(int64_of("", &i) == RH_ERR_INVALID_ARGUMENT);
  CHECK(double_of("-2.5e3", &d) == RH_OK && d == -2500.0);
  CHECK(double_of("0.125", &d) == RH_OK && d == 0.125);
  CHECK(double_of("1e999", &d) == RH_ERR_LIMIT);
  CHECK(double_of("1.0000000000000000000000000000000000000000000000000000000000000001", &d) ==
        RH_ERR_LIMIT);
  CHECK(double_of("1.", &d) == RH_ERR_INVALID_ARGUMENT);
  CHECK(double_of("nan", &d) == RH_ERR_INVALID_ARGUMENT);
  CHECK(rh_json_bool(yes, &b) == RH_OK && b);
  CHECK(rh_json_bool(no, &b) == RH_OK && !b);
  CHECK(rh_json_bool(null, &b) == RH_ERR_INVALID_ARGUMENT);
  CHECK(rh_json_type_of(yes) == RH_JSON_BOOL && rh_json_type_of(null) == RH_JSON_NULL);
  release(yes);
  release(no);
  release(null);
}

/* Writes `len` bytes as a JSON string and compares the output with `expected`. */
static bool writes_as(const char *data, size_t len, const char *expected) {
  rh_json_buffer out;
  bool ok;
  rh_json_buffer_init(&out);
  ok = rh_json_write_string(&out.writer, data, len) == RH_OK && out.len == strlen(expected) &&
       memcmp(out.data, expected, out.len) == 0;
  if (!ok) fprintf(stderr, "  wrote: %.*s\n", (int)out.len, out.data ? out.data : "");
  rh_json_buffer_free(&out);
  return ok;
}

static rh_status full_writer(const rh_writer *self, const char *data, size_t len) {
  (void)self, (void)data, (void)len;
  return RH_ERR_LIMIT;
}

static void test_writer(void) {
  static const rh_writer full = {sizeof(rh_writer), NULL, full_writer};
  rh_json_buffer big;
  size_t i;
  bool all_written = true;
  CHECK(writes_as("", 0, "\"\""));
  CHECK(writes_as("plain", 5, "\"plain\""));
  CHECK(writes_as("q\"b\\", 4, "\"q\\\"b\\\\\""));
  CHECK(writes_as("\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\""));
  CHECK(writes_as("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\""));
  CHECK(writes_as("a\0b", 3, "\"a\\u0000b\""));
  CHECK(writes_as("\xc3\xa9\xf0\x9f\x98\x80", 6, "\"\xc3\xa9\xf0\x9f\x98\x80\"")); /* valid */
  CHECK(writes_as("\xff", 1, "\"\\ufffd\""));
  CHECK(writes_as("a\xc3", 2, "\"a\\ufffd\""));                                /* cut sequence */
  CHECK(writes_as("\xc0\xaf", 2, "\"\\ufffd\\ufffd\""));                       /* overlong '/' */
  CHECK(writes_as("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""));            /* a surrogate */
  CHECK(writes_as("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"")); /* > U+10FFFF */
  CHECK(writes_as("\x80z", 2, "\"\\ufffdz\"")); /* stray continuation */
  {
    char a[] = "a", quoted[] = "b\"c";
    char *const strings[] = {a, quoted};
    rh_json_buffer array;
    rh_json_buffer_init(&array);
    CHECK(rh_json_write_string_array(&array.writer, strings, 2) == RH_OK && array.len == 12 &&
          memcmp(array.data, "[\"a\",\"b\\\"c\"]", 12) == 0);
    rh_json_buffer_reset(&array);
    CHECK(rh_json_write_string_array(&array.writer, NULL, 0) == RH_OK && array.len == 2 &&
          memcmp(array.data, "[]", 2) == 0);
    rh_json_buffer_free(&array);
    CHECK(rh_json_write_string_array(&full, strings, 2) == RH_ERR_LIMIT);
  }
  CHECK(rh_json_write_string(&full, "x", 1) == RH_ERR_LIMIT);
  CHECK(rh_json_write_cstr(&full, "") == RH_OK); /* nothing to write, nothing to refuse */
  rh_json_buffer_init(&big);
  for (i = 0; i < 10000; i++)
    all_written = all_written && rh_json_write_cstr(&big.writer, "0123456789") == RH_OK;
  CHECK(all_written && big.len == 100000 && big.data[99999] == '9');
  rh_json_buffer_reset(&big);
  CHECK(big.len == 0 && big.cap >= 100000);
  rh_json_buffer_free(&big);
  CHECK(big.data == NULL && big.len == 0);
}

/* What the writer writes, the reader reads back unchanged. */
static void test_round_trip(void) {
  static const char original[] = "say \"hi\"\n\tto \xc3\xa9\xf0\x9f\x98\x80 \\ \x01 end";
  rh_json_buffer out;
  rh_str written, value;
  char back[64];
  size_t len = 0;
  rh_json_buffer_init(&out);
  CHECK(rh_json_write_string(&out.writer, original, sizeof original - 1) == RH_OK);
  written = exact(out.data, out.len);
  CHECK(rh_json_parse(written, &value) == RH_OK &&
        rh_json_string(value, back, sizeof back, &len) == RH_OK && len == sizeof original - 1 &&
        memcmp(back, original, len) == 0);
  release(written);
  rh_json_buffer_free(&out);
}

static void test_utf8(void) {
  static const char *const bad[] = {"\x80", "\xC0\xAF", "\xC3", "\xE2\x82", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                                    "\xF8\x88\x80\x80\x80", "abcdefgh\xFF", "ok \xC3\xA9 then \xE9"};
  size_t i;
  rh_str view = text_of("plain ascii, long enough to take the eight-byte path");
  CHECK(rh_json_utf8_valid(view.data, view.len));
  release(view);
  view = exact("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 and \xF4\x8F\xBF\xBF", 18);
  CHECK(rh_json_utf8_valid(view.data, view.len));
  release(view);
  CHECK(rh_json_utf8_valid("", 0));
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    view = text_of(bad[i]);
    CHECK(!rh_json_utf8_valid(view.data, view.len));
    release(view);
  }
}

/* The message and failure of each exit kind, as the table in exit.h says. */
static void check_exit(rh_exit_kind kind, int32_t code, int32_t signal, const char *program, const char *error_code,
                       bool retryable, const char *action, const char *message) {
  rh_exit exit = {sizeof(rh_exit), kind, code, signal, 0};
  rh_exit_failure f = rh_exit_failure_of(&exit);
  rh_json_buffer out;
  rh_json_buffer_init(&out);
  CHECK(rh_exit_write_message(&exit, program, &out.writer) == RH_OK);
  CHECK(out.len == strlen(message) && memcmp(out.data, message, out.len) == 0);
  if (!(out.len == strlen(message) && memcmp(out.data, message, out.len) == 0))
    fprintf(stderr, "  wrote %.*s\n", (int)out.len, out.data ? out.data : "");
  CHECK(error_code ? f.code && strcmp(f.code, error_code) == 0 : f.code == NULL);
  CHECK(f.retryable == retryable);
  CHECK(action ? f.action && strcmp(f.action, action) == 0 : f.action == NULL);
  rh_json_buffer_free(&out);
}

static void test_exit(void) {
  check_exit(RH_EXIT_EXITED, 0, 0, "make", NULL, false, NULL, "\"make\" exited with code 0");
  check_exit(RH_EXIT_EXITED, 3, 0, "make", "runtime_error", false, "retry", "\"make\" exited with code 3");
  check_exit(RH_EXIT_SIGNALED, 0, 9, "make", "runtime_crashed", true, "retry", "\"make\" was killed by signal 9");
  check_exit(RH_EXIT_SPAWN_FAILED, ENOENT, 0, "make", "runtime_not_found", false, "install_runtime",
             "could not start \"make\": not found (is it installed, and on PATH?)");
  check_exit(RH_EXIT_SPAWN_FAILED, 12345, 0, "make", "runtime_not_found", false, "install_runtime",
             "could not start \"make\": errno 12345");
  check_exit(RH_EXIT_LOST, 0, 0, "claude", "device_lost", true, "resume_device", "the device lost track of \"claude\"");
  check_exit(RH_EXIT_EXITED, 1, 0, NULL, "runtime_error", false, "retry", "the runtime exited with code 1");
  check_exit((rh_exit_kind)42, 0, 0, "x", "runtime_error", false, "retry",
             "\"x\" ended in a way this host does not know (exit kind 42)");
}

int main(void) {
  test_parse();
  test_truncated_input();
  test_depth_limit();
  test_find();
  test_iteration();
  test_strings();
  test_string_arrays();
  test_scalars();
  test_writer();
  test_round_trip();
  test_utf8();
  test_exit();
  printf("json_test: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
