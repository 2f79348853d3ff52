// Many runhost processes on one store, as a backend runs them (web workers, a queue worker, the
// CLI), and what a host that dies, stops or runs out of disk does to the others. Every failure
// here is real: processes started at once, kill -9, SIGSTOP, a full tmpfs (or, where mounting
// one is not allowed, a file size limit the kernel enforces).
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_paths.hpp"


namespace runhost {
namespace {

using nlohmann::json;
using testing::run_command;
using testing::TempDir;
using namespace std::chrono_literals;

// A process started with its stdout and stderr in a file.
struct Started {
  pid_t pid = -1;
  std::filesystem::path output;
};

// File size limit for the child (0: none): the kernel refuses writes past it (EFBIG).
Started start(const std::vector<std::string>& argv, const std::filesystem::path& output, rlim_t file_limit = 0) {
  Started s{-1, output};
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    if (file_limit > 0) {
      signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead of killing us
      rlimit limit{file_limit, file_limit};
      setrlimit(RLIMIT_FSIZE, &limit);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  s.pid = pid;
  return s;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Gone: no such process, or a zombie nobody reaps (it no longer runs).
bool gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto close = line.rfind(')');
  return close != std::string::npos && line.compare(close, 4, ") Z ") == 0;
}

bool gone_within(pid_t pid, std::chrono::milliseconds bound) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!gone(pid)) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

pid_t read_pid(const std::filesystem::path& file, std::chrono::milliseconds bound = 5000ms) {
  const auto until = std::chrono::steady_clock::now() + bound;
  for (;;) {
    std::ifstream in(file);
    pid_t pid = 0;
    if (in >> pid && pid > 0) return pid;
    if (std::chrono::steady_clock::now() > until) return -1;
    std::this_thread::sleep_for(10ms);
  }
}

class SharedStore : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(dir_ / "ws"); }
  std::filesystem::path store() const { return dir_ / "runhost.db"; }
  std::vector<std::string> runhost(const std::string& sub, std::vector<std::string> rest,
                                   const std::filesystem::path& store_path = {}) {
    std::vector<std::string> argv{testing::kCli.string(), sub, "--store",
                                  (store_path.empty() ? store() : store_path).string(), "--workspace-root",
                                  (dir_ / "ws").string()};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }
  json runs(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> rest{"--json", "--limit", "100000"};
    rest.insert(rest.end(), extra.begin(), extra.end());
    const auto r = run_command(runhost("runs", rest));
    EXPECT_EQ(r.exit_code, 0) << r.out;
    return json::parse(r.out.substr(r.out.find('[')));
  }
  TempDir dir_;
};

// ---- ownership: many hosts at once ------------------------------------------------------------

TEST_F(SharedStore, SixtyHostsStartedAtOnceAllFinishTheirOwnRuns) {
  constexpr int kRounds = 5;
  constexpr int kHosts = 60;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round + 1));
    std::vector<Started> hosts;
    for (int i = 0; i < kHosts; ++i) {
      hosts.push_back(start(runhost("run", {"--json", "--", "sh", "-c", "echo started; sleep 0.3; echo done"}),
                            dir_ / ("host-" + std::to_string(i) + ".out")));
    }
    int failed = 0;
    for (auto& h : hosts) {
      const int code = wait_exit(h.pid);
      if (code != 0) {
        ++failed;
        ADD_FAILURE() << "a caller exited " << code << ":\n" << slurp(h.output);
      }
    }
    EXPECT_EQ(failed, 0);
    std::map<std::string, int> statuses;
    for (const auto& r : runs()) statuses[r["status"].get<std::string>() + "/" + r["error_code"].dump()]++;
    EXPECT_EQ(statuses, (std::map<std::string, int>{{"succeeded/null", kHosts * (round + 1)}})) << "no live run lost";
  }
}

