// A runtime never outlives its host or its run: what left the run's process group (setsid, a
// double fork) is killed at the run's end and on cancel, a host killed with SIGKILL has its
// runtimes killed by its watchdog within the documented bound, and nothing without the marker
// (an application's own child, another run's process) is ever touched.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <thread>

#include <gtest/gtest.h>

#include "device_harness.hpp"
#include "devices/local/escapees.hpp"
#include "devices/local/watchdog.hpp"

extern char** environ;

namespace runhost::devices::local {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::make_spec;
using testing::running;
using testing::Subreaper;
using testing::wait_for_pid_file;

// Ids no other test process shares: ctest may run suites side by side, and a sweep must only
// ever meet its own test's processes.
std::string unique_id(const std::string& what) {
  return what + "-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// `argv` as a direct child of the test, with exactly `env` and a PATH.
pid_t spawn_with(std::vector<std::string> argv, std::vector<std::string> env) {
  env.emplace_back("PATH=/usr/local/bin:/usr/bin:/bin");
  pid_t pid = -1;
  EXPECT_EQ(posix_spawnp(&pid, argv[0].c_str(), nullptr, nullptr, c_strings(argv).data(), c_strings(env).data()), 0);
  return pid;
}

pid_t spawn_sleep(std::vector<std::string> env) { return spawn_with({"sleep", "300"}, std::move(env)); }

void kill_and_reap(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

// Waits up to `bound` for none of `pids` to run; returns those still running.
std::vector<pid_t> still_running_after(const std::vector<pid_t>& pids, std::chrono::milliseconds bound,
                                       Clock::time_point since = Clock::now()) {
  std::vector<pid_t> left;
  do {
    left.clear();
    for (pid_t pid : pids) {
      if (running(pid)) left.push_back(pid);
    }
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  } while (Clock::now() - since < bound);
  return left;
}

// Reaps whatever of `pids` became the test's zombies (orphans adopted by the subreaper).
void reap(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) waitpid(pid, nullptr, WNOHANG);
}

// A setsid daemon whose parent (the run's shell) stays, and one that double-forked away from
// it, both out of the group; each writes its pid once it has left.
constexpr const char* kDaemons =
    "setsid sh -c 'echo $$ > daemon.pid; exec sleep 300' </dev/null >/dev/null 2>&1 & "
    "(setsid sh -c 'echo $$ > orphan.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &); "
    "while [ ! -s daemon.pid ] || [ ! -s orphan.pid ]; do sleep 0.01; done; ";

class ContainmentTest : public testing::DeviceTest {
 protected:
  void start_run(const std::string& script, const std::string& run_id) {
    auto spec = make_spec({"sh", "-c", script}, dir_.path());
    spec.run_id = run_id;
    ASSERT_NO_FATAL_FAILURE(start(std::move(spec)));
  }
  std::vector<pid_t> daemons() {
    return {wait_for_pid_file(dir_.path() / "daemon.pid"), wait_for_pid_file(dir_.path() / "orphan.pid")};
  }
};

TEST_F(ContainmentTest, MarkersReachTheRuntime) {
  LocalOptions options = testing::fast_options();
  options.host_id = unique_id("host");
  auto spec = make_spec({"sh", "-c", "echo \"$RUNHOST_HOST_ID/$RUNHOST_RUN_ID\""}, dir_.path());
  spec.run_id = unique_id("run");
  const std::string expected = options.host_id + "/" + spec.run_id + "\n";
  ASSERT_NO_FATAL_FAILURE(start(std::move(spec), options));
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(rec_.out, expected);
}

TEST_F(ContainmentTest, NoIdsNoMarkers) {
  ASSERT_NO_FATAL_FAILURE(run_script("echo \"${RUNHOST_HOST_ID-unset}/${RUNHOST_RUN_ID-unset}\""));
  EXPECT_EQ(rec_.out, "unset/unset\n");
}

// The host is not a subreaper here: the escapee was adopted elsewhere and the sweep reads /proc.
TEST_F(ContainmentTest, RunEndKillsASetsidDaemonWithoutSubreaper) {
  ASSERT_NO_FATAL_FAILURE(start_run(std::string(kDaemons) + "echo started", unique_id("run")));
  const auto pids = daemons();
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(rec_.out, "started\n");
  EXPECT_EQ(rec_.exit->kind, RH_EXIT_EXITED);
  for (pid_t pid : pids) EXPECT_FALSE(running(pid)) << "daemon " << pid << " outlived its run's on_exit";
}

// As a host is: a subreaper, where escapees come back to it and are reaped.
TEST_F(ContainmentTest, RunEndKillsAndReapsEscapeesAsSubreaper) {
  Subreaper subreaper;
  ASSERT_NO_FATAL_FAILURE(start_run(std::string(kDaemons) + "echo started", unique_id("run")));
  const auto pids = daemons();
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  for (pid_t pid : pids) {
    EXPECT_FALSE(running(pid)) << "daemon " << pid << " outlived its run's on_exit";
    EXPECT_FALSE(fs::exists("/proc/" + std::to_string(pid))) << pid << " left as a zombie";
  }
}

TEST_F(ContainmentTest, CancelKillsDaemonsThatLeftTheGroup) {
  Subreaper subreaper;
  ASSERT_NO_FATAL_FAILURE(start_run(std::string(kDaemons) + "echo started; wait", unique_id("run")));
  const auto pids = daemons();
  ASSERT_TRUE(testing::run_until(io_, [&] { return rec_.out == "started\n"; }));
  for (pid_t pid : pids) ASSERT_TRUE(running(pid));
  process_->terminate(RH_EXIT_FLAG_CANCELLED);
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(rec_.exit->flags, RH_EXIT_FLAG_CANCELLED);
  for (pid_t pid : pids) EXPECT_FALSE(running(pid)) << "daemon " << pid << " survived the cancel";
}

TEST_F(ContainmentTest, DestroyingMidRunKillsDaemonsThatLeftTheGroup) {
  Subreaper subreaper;
  ASSERT_NO_FATAL_FAILURE(start_run(std::string(kDaemons) + "echo started; wait", unique_id("run")));
  const auto pids = daemons();
  process_.reset();
  for (pid_t pid : pids) EXPECT_FALSE(running(pid)) << "daemon " << pid << " outlived its LocalProcess";
}

// Without a run id there is no marker, but the run's end still ends its group: a background job
// that let go of the pipes no longer survives the run.
TEST_F(ContainmentTest, RunEndKillsWhatIsLeftOfTheGroup) {
  ASSERT_NO_FATAL_FAILURE(run_script("sleep 300 </dev/null >/dev/null 2>&1 & echo $! > bg.pid"));
  const pid_t bg = wait_for_pid_file(dir_.path() / "bg.pid");
  ASSERT_GT(bg, 0);
  // Not a subreaper here: the job was signalled before on_exit, and dies a moment later.
  EXPECT_TRUE(still_running_after({bg}, std::chrono::milliseconds(200)).empty());
}

// The host's own children without this run's marker: the application's, another run's.
TEST_F(ContainmentTest, ProcessesWithoutTheRunsMarkerAreNotTouched) {
  Subreaper subreaper;
  const std::string run_id = unique_id("run");
  const pid_t unmarked = spawn_sleep({});
  const pid_t other_run = spawn_sleep({"RUNHOST_RUN_ID=" + run_id + "-other"});
  const pid_t prefix = spawn_sleep({"RUNHOST_RUN_ID=" + run_id.substr(0, run_id.size() - 1)});
  const pid_t lookalike = spawn_sleep({"X_RUNHOST_RUN_ID=" + run_id, "NOTE=RUNHOST_RUN_ID=" + run_id});
  ASSERT_NO_FATAL_FAILURE(start_run(std::string(kDaemons) + "echo started", run_id));
  const auto pids = daemons();
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  for (pid_t pid : pids) EXPECT_FALSE(running(pid));
  for (pid_t pid : {unmarked, other_run, prefix, lookalike}) {
    EXPECT_TRUE(running(pid)) << "process " << pid << " without the run's marker was killed";
    kill_and_reap(pid);
  }
}

// The sweep on its own: a marked direct child and its unmarked descendant go, the rest stays.
TEST(EndEscapees, KillsMarkedProcessesWithTheirDescendants) {
  Subreaper subreaper;
  runhost::testing::TempDir dir;
  const std::string marker = "RUNHOST_RUN_ID=" + unique_id("run");
  const pid_t bystander = spawn_sleep({});
  // The marked shell starts a child with an empty environment: found as its descendant only.
  const std::string script = "env -i sh -c 'echo $$ > " + (dir.path() / "child.pid").string() + "; exec sleep 300' & wait";
  const pid_t marked = spawn_with({"sh", "-c", script}, {marker});
  ASSERT_GT(marked, 0);
  const pid_t child = wait_for_pid_file(dir.path() / "child.pid");
  ASSERT_GT(child, 0);

  EXPECT_EQ(end_escapees(0, marker), 2);
  EXPECT_FALSE(running(marked));
  EXPECT_FALSE(running(child));
  EXPECT_TRUE(running(bystander));
  EXPECT_EQ(waitpid(marked, nullptr, WNOHANG), -1) << "the host's child was not reaped";
  reap({child});
  kill_and_reap(bystander);
}

// The watchdog, told to go by its host: it kills exactly the host's marked processes.
TEST(WatchdogTest, ClosingKillsOnlyTheHostsMarkedProcesses) {
  const std::string host_id = unique_id("host");
  auto watchdog = Watchdog::start(host_id);
  ASSERT_TRUE(watchdog.ok()) << watchdog.error().message;
  const pid_t marked = spawn_sleep({"RUNHOST_HOST_ID=" + host_id});
  const pid_t longer = spawn_sleep({"RUNHOST_HOST_ID=" + host_id + "x"});
  const pid_t unmarked = spawn_sleep({});
  const pid_t watchdog_pid = (*watchdog)->pid();
  EXPECT_TRUE(running(watchdog_pid));
  watchdog->reset();
  EXPECT_FALSE(fs::exists("/proc/" + std::to_string(watchdog_pid))) << "the watchdog was not reaped";
  EXPECT_TRUE(still_running_after({marked}, std::chrono::milliseconds(100)).empty());
  EXPECT_TRUE(running(longer));
  EXPECT_TRUE(running(unmarked));
  for (pid_t pid : {marked, longer, unmarked}) kill_and_reap(pid);
}

TEST(WatchdogTest, RefusesAnEmptyHostId) {
  auto watchdog = Watchdog::start("");
  ASSERT_FALSE(watchdog.ok());
  EXPECT_EQ(watchdog.error().code, ErrorCode::invalid_dispatch);
}

// The real thing: a host process (runhost_host_stub) killed with SIGKILL. Its runtime — a quiet
// shell, a setsid daemon and a double-forked one — is gone within Watchdog::kMaxSweep; the
// application's own child of that host is not touched.
TEST(WatchdogTest, HostKilledWithSigkillTakesItsRuntimesWithinTheBound) {
  Subreaper subreaper;  // the stub's orphans come to the test, which reaps them
  runhost::testing::TempDir dir;
  const std::string script = std::string(kDaemons) + "sleep 300 & echo $! > quiet.pid; wait";
  std::vector<std::string> argv = {RUNHOST_HOST_STUB, unique_id("host"), unique_id("run"), dir.path().string(), script};
  pid_t host = -1;
  ASSERT_EQ(posix_spawn(&host, argv[0].c_str(), nullptr, nullptr, c_strings(argv).data(), environ), 0);

  const pid_t leader = wait_for_pid_file(dir.path() / "ready");
  const pid_t watchdog = wait_for_pid_file(dir.path() / "watchdog.pid");
  const pid_t app_child = wait_for_pid_file(dir.path() / "app.pid");
  const std::vector<pid_t> runtime = {leader, wait_for_pid_file(dir.path() / "daemon.pid"),
                                      wait_for_pid_file(dir.path() / "orphan.pid"),
                                      wait_for_pid_file(dir.path() / "quiet.pid")};
  for (pid_t pid : runtime) ASSERT_GT(pid, 0) << "the stub's runtime did not start";
  ASSERT_GT(watchdog, 0);
  ASSERT_GT(app_child, 0);
  for (pid_t pid : runtime) ASSERT_TRUE(running(pid));

  const auto killed = Clock::now();
  ASSERT_EQ(kill(host, SIGKILL), 0);
  const auto left = still_running_after(runtime, Watchdog::kMaxSweep, killed);
  const auto took = Clock::now() - killed;
  EXPECT_TRUE(left.empty()) << left.size() << " runtime processes outlived the host by " << Watchdog::kMaxSweep.count()
                            << " ms";
  EXPECT_TRUE(still_running_after({watchdog}, Watchdog::kMaxSweep + std::chrono::milliseconds(500)).empty())
      << "the watchdog did not exit";
  EXPECT_TRUE(running(app_child)) << "the application's own child was killed";
  RecordProperty("runtimes_gone_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));

  waitpid(host, nullptr, 0);
  kill_and_reap(app_child);
  reap(runtime);
  reap({watchdog});
}

}  // namespace
}  // namespace runhost::devices::local
