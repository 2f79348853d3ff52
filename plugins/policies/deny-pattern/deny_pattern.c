/* deny-pattern: a policy that denies any command, tool or prompt matching a configured glob.
 *
 * Configuration: {"patterns": ["mkfs*", "*| sh", ...]}, fnmatch(3) globs without flags,
 * so '*' also matches '/'. Each request is judged on its subjects: for phase "action" the
 * action's name and, when it is a string, action.input.command; for phase "run.start" the
 * dispatch's prompt. The first subject that matches a pattern is denied; all else is allowed.
 * An instance never changes after create(), so concurrent evaluate() calls need no lock.
 */
#define _POSIX_C_SOURCE 200809L /* fnmatch */

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <runhost/json.h>
#include <runhost/runhost.h>

#define DENY_VERSION "0.1.0"
#define DENY_REASON_SUBJECT_MAX 200 /* bytes of a subject quoted in a reason */

struct rh_policy_instance {
  const rh_host *host;
  char **patterns; /* NUL-terminated copies, immutable after create */
  size_t pattern_count;
};

static const rh_host *g_host;

static rh_status fail(const rh_host *host, rh_status status, const char *message) {
  rh_str text = {message, strlen(message)};
  host->set_error(host, text);
  return status;
}

static rh_status deny_create(const rh_policy_plugin *self, const rh_host *host, rh_str config_json,
                             rh_policy_instance **out) {
  rh_policy_instance *policy;
  rh_str config, patterns;
  rh_status status;
  (void)self;
  if (rh_json_parse(config_json, &config) != RH_OK || rh_json_type_of(config) != RH_JSON_OBJECT)
    return fail(host, RH_ERR_INVALID_ARGUMENT,
                "deny-pattern: the configuration is not a JSON object");
  if (!(policy = (rh_policy_instance *)calloc(1, sizeof *policy)))
    return fail(host, RH_ERR_NO_MEMORY, "deny-pattern: out of memory");
  policy->host = host;
  status = rh_json_find(config, "patterns", &patterns);
  if (status == RH_OK)
    status = rh_json_string_array_dup(patterns, &policy->patterns, &policy->pattern_count);
  else if (status == RH_ERR_NOT_FOUND) status = RH_OK; /* no patterns: everything is allowed */
  if (status != RH_OK) {
    free(policy);
    return fail(host, status,
                status == RH_ERR_NO_MEMORY
                    ? "deny-pattern: out of memory copying \"patterns\""
                    : "deny-pattern: \"patterns\" must be an array of strings");
  }
  *out = policy;
  return RH_OK;
}

static rh_status write_denial(const rh_policy_instance *policy, const rh_writer *out,
                              const char *subject, size_t len, const char *pattern) {
  size_t shown = len;
  rh_status status;
  if (shown > DENY_REASON_SUBJECT_MAX) { /* cut a long subject, between whole characters */
    shown = DENY_REASON_SUBJECT_MAX;
    while (shown > 0 && ((unsigned char)subject[shown] & 0xC0) == 0x80) shown--;
  }
  if ((status = rh_json_write_cstr(out, "{\"effect\":\"deny\",\"reason\":\"")) ||
      (status = rh_json_write_escaped(out, subject, shown)) ||
      (status = rh_json_write_cstr(
           out, shown < len ? "... matches denied pattern '" : " matches denied pattern '")) ||
      (status = rh_json_write_escaped(out, pattern, strlen(pattern))) ||
      (status = rh_json_write_cstr(out, "'\"}")))
    return fail(policy->host, status, "deny-pattern: could not write the decision");
  return RH_OK;
}

/* Judges one subject (a JSON string): when a pattern matches, writes the denial and sets
 * *denied. */