TEST_F(SharedStore, ThreeHundredRacersOnOneKeyShareOneRunAndAllSucceed) {
#if defined(__SANITIZE_ADDRESS__)
  // 300 ASan processes at once take ~15 GiB and thrash a CI machine past its time limit; 60
  // still race on one key (the release build runs the full 300 x 5).
  constexpr int kRounds = 2;
  constexpr int kRacers = 60;
#else
  constexpr int kRounds = 5;
  constexpr int kRacers = 300;
#endif
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round + 1));
    const std::string key = "race-" + std::to_string(round);
    std::vector<Started> racers;
    for (int i = 0; i < kRacers; ++i) {
      racers.push_back(start(runhost("run", {"--json", "--idempotency-key", key, "--", "sh", "-c", "sleep 0.5; echo won"}),
                             dir_ / ("racer-" + std::to_string(i) + ".out")));
    }
    int failed = 0;
    for (auto& r : racers) {
      const int code = wait_exit(r.pid);
      if (code != 0 && failed++ < 3) ADD_FAILURE() << "a racer exited " << code << ":\n" << slurp(r.output);
    }
    EXPECT_EQ(failed, 0);
    const auto all = runs();
    ASSERT_EQ(all.size(), static_cast<size_t>(round + 1)) << "one run per key";
    EXPECT_EQ(all[0]["status"], "succeeded") << all[0].dump();
  }
}

// ---- a stopped host ---------------------------------------------------------------------------

TEST_F(SharedStore, AStoppedHostHoldingTheWriteLockBlocksNeitherOpeningNorReading) {
  ASSERT_EQ(run_command(runhost("run", {"--", "echo", "before"})).exit_code, 0);
  // A writer that stops in the middle of a write transaction: the worst moment to stop a host.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t holder = fork();
  if (holder == 0) {
    close(ready[0]);
    const std::string script = "import sqlite3, os, sys\n"
                               "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                               "c.execute('BEGIN IMMEDIATE')\n"
                               "c.execute('UPDATE agent_runs SET updated_at = updated_at')\n"
                               "os.write(int(sys.argv[2]), b'x')\n"
                               "os.kill(os.getpid(), 19)\n";
    execlp("python3", "python3", "-c", script.c_str(), store().c_str(), std::to_string(ready[1]).c_str(), nullptr);
    _exit(127);
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "the holder took the write lock";
  close(ready[0]);

  const auto started = std::chrono::steady_clock::now();
  const auto listed = run_command(runhost("runs", {"--json"}));
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(listed.exit_code, 0) << listed.out;
  // The store's busy timeout is 5 s: a reader that waited for the writer would take that long.
  // (Not less than 4 s: another test may be loading the machine meanwhile.)
  EXPECT_LT(took, 4s) << "runs waited for a stopped writer";
  const auto id = json::parse(listed.out.substr(listed.out.find('[')))[0]["id"].get<std::string>();
  const auto events = run_command(runhost("events", {id}));
  EXPECT_EQ(events.exit_code, 0) << events.out;
  EXPECT_NE(events.out.find("before"), std::string::npos) << events.out;

  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
}

// ---- a host killed with SIGKILL ---------------------------------------------------------------

TEST_F(SharedStore, AKilledHostsRuntimesAndDaemonsDieWithItAndItsRunIsEndedOnce) {
  // A quiet runtime (sleep), and a daemon it started in a session of its own (setsid).
  const auto ws = dir_ / "ws";
  const std::string command =
      "echo $$ > leader.pid; setsid sh -c 'echo $$ > daemon.pid; exec sleep 300' & echo started; exec sleep 300";
  auto host = start(runhost("run", {"--json", "--", "sh", "-c", command}), dir_ / "host.out");
  const pid_t leader = read_pid(ws / "leader.pid");
  const pid_t daemon = read_pid(ws / "daemon.pid");
  ASSERT_GT(leader, 0);
  ASSERT_GT(daemon, 0);
  std::this_thread::sleep_for(200ms);  // the run is recorded running, its output stored
  kill(host.pid, SIGKILL);
  EXPECT_EQ(wait_exit(host.pid), 128 + SIGKILL);
  const auto killed_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(gone_within(leader, 1500ms)) << "the runtime outlived its host";
  EXPECT_TRUE(gone_within(daemon, 1500ms)) << "the setsid daemon outlived its host";
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 1500ms);

  // The next host to look ends the dead host's run, once: a follower sees it end.
  const auto all = runs();
  ASSERT_EQ(all.size(), 1u);
  const auto id = all[0]["id"].get<std::string>();
  const auto followed = run_command(runhost("events", {id, "--follow", "--json"}));
  EXPECT_EQ(followed.exit_code, 0) << followed.out;
  EXPECT_NE(followed.out.find("\"device_lost\""), std::string::npos) << followed.out;
  const auto after = runs();
  EXPECT_EQ(after[0]["status"], "failed");
  EXPECT_EQ(after[0]["error_code"], "device_lost");
}

