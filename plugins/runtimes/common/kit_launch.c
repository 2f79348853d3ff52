/* kit_launch.c — building the launch spec (runtime.h, launch): argv as an array, never a shell
 * string; the environment; what goes to stdin.
 */
#include <stdlib.h>
#include <string.h>

#include "adapter_kit.h"

static rh_status push(rhk_session *s, rhk_argv *argv, char *owned) {
  if (argv->count + 1 >= argv->cap) {
    size_t cap = argv->cap ? argv->cap * 2 : 16;
    char **grown = (char **)realloc(argv->items, cap * sizeof *grown);
    if (!grown) {
      free(owned);
      return rhk_fail(s, RH_ERR_NO_MEMORY, "out of memory building argv");
    }
    argv->items = grown;
    argv->cap = cap;
  }
  argv->items[argv->count++] = owned;
  argv->items[argv->count] = NULL;
  return RH_OK;
}

rh_status rhk_argv_add_joined(rhk_session *s, rhk_argv *argv, const char *prefix, const char *text,
                              size_t len) {
  size_t n = prefix ? strlen(prefix) : 0;
  char *arg;
  if (text && memchr(text, '\0', len))
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "a command-line argument cannot hold U+0000");
  if (!(arg = (char *)malloc(n + len + 1))) return rhk_fail(s, RH_ERR_NO_MEMORY, "out of memory building argv");
  if (n) memcpy(arg, prefix, n);
  if (len) memcpy(arg + n, text, len);
  arg[n + len] = '\0';
  return push(s, argv, arg);
}

rh_status rhk_argv_add(rhk_session *s, rhk_argv *argv, const char *text, size_t len) {
  return rhk_argv_add_joined(s, argv, NULL, text, len);
}

rh_status rhk_argv_addz(rhk_session *s, rhk_argv *argv, const char *text) {
  return rhk_argv_add(s, argv, text, strlen(text));
}

rh_status rhk_launch_begin(rhk_session *s, rhk_argv *argv) {
  const char *program = s->config.executable ? s->config.executable : s->info->program;
  argv->items = NULL;
  argv->count = argv->cap = 0;
  return rhk_argv_addz(s, argv, program);
}

rh_status rhk_launch_add_config_args(rhk_session *s, rhk_argv *argv) {
  size_t i;
  rh_status status = RH_OK;
  for (i = 0; i < s->config.args.count && status == RH_OK; i++)
    status = rhk_argv_addz(s, argv, s->config.args.items[i]);
  return status;
}

void rhk_argv_free(rhk_argv *argv) {
  size_t i;
  for (i = 0; i < argv->count; i++) free(argv->items[i]);
  free(argv->items);
  argv->items = NULL;
  argv->count = argv->cap = 0;
}

static bool configured(const rhk_session *s, const char *name) {
  size_t i;
  for (i = 0; i < s->config.env_names.count; i++)
    if (strcmp(s->config.env_names.items[i], name) == 0) return true;
  return false;
}

rh_status rhk_launch_write(rhk_session *s, const rhk_argv *argv, const char *const *env_defaults,
                           size_t default_count, rh_str stdin_text, bool keep_stdin_open,
                           const rh_writer *out) {
  rh_status status = rh_json_write_cstr(out, "{\"argv\":[");
  bool first = true;
  size_t i;
  for (i = 0; i < argv->count && status == RH_OK; i++) {
    if (i > 0) status = rh_json_write_raw(out, ",", 1);
    if (status == RH_OK) status = rh_json_write_string(out, argv->items[i], strlen(argv->items[i]));
  }
  if (status == RH_OK) status = rh_json_write_cstr(out, "],\"env\":{");
  for (i = 0; i < default_count && status == RH_OK; i++) {
    const char *name = env_defaults[2 * i], *value = env_defaults[2 * i + 1];
    if (configured(s, name)) continue; /* the operator's value wins */
    status = rhk_write_string_member(out, first, name, value, strlen(value));
    first = false;
  }
  for (i = 0; i < s->config.env_names.count && status == RH_OK; i++) {
    const char *name = s->config.env_names.items[i], *value = s->config.env_values.items[i];
    status = rhk_write_string_member(out, first, name, value, strlen(value));
    first = false;
  }
  if (status == RH_OK) status = rh_json_write_raw(out, "}", 1);
  if (status == RH_OK) status = rhk_write_string_member(out, false, "stdin", stdin_text.data, stdin_text.len);
  if (status == RH_OK)
    status = rh_json_write_cstr(out, keep_stdin_open ? ",\"keep_stdin_open\":true}" : ",\"keep_stdin_open\":false}");
  if (status == RH_OK) return RH_OK;
  return rhk_fail(s, status, status == RH_ERR_LIMIT ? "the launch spec is larger than the host accepts"
                                                     : "could not write the launch spec");
}
