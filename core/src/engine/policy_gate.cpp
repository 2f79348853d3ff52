#include "engine/policy_gate.hpp"

#include <algorithm>
#include <set>

#include "engine/envelope.hpp"

namespace runhost::engine {
namespace {

using nlohmann::json;

int network_rank(const std::string& n) {
  return n == "none" ? 0 : n == "loopback" ? 1 : 2;
}

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
Verdict read_verdict(const std::string& policy, const Result<std::string>& answer, json& constraints) {
  Verdict v;
  v.policy = policy;
  auto deny = [&](std::string why) {
    v.effect = Effect::deny;
    v.reason = "failed closed: " + why;
    v.rule = "plugin_error";
    constraints = json::object();
    return v;
  };
  if (!answer) return deny(answer.error().message);
  if (*answer == R"({"effect":"allow"})") return v;  // the common answer, without a parse
  const json doc = json::parse(*answer, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return deny("its decision is not a JSON object");
  const std::string effect = doc.value("effect", std::string());
  if (effect == "allow") {
    v.effect = Effect::allow;
  } else if (effect == "deny" || effect == "ask") {
    v.effect = effect == "deny" ? Effect::deny : Effect::ask;
    const auto reason = doc.find("reason");
    v.reason = reason != doc.end() && reason->is_string() ? reason->get<std::string>() : effect;
  } else {
    return deny("its decision has no valid \"effect\" (allow, deny or ask)");
  }
  if (auto rule = doc.find("rule"); rule != doc.end() && rule->is_string())
    v.rule = rule->get<std::string>().substr(0, 128);
  if (auto c = doc.find("constraints"); c != doc.end()) {
    if (!c->is_object()) return deny("its \"constraints\" is not an object");
    constraints = *c;
  }
  return v;
}

int rank(Effect e) {
  return e == Effect::deny ? 2 : e == Effect::ask ? 1 : 0;
}

}  // namespace

json merge_constraints(const json& a, const json& b) {
  json out = a.is_object() ? a : json::object();
  if (!b.is_object()) return out;
  for (const auto& [key, value] : b.items()) {
    if (key == "network" && value.is_string()) {
      if (!out.contains("network") ||
          network_rank(value.get<std::string>()) < network_rank(out.value("network", "any"))) {
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

std::string_view to_string(Effect effect) noexcept {
  return effect == Effect::deny ? "deny" : effect == Effect::ask ? "ask" : "allow";
}

json Decision::to_json() const {
  json out{{"effect", to_string(effect)}};
  if (!policy.empty()) out["policy"] = policy;
  if (!rule.empty()) out["rule"] = rule;
  if (!reason.empty()) out["reason"] = reason;
  json all = json::array();
  for (const auto& v : verdicts) {
    json one{{"policy", v.policy}, {"effect", to_string(v.effect)}};
    if (!v.reason.empty()) one["reason"] = v.reason;
    if (!v.rule.empty()) one["rule"] = v.rule;
    all.push_back(std::move(one));
  }
  out["decisions"] = std::move(all);
  return out;
}

std::string Decision::to_text() const {
  // Members in name order, as nlohmann::json's object (a std::map) is written.
  const auto member = [](std::string& out, std::string_view name, std::string_view value) {
    if (value.empty()) return;
    out += ",\"";
    out += name;
    out += "\":";
    append_string(out, value);
  };
  std::string out = R"({"decisions":[)";
  for (const auto& v : verdicts) {
    if (&v != verdicts.data()) out += ',';
    out += R"({"effect":)";
    append_string(out, to_string(v.effect));
    member(out, "policy", v.policy);
    member(out, "reason", v.reason);
    member(out, "rule", v.rule);
    out += '}';
  }
  out += R"(],"effect":)";
  append_string(out, to_string(effect));
  member(out, "policy", policy);
  member(out, "reason", reason);
  member(out, "rule", rule);
  out += '}';
  return out;
}

PolicyGate::PolicyGate(std::vector<std::unique_ptr<plugins::PolicyInstance>> policies)
    : policies_(std::move(policies)) {
  std::stable_sort(policies_.begin(), policies_.end(),
                   [](const auto& a, const auto& b) { return a->info().id < b->info().id; });
}

Decision PolicyGate::decide(std::string_view text) const {
  Decision combined;
  for (const auto& policy : policies_) {
    json constraints;  // null unless the policy gave some
    Verdict v = read_verdict(policy->info().id, policy->evaluate(text), constraints);
    if (rank(v.effect) > rank(combined.effect)) {
      combined.effect = v.effect;
      combined.policy = v.policy;
      combined.rule = v.rule;
      combined.reason = "policy '" + v.policy + "': " + v.reason;
    }
    if (v.effect != Effect::deny && !constraints.empty())
      combined.constraints = merge_constraints(combined.constraints, constraints);
    combined.verdicts.push_back(std::move(v));
  }
  return combined;
}

Decision PolicyGate::at_run_start(const std::string& run_id, const json& dispatch, const std::string& cwd) const {
  const json request{{"phase", "run.start"}, {"run_id", run_id}, {"cwd", cwd}, {"dispatch", dispatch}};
  return decide(request.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string PolicyGate::action_request_prefix(const std::string& run_id, const json& dispatch, const std::string& cwd) {
  const json head{{"phase", "action"}, {"run_id", run_id}, {"cwd", cwd}, {"dispatch", dispatch}};
  std::string text = head.dump(-1, ' ', false, json::error_handler_t::replace);
  text.back() = ',';  // the object goes on with its action
  text += "\"action\":";
  return text;
}

Decision PolicyGate::before_action(std::string_view request_prefix, std::string_view action) const {
  std::string text;
  text.reserve(request_prefix.size() + action.size() + 1);
  text.append(request_prefix).append(action) += '}';
  return decide(text);
}

}  // namespace runhost::engine