TEST_F(SharedStore, ARunsEndAndACancelEndTheDaemonsItStarted) {
  const auto ws = dir_ / "ws";
  // The run ends on its own, leaving a daemon in a session of its own behind.
  const auto ended = run_command(
      runhost("run", {"--", "sh", "-c", "setsid sh -c 'echo $$ > ended.pid; exec sleep 300' & sleep 0.2; echo bye"}));
  EXPECT_EQ(ended.exit_code, 0) << ended.out;
  const pid_t left = read_pid(ws / "ended.pid");
  ASSERT_GT(left, 0);
  EXPECT_TRUE(gone_within(left, 1000ms)) << "a daemon outlived the run that started it";

  // A run cancelled from another process, with a double-forked daemon.
  auto host = start(runhost("run", {"--json", "--", "sh", "-c",
                                    "(setsid sh -c 'echo $$ > cancelled.pid; exec sleep 300' &) ; exec sleep 300"}),
                    dir_ / "cancelled.out");
  const pid_t daemon = read_pid(ws / "cancelled.pid");
  ASSERT_GT(daemon, 0);
  const auto id = runs()[0]["id"].get<std::string>();
  EXPECT_EQ(run_command(runhost("cancel", {id})).exit_code, 0);
  EXPECT_EQ(wait_exit(host.pid), 130) << slurp(host.output);
  EXPECT_TRUE(gone_within(daemon, 1000ms)) << "a daemon outlived its cancelled run";
}

// ---- a full disk ------------------------------------------------------------------------------

TEST_F(SharedStore, AFullDiskEndsTheRunPromptlyWithATypedFailure) {
  // A 2 MiB tmpfs where the machine lets us mount one; otherwise a file size limit on the host
  // process: either way, the kernel refuses the store's writes mid-run.
  const auto mnt = dir_ / "small";
  std::filesystem::create_directories(mnt);
  const bool mounted = ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") == 0;
  const auto store_path = (mounted ? mnt : dir_.path()) / "full.db";
  // Flood the store: far more output than 2 MiB, written as fast as the runtime can.
  const std::string flood = "i=0; while [ $i -lt 400000 ]; do echo line $i of a run that fills the disk; i=$((i+1)); done; sleep 300";
  const auto started = std::chrono::steady_clock::now();
  auto host = start(runhost("run", {"--", "sh", "-c", "echo $$ > flood.pid; " + flood}, store_path), dir_ / "full.out",
                    mounted ? 0 : rlim_t{2} << 20);
  const int code = wait_exit(host.pid);
  const auto took = std::chrono::steady_clock::now() - started;
  const auto out = slurp(host.output);
  EXPECT_EQ(code, 1) << out;
  EXPECT_LT(took, 30s) << "the run hung on its failed writes";
  EXPECT_TRUE(out.find("disk is full") != std::string::npos || out.find("I/O error") != std::string::npos)
      << (mounted ? "tmpfs" : "RLIMIT_FSIZE") << ": " << out.substr(out.size() > 2000 ? out.size() - 2000 : 0);
  const pid_t runtime = read_pid(dir_ / "ws" / "flood.pid", 100ms);
  EXPECT_TRUE(runtime > 0 && gone_within(runtime, 1000ms)) << "the runtime was left running";

  // What was stored before the disk filled is still there, readable and gap-free.
  const auto listed = run_command(runhost("runs", {"--json"}, store_path));
  ASSERT_EQ(listed.exit_code, 0) << listed.out;
  const auto id = json::parse(listed.out.substr(listed.out.find('[')))[0]["id"].get<std::string>();
  const auto stored = run_command(runhost("events", {id, "--json"}, store_path));
  ASSERT_EQ(stored.exit_code, 0) << stored.out.substr(0, 2000);
  int64_t expected = 1;
  for (size_t at = 0; (at = stored.out.find("\"seq\":", at)) != std::string::npos; ++expected) {
    at += 6;
    EXPECT_EQ(std::stoll(stored.out.substr(at, 20)), expected) << "gap-free";
  }
  EXPECT_GT(expected, 100) << "the run's events up to the full disk were kept";
  if (mounted) ::umount2(mnt.c_str(), MNT_DETACH);
}

// ---- tenant walls -----------------------------------------------------------------------------

