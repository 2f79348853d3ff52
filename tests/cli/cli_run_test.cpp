// runhost run / events / runs / cancel, as an operator uses them.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_fixture.hpp"

extern char** environ;

namespace runhost {
namespace {

using nlohmann::json;
using testing::run_command;
using testing::TempDir;

class CliRun : public testing::CliFixture {};

std::vector<json> json_lines(const std::string& out) {
  std::vector<json> lines;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    const auto line = out.substr(start, nl - start);
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded()) lines.push_back(j);
  }
  return lines;
}

TEST_F(CliRun, RunsACommandAndPrintsItsEvents) {
  const auto r = run_command(runhost("run", {"--prompt", "say hi", "--", "sh", "-c", "echo hello from the run"}));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("run.started"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("command.output    hello from the run"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run.completed"), std::string::npos) << r.out;
}

TEST_F(CliRun, JsonModePrintsOneEnvelopePerLineAndEventsReplaysThem) {
  const auto r = run_command(runhost("run", {"--json", "--", "printf", "a\\nb\\n"}));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines.front()["type"], "run.started");
  EXPECT_EQ(lines.back()["type"], "run.completed");
  const std::string id = lines.front()["run_id"];
  const auto replay = run_command(runhost("events", {id, "--json"}));
  ASSERT_EQ(replay.exit_code, 0) << replay.out;
  EXPECT_EQ(json_lines(replay.out), lines) << "the replay is the run, byte for byte";
  const auto tail = json_lines(run_command(runhost("events", {id, "--json", "--after", "2"})).out);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail.front()["seq"], 3);
  const auto runs = run_command(runhost("runs", {"--json"}));
  ASSERT_EQ(runs.exit_code, 0) << runs.out;
  const json list = json::parse(runs.out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id);
  EXPECT_EQ(list[0]["status"], "succeeded");
  EXPECT_EQ(list[0]["events"], 4);
}

TEST_F(CliRun, ExitStatusFollowsTheRun) {
  EXPECT_EQ(run_command(runhost("run", {"--", "sh", "-c", "exit 4"})).exit_code, 1);
  const auto bad = run_command(runhost("run", {"--approval-policy", "yolo", "--", "true"}));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("\"approvalPolicy\" must be one of: auto, confirm-risky, manual"), std::string::npos) << bad.out;
  const auto unknown = run_command(runhost("run", {"--runtime", "nope", "--prompt", "x"}));
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.out.find("available: " + testing::bundled_runtimes_listed() + "\n"), std::string::npos) << unknown.out;
  const auto outside = run_command(runhost("run", {"--cwd", "/etc", "--", "true"}));
  EXPECT_EQ(outside.exit_code, 2);
  EXPECT_NE(outside.out.find("\"cwd\""), std::string::npos) << outside.out;
}

TEST_F(CliRun, TheSameIdempotencyKeyReplaysInsteadOfRunningAgain) {
  const auto first = run_command(runhost("run", {"--json", "--idempotency-key", "k1", "--", "sh", "-c", "echo once"}));
  ASSERT_EQ(first.exit_code, 0) << first.out;
  const auto second = run_command(runhost("run", {"--json", "--idempotency-key", "k1", "--", "sh", "-c", "echo once"}));
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_EQ(json_lines(first.out), json_lines(second.out));
  const auto conflict = run_command(runhost("run", {"--idempotency-key", "k1", "--", "sh", "-c", "echo twice"}));
  EXPECT_EQ(conflict.exit_code, 1);
  EXPECT_NE(conflict.out.find("idempotency key 'k1'"), std::string::npos) << conflict.out;
}

// `runhost run --json -- sleep 300` in the background, its output to run.out; returns its pid
// and, once it printed run.started, the run's id.
std::pair<pid_t, std::string> start_sleeping_run(CliRun& t, const std::vector<std::string>& argv_s,
                                                 const std::filesystem::path& out_path) {
  const int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, 1);
  posix_spawn_file_actions_adddup2(&actions, fd, 2);
  auto copy = argv_s;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(fd);
  (void)t;
  std::string id;
  for (int i = 0; i < 300 && id.empty(); ++i) {
    for (const auto& line : json_lines(testing::read_file(out_path))) {
      if (line.value("type", "") == "run.started") id = line["run_id"];
    }
    if (id.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {pid, id};
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(CliRun, CancelFromAnotherProcessStopsTheRun) {
  const auto out_path = dir_ / "run.out";
  const auto [pid, id] = start_sleeping_run(*this, runhost("run", {"--json", "--", "sleep", "300"}), out_path);
  ASSERT_FALSE(id.empty()) << testing::read_file(out_path);
  const auto cancel = run_command(runhost("cancel", {id}));
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out;
  EXPECT_NE(cancel.out.find("cancel requested for " + id), std::string::npos) << cancel.out;
  EXPECT_EQ(wait_exit_code(pid), 130) << testing::read_file(out_path);
  const auto lines = json_lines(testing::read_file(out_path));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["type"], "run.cancelled");
  const auto again = run_command(runhost("cancel", {id}));
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("already cancelled"), std::string::npos) << again.out;
}

