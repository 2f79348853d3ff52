/* config.c — reads the operator's configuration (docs/policy-rules.md has the schema).
 *
 * Strict on purpose: a key this plugin does not know, or a value it cannot use, fails create()
 * with a message naming the key, because a policy that silently ignored "rules": {"sudo":
 * "dney"} would allow what its operator meant to deny. Members left out keep their defaults,
 * which are the manifest's "config", so "{}" configures the same policy as the manifest.
 */
#include "risky.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const rk_rule_ids[RK_RULE_COUNT] = {
    "pipe_to_shell",   "sudo",   "delete",          "force_push", "publish_package",
    "deploy",          "outside_workdir", "network", "connector_send", "spend"};

/* Rule ids the decision uses for outcomes that are not rules; extra rules may not take them. */
static const char *const k_reserved_ids[] = {"state_change", "unjudgeable", "malformed_request",
                                             NULL};

enum { KEY_MAX = 96 };

static rh_status refuse(char *error, size_t cap, const char *format, ...) {
  va_list args;
  va_start(args, format);
  vsnprintf(error, cap, format, args);
  va_end(args);
  return RH_ERR_INVALID_ARGUMENT;
}

/* A member name as text for messages (cut if long). */
static void key_text(rh_str name, char *out, size_t cap) {
  if (rh_json_string(name, out, cap, NULL) == RH_ERR_INVALID_ARGUMENT) snprintf(out, cap, "?");
}

static rh_status string_list(rh_str value, const char *key, char ***list, size_t *count,
                             char *error, size_t cap) {
  rh_status status;
  rh_json_string_array_free(*list, *count); /* a repeated key: the last one wins */
  *list = NULL;
  *count = 0;
  status = rh_json_string_array_dup(value, list, count);
  if (status == RH_ERR_NO_MEMORY) return status;
  if (status != RH_OK) return refuse(error, cap, "\"%s\" must be an array of strings", key);
  return RH_OK;
}

