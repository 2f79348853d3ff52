/* runhost/policy.h — the policy plugin interface: allow, deny or ask, before anything happens.
 *
 * The host asks every loaded policy at the start of a run (phase "run.start") and before each
 * action a runtime reports (phase "action": a tool call, a command, a connector call, a
 * publish, a spend). Each policy answers with a decision; deny beats ask beats allow, and a
 * decision may add launch constraints (tools allowed or denied, network, read-only).
 *
 * Request (JSON, borrowed for the call):
 *   {"phase": "run.start" | "action",
 *    "run_id": "...",
 *    "dispatch": {...the DevicePromptDispatch, camelCase...},
 *    "action": {"kind": "tool" | "command" | "connector" | "publish" | "spend",
 *               "name": "Bash", "input": {...}}}          only for phase "action"
 * Decision (JSON, written to `decision_out`):
 *   {"effect": "allow" | "deny" | "ask",                   required
 *    "reason": "why, for the user",                        required for deny and ask
 *    "constraints": {"tools": {"allow": [...], "deny": [...]},
 *                    "network": "none" | "loopback" | "any",
 *                    "read_only": true}}                   optional, phase run.start only
 *
 *   rh_status evaluate(rh_policy_instance *self, rh_str request, const rh_writer *out) {
 *     static const char allow[] = "{\"effect\":\"allow\"}";
 *     return out->write(out, allow, sizeof allow - 1);
 *   }
 *
 * Thread rules: create() and destroy() on the host's control thread; evaluate() on any thread,
 * concurrently for one instance, so it must be thread-safe. evaluate() must not block for long:
 * it sits on the path of every action.
 */
#ifndef RUNHOST_POLICY_H
#define RUNHOST_POLICY_H

#include "host.h"
#include "types.h"

RH_BEGIN_DECLS

/* The plugin's own per-instance state; opaque to the host. */
typedef struct rh_policy_instance rh_policy_instance;

typedef struct rh_policy_plugin {
  uint32_t struct_size; /* sizeof(rh_policy_plugin) */

  /* Creates an instance configured by `config_json` (the operator's configuration for this
   * plugin, "{}" if none; borrowed). On RH_OK *out is non-NULL and lives until destroy().
   * A configuration the plugin cannot use fails with RH_ERR_INVALID_ARGUMENT and set_error. */
  rh_status (*create)(const struct rh_policy_plugin *self, const rh_host *host,
                      rh_str config_json, rh_policy_instance **out);

  /* Decides on one request (see above). A failure, or output that is not a valid decision,
   * is treated by the host as "deny" with reason plugin_error: policies fail closed. */
  rh_status (*evaluate)(rh_policy_instance *self, rh_str request_json,
                        const rh_writer *decision_out);

  void (*destroy)(rh_policy_instance *self);
} rh_policy_plugin;

RH_END_DECLS

#endif /* RUNHOST_POLICY_H */
