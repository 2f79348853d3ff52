// The inotify hub: watches are shared by reference, and a watch no one holds any more waits a
// while for the next holder before it is removed, on the reactor, so it is never removed from
// under a holder that took it up again.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "device_harness.hpp"
#include "devices/local/inotify_hub.hpp"
#include "test_paths.hpp"

namespace runhost::devices::local {
namespace {

using testing::run_for;
using testing::run_until;

struct Heard final : InotifyClient {
  std::vector<std::string> names;
  void on_inotify(const inotify_event&, const char* name) override { names.emplace_back(name); }
  void on_inotify_drained() override {}
};

void touch(const std::filesystem::path& file) {
  std::ofstream(file) << "x";
}

TEST(InotifyHub, AWatchLetGoAndTakenUpAgainKeepsReportingPastTheLinger) {
  runhost::testing::TempDir dir;
  boost::asio::io_context io;
  auto hub = std::make_shared<InotifyHub>(io);
  ASSERT_TRUE(hub->ok());
  Heard first, second;
  const int wd = hub->add_watch(&first, dir.path(), IN_CLOSE_WRITE);
  ASSERT_GE(wd, 0);
  hub->remove_client(&first);  // idle now: kept for the next holder
  ASSERT_EQ(hub->add_watch(&second, dir.path(), IN_CLOSE_WRITE), wd) << "the same watch, taken up again";
  run_for(io, std::chrono::milliseconds(2500));  // past the linger: the reaper has run
  touch(dir / "after-linger");
  ASSERT_TRUE(run_until(io, [&] { return !second.names.empty(); }, std::chrono::seconds(5)))
      << "the watch was removed from under its new holder";
  EXPECT_EQ(second.names.front(), "after-linger");
  EXPECT_TRUE(first.names.empty());
  hub->remove_client(&second);
}

TEST(InotifyHub, AnIdleWatchIsRemovedAfterTheLinger) {
  runhost::testing::TempDir dir;
  boost::asio::io_context io;
  auto hub = std::make_shared<InotifyHub>(io);
  Heard client, again;
  const int wd = hub->add_watch(&client, dir.path(), IN_CLOSE_WRITE);
  ASSERT_GE(wd, 0);
  hub->remove_client(&client);
  EXPECT_EQ(hub->add_watch(&again, dir.path(), IN_CLOSE_WRITE), wd) << "within the linger: the same watch";
  hub->remove_client(&again);
  run_for(io, std::chrono::milliseconds(2500));
  // Past the linger the kernel's watch is gone: watching the directory again makes a new one.
  const int renewed = hub->add_watch(&again, dir.path(), IN_CLOSE_WRITE);
  EXPECT_GE(renewed, 0);
  EXPECT_NE(renewed, wd);
  hub->remove_client(&again);
}

}  // namespace
}  // namespace runhost::devices::local