/* "make  -n " -> "make -n": commands are compared word by word. */
static void collapse_spaces(char *text) {
  char *in = text, *out = text;
  while (*in) {
    if (*in == ' ' || *in == '\t' || *in == '\n') {
      while (*in == ' ' || *in == '\t' || *in == '\n') in++;
      if (out != text && *in) *out++ = ' ';
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
}

static rh_status parse_setting(rh_str value, bool allow_off, rk_setting *out, const char *key,
                               char *error, size_t cap) {
  if (rh_json_equals(value, "risky", 5)) *out = RK_RISKY;
  else if (rh_json_equals(value, "deny", 4)) *out = RK_DENY;
  else if (allow_off && rh_json_equals(value, "off", 3)) *out = RK_OFF;
  else
    return refuse(error, cap, allow_off ? "\"%s\" must be \"risky\", \"deny\" or \"off\""
                                        : "\"%s\" must be \"risky\" or \"deny\"",
                  key);
  return RH_OK;
}

static rh_status parse_rules(rh_str rules, rk_config *config, char *error, size_t cap) {
  rh_json_iter it;
  rh_str name, value;
  char key[KEY_MAX], path[KEY_MAX + 8];
  size_t i;
  if (rh_json_type_of(rules) != RH_JSON_OBJECT)
    return refuse(error, cap, "\"rules\" must be an object of rule id to \"risky\", \"deny\" or \"off\"");
  for (rh_json_iter_begin(&it, rules); rh_json_iter_next(&it, &name, &value);) {
    rh_status status;
    key_text(name, key, sizeof key);
    snprintf(path, sizeof path, "rules.%s", key);
    for (i = 0; i < RK_RULE_COUNT && !rh_json_equals(name, rk_rule_ids[i], strlen(rk_rule_ids[i]));
         i++) {}
    if (i == RK_RULE_COUNT)
      return refuse(error, cap,
                    "\"%s\" is not a rule (the rules are pipe_to_shell, sudo, delete, force_push, "
                    "publish_package, deploy, outside_workdir, network, connector_send, spend)",
                    path);
    if ((status = parse_setting(value, true, &config->rules[i], path, error, cap)) != RH_OK)
      return status;
  }
  return RH_OK;
}

static bool valid_extra_id(const char *id) {
  size_t i, len = strlen(id);
  if (len == 0 || len > 64) return false;
  for (i = 0; i < len; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

/* Whether `id` is a bundled or reserved id, or that of one of the first `extras` extra rules. */
static bool id_taken(const rk_config *config, const char *id, size_t extras) {
  size_t i;
  for (i = 0; i < RK_RULE_COUNT; i++)
    if (strcmp(rk_rule_ids[i], id) == 0) return true;
  for (i = 0; k_reserved_ids[i]; i++)
    if (strcmp(k_reserved_ids[i], id) == 0) return true;
  for (i = 0; i < extras; i++)
    if (strcmp(config->extra[i].id, id) == 0) return true;
  return false;
}

static void free_extras(rk_config *config) {
  size_t i;
  for (i = 0; config->extra && i < config->extra_count; i++) {
    free(config->extra[i].id);
    free(config->extra[i].reason);
    rh_json_string_array_free(config->extra[i].commands, config->extra[i].command_count);
    rh_json_string_array_free(config->extra[i].tools, config->extra[i].tool_count);
  }
  config->extra_count = 0;
}

static rh_status one_string(rh_str value, const char *key, char **out, char *error, size_t cap) {
  size_t len;
  rh_status status;
  free(*out);
  *out = NULL;
  if (rh_json_type_of(value) != RH_JSON_STRING) return refuse(error, cap, "\"%s\" must be a string", key);
  if ((status = rh_json_string_dup(value, out, &len)) != RH_OK) return status;
  if (strlen(*out) != len) return refuse(error, cap, "\"%s\" contains U+0000", key);
  return RH_OK;
}

static rh_status parse_extra_rule(rh_str rule, size_t index, rk_config *config, char *error,
                                  size_t cap) {
  rk_extra *extra = &config->extra[config->extra_count];
  rh_json_iter it;
  rh_str name, value;
  char key[KEY_MAX], path[KEY_MAX + 32];
  bool have_effect = false;
  rh_status status = RH_OK;
  memset(extra, 0, sizeof *extra);
  config->extra_count++; /* counted now, so rk_config_free frees what is half read */
  if (rh_json_type_of(rule) != RH_JSON_OBJECT)
    return refuse(error, cap, "\"extra[%zu]\" must be an object", index);
  for (rh_json_iter_begin(&it, rule); status == RH_OK && rh_json_iter_next(&it, &name, &value);) {
    key_text(name, key, sizeof key);
    snprintf(path, sizeof path, "extra[%zu].%s", index, key);
    if (rh_json_equals(name, "id", 2)) {
      status = one_string(value, path, &extra->id, error, cap);
    } else if (rh_json_equals(name, "reason", 6)) {
      status = one_string(value, path, &extra->reason, error, cap);
    } else if (rh_json_equals(name, "effect", 6)) {
      status = parse_setting(value, false, &extra->effect, path, error, cap);
      have_effect = true;
    } else if (rh_json_equals(name, "commands", 8)) {
      status = string_list(value, path, &extra->commands, &extra->command_count, error, cap);
    } else if (rh_json_equals(name, "tools", 5)) {
      status = string_list(value, path, &extra->tools, &extra->tool_count, error, cap);
    } else {
      status = refuse(error, cap,
                      "\"%s\" is not a key of an extra rule (id, effect, commands, tools, reason)",
                      path);
    }
  }
  if (status != RH_OK) return status;
  if (!extra->id) return refuse(error, cap, "\"extra[%zu].id\" is required", index);
  if (!valid_extra_id(extra->id) || id_taken(config, extra->id, index))
    return refuse(error, cap,
                  "\"extra[%zu].id\" must be 1-64 of a-z 0-9 _ - and not the id of another rule",
                  index);
  if (!have_effect) return refuse(error, cap, "\"extra[%zu].effect\" is required", index);
  if (extra->command_count == 0 && extra->tool_count == 0)
    return refuse(error, cap, "\"extra[%zu]\" needs \"commands\" or \"tools\" to match", index);
  return RH_OK;
}

static rh_status parse_extra(rh_str list, rk_config *config, char *error, size_t cap) {
  rh_json_iter it;
  rh_str rule;
  size_t i, n = 0;
  rh_status status;
  if (rh_json_type_of(list) != RH_JSON_ARRAY)
    return refuse(error, cap, "\"extra\" must be an array of rules");
  for (rh_json_iter_begin(&it, list); rh_json_iter_next(&it, NULL, &rule);) n++;
  if (n > RK_MAX_EXTRA_RULES)
    return refuse(error, cap, "\"extra\" has %zu rules; at most %d are allowed", n,
                  (int)RK_MAX_EXTRA_RULES);
  free_extras(config); /* a repeated key: the last one wins */
  if (!config->extra && !(config->extra = (rk_extra *)calloc(RK_MAX_EXTRA_RULES, sizeof(rk_extra))))
    return RH_ERR_NO_MEMORY;
  for (i = 0, rh_json_iter_begin(&it, list); rh_json_iter_next(&it, NULL, &rule); i++)
    if ((status = parse_extra_rule(rule, i, config, error, cap)) != RH_OK) return status;
  return RH_OK;
}

static rh_status parse_member(rh_str name, rh_str value, rk_config *config, char *error,
                              size_t cap) {
  rh_status status;
  size_t i;
  char key[KEY_MAX];
  if (rh_json_equals(name, "rules", 5)) return parse_rules(value, config, error, cap);
  if (rh_json_equals(name, "extra", 5)) return parse_extra(value, config, error, cap);
  if (rh_json_equals(name, "temp_dirs_inside", 16)) {
    if (rh_json_bool(value, &config->temp_dirs_inside) != RH_OK)
      return refuse(error, cap, "\"temp_dirs_inside\" must be true or false");
    return RH_OK;
  }
  if (rh_json_equals(name, "read_only_tools", 15))
    return string_list(value, "read_only_tools", &config->read_only_tools,
                       &config->read_only_tool_count, error, cap);
  if (rh_json_equals(name, "allowed_hosts", 13)) {
    status = string_list(value, "allowed_hosts", &config->allowed_hosts,
                         &config->allowed_host_count, error, cap);
    for (i = 0; status == RH_OK && i < config->allowed_host_count; i++) {
      char *host = config->allowed_hosts[i];
      rk_lower(host, strlen(host), host, strlen(host) + 1);
    }
    return status;
  }
  if (rh_json_equals(name, "read_only_commands", 18)) {
    status = string_list(value, "read_only_commands", &config->read_only_commands,
                         &config->read_only_command_count, error, cap);
    for (i = 0; status == RH_OK && i < config->read_only_command_count; i++) {
      collapse_spaces(config->read_only_commands[i]);
      if (config->read_only_commands[i][0] == '\0') /* it would make every command read-only */
        return refuse(error, cap, "\"read_only_commands[%zu]\" is empty", i);
    }
    return status;
  }
  key_text(name, key, sizeof key);
  return refuse(error, cap,
                "unknown configuration key \"%s\" (the keys are rules, extra, read_only_commands, "
                "read_only_tools, allowed_hosts, temp_dirs_inside)",
                key);
}

rh_status rk_config_parse(rh_str json, rk_config *out, char *error, size_t cap) {
  rh_json_iter it;
  rh_str doc, name, value;
  rh_status status = RH_OK;
  size_t i;
  memset(out, 0, sizeof *out);
  for (i = 0; i < RK_RULE_COUNT; i++) out->rules[i] = RK_RISKY;
  out->temp_dirs_inside = true;
  if (rh_json_parse(json, &doc) != RH_OK || rh_json_type_of(doc) != RH_JSON_OBJECT)
    return refuse(error, cap, "the configuration is not a JSON object");
  for (rh_json_iter_begin(&it, doc); status == RH_OK && rh_json_iter_next(&it, &name, &value);)
    status = parse_member(name, value, out, error, cap);
  if (status == RH_ERR_NO_MEMORY) snprintf(error, cap, "out of memory reading the configuration");
  if (status != RH_OK) rk_config_free(out);
  return status;
}

void rk_config_free(rk_config *config) {
  free_extras(config);
  free(config->extra);
  rh_json_string_array_free(config->read_only_commands, config->read_only_command_count);
  rh_json_string_array_free(config->read_only_tools, config->read_only_tool_count);
  rh_json_string_array_free(config->allowed_hosts, config->allowed_host_count);
  memset(config, 0, sizeof *config);
}

bool rk_config_denies_anything(const rk_config *config) {
  size_t i;
  for (i = 0; i < RK_RULE_COUNT; i++)
    if (config->rules[i] == RK_DENY) return true;
  for (i = 0; i < config->extra_count; i++)
    if (config->extra[i].effect == RK_DENY) return true;
  return false;
}