TEST_F(CliRun, CtrlCCancelsTheRunAndWaitsForItsEnd) {
  const auto out_path = dir_ / "run.out";
  const auto [pid, id] = start_sleeping_run(*this, runhost("run", {"--json", "--", "sleep", "300"}), out_path);
  ASSERT_FALSE(id.empty()) << testing::read_file(out_path);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  EXPECT_EQ(wait_exit_code(pid), 130) << testing::read_file(out_path);
  const auto lines = json_lines(testing::read_file(out_path));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["type"], "run.cancelled") << "the run ended before the command did";
  const auto events = run_command(runhost("events", {id, "--json"}));
  ASSERT_EQ(events.exit_code, 0) << events.out;
  EXPECT_EQ(json_lines(events.out).back()["type"], "run.cancelled") << "the store has the ending";
}

TEST_F(CliRun, ASecondCtrlCLeavesAtOnce) {
  // The runtime ignores SIGTERM, so the first Ctrl-C's cancel waits out the kill grace period;
  // the second one must not.
  const auto out_path = dir_ / "run.out";
  const auto [pid, id] =
      start_sleeping_run(*this, runhost("run", {"--json", "--", "sh", "-c", "trap '' TERM; sleep 300"}), out_path);
  ASSERT_FALSE(id.empty()) << testing::read_file(out_path);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(kill(pid, SIGINT), 0);
  EXPECT_EQ(wait_exit_code(pid), 130) << testing::read_file(out_path);
  // Had it waited, the run would have ended (SIGKILL after the grace period) and printed so.
  const auto lines = json_lines(testing::read_file(out_path));
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back()["type"], "run.cancelled") << "the second Ctrl-C waited for the run to end";
  for (const auto& line : lines) {  // the runtime outlives a host that quits at once: clean up
    if (line.value("type", "") == "run.started") kill(-line["payload"]["pid"].get<pid_t>(), SIGKILL);
  }
  // Whatever was stored stays readable; a later host marks the run as it finds it.
  const auto events = run_command(runhost("events", {id, "--json"}));
  EXPECT_EQ(events.exit_code, 0) << events.out;
}

TEST_F(CliRun, ReportsABadStoreAndAnUnknownRun) {
  testing::write_file(dir_ / "bad.db", std::string(4096, 'x'));
  const auto bad = run_command({testing::kCli.string(), "runs", "--store", (dir_ / "bad.db").string()});
  EXPECT_EQ(bad.exit_code, 70);
  EXPECT_NE(bad.out.find((dir_ / "bad.db").string()), std::string::npos) << bad.out;
  const auto missing = run_command(runhost("events", {"run_doesnotexist"}));
  EXPECT_EQ(missing.exit_code, 3) << "no such run has its own exit status";
  EXPECT_NE(missing.out.find("no run 'run_doesnotexist'"), std::string::npos) << missing.out;
}

// docs/events.md: which files become artifacts, and --artifact-pattern choosing others.
TEST_F(CliRun, ArtifactPatternsChooseWhichFilesBecomeArtifacts) {
  auto artifacts_of = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--", "sh", "-c", "mkdir -p site && echo '<p>hi</p>' > site/index.html && echo '{}' > report.json"});
    const auto r = run_command(runhost("run", args));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    std::set<std::string> paths;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);) {
      if (l.empty() || l[0] != '{') continue;
      const auto e = json::parse(l);
      if (e["type"] == "artifact.created") paths.insert(e["payload"]["path"].get<std::string>());
    }
    return paths;
  };
  EXPECT_EQ(artifacts_of({}), (std::set<std::string>{"site/index.html"})) << "the defaults";
  EXPECT_EQ(artifacts_of({"--artifact-pattern", "*.json"}), (std::set<std::string>{"report.json"})) << "given patterns replace them";
  EXPECT_EQ(run_command(runhost("run", {"--artifact-pattern", "", "--", "true"})).exit_code, 2);
}

