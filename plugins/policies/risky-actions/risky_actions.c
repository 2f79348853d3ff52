/* risky-actions: the policy that gives approvalPolicy one meaning on every runtime.
 *
 *   auto           allow everything, except what the configuration makes a "deny"
 *   confirm-risky  ask for actions a rule calls risky; allow the rest
 *   manual         ask for risky actions and for every action that changes state; allow reads
 *
 * The rules (delete, force_push, publish_package, pipe_to_shell, sudo, network,
 * outside_workdir, deploy, connector_send, spend, and the operator's extra ones) and the
 * configuration are documented in docs/policy-rules.md; risky.h says how the files divide the
 * work. Phase "run.start" is always allowed: this policy judges actions. A request it cannot
 * read is denied with rule "malformed_request", a decision rather than an error, so the host
 * records why.
 *
 * Thread rules: create() and destroy() on the host's control thread. evaluate() on any thread,
 * concurrently: an instance never changes after create(), and each call keeps its state on its
 * own stack and heap, so no lock is needed.
 */
#include "risky.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RISKY_VERSION "0.1.0"

struct rh_policy_instance {
  const rh_host *host;
  rk_config config;
};

static rh_status fail(const rh_host *host, rh_status status, const char *message) {
  rh_str text = {message, strlen(message)};
  host->set_error(host, text);
  return status;
}

static rh_status risky_create(const rh_policy_plugin *self, const rh_host *host, rh_str config_json,
                              rh_policy_instance **out) {
  rh_policy_instance *policy;
  char error[320], message[360];
  rh_status status;
  (void)self;
  if (!(policy = (rh_policy_instance *)calloc(1, sizeof *policy)))
    return fail(host, RH_ERR_NO_MEMORY, "risky-actions: out of memory");
  policy->host = host;
  if ((status = rk_config_parse(config_json, &policy->config, error, sizeof error)) != RH_OK) {
    free(policy);
    snprintf(message, sizeof message, "risky-actions: %s", error);
    return fail(host, status, message);
  }
  *out = policy;
  return RH_OK;
}

static rk_mode mode_of(rh_str dispatch) {
  rh_str mode;
  if (rh_json_type_of(dispatch) == RH_JSON_OBJECT &&
      rh_json_find(dispatch, "approvalPolicy", &mode) == RH_OK) {
    if (rh_json_equals(mode, "auto", 4)) return RK_MODE_AUTO;
    if (rh_json_equals(mode, "confirm-risky", 13)) return RK_MODE_CONFIRM_RISKY;
  }
  return RK_MODE_MANUAL; /* "manual", or a request without a mode we know: the strictest */
}

/* Judges the action with the run's directory from the request's "cwd" (absolute; otherwise
 * unknown). */
static rh_status judge(const rh_policy_instance *policy, rh_str cwd_value, rh_str action, rk_mode mode,
                       const rh_writer *out) {
  rk_context context;
  char *cwd = NULL;
  size_t cwd_len = 0;
  rh_status status = RH_OK;
  memset(&context, 0, sizeof context);
  context.config = &policy->config;
  if (rh_json_type_of(cwd_value) == RH_JSON_STRING) status = rh_json_string_dup(cwd_value, &cwd, &cwd_len);
  if (status == RH_OK && !(context.verdict = (rk_verdict *)calloc(1, sizeof *context.verdict)))
    status = RH_ERR_NO_MEMORY;
  if (status == RH_OK) status = rk_dirs_init(&context.dirs, cwd, cwd_len);
  if (status == RH_OK) status = rk_judge_action(&context, action);
  if (status == RH_OK && context.verdict->out_of_memory) status = RH_ERR_NO_MEMORY;
  if (status == RH_OK) status = rk_write_decision(&policy->config, mode, context.verdict, out);
  rk_dirs_free(&context.dirs);
  free(context.verdict);
  free(cwd);
  return status;
}

static rh_status risky_evaluate(rh_policy_instance *policy, rh_str request_json, const rh_writer *out) {
  /* One walk of the request finds what is judged (the dispatch in it is most of its bytes). */
  static const char *const members[] = {"phase", "action", "dispatch", "cwd"};
  rh_str request, found[4], phase, action;
  rk_mode mode;
  rh_status status;
  if (rh_json_parse(request_json, &request) != RH_OK ||
      rh_json_find_each(request, members, 4, found) != RH_OK || !(phase = found[0]).data)
    status = rk_write_malformed("the request is not a JSON object with a \"phase\"", out);
  else if (rh_json_equals(phase, "run.start", 9))
    status = rh_json_write_cstr(out, "{\"effect\":\"allow\"}");
  else if (!rh_json_equals(phase, "action", 6))
    status = rk_write_malformed("the request's \"phase\" is neither \"run.start\" nor \"action\"", out);
  else if (rh_json_type_of(action = found[1]) != RH_JSON_OBJECT)
    status = rk_write_malformed("the request has no \"action\" object", out);
  else if ((mode = mode_of(found[2])) == RK_MODE_AUTO && !rk_config_denies_anything(&policy->config))
    status = rh_json_write_cstr(out, "{\"effect\":\"allow\"}"); /* nothing to find that would change it */
  else
    status = judge(policy, found[3], action, mode, out);
  if (status == RH_ERR_NO_MEMORY) return fail(policy->host, status, "risky-actions: out of memory");
  if (status != RH_OK) return fail(policy->host, status, "risky-actions: could not write the decision");
  return RH_OK;
}

static void risky_destroy(rh_policy_instance *policy) {
  rk_config_free(&policy->config);
  free(policy);
}

static rh_status risky_init(const rh_host *host, const char *library_path) {
  (void)host;
  (void)library_path;
  return RH_OK;
}

static void risky_deinit(void) {}

static const rh_policy_plugin k_policy = {
    .struct_size = sizeof(rh_policy_plugin),
    .create = risky_create,
    .evaluate = risky_evaluate,
    .destroy = risky_destroy,
};

static const rh_plugin_desc k_desc = {
    .struct_size = sizeof(rh_plugin_desc),
    .kind = RH_PLUGIN_KIND_POLICY,
    .id = "risky-actions",
    .name = "Risky actions",
    .version = RISKY_VERSION,
    .vendor = "runhost",
    .description = "Gives approvalPolicy (auto, confirm-risky, manual) one meaning on every runtime: asks before "
                   "deleting, force-pushing, publishing, piping downloads to a shell, sudo, network egress, "
                   "writing outside the run's directory, deploying, sending through connectors and spending.",
    .iface = {.policy = &k_policy},
    .get_extension = NULL,
};

static const rh_plugin_desc *const k_plugins[] = {&k_desc};

static const rh_plugin_entry k_entry = {
    .struct_size = sizeof(rh_plugin_entry),
    .abi = RH_ABI_VERSION_INIT,
    .init = risky_init,
    .deinit = risky_deinit,
    .plugin_count = 1,
    .plugins = k_plugins,
};

RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void) { return &k_entry; }
