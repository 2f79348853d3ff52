// A decision written as text (what every tool.started carries) reads as its tree dumped.
#include <gtest/gtest.h>

#include "engine/policy_gate.hpp"

namespace runhost::engine {
namespace {

using nlohmann::json;

std::string dumped(const Decision& d) {
  return d.to_json().dump(-1, ' ', false, json::error_handler_t::replace);
}

TEST(Decision, ItsTextIsItsTreeDumped) {
  const Decision none;
  Decision allow;
  allow.verdicts = {Verdict{"deny-pattern", Effect::allow, "", ""}, Verdict{"risky-actions", Effect::allow, "", ""}};
  Decision deny;
  deny.effect = Effect::deny;
  deny.policy = "deny-pattern";
  deny.rule = "pattern";
  deny.reason = "policy 'deny-pattern': \"rm -rf /\" matches\n\x01 a pattern, é";
  deny.verdicts = {Verdict{"deny-pattern", Effect::deny, "rm -rf / \"quoted\"", "pattern"},
                   Verdict{"risky-actions", Effect::ask, "needs a human", ""}};
  for (const Decision* d : std::initializer_list<const Decision*>{&none, &allow, &deny}) {
    EXPECT_EQ(d->to_text(), dumped(*d));
  }
  // Invalid UTF-8 from a policy is replaced either way (the tree writes U+FFFD, the text its escape).
  deny.reason += "\xff";
  EXPECT_EQ(json::parse(deny.to_text()), json::parse(dumped(deny)));
}

}  // namespace
}  // namespace runhost::engine
