// Asking every loaded policy: at run.start and before each action a runtime reports. Deny beats
// ask beats allow; a policy that fails or answers nonsense denies (policies fail closed).
// Constraints from allowing policies are merged, the most restrictive winning.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugins/instances.hpp"

namespace runhost::engine {

enum class Effect { allow, ask, deny };

struct Decision {
  Effect effect = Effect::allow;
  std::string reason;  // for deny and ask: the deciding policy's reason, prefixed with its id
  std::string policy;  // id of the deciding policy (empty for allow)
  nlohmann::json constraints = nlohmann::json::object();
};

class PolicyGate {
 public:
  explicit PolicyGate(std::vector<std::unique_ptr<plugins::PolicyInstance>> policies)
      : policies_(std::move(policies)) {}
  bool empty() const noexcept { return policies_.empty(); }

  // Thread: any (policies are thread-safe by contract).
  Decision at_run_start(const std::string& run_id, const nlohmann::json& dispatch) const;
  Decision before_action(const std::string& run_id, const nlohmann::json& dispatch, const nlohmann::json& action) const;

 private:
  Decision decide(const nlohmann::json& request) const;
  std::vector<std::unique_ptr<plugins::PolicyInstance>> policies_;
};

// Merges constraint objects: tools.allow intersected, tools.deny united, network the narrowest
// (none < loopback < any), read_only if any says so.
nlohmann::json merge_constraints(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace runhost::engine
