// The runhost command as an operator runs it: output, exit codes, usage errors.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_paths.hpp"

namespace runhost {
namespace {

using nlohmann::json;
using testing::run_command;

std::string cli() { return testing::kCli.string(); }

TEST(CliPlugins, ListsTheExamplesAndRefusesEveryFixtureWithItsReason) {
  const auto r = run_command({cli(), "plugins", "--no-env", "--plugin-dir", testing::kFixtureDir.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const json out = json::parse(r.out);
  std::set<std::string> loaded;
  for (const auto& p : out["plugins"]) loaded.insert(p["kind"].get<std::string>() + "/" + p["id"].get<std::string>());
  EXPECT_EQ(loaded, testing::bundled_plugins());
  EXPECT_TRUE(loaded.count("runtime/custom") && loaded.count("policy/deny-pattern") && loaded.count("connector/static-grant"));
  std::map<std::string, std::string> refused;
  for (const auto& r2 : out["refused"]) {
    refused[std::filesystem::path(r2["path"].get<std::string>()).filename().string()] = r2["reason"];
  }
  EXPECT_EQ(refused.size(), 20u);
  EXPECT_EQ(refused["init-fails.so"], "init() failed (status 9): fixture: cannot reach the licence server");
  EXPECT_EQ(refused["wrong-arch.so"], "built for aarch64; this host is x86_64");
  EXPECT_EQ(out["directories"].size(), 2u);
}

TEST(CliPlugins, PrintsAReadableListing) {
  const auto r = run_command({cli(), "plugins", "--no-env", "--plugin-dir", testing::kFixtureDir.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Loaded (" + std::to_string(testing::bundled_plugins().size()) + ")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Refused (20)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("runtime    example-echo"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("null-entry.so: runhost_plugin_entry_v1() returned NULL"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "no colour when not on a terminal";
}

TEST(CliPlugins, StrictFailsWhenAnythingIsRefused) {
  EXPECT_EQ(run_command({cli(), "plugins", "--no-env", "--strict"}).exit_code, 0);
  EXPECT_EQ(run_command({cli(), "plugins", "--no-env", "--strict", "--plugin-dir", testing::kFixtureDir.string()}).exit_code, 1);
}

TEST(CliPlugins, ReadsRunhostPluginPath) {
  setenv("RUNHOST_PLUGIN_PATH", testing::kCheckOnlyDir.c_str(), 1);
  const auto r = run_command({cli(), "plugins", "--json", "--no-bundled"});
  unsetenv("RUNHOST_PLUGIN_PATH");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const json out = json::parse(r.out);
  ASSERT_EQ(out["directories"].size(), 1u);
  ASSERT_EQ(out["plugins"].size(), 1u);
  EXPECT_EQ(out["plugins"][0]["id"], "fixture-extra-exports");
}

TEST(CliPluginCheck, PassesTheExamples) {
  for (const char* id : {"example-echo", "deny-pattern", "static-grant", "custom"}) {
    const auto lib = (testing::kBundledDir / (std::string(id) + ".so")).string();
    const auto r = run_command({cli(), "plugin", "check", lib});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("PASS  " + lib), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(", 0 failed"), std::string::npos) << r.out;
  }
}

TEST(CliPluginCheck, FailsEachFixtureNamingTheReason) {
  const std::map<std::string, std::string> reasons = {
      {"null-entry.so", "runhost_plugin_entry_v1() returned NULL"},
      {"init-fails.so", "fixture: cannot reach the licence server"},
      {"no-manifest.so", "no manifest"},
      {"wrong-arch.so", "built for aarch64"},
      {"loop-a.so", "symlink loop"},
      {"undefined-symbol.so", "undefined symbol: fixture_symbol_defined_nowhere"},
  };
  for (const auto& entry : std::filesystem::directory_iterator(testing::kFixtureDir)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() != ".so") continue;
    const auto r = run_command({cli(), "plugin", "check", entry.path().string()});
    EXPECT_EQ(r.exit_code, 1) << name << "\n" << r.out;
    EXPECT_NE(r.out.find("FAIL  "), std::string::npos) << name;
    if (reasons.count(name)) {
      EXPECT_NE(r.out.find(reasons.at(name)), std::string::npos) << name << "\n" << r.out;
    }
  }
  const auto extra = run_command({cli(), "plugin", "check", (testing::kCheckOnlyDir / "extra-exports.so").string()});
  EXPECT_EQ(extra.exit_code, 1) << extra.out;
  const auto crash = run_command({cli(), "plugin", "check", (testing::kMisbehavingDir / "crashes.so").string()});
  EXPECT_EQ(crash.exit_code, 1) << crash.out;
  EXPECT_NE(crash.out.find("while checking policy 'fixture-crashes'"), std::string::npos) << crash.out;
  const auto hang = run_command({cli(), "plugin", "check", (testing::kMisbehavingDir / "hangs.so").string(), "--timeout", "0.5"});
  EXPECT_EQ(hang.exit_code, 1) << hang.out;
  EXPECT_NE(hang.out.find("no result within 500 ms"), std::string::npos) << hang.out;
}

TEST(CliPluginCheck, JsonOutput) {
  const auto r = run_command({cli(), "plugin", "check", (testing::kFixtureDir / "short-struct.so").string(), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  const json out = json::parse(r.out);
  EXPECT_FALSE(out["passed"].get<bool>());
  bool found = false;
  for (const auto& c : out["checks"]) {
    if (c["name"] == "entry table") {
      found = true;
      EXPECT_FALSE(c["passed"].get<bool>());
      EXPECT_EQ(c["detail"], "entry table struct_size is 8; ABI 1 needs at least 48");
    }
  }
  EXPECT_TRUE(found) << r.out;
}

TEST(Cli, UsageErrorsExitTwoAndSayWhy) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"frobnicate"}, "unknown command 'frobnicate'"},
      {{"plugins", "--colour"}, "unknown option --colour"},
      {{"plugins", "--plugin-dir"}, "--plugin-dir needs a value"},
      {{"plugins", "extra"}, "unexpected argument 'extra'"},
      {{"plugin", "check"}, "usage: runhost plugin check PATH"},
      {{"plugin", "check", "x.so", "--timeout", "-1"}, "--timeout must be a number of seconds"},
      {{"plugins", "--json=yes"}, "--json takes no value"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv{cli()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const auto r = run_command(argv);
    EXPECT_EQ(r.exit_code, 2) << c.says;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << r.out;
  }
  EXPECT_EQ(run_command({cli()}).exit_code, 2);
  EXPECT_EQ(run_command({cli(), "help"}).exit_code, 0);
  const auto v = run_command({cli(), "version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out, "runhost 0.1.0 (plugin ABI 1)\n");
}

TEST(CliPluginCheck, AMissingFileIsAFailedCheck) {
  const auto r = run_command({cli(), "plugin", "check", "/nonexistent/plugin.so"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAIL  file"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("No such file or directory"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace runhost
