// The runhost command as an operator runs it: output, exit codes, usage errors.
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runhost/version.h"
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
  EXPECT_EQ(refused.size(), 21u);
  EXPECT_EQ(refused["init-fails.so"], "init() failed (status 9): fixture: cannot reach the licence server");
  EXPECT_EQ(refused["wrong-arch.so"], "built for aarch64; this host is x86_64");
  EXPECT_EQ(out["directories"].size(), 2u);
}

TEST(CliPlugins, PrintsAReadableListing) {
  const auto r = run_command({cli(), "plugins", "--no-env", "--plugin-dir", testing::kFixtureDir.string()});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("Loaded (" + std::to_string(testing::bundled_plugins().size()) + ")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Refused (21)"), std::string::npos) << r.out;
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
  for (const char* id : {"example-echo", "deny-pattern", "static-grant", "oauth2", "custom"}) {
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

// The ABI only appends: a plugin built against an older minor's headers still loads and passes.
TEST(CliPluginCheck, PluginsOfOlderMinorsStillPass) {
  for (const char* minor : {"0", "1"}) {
    const auto so = testing::kOlderDir / (std::string("abi-1-") + minor + ".so");
    const auto r = run_command({cli(), "plugin", "check", so.string()});
    EXPECT_EQ(r.exit_code, 0) << so << "\n" << r.out;
    EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
  }
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
  EXPECT_EQ(v.out, "runhost 0.1.0 (plugin ABI " + std::to_string(RH_ABI_VERSION_MAJOR) + "." +
                       std::to_string(RH_ABI_VERSION_MINOR) + ")\n");
}

TEST(Cli, EveryCommandAnswersHelp) {
  const std::vector<std::vector<std::string>> commands = {{"run"},     {"events"},  {"runs"},   {"cancel"},
                                                          {"approvals"}, {"approve"}, {"deny"}, {"grants"}, {"plugins"},
                                                          {"plugin"},  {"version"}, {"help"}};
  for (const auto& command : commands) {
    for (const char* flag : {"--help", "-h"}) {
      std::vector<std::string> argv{cli()};
      argv.insert(argv.end(), command.begin(), command.end());
      argv.emplace_back(flag);
      const auto r = run_command(argv);
      EXPECT_EQ(r.exit_code, 0) << command[0] << " " << flag << ": " << r.out;
      EXPECT_EQ(r.out.rfind("Usage: runhost " + command[0], 0), 0u) << command[0] << " " << flag << ": " << r.out;
    }
    const auto page = run_command({cli(), "help", command[0]});
    EXPECT_EQ(page.exit_code, 0) << page.out;
    EXPECT_EQ(page.out, run_command({cli(), command[0], "--help"}).out) << "help CMD and CMD --help agree";
  }
  // --help anywhere among a command's options, even after others (and after a bad one).
  EXPECT_EQ(run_command({cli(), "plugin", "check", "x.so", "--help"}).exit_code, 0);
  EXPECT_EQ(run_command({cli(), "events", "--after", "nope", "--help"}).exit_code, 0);
  // The pages name what they take: every option a command accepts is on its page.
  const auto run_page = run_command({cli(), "run", "--help"}).out;
  for (const char* option : {"--dispatch", "--keep-raw", "--resume", "--connector", "--store", "--plugin-config"}) {
    EXPECT_NE(run_page.find(option), std::string::npos) << option;
  }
  EXPECT_NE(run_command({cli(), "events", "--help"}).out.find("--tenant"), std::string::npos);
  const auto unknown = run_command({cli(), "help", "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.out.find("unknown command 'frobnicate'"), std::string::npos) << unknown.out;
  const auto overview = run_command({cli(), "--help"});
  EXPECT_EQ(overview.exit_code, 0);
  for (const auto& command : commands) EXPECT_NE(overview.out.find("runhost " + command[0]), std::string::npos);
}

TEST(CliPluginCheck, AMissingFileIsAFailedCheck) {
  const auto r = run_command({cli(), "plugin", "check", "/nonexistent/plugin.so"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAIL  file"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("No such file or directory"), std::string::npos) << r.out;
}

// --plugin-config from a file and from stdin; a secret on the command line refused.
class CliPluginConfig : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(dir_ / "ws"); }
  // runhost run --json --store S --workspace-root W REST...
  std::vector<std::string> run(std::vector<std::string> rest) {
    std::vector<std::string> argv{cli(), "run", "--json", "--store", (dir_ / "runhost.db").string(), "--workspace-root",
                                  (dir_ / "ws").string()};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }
  // argv with stdin read from `input`.
  testing::CommandResult with_stdin(const std::filesystem::path& input, std::vector<std::string> argv) {
    std::vector<std::string> sh{"/bin/sh", "-c", "in=$1; shift; exec \"$@\" < \"$in\"", "sh", input.string()};
    sh.insert(sh.end(), argv.begin(), argv.end());
    return run_command(sh);
  }
  testing::TempDir dir_;
  // deny-pattern ignores members it does not know, so the secret rides along.
  const std::string secret_ = R"(sekrit-"7171"\x)";
  const std::string config_ = json{{"patterns", {"forbidden*"}}, {"api_token", secret_}}.dump();
};

TEST_F(CliPluginConfig, RefusesASecretInlineWithoutRepeatingIt) {
  const std::string marked =
      json{{"patterns", json::array()}, {"header", {{"secret", true}, {"value", secret_}}}}.dump();
  for (const std::string& config : {config_, marked}) {
    const auto r = run_command(run({"--plugin-config", "deny-pattern=" + config, "--", "true"}));
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.out.find("deny-pattern=@FILE"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("deny-pattern=@-"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("sekrit"), std::string::npos) << r.out;
  }
  const auto plain = run_command(
      run({"--plugin-config", R"(deny-pattern={"patterns":["forbidden*"]})", "--prompt", "forbidden", "--", "true"}));
  EXPECT_EQ(plain.exit_code, 1) << "a config without secrets is still taken inline\n" << plain.out;
  EXPECT_NE(plain.out.find("policy_denied"), std::string::npos) << plain.out;
}

TEST_F(CliPluginConfig, ReadsTheConfigFromAFileAndFromStdin) {
  const auto file = dir_ / "deny.json";
  testing::write_file(file, config_);
  const auto from_file =
      run_command(run({"--plugin-config", "deny-pattern=@" + file.string(), "--prompt", "forbidden", "--", "true"}));
  EXPECT_EQ(from_file.exit_code, 1) << from_file.out;
  EXPECT_NE(from_file.out.find("policy_denied"), std::string::npos) << from_file.out;
  const auto from_stdin =
      with_stdin(file, run({"--plugin-config", "deny-pattern=@-", "--prompt", "forbidden", "--", "true"}));
  EXPECT_EQ(from_stdin.exit_code, 1) << from_stdin.out;
  EXPECT_NE(from_stdin.out.find("policy_denied"), std::string::npos) << from_stdin.out;
  const auto allowed = with_stdin(file, run({"--plugin-config", "deny-pattern=@-", "--prompt", "fine", "--", "true"}));
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out;
}

// open_host adds the config's secrets to util::secrets(), through which the engine redacts every
// event before it is stored or printed.
TEST_F(CliPluginConfig, ASecretFromAFileNeverReachesAnEventTheStoreOrACommandLine) {
  const auto file = dir_ / "deny.json";
  testing::write_file(file, config_);
  // The runtime gets hold of the secret (here, from a file in its directory), prints it and
  // names a file after it: events, file.changed paths and the store hold [redacted] instead.
  testing::write_file(dir_ / "ws" / "secret.txt", secret_);
  const auto r = run_command(run({"--plugin-config", "deny-pattern=@" + file.string(), "--", "sh", "-c",
                                  "s=$(cat secret.txt); printf 'token %s end\\n' \"$s\"; echo \"$s\" >&2; "
                                  "touch -- \"$s\"; sleep 0.3"}));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("token [redacted] end"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("path":"[redacted]")"), std::string::npos) << "the file named after it" << r.out;
  EXPECT_EQ(r.out.find("sekrit"), std::string::npos) << r.out;
  for (const char* suffix : {"", "-wal"}) {
    const auto stored = testing::read_file(dir_ / ("runhost.db" + std::string(suffix)));
    EXPECT_EQ(stored.find("sekrit"), std::string::npos) << "the store" << suffix << " holds the secret";
  }
  // While a run holds the secret (in its config, its connector env, its output), no process's
  // command line shows it: the CLI took it from a file.
  std::string command;
  for (const auto& a : run({"--plugin-config", "deny-pattern=@" + file.string(), "--", "sh", "-c",
                            "s=$(cat secret.txt); echo \"$s\"; sleep 1"})) {
    command += "'" + a + "' ";
  }
  const auto scan = run_command(
      {"/bin/sh", "-c",
       command + "> /dev/null 2>&1 & sleep 0.5; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\"; echo; done > " +
           (dir_ / "cmdlines").string() + "; wait"});
  EXPECT_EQ(scan.exit_code, 0) << scan.out;
  const auto cmdlines = testing::read_file(dir_ / "cmdlines");
  EXPECT_NE(cmdlines.find("deny-pattern=@"), std::string::npos) << "the scan saw the running CLI";
  EXPECT_EQ(cmdlines.find("sekrit"), std::string::npos) << "a command line holds the secret";

  // A command line is readable by every process: a launch that would put a secret there is refused.
  const auto in_argv = run_command(
      run({"--plugin-config", "deny-pattern=@" + file.string(), "--", "printf", "%s\\n", "token " + secret_ + " end"}));
  EXPECT_EQ(in_argv.exit_code, 1) << in_argv.out;
  EXPECT_NE(in_argv.out.find("put a secret in the command line"), std::string::npos) << in_argv.out;
  EXPECT_EQ(in_argv.out.find("sekrit"), std::string::npos) << in_argv.out;
}

// An adapter copies a runtime's JSON strings as they are; a secret spelled there with escapes
// (\u0073 for its first letter) is still found: with secrets known, payloads are written anew.
TEST_F(CliPluginConfig, ASecretSpelledWithJsonEscapesIsStillRedacted) {
  const auto file = dir_ / "deny.json";
  testing::write_file(file, config_);
  const std::string escaped = json(secret_).dump().substr(1, json(secret_).dump().size() - 2);
  const std::string spelled = "\\u0073" + escaped.substr(1);
  // The second line spells it plainly: its text is kept as the adapter wrote it, and searched.
  testing::write_file(dir_ / "ws" / "line.json",
                      R"({"type":"message","payload":{"role":"assistant","text":"token )" + spelled + R"( end"}})" "\n"
                      R"({"type":"message","payload":{"role":"assistant","text":"plain )" + escaped + R"( end"}})" "\n");
  // --keep-raw: each native line is stored too, and searched in the same spelling.
  const auto r = run_command(run({"--plugin-config", "deny-pattern=@" + file.string(), "--output-mode", "jsonl",
                                  "--keep-raw", "--", "cat", "line.json"}));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\"raw\""), std::string::npos) << "the native lines are kept: " << r.out;
  EXPECT_NE(r.out.find("token [redacted] end"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("plain [redacted] end"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ekrit"), std::string::npos) << r.out;
  for (const char* suffix : {"", "-wal"}) {
    const auto stored = testing::read_file(dir_ / ("runhost.db" + std::string(suffix)));
    EXPECT_EQ(stored.find("ekrit"), std::string::npos) << "the store" << suffix << " holds the secret";
  }
}

// A tool.started is judged from the adapter's text (no tree is built for it): the policy reads
// its strings decoded, whatever their spelling (here "forbidden" with its first letter escaped),
// and the decision is added to the payload as the adapter wrote it. (With secrets known, as here,
// a payload with \u escapes is written anew before the search for them.)
TEST_F(CliPluginConfig, PoliciesJudgeAToolCallFromItsTextWhateverItsSpelling) {
  const auto file = dir_ / "deny.json";
  testing::write_file(file, config_);
  const auto started = [&](const std::string& command) {
    testing::write_file(dir_ / "ws" / "line.json", R"({"type":"tool.started","payload":{"tool_call_id":"t1",)"
                                                   R"( "name":"Bash","kind":"command","input":{"command":")" +
                                                       command + R"("}}})" + "\n");
    const auto r = run_command(
        run({"--plugin-config", "deny-pattern=@" + file.string(), "--output-mode", "jsonl", "--", "cat", "line.json"}));
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);) {
      if (l.find(R"("type":"tool.started")") != std::string::npos) return std::pair{r, l};
    }
    ADD_FAILURE() << "no tool.started: " << r.out;
    return std::pair{r, std::string()};
  };
  const auto [denied, denied_line] = started(R"(\u0066orbidden --now)");
  EXPECT_EQ(denied.exit_code, 1) << denied.out;
  EXPECT_NE(denied.out.find("policy_denied"), std::string::npos) << denied.out;
  EXPECT_EQ(json::parse(denied_line)["payload"]["input"]["command"], "forbidden --now") << denied_line;
  EXPECT_EQ(json::parse(denied_line)["payload"]["policy"]["effect"], "deny") << denied_line;

  const auto [allowed, allowed_line] = started("fine --now");
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out;
  EXPECT_EQ(json::parse(allowed_line)["payload"]["policy"]["effect"], "allow") << allowed_line;
  EXPECT_NE(allowed_line.find(R"("payload":{"tool_call_id":"t1", "name":"Bash","kind":"command",)"
                              R"("input":{"command":"fine --now"},"policy":{)"),
            std::string::npos)
      << "the adapter's text, the decision added last: " << allowed_line;
}

TEST_F(CliPluginConfig, UsageErrors) {
  const auto file = dir_ / "deny.json";
  testing::write_file(file, config_);
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--plugin-config", "a=@-", "--plugin-config", "b=@-"}, "b=@-: stdin is read by --plugin-config a=@- already"},
      {{"--dispatch", "-", "--plugin-config", "a=@-"}, "a=@-: stdin is read by --dispatch - already"},
      {{"--plugin-config", "a=@" + (dir_ / "missing.json").string()}, "cannot read it (No such file or directory)"},
      {{"--plugin-config", "a=@"}, "a=@ needs a file name"},
      {{"--plugin-config", config_}, "--plugin-config takes ID=JSON, ID=@FILE or ID=@- (stdin)"},
  };
  for (const auto& c : cases) {
    auto args = c.args;
    args.insert(args.end(), {"--", "true"});
    const auto r = with_stdin(file, run(args));
    EXPECT_EQ(r.exit_code, 2) << c.says << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("sekrit"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace runhost
