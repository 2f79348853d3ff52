// Ending runs: terminate() kills the whole group (SIGTERM, then SIGKILL), a grandchild cannot
// hold a run open, and destroying a LocalProcess kills, reaps and silences it.
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include <boost/asio/thread_pool.hpp>
#include <gtest/gtest.h>

#include "device_harness.hpp"

namespace runhost::devices::local {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using testing::fast_options;
using testing::live_group_members;
using testing::make_spec;
using testing::run_for;
using testing::run_until;
using testing::Subreaper;

using TerminateTest = testing::DeviceTest;

TEST_F(TerminateTest, KillsTheWholeGroupIncludingGrandchildren) {
  Subreaper subreaper;
  start({"sh", "-c", "sleep 1000 & echo started; sleep 1000"});
  ASSERT_TRUE(run_until(io_, [&] { return rec_.out == "started\n"; }));
  ASSERT_TRUE(run_until(io_, [&] { return live_group_members(pgid_).size() == 3; })) << "sh and two sleeps";

  process_->terminate(RH_EXIT_FLAG_CANCELLED);
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(rec_.exit->kind, RH_EXIT_SIGNALED);
  EXPECT_EQ(rec_.exit->signal, SIGTERM);
  EXPECT_EQ(rec_.exit->flags, RH_EXIT_FLAG_CANCELLED);

  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (!Subreaper::group_gone(pgid_) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(kill(-pgid_, 0), -1);
  EXPECT_EQ(errno, ESRCH) << "a process of the group survived";
}

TEST_F(TerminateTest, TerminateIsIdempotentAndKeepsTheFirstFlags) {
  start({"sleep", "1000"});
  process_->terminate(RH_EXIT_FLAG_TIMED_OUT);
  process_->terminate(RH_EXIT_FLAG_CANCELLED);
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(rec_.exit->flags, RH_EXIT_FLAG_TIMED_OUT);
  process_->terminate(RH_EXIT_FLAG_CANCELLED);  // after the exit: nothing
  run_for(io_, std::chrono::milliseconds(50));
  EXPECT_EQ(rec_.order.back(), "exit");
}

TEST_F(TerminateTest, ProcessIgnoringSigtermIsKilledAfterTheGrace) {
  LocalOptions options = testing::fast_options();
  options.kill_grace = std::chrono::milliseconds(400);
  start({"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}, options);
  ASSERT_TRUE(run_until(io_, [&] { return rec_.out == "ready\n"; }));

  const auto asked = Clock::now();
  process_->terminate(RH_EXIT_FLAG_CANCELLED);
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  const auto took = Clock::now() - asked;
  EXPECT_EQ(rec_.exit->kind, RH_EXIT_SIGNALED);
  EXPECT_EQ(rec_.exit->signal, SIGKILL);
  EXPECT_EQ(rec_.exit->flags, RH_EXIT_FLAG_CANCELLED);
  EXPECT_GE(took, std::chrono::milliseconds(400));
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST_F(TerminateTest, GrandchildHoldingStdoutDoesNotHoldTheRun) {
  start({"sh", "-c", "sleep 1000 & echo done"});
  const auto started = Clock::now();
  ASSERT_TRUE(run_until(
      io_, [&] { return rec_.exit.has_value(); }, std::chrono::seconds(5)));
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(3));
  EXPECT_EQ(rec_.out, "done\n");
  EXPECT_EQ(rec_.exit->kind, RH_EXIT_EXITED);
  EXPECT_EQ(rec_.exit->code, 0);
  EXPECT_EQ(rec_.exit->flags, 0u);
  ASSERT_TRUE(run_until(
      io_, [&] { return live_group_members(pgid_).empty(); }, std::chrono::seconds(2)))
      << "the sleep holding the pipe was left running";
}

TEST_F(TerminateTest, DestroyingMidRunKillsTheGroupAndSilencesCallbacks) {
  start({"sh", "-c", "sleep 1000 & while :; do echo tick; echo x >> busy.txt; sleep 0.01; done"});
  ASSERT_TRUE(run_until(io_, [&] { return rec_.out.size() > 20 && !rec_.changes.empty(); }));
  const pid_t pid = process_->pid();
  process_.reset();
  const int calls = rec_.calls;
  run_for(io_, std::chrono::milliseconds(300));
  EXPECT_EQ(rec_.calls, calls) << "a callback arrived after destruction";
  EXPECT_FALSE(rec_.exit.has_value());
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1) << "the leader was not reaped";
  EXPECT_EQ(errno, ECHILD);
  ASSERT_TRUE(run_until(
      io_, [&] { return live_group_members(pgid_).empty(); }, std::chrono::seconds(2)));
}

TEST_F(TerminateTest, DestroyingBeforeTheReactorRanLeavesNoZombie) {
  start({"sleep", "1000"});
  const pid_t pid = process_->pid();
  const int calls = rec_.calls;
  process_.reset();
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_FALSE(fs::exists("/proc/" + std::to_string(pid)));
  run_for(io_, std::chrono::milliseconds(100));
  EXPECT_EQ(rec_.calls, calls);
}

// The spawn runs on another thread; the process it makes must not outlive an owner that went
// away meanwhile, and nothing is reported.
TEST_F(TerminateTest, DestroyingWhileTheSpawnIsUnderWayLeavesNoProcess) {
  boost::asio::thread_pool spawner(1);
  fs::create_directories(dir_.path() / "marks");
  std::vector<std::unique_ptr<testing::Recorder>> recorders;
  std::vector<int> calls_when_destroyed;
  for (int i = 0; i < 20; ++i) {
    const std::string mark = "marks/" + std::to_string(i);
    recorders.push_back(std::make_unique<testing::Recorder>());
    auto started = LocalProcess::start(io_, spawner.get_executor(),
                                       make_spec({"sh", "-c", "echo $$ > " + mark + "; exec sleep 1000"}, dir_.path()),
                                       fast_options(), *recorders.back());
    ASSERT_TRUE(started.ok()) << started.error().message;
    if (i % 2) run_for(io_, std::chrono::milliseconds(i));  // sometimes the spawn has finished
    calls_when_destroyed.push_back(recorders.back()->calls);
    started->reset();
  }
  run_for(io_, std::chrono::milliseconds(300));  // each spawn reports back to a dead owner
  spawner.join();
  for (size_t i = 0; i < recorders.size(); ++i) {
    EXPECT_EQ(recorders[i]->calls, calls_when_destroyed[i]) << "process " << i << " reported after its destruction";
  }
  for (const auto& mark : fs::directory_iterator(dir_.path() / "marks")) {
    const std::string pid = runhost::testing::read_file(mark.path());
    if (pid.empty()) continue;  // killed between the redirection and the echo
    EXPECT_FALSE(fs::exists("/proc/" + pid.substr(0, pid.find('\n')))) << "process " << pid << " outlived its owner";
  }
}

// terminate() before the spawn has finished: the process is killed as soon as it exists.
TEST_F(TerminateTest, TerminateBeforeTheSpawnFinishedKillsItOnceStarted) {
  auto started = LocalProcess::start(io_, io_.get_executor(), make_spec({"sleep", "1000"}, dir_.path()), fast_options(), rec_);
  ASSERT_TRUE(started.ok());
  process_ = std::move(*started);
  EXPECT_EQ(process_->pid(), -1);
  process_->terminate(RH_EXIT_FLAG_CANCELLED);
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  ASSERT_TRUE(rec_.started.has_value() && rec_.started->ok());
  EXPECT_EQ(rec_.order.front(), "started");
  EXPECT_EQ(rec_.exit->kind, RH_EXIT_SIGNALED);
  EXPECT_EQ(rec_.exit->signal, SIGTERM);
  EXPECT_EQ(rec_.exit->flags, RH_EXIT_FLAG_CANCELLED);
}

TEST_F(TerminateTest, ObserverMayDestroyTheProcessFromOnOutput) {
  start({"sh", "-c", "while :; do echo spam; done"});
  rec_.on_output_hook = [&](rh_stream, std::string_view) { process_.reset(); };
  ASSERT_TRUE(run_until(io_, [&] { return process_ == nullptr; }));
  const int calls = rec_.calls;
  run_for(io_, std::chrono::milliseconds(200));
  EXPECT_EQ(rec_.calls, calls);
  EXPECT_TRUE(live_group_members(pgid_).empty());
}

TEST_F(TerminateTest, ObserverMayDestroyTheProcessFromOnExit) {
  start({"sh", "-c", "echo bye > last.txt"});
  rec_.on_exit_hook = [&] { process_.reset(); };
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(process_, nullptr);
  run_for(io_, std::chrono::milliseconds(100));
  EXPECT_EQ(rec_.order.back(), "exit");
}

}  // namespace
}  // namespace runhost::devices::local