TEST_F(SharedStore, ATenantSeesOnlyItsOwnRunsAndAnotherTenantsRunIsMissing) {
  ASSERT_EQ(run_command(runhost("run", {"--tenant", "acme", "--", "echo", "a"})).exit_code, 0);
  ASSERT_EQ(run_command(runhost("run", {"--tenant", "globex", "--", "sh", "-c", "echo b"})).exit_code, 0);
  const auto acme = runs({"--tenant", "acme"});
  ASSERT_EQ(acme.size(), 1u);
  EXPECT_EQ(acme[0]["tenant_id"], "acme");
  const auto globex_id = runs({"--tenant", "globex"})[0]["id"].get<std::string>();

  const auto unknown = run_command(runhost("events", {"run_unknown", "--tenant", "acme"}));
  const auto other = run_command(runhost("events", {globex_id, "--tenant", "acme"}));
  EXPECT_EQ(other.exit_code, unknown.exit_code);
  EXPECT_EQ(other.exit_code, 3) << "the exit status of run_not_found";
  EXPECT_EQ(other.out, "runhost events: no run '" + globex_id + "'\n");
  EXPECT_EQ(unknown.out, "runhost events: no run 'run_unknown'\n");
  const auto follow = run_command(runhost("events", {globex_id, "--follow", "--tenant", "acme"}));
  EXPECT_EQ(follow.exit_code, 3);
  EXPECT_EQ(follow.out, other.out);
  const auto cancel = run_command(runhost("cancel", {globex_id, "--tenant", "acme"}));
  EXPECT_EQ(cancel.exit_code, 3);
  EXPECT_EQ(cancel.out, "runhost cancel: no run '" + globex_id + "'\n");
  // The operator (no --tenant) sees both.
  EXPECT_EQ(runs().size(), 2u);
  EXPECT_EQ(run_command(runhost("events", {globex_id})).exit_code, 0);
}

TEST_F(SharedStore, TheStoreAndItsCompanionFilesAreTheOwnersAlone) {
  ::umask(022);  // a usual umask: files would be 0644 unless the host says otherwise
  ASSERT_EQ(run_command(runhost("run", {"--", "echo", "private"})).exit_code, 0);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    struct stat info {};
    if (::stat((store().string() + suffix).c_str(), &info) != 0) {
      EXPECT_NE(*suffix, '\0') << "the store itself is missing";
      continue;  // SQLite removes the -wal and -shm when the last connection closes
    }
    EXPECT_EQ(info.st_mode & 0777, 0600u) << "runhost.db" << suffix;
  }
}

// ---- bad input --------------------------------------------------------------------------------

TEST_F(SharedStore, ADeeplyNestedDispatchIsRefusedNamingTheLimit) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "[";
  deep += "1";
  for (int i = 0; i < 100000; ++i) deep += "]";
  testing::write_file(dir_ / "deep.json", R"({"runtime":"custom","command":["true"],"prompt":)" + deep + "}");
  const auto r = run_command(runhost("run", {"--dispatch", (dir_ / "deep.json").string()}));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("nests deeper than 128 levels"), std::string::npos) << r.out;
}

TEST_F(SharedStore, ACustomRunWithoutACommandIsRefusedBeforeAnyRunExists) {
  const auto r = run_command(runhost("run", {"--runtime", "custom"}));
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("the custom runtime needs \"command\""), std::string::npos) << r.out;
  EXPECT_TRUE(runs().empty()) << "no run row for a refused dispatch";
}

}  // namespace
}  // namespace runhost

// ---- the approval round trip across processes -------------------------------------------------

namespace runhost {
namespace {

class CliApprovals : public SharedStore {
 protected:
  // `runhost run` with the ask fixture policy (it asks when the prompt says "needs approval"),
  // in a process of its own, writing done.txt once it may run.
  Started asking_run(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--plugin-dir", testing::kEngineFixtureDir.string(), "--json", "--prompt",
                                  "ship it (needs approval)"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), {"--", "sh", "-c", "echo ran > " + name});
    return start(runhost("run", args), dir_ / (name + ".out"));
  }
  // Waits (bounded) for the one pending approval and returns it.
  json pending_one() {
    for (int i = 0; i < 500; ++i) {
      const auto r = run_command(runhost("approvals", {"--json"}));
      EXPECT_EQ(r.exit_code, 0) << r.out;
      const auto list = json::parse(r.out.substr(r.out.find('[')));
      if (!list.empty()) return list[0];
      std::this_thread::sleep_for(10ms);
    }
    return {};
  }
};

