// runhost run / events / runs / cancel, as an operator uses them.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_paths.hpp"

extern char** environ;

namespace runhost {
namespace {

using nlohmann::json;
using testing::run_command;
using testing::TempDir;

class CliRun : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(dir_ / "ws"); }
  // runhost SUB --store S --workspace-root W REST...
  std::vector<std::string> runhost(const std::string& sub, std::vector<std::string> rest) {
    std::vector<std::string> argv{testing::kCli.string(), sub, "--store", (dir_ / "runhost.db").string(), "--workspace-root",
                                  (dir_ / "ws").string()};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }
  TempDir dir_;
};

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

TEST_F(CliRun, CancelFromAnotherProcessStopsTheRun) {
  // Start `runhost run -- sleep 300` in the background, its output to a file.
  const auto out_path = dir_ / "run.out";
  const int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, 1);
  posix_spawn_file_actions_adddup2(&actions, fd, 2);
  auto argv_s = runhost("run", {"--json", "--", "sleep", "300"});
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(fd);

  std::string id;
  for (int i = 0; i < 300 && id.empty(); ++i) {
    for (const auto& line : json_lines(testing::read_file(out_path))) {
      if (line.value("type", "") == "run.started") id = line["run_id"];
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(id.empty()) << testing::read_file(out_path);
  const auto cancel = run_command(runhost("cancel", {id}));
  EXPECT_EQ(cancel.exit_code, 0) << cancel.out;
  EXPECT_NE(cancel.out.find("cancel requested for " + id), std::string::npos) << cancel.out;
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << testing::read_file(out_path);
  const auto lines = json_lines(testing::read_file(out_path));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["type"], "run.cancelled");
  const auto again = run_command(runhost("cancel", {id}));
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("already cancelled"), std::string::npos) << again.out;
}

TEST_F(CliRun, ReportsABadStoreAndAnUnknownRun) {
  testing::write_file(dir_ / "bad.db", std::string(4096, 'x'));
  const auto bad = run_command({testing::kCli.string(), "runs", "--store", (dir_ / "bad.db").string()});
  EXPECT_EQ(bad.exit_code, 70);
  EXPECT_NE(bad.out.find((dir_ / "bad.db").string()), std::string::npos) << bad.out;
  const auto missing = run_command(runhost("events", {"run_doesnotexist"}));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("no run run_doesnotexist"), std::string::npos) << missing.out;
}

}  // namespace
}  // namespace runhost
