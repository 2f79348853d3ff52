// runhost usage, and runhost run under --limits / $RUNHOST_LIMITS, as an operator uses them.
#include <cstdlib>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_fixture.hpp"

namespace runhost {
namespace {

using nlohmann::json;
using testing::run_command;

class CliUsage : public testing::CliFixture {
 protected:
  // runhost run of a jsonl command printing one usage event.
  testing::CommandResult spend(const std::string& tenant, const std::string& user, double cost,
                               std::vector<std::string> extra = {}) {
    const std::string line =
        json{{"type", "usage"}, {"payload", {{"source", "anthropic"}, {"cost_usd", cost}, {"input_tokens", 10}}}}.dump();
    std::vector<std::string> args{"--tenant", tenant, "--user", user, "--output-mode", "jsonl"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--", "sh", "-c", "echo '" + line + "'"});
    return run_command(runhost("run", args));
  }
};

TEST_F(CliUsage, AddsUpTheUsageOfTheStorePerSourceWithinATenant) {
  ASSERT_EQ(spend("acme", "ada", 0.5).exit_code, 0);
  ASSERT_EQ(spend("acme", "bob", 0.25).exit_code, 0);
  ASSERT_EQ(spend("globex", "ada", 4.0).exit_code, 0);

  const auto all = run_command(runhost("usage", {"--json"}));
  ASSERT_EQ(all.exit_code, 0) << all.out;
  const json total = json::parse(all.out)["total"];
  EXPECT_DOUBLE_EQ(total["cost_usd"].get<double>(), 4.75) << all.out;
  EXPECT_EQ(total["events"], 3);

  const auto acme = run_command(runhost("usage", {"--tenant", "acme", "--since", "today", "--json"}));
  ASSERT_EQ(acme.exit_code, 0) << acme.out;
  const json sources = json::parse(acme.out)["sources"];
  ASSERT_EQ(sources.size(), 1u) << acme.out;
  EXPECT_EQ(sources[0]["source"], "anthropic");
  EXPECT_DOUBLE_EQ(sources[0]["cost_usd"].get<double>(), 0.75) << "globex's spend is walled off";
  EXPECT_EQ(sources[0]["input_tokens"], 20);

  const auto ada = run_command(runhost("usage", {"--tenant", "acme", "--user", "ada"}));
  ASSERT_EQ(ada.exit_code, 0) << ada.out;
  EXPECT_NE(ada.out.find("anthropic"), std::string::npos) << ada.out;
  EXPECT_NE(ada.out.find("0.5000"), std::string::npos) << ada.out;

  const auto bad = run_command(runhost("usage", {"--since", "yesterday-ish"}));
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("--since"), std::string::npos) << bad.out;
}

TEST_F(CliUsage, ARunOverQuotaIsRefusedWithItsReason) {
  const std::string limits = R"({"quotas": {"runs_per_user_per_day": 1}})";
  const auto first = run_command(runhost("run", {"--limits", limits, "--user", "ada", "--", "true"}));
  ASSERT_EQ(first.exit_code, 0) << first.out;
  const auto second = run_command(runhost("run", {"--limits", limits, "--user", "ada", "--", "true"}));
  EXPECT_EQ(second.exit_code, 1) << second.out;
  EXPECT_NE(second.out.find("quota_exceeded"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("runs_per_user_per_day"), std::string::npos) << second.out;
  EXPECT_EQ(second.out.find("run.started"), std::string::npos) << "nothing was started: " << second.out;
}

TEST_F(CliUsage, ARunOverBudgetIsRefusedWithLimitsFromAFileOrTheEnvironment) {
  testing::write_file(dir_ / "limits.json", R"({"budgets": {"user_day_usd": 1}})");
  const std::string file = (dir_ / "limits.json").string();
  EXPECT_EQ(spend("local", "ada", 1.5, {"--limits", file}).exit_code, 1) << "the run went past the budget";
  const auto refused = spend("local", "ada", 0.1, {"--limits", file});
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("budget_exceeded"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("$1.50 of its $1.00 daily budget"), std::string::npos) << refused.out;

  ::setenv("RUNHOST_LIMITS", file.c_str(), 1);
  const auto from_env = spend("local", "ada", 0.1);
  ::unsetenv("RUNHOST_LIMITS");
  EXPECT_NE(from_env.out.find("budget_exceeded"), std::string::npos) << from_env.out;
  EXPECT_EQ(spend("local", "ada", 0.1).exit_code, 0) << "without limits nothing is refused";

  const auto bad = run_command(runhost("runs", {"--limits", R"({"budgets": {"run_usdd": 1}})"}));
  EXPECT_EQ(bad.exit_code, 70) << bad.out;
  EXPECT_NE(bad.out.find("budgets.run_usdd"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace runhost
