// HostLock: a live host's lock cannot be taken, a dead host's can, by exactly one prober at a
// time; the files are the owner's alone.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "store/host_lock.hpp"
#include "test_paths.hpp"

namespace runhost::store {
namespace {

using runhost::testing::TempDir;

TEST(HostLock, ALiveHostIsAliveToEveryoneElseEvenInTheSameProcess) {
  TempDir dir;
  const auto store = dir / "runhost.db";
  auto mine = HostLock::acquire(store, "host_A");
  ASSERT_TRUE(mine) << mine.error().message;
  auto probe = HostLock::probe(store, "host_A");
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_TRUE(probe->alive);
  EXPECT_FALSE(probe->taken);
}

TEST(HostLock, AHostThatClosedIsGoneAndLeavesNoFile) {
  TempDir dir;
  const auto store = dir / "runhost.db";
  {
    auto mine = HostLock::acquire(store, "host_A");
    ASSERT_TRUE(mine);
    EXPECT_TRUE(std::filesystem::exists(HostLock::directory(store) / "host_A.lock"));
  }
  EXPECT_FALSE(std::filesystem::exists(HostLock::directory(store) / "host_A.lock"));
  auto probe = HostLock::probe(store, "host_A");
  ASSERT_TRUE(probe);
  EXPECT_FALSE(probe->alive);
  EXPECT_FALSE(probe->taken);
}

TEST(HostLock, AKilledHostIsGoneAndItsLockIsTakenByOneProberAtATime) {
  TempDir dir;
  const auto store = dir / "runhost.db";
  const pid_t child = fork();
  if (child == 0) {
    auto mine = HostLock::acquire(store, "host_K");
    if (!mine) _exit(3);
    raise(SIGKILL);  // dies holding it: the kernel lets go
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto first = HostLock::probe(store, "host_K");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_FALSE(first->alive);
  ASSERT_TRUE(first->taken) << "the file was left behind: the prober now holds it";
  auto second = HostLock::probe(store, "host_K");
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->alive) << "held by the first prober while it recovers";
  first->taken.reset();  // recovered: the file goes
  auto third = HostLock::probe(store, "host_K");
  ASSERT_TRUE(third);
  EXPECT_FALSE(third->alive);
  EXPECT_FALSE(third->taken);
}

TEST(HostLock, AStoppedHostIsStillAlive) {
  TempDir dir;
  const auto store = dir / "runhost.db";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  if (child == 0) {
    auto mine = HostLock::acquire(store, "host_S");
    (void)!write(ready[1], "x", 1);
    for (;;) pause();
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(kill(child, SIGSTOP), 0);
  auto probe = HostLock::probe(store, "host_S");
  ASSERT_TRUE(probe);
  EXPECT_TRUE(probe->alive) << "a stopped host's runtimes still run: its runs are not orphans";
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
}

TEST(HostLock, TheFilesAreTheOwnersAlone) {
  TempDir dir;
  const auto store = dir / "runhost.db";
  auto mine = HostLock::acquire(store, "host_A");
  ASSERT_TRUE(mine);
  struct stat info {};
  ASSERT_EQ(stat(HostLock::directory(store).c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((HostLock::directory(store) / "host_A.lock").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace runhost::store
