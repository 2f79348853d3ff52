// Output: a flood flows through in bounded chunks with bounded memory, and pause_output()
// really stops reading (the runtime blocks) until resume_output().
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

#include "device_harness.hpp"
#include "devices/local/output_pipe.hpp"
#include "util/reactor_callers.hpp"

namespace runhost::devices::local {
namespace {

using Clock = std::chrono::steady_clock;
using testing::run_for;
using testing::run_until;

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

int64_t rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// The state letter of /proc/<pid>/stat ('S' sleeping, 'R' running, ...).
char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::stringstream text;
  text << in.rdbuf();
  const std::string stat = text.str();
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

using OutputTest = testing::DeviceTest;

TEST_F(OutputTest, OneGigabyteFlowsThroughWithBoundedMemory) {
  constexpr uint64_t kBytes = 1'000'000'000;
  rec_.keep_output = false;
  const int64_t rss_before = rss_kib();
  const auto began = Clock::now();
  const double cpu_began = cpu_seconds();
  start({"head", "-c", std::to_string(kBytes), "/dev/zero"});
  ASSERT_NO_FATAL_FAILURE(wait_for_exit(std::chrono::seconds(100)));
  const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
  const double cpu = cpu_seconds() - cpu_began;
  const int64_t rss_after = rss_kib();

  EXPECT_EQ(rec_.output_bytes, kBytes);
  EXPECT_LE(rec_.largest_chunk, 64u * 1024);
  EXPECT_EQ(rec_.exit->code, 0);
  EXPECT_LT(rss_after - rss_before, 64 * 1024) << "RSS grew by " << (rss_after - rss_before) << " KiB";
  std::cout << "[ figures  ] 1e9 bytes in " << seconds << " s: " << (kBytes / 1e6 / seconds) << " MB/s, host CPU "
            << cpu << " s, " << rec_.calls << " callbacks, RSS +" << (rss_after - rss_before) << " KiB\n";
}

TEST_F(OutputTest, PauseStopsReadingAndResumeDeliversEverything) {
  constexpr uint64_t kBytes = 4'000'000;
  start({"head", "-c", std::to_string(kBytes), "/dev/zero"});
  rec_.keep_output = false;
  process_->pause_output();
  run_for(io_, std::chrono::milliseconds(300));
  EXPECT_EQ(rec_.output_bytes, 0u) << "read while paused";
  EXPECT_FALSE(rec_.exit.has_value()) << "the runtime should block on its full pipe";
  EXPECT_EQ(process_state(process_->pid()), 'S');

  process_->resume_output();
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(rec_.output_bytes, kBytes);
  EXPECT_EQ(rec_.exit->code, 0);
}

TEST_F(OutputTest, PauseFromWithinOnOutputHoldsUntilResume) {
  constexpr uint64_t kBytes = 4'000'000;
  start({"head", "-c", std::to_string(kBytes), "/dev/zero"});
  rec_.keep_output = false;
  rec_.on_output_hook = [&](rh_stream, std::string_view) {
    if (rec_.output_bytes >= 1'000'000) {
      process_->pause_output();
      rec_.on_output_hook = nullptr;
    }
  };
  ASSERT_TRUE(run_until(io_, [&] { return rec_.on_output_hook == nullptr; }));
  const uint64_t at_pause = rec_.output_bytes;
  run_for(io_, std::chrono::milliseconds(300));
  EXPECT_EQ(rec_.output_bytes, at_pause);
  EXPECT_FALSE(rec_.exit.has_value());

  process_->resume_output();
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(rec_.output_bytes, kBytes);
}

TEST_F(OutputTest, OutputWrittenJustBeforeExitIsNotLost) {
  start({"sh", "-c", "head -c 300000 /dev/zero; echo tail >&2; exit 7"});
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  EXPECT_EQ(rec_.out.size(), 300000u);
  EXPECT_EQ(rec_.err, "tail\n");
  EXPECT_EQ(rec_.exit->code, 7);
}

}  // namespace
}  // namespace runhost::devices::local

namespace runhost::devices::local {
namespace {

// A thread waiting for the reactor (util::ReactorCallers: a dispatch's adapter check) does not
// wait behind a busy pipe's turn: the turn posted before the caller's task reads nothing until
// that task has run, then reading goes on to the end.
TEST(OutputPipeTurns, ACallerWaitingForTheReactorGoesBeforeTheNextRead) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  ASSERT_GE(::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20), 1 << 20);
  const std::string chunk(OutputPipe::kChunk, 'x');
  for (int i = 0; i < 8; ++i) ASSERT_EQ(::write(fds[1], chunk.data(), chunk.size()), ssize_t(chunk.size()));
  ::close(fds[1]);

  boost::asio::io_context io;
  size_t bytes = 0;
  bool eof = false;
  OutputPipe pipe(io, UniqueFd(fds[0]), [&](std::string_view data) { bytes += data.size(); }, [&] { eof = true; });
  pipe.start();  // its first turn is queued
  auto& callers = boost::asio::use_service<util::ReactorCallers>(io);
  callers.arrive();
  std::optional<size_t> read_before_task;
  boost::asio::post(io, [&] {
    callers.served();
    read_before_task = bytes;
  });
  io.run();
  ASSERT_TRUE(read_before_task.has_value());
  EXPECT_EQ(*read_before_task, 0u) << "the turn queued first read while a caller waited";
  EXPECT_TRUE(eof);
  EXPECT_EQ(bytes, 8 * chunk.size()) << "reading went on after the caller's task";
}

}  // namespace
}  // namespace runhost::devices::local