static rh_status judge(const rh_policy_instance *policy, rh_str value, const rh_writer *out,
                       bool *denied) {
  char *subject;
  size_t len, i;
  rh_status status = rh_json_string_dup(value, &subject, &len);
  if (status != RH_OK) return fail(policy->host, status, "deny-pattern: out of memory");
  if (strlen(subject) != len) { /* fnmatch would see only the part before U+0000 */
    free(subject);
    return fail(policy->host, RH_ERR_INVALID_ARGUMENT,
                "deny-pattern: a command, tool name or prompt contains U+0000");
  }
  for (i = 0; i < policy->pattern_count && !*denied; i++) {
    if (fnmatch(policy->patterns[i], subject, 0) == 0) {
      *denied = true;
      status = write_denial(policy, out, subject, len, policy->patterns[i]);
    }
  }
  free(subject);
  return status;
}

static rh_status deny_evaluate(rh_policy_instance *policy, rh_str request_json,
                               const rh_writer *decision_out) {
  /* What is judged: the action's name and command, or the run's prompt, found in one walk of
   * the request (the dispatch in it is most of its bytes). */
  static const char *const members[] = {"phase", "action", "dispatch"};
  static const char *const action_subjects[] = {"name", "input.command", NULL};
  static const char *const start_subjects[] = {"prompt", NULL};
  const char *const *paths;
  rh_str request, found[3], scope, subject;
  bool denied = false;
  rh_status status = RH_OK;
  if (rh_json_parse(request_json, &request) != RH_OK ||
      rh_json_find_each(request, members, 3, found) != RH_OK || !found[0].data)
    return fail(policy->host, RH_ERR_INVALID_ARGUMENT,
                "deny-pattern: the request is not a JSON object with a \"phase\"");
  if (rh_json_equals(found[0], "action", 6)) paths = action_subjects, scope = found[1];
  else if (rh_json_equals(found[0], "run.start", 9)) paths = start_subjects, scope = found[2];
  else
    return fail(policy->host, RH_ERR_INVALID_ARGUMENT,
                "deny-pattern: the request's \"phase\" is neither \"action\" nor \"run.start\"");
  for (; *paths && status == RH_OK && !denied; paths++) {
    if (rh_json_type_of(scope) == RH_JSON_OBJECT &&
        rh_json_find_path(scope, *paths, &subject) == RH_OK &&
        rh_json_type_of(subject) == RH_JSON_STRING)
      status = judge(policy, subject, decision_out, &denied);
  }
  if (status != RH_OK || denied) return status;
  if ((status = rh_json_write_cstr(decision_out, "{\"effect\":\"allow\"}")) != RH_OK)
    return fail(policy->host, status, "deny-pattern: could not write the decision");
  return RH_OK;
}

static void deny_destroy(rh_policy_instance *policy) {
  rh_json_string_array_free(policy->patterns, policy->pattern_count);
  free(policy);
}

static rh_status deny_init(const rh_host *host, const char *library_path) {
  (void)library_path;
  g_host = host;
  return RH_OK;
}

static void deny_deinit(void) { g_host = NULL; }

static const rh_policy_plugin k_policy = {
    .struct_size = sizeof(rh_policy_plugin),
    .create = deny_create,
    .evaluate = deny_evaluate,
    .destroy = deny_destroy,
};

static const rh_plugin_desc k_desc = {
    .struct_size = sizeof(rh_plugin_desc),
    .kind = RH_PLUGIN_KIND_POLICY,
    .id = "deny-pattern",
    .name = "Deny by pattern",
    .version = DENY_VERSION,
    .vendor = "runhost examples",
    .description = "Denies commands, tool names and prompts that match configured fnmatch globs.",
    .iface = {.policy = &k_policy},
    .get_extension = NULL,
};

static const rh_plugin_desc *const k_plugins[] = {&k_desc};

static const rh_plugin_entry k_entry = {
    .struct_size = sizeof(rh_plugin_entry),
    .abi = RH_ABI_VERSION_INIT,
    .init = deny_init,
    .deinit = deny_deinit,
    .plugin_count = 1,
    .plugins = k_plugins,
};

RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void) { return &k_entry; }
