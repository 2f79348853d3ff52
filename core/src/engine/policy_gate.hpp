// Asking every loaded policy: at run.start and before each action a runtime reports. Deny beats
// ask beats allow; a policy that fails or answers nonsense denies (policies fail closed).
// Constraints from allowing policies are merged, the most restrictive winning.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugins/instances.hpp"

namespace runhost::engine {

enum class Effect { allow, ask, deny };

std::string_view to_string(Effect effect) noexcept;

// One policy's answer.
struct Verdict {
  std::string policy;  // its plugin id
  Effect effect = Effect::allow;
  std::string reason;  // as the policy gave it (for a policy that failed: why it failed closed)
  std::string rule;    // the policy's name for the rule that decided, if it gave one
};

struct Decision {
  Effect effect = Effect::allow;
  std::string reason;  // for deny and ask: the deciding policy's reason, prefixed with its id
  std::string policy;  // id of the deciding policy (empty for allow)
  std::string rule;    // the deciding policy's rule, if it named one
  nlohmann::json constraints = nlohmann::json::object();
  std::vector<Verdict> verdicts;  // every policy's answer, in policy id order

  // {"effect", "policy"?, "rule"?, "reason"?, "decisions": [{policy, effect, reason?, rule?}]}:
  // the body of a policy.decision event.
  nlohmann::json to_json() const;
  // The same, written as to_json().dump() writes it (members in name order), without a tree:
  // every tool.started carries one.
  std::string to_text() const;
};

// Every policy is asked about everything, in the order of their ids, so the same request always
// gives the same decision: deny beats ask beats allow, and among equals the first policy's reason
// is the one given.
class PolicyGate {
 public:
  explicit PolicyGate(std::vector<std::unique_ptr<plugins::PolicyInstance>> policies);
  bool empty() const noexcept { return policies_.empty(); }

  // `cwd`: the run's working directory on the device (absolute), for rules about paths.
  // Thread: any (policies are thread-safe by contract).
  Decision at_run_start(const std::string& run_id, const nlohmann::json& dispatch, const std::string& cwd) const;
  // Before each action a runtime reports: `request_prefix` is action_request_prefix() of the run,
  // written once per run (the dispatch in it is the bulk of every request); `action` the text of
  // the action object, {"kind":…,"name":…,"input":…}.
  Decision before_action(std::string_view request_prefix, std::string_view action) const;
  // The request before_action sends, up to its action: {"action":…} follows it, then '}'.
  static std::string action_request_prefix(const std::string& run_id, const nlohmann::json& dispatch,
                                           const std::string& cwd);

 private:
  Decision decide(std::string_view request) const;
  std::vector<std::unique_ptr<plugins::PolicyInstance>> policies_;
};

// Merges constraint objects: tools.allow intersected, tools.deny united, network the narrowest
// (none < loopback < any), read_only if any says so.
nlohmann::json merge_constraints(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace runhost::engine