// The host checks each adapter payload as the text the adapter wrote and stores that text as it
// is; what the text check cannot vouch for is parsed, and the parse has the last word: duplicate
// names (the last one counts, as for every JSON reader the events reach), and text a JSON parser
// refuses or the schema does not allow (kept as runtime.unparsed, with the reason).
TEST_F(CliRun, EachPayloadIsCheckedAsTextAndParsedOnlyWhenTheTextCannotBeVouchedFor) {
  testing::write_file(dir_ / "lines.json",
                      R"({"type":"message","payload":{"role":"assistant",  "text":"as written"}})" "\n"
                      R"({"type":"message","payload":{"role":"assistant","text":5,"text":"the last one"}})" "\n"
                      R"({"type":"message","payload":{"role":"assistant","text":"the first","text":5}})" "\n"
                      R"({"type":"message","payload":{"role":"assistant","text":"half a pair \ud800"}})" "\n"
                      R"({"type":"message","payload":{"role":"robot","text":"x"}})" "\n"
                      R"({"type":"command.output","payload":{"stream":"stdout","text":"ok","exit_code":2.0}})" "\n");
  const auto r = run_command(runhost("run", {"--json", "--output-mode", "jsonl", "--", "cat", (dir_ / "lines.json").string()}));
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::vector<std::string> lines;
  std::vector<json> events;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) {
    if (l.empty() || l[0] != '{') continue;
    auto e = json::parse(l);
    if (e["type"] == "run.started" || e["type"] == "run.completed") continue;
    lines.push_back(l);
    events.push_back(std::move(e));
  }
  ASSERT_EQ(events.size(), 6U) << r.out;
  EXPECT_NE(lines[0].find(R"("payload":{"role":"assistant",  "text":"as written"})"), std::string::npos)
      << "stored and delivered as the adapter wrote it: " << lines[0];
  EXPECT_EQ(events[1]["type"], "message");
  EXPECT_EQ(events[1]["payload"]["text"], "the last one");
  EXPECT_EQ(events[2]["type"], "runtime.unparsed") << "the last one counts";
  EXPECT_NE(events[2]["payload"]["reason"].get<std::string>().find("payload/text: expected string"), std::string::npos)
      << events[2].dump();
  EXPECT_EQ(events[3]["type"], "runtime.unparsed");
  EXPECT_NE(events[3]["payload"]["reason"].get<std::string>().find("not a JSON object"), std::string::npos)
      << events[3].dump();
  EXPECT_EQ(events[4]["type"], "runtime.unparsed");
  EXPECT_NE(events[4]["payload"]["reason"].get<std::string>().find("payload/role: not one of"), std::string::npos)
      << events[4].dump();
  EXPECT_EQ(events[5]["type"], "command.output") << "2.0 is an integer";
}

// docs/events.md: an event's native line is kept in `raw` only when the operator asks for it.
TEST_F(CliRun, KeepRawKeepsEachEventsNativeLineOnlyWhenAsked) {
  const std::string line = R"({"type":"message","payload":{"role":"assistant","text":"hi"}})";
  auto events_of = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"--json", "--output-mode", "jsonl"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--", "sh", "-c", "echo '" + line + "'; echo not-json"});
    const auto r = run_command(runhost("run", args));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    std::map<std::string, json> by_type;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);) {
      if (l.empty() || l[0] != '{') continue;
      const auto e = json::parse(l);
      by_type[e["type"].get<std::string>()] = e;
    }
    return by_type;
  };
  const auto kept = events_of({"--keep-raw"});
  ASSERT_TRUE(kept.count("message") && kept.count("runtime.unparsed"));
  EXPECT_EQ(kept.at("message")["raw"], line);
  EXPECT_EQ(kept.at("runtime.unparsed")["raw"], "not-json");
  // Stored, so a later reader sees it too.
  const auto stored = run_command(runhost("events", {kept.at("message")["run_id"].get<std::string>(), "--json"}));
  EXPECT_NE(stored.out.find(R"("raw":"not-json")"), std::string::npos) << stored.out;

  const auto plain = events_of({});
  ASSERT_TRUE(plain.count("message"));
  EXPECT_FALSE(plain.at("message").contains("raw")) << plain.at("message").dump();
}

}  // namespace
}  // namespace runhost
