#include "engine/policy_gate.hpp"

#include <algorithm>
#include <set>

namespace runhost::engine {
namespace {

using nlohmann::json;

int network_rank(const std::string& n) { return n == "none" ? 0 : n == "loopback" ? 1 : 2; }

std::set<std::string> strings(const json& j) {
  std::set<std::string> out;
  if (j.is_array()) {
    for (const auto& v : j) {
      if (v.is_string()) out.insert(v.get<std::string>());
    }
  }
  return out;
}

// Reads one policy's answer; anything malformed is a denial naming the policy.
Decision read_decision(const std::string& policy, const Result<std::string>& answer) {
  Decision d;
  d.policy = policy;
  auto deny = [&](std::string why) {
    d.effect = Effect::deny;
    d.reason = "policy '" + policy + "' failed closed: " + why;
    return d;
  };
  if (!answer) return deny(answer.error().message);
  const json doc = json::parse(*answer, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return deny("its decision is not a JSON object");
  const std::string effect = doc.value("effect", std::string());
  if (effect == "allow") {
    d.effect = Effect::allow;
  } else if (effect == "deny" || effect == "ask") {
    d.effect = effect == "deny" ? Effect::deny : Effect::ask;
    const auto reason = doc.find("reason");
    d.reason = "policy '" + policy + "': " + (reason != doc.end() && reason->is_string() ? reason->get<std::string>() : effect);
  } else {
    return deny("its decision has no valid \"effect\" (allow, deny or ask)");
  }
  if (auto c = doc.find("constraints"); c != doc.end()) {
    if (!c->is_object()) return deny("its \"constraints\" is not an object");
    d.constraints = *c;
  }
  return d;
}

}  // namespace

json merge_constraints(const json& a, const json& b) {
  json out = a.is_object() ? a : json::object();
  if (!b.is_object()) return out;
  for (const auto& [key, value] : b.items()) {
    if (key == "network" && value.is_string()) {
      if (!out.contains("network") || network_rank(value.get<std::string>()) < network_rank(out.value("network", "any"))) {
        out["network"] = value;
      }
    } else if (key == "read_only" && value.is_boolean()) {
      out["read_only"] = out.value("read_only", false) || value.get<bool>();
    } else if (key == "tools" && value.is_object()) {
      json tools = out.value("tools", json::object());
      if (value.contains("allow")) {
        auto allow = strings(value["allow"]);
        if (tools.contains("allow")) {
          std::set<std::string> both;
          const auto have = strings(tools["allow"]);
          std::set_intersection(have.begin(), have.end(), allow.begin(), allow.end(), std::inserter(both, both.end()));
          allow = both;
        }
        tools["allow"] = allow;
      }
      if (value.contains("deny")) {
        auto deny = strings(tools.value("deny", json::array()));
        const auto more = strings(value["deny"]);
        deny.insert(more.begin(), more.end());
        tools["deny"] = deny;
      }
      out["tools"] = tools;
    } else if (!out.contains(key)) {
      out[key] = value;  // unknown keys: first policy wins
    }
  }
  return out;
}

Decision PolicyGate::decide(const json& request) const {
  const std::string text = request.dump(-1, ' ', false, json::error_handler_t::replace);
  Decision combined;
  for (const auto& policy : policies_) {
    Decision d = read_decision(policy->info().id, policy->evaluate(text));
    if (d.effect == Effect::deny) return d;  // deny beats everything: stop asking
    if (d.effect == Effect::ask && combined.effect == Effect::allow) {
      combined.effect = Effect::ask;
      combined.reason = d.reason;
      combined.policy = d.policy;
    }
    combined.constraints = merge_constraints(combined.constraints, d.constraints);
  }
  return combined;
}

Decision PolicyGate::at_run_start(const std::string& run_id, const json& dispatch) const {
  return decide({{"phase", "run.start"}, {"run_id", run_id}, {"dispatch", dispatch}});
}

Decision PolicyGate::before_action(const std::string& run_id, const json& dispatch, const json& action) const {
  return decide({{"phase", "action"}, {"run_id", run_id}, {"dispatch", dispatch}, {"action", action}});
}

}  // namespace runhost::engine
