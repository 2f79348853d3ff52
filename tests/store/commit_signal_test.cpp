// CommitSignal: every commit touches <store>-hosts/commits, after the commit is visible, so a
// process woken by it (inotify) reads what was committed; the file is the store owner's alone.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "store/commit_signal.hpp"
#include "store/host_lock.hpp"
#include "store_test_util.hpp"
#include "test_paths.hpp"

namespace runhost::store {
namespace {

using runhost::testing::TempDir;
using namespace runhost::store::testing;

// Waits (up to 10 s: a hang guard, not a timing check) for IN_MODIFY on the commit file.
bool wait_for_commit_signal(int fd) {
  alignas(8) char buffer[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10'000) != 1) return false;
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return false;
    for (ssize_t at = 0; at < n;) {
      const auto* record = reinterpret_cast<const inotify_event*>(buffer + at);
      if ((record->mask & IN_MODIFY) && record->len > 0 && std::strcmp(record->name, CommitSignal::kFileName) == 0) {
        return true;
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + record->len);
    }
  }
}

TEST(CommitSignal, ACommitTouchesTheSignalFileWhichOnlyTheOwnerCanRead) {
  TempDir dir;
  const auto path = dir / "runhost.db";
  auto store = open_store(path);
  ASSERT_TRUE(store->create_run(make_run("run_1")));
  const auto file = CommitSignal::path_for(path);
  ASSERT_TRUE(std::filesystem::exists(file)) << file;
  struct stat info {};
  ASSERT_EQ(::stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(file.parent_path().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
}

TEST(CommitSignal, WhoeverItWakesSeesTheCommitItWasWokenFor) {
  TempDir dir;
  const auto path = dir / "runhost.db";
  StoreOptions durable;
  durable.durable = true;  // an fsync between the WAL write and the commit's publication
  auto writer = open_store(path, durable);
  ASSERT_TRUE(writer->create_run(make_run("run_1")));
  auto reader = open_store(path);  // another connection, as another process would have

  const int fd = ::inotify_init1(IN_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_GE(::inotify_add_watch(fd, HostLock::directory(path).c_str(), IN_MODIFY), 0);
  for (int seq = 1; seq <= 20; ++seq) {
    writer->append(make_event("run_1", seq), [](const Status&) {});
    ASSERT_TRUE(wait_for_commit_signal(fd)) << "no signal for the commit of seq " << seq;
    // Woken: the commit is visible now, not some time later.
    EXPECT_EQ(stored_seqs(*reader, "run_1").size(), static_cast<size_t>(seq));
  }
  ::close(fd);
}

}  // namespace
}  // namespace runhost::store