TEST_F(CliApprovals, AnotherProcessApprovesAndTheRunGoesOn) {
  auto host = asking_run("approved.txt");
  const auto pending = pending_one();
  ASSERT_FALSE(pending.is_null()) << slurp(host.output);
  EXPECT_EQ(pending["request"]["action"]["kind"], "run");
  EXPECT_EQ(pending["request"]["policy"], "fixture-ask");
  const std::string run_id = pending["run_id"], approval = pending["approval_id"];
  EXPECT_FALSE(std::filesystem::exists(dir_ / "ws" / "approved.txt")) << "nothing runs before the answer";
  const auto listed = run_command(runhost("approvals", {}));
  EXPECT_NE(listed.out.find("start a custom run: ship it (needs approval)"), std::string::npos) << listed.out;

  const auto ok = run_command(runhost("approve", {run_id, approval, "--reason", "reviewed", "--by", "ada"}));
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_EQ(wait_exit(host.pid), 0) << slurp(host.output);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "ws" / "approved.txt"));
  const auto out = slurp(host.output);
  EXPECT_NE(out.find(R"("by":"ada")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("source":"human")"), std::string::npos) << out;
  // Answered once: a second answer is refused, naming the first.
  const auto again = run_command(runhost("deny", {run_id, approval}));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.out.find("already settled: allowed"), std::string::npos) << again.out;
  EXPECT_EQ(run_command(runhost("approvals", {"--json"})).out.substr(0, 2), "[]");
}

TEST_F(CliApprovals, AnotherProcessDeniesAndNothingRunsButTheRunEnds) {
  auto host = asking_run("denied.txt");
  const auto pending = pending_one();
  ASSERT_FALSE(pending.is_null()) << slurp(host.output);
  const std::string run_id = pending["run_id"], approval = pending["approval_id"];
  const auto other_tenant = run_command(runhost("deny", {run_id, approval, "--tenant", "globex"}));
  EXPECT_EQ(other_tenant.exit_code, 3) << "another tenant's run is as missing as an unknown one";
  EXPECT_EQ(run_command(runhost("approvals", {"--json", "--tenant", "globex"})).out.substr(0, 2), "[]");

  const auto no = run_command(runhost("deny", {run_id, approval, "--reason", "not on a Friday"}));
  EXPECT_EQ(no.exit_code, 0) << no.out;
  EXPECT_EQ(wait_exit(host.pid), 1) << slurp(host.output);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "ws" / "denied.txt"));
  const auto out = slurp(host.output);
  EXPECT_NE(out.find("approval denied: not on a Friday"), std::string::npos) << out;
  EXPECT_EQ(runs()[0]["error_code"], "policy_denied");
}

// A run whose host died while its approval waited is ended by the next host (device_lost); an
// answer then is refused, naming why, instead of being recorded for nobody to apply.
TEST_F(CliApprovals, AnApprovalOfARunWhoseHostDiedCannotBeAnswered) {
  auto host = asking_run("orphan.txt");
  const auto pending = pending_one();
  ASSERT_FALSE(pending.is_null()) << slurp(host.output);
  const std::string run_id = pending["run_id"], approval = pending["approval_id"];
  kill(host.pid, SIGKILL);
  EXPECT_EQ(wait_exit(host.pid), 128 + SIGKILL);
  // The next host to look ends the run: a follower sees it end.
  const auto followed = run_command(runhost("events", {run_id, "--follow", "--json"}));
  ASSERT_NE(followed.out.find("\"device_lost\""), std::string::npos) << followed.out;
  EXPECT_EQ(run_command(runhost("approvals", {"--json"})).out.substr(0, 2), "[]") << "an ended run's approval is not listed";
  const auto late = run_command(runhost("approve", {run_id, approval}));
  EXPECT_EQ(late.exit_code, 1) << late.out;
  EXPECT_NE(late.out.find("can no longer be answered: the run has ended (failed)"), std::string::npos) << late.out;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "ws" / "orphan.txt"));
}

TEST_F(CliApprovals, TheApprovalTimeoutComesFromTheCommandLine) {
  auto host = asking_run("late.txt", {"--approval-timeout", "1"});
  EXPECT_EQ(wait_exit(host.pid), 1) << slurp(host.output);
  const auto out = slurp(host.output);
  EXPECT_NE(out.find(R"("source":"deadline")"), std::string::npos) << out;
  EXPECT_NE(out.find("approval not given by its deadline"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "ws" / "late.txt"));
  EXPECT_EQ(run_command(runhost("run", {"--approval-timeout", "0", "--", "true"})).exit_code, 2);
}

}  // namespace
}  // namespace runhost
