// Durability: what on_durable reported survives a SIGKILL of the process, gap-free and intact.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "store_test_util.hpp"
#include "test_paths.hpp"

namespace runhost::store {
namespace {

using runhost::testing::TempDir;
using testing::make_event;
using testing::make_run;
using testing::open_store;

// The child: appends events as fast as the writer takes them and writes each seq reported
// durable to `fd`, until it is killed.
[[noreturn]] void append_until_killed(const std::filesystem::path& path, int fd) {
  auto store = Store::open(path, {true, 5000, 2000});
  if (!store) _exit(3);
  for (int64_t seq = 1; seq <= 1'000'000; ++seq) {
    (*store)->append(make_event("run_A", seq), [fd, seq](const Status& st) {
      if (st) (void)!write(fd, &seq, sizeof seq);
    });
    if (seq % 500 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // keep the queue short
  }
  _exit(4);  // not reached in time: the parent kills us first
}

// One trial: the child is killed once `kill_after` events were reported durable.
void kill_and_check(size_t kill_after) {
  TempDir dir;
  const auto path = dir / "runhost.db";
  { ASSERT_TRUE(open_store(path)->create_run(make_run("run_A"))); }

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    append_until_killed(path, fds[1]);
  }
  close(fds[1]);
  std::set<int64_t> reported;
  bool killed = false;
  int64_t seq = 0;
  while (read(fds[0], &seq, sizeof seq) == static_cast<ssize_t>(sizeof seq)) {
    reported.insert(seq);
    if (!killed && reported.size() >= kill_after) {
      kill(pid, SIGKILL);  // mid-stream: the child is still appending and committing
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  ASSERT_GE(reported.size(), kill_after);

  auto store = open_store(path);
  const auto seqs = testing::stored_seqs(*store, "run_A");
  ASSERT_FALSE(seqs.empty());
  for (size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], static_cast<int64_t>(i + 1)) << "gap-free";
  EXPECT_GE(seqs.back(), *reported.rbegin()) << "every event reported durable is there";
  EXPECT_EQ(reported.size(), static_cast<size_t>(*reported.rbegin())) << "reports were gap-free too";
  EXPECT_EQ((*store->run("run_A"))->last_seq, seqs.back());
  auto events = store->events("run_A", seqs.back() - 1, 1);
  ASSERT_TRUE(events);
  EXPECT_EQ((*events)[0].json, make_event("run_A", seqs.back()).json);
  EXPECT_EQ(testing::RawConnection(path).text("PRAGMA integrity_check"), "ok");

  // A new process continues the stream where the durable part ends.
  auto next = testing::append_all(*store, {make_event("run_A", seqs.back() + 1)});
  EXPECT_TRUE(next[0]) << next[0].error().message;
}

TEST(StoreDurability, EverythingReportedDurableSurvivesSigkill) {
  kill_and_check(5000);
}

TEST(StoreDurability, TwentyKillsAtRandomMomentsLoseNothingAcknowledged) {
  const auto seed = static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::mt19937 random(seed);
  std::uniform_int_distribution<size_t> moment(1, 8000);
  for (int trial = 1; trial <= 20; ++trial) {
    const size_t kill_after = moment(random);
    SCOPED_TRACE("trial " + std::to_string(trial) + ": killed after " + std::to_string(kill_after) +
                 " durable events (seed " + std::to_string(seed) + ")");
    kill_and_check(kill_after);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace runhost::store
