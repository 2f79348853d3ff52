// Listening ports: /proc/net/tcp parsing, and a real server started by the run reported with
// its port and a pid of the run's group.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <regex>

#include <gtest/gtest.h>

#include "device_harness.hpp"
#include "devices/local/port_watcher.hpp"
#include "devices/local/proc_sockets.hpp"
#include "devices/local/sock_diag.hpp"

namespace runhost::devices::local {
namespace {

using Clock = std::chrono::steady_clock;
using testing::run_until;

constexpr const char* kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0\n"
    "   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0 100 0 0 10 0\n"
    "   2: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 99 1 0 20 4 30 10 -1\n";

constexpr const char* kTcp6 =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
    "tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000  1000        0 555 1 0 100 0 0 10 0\n"
    "   1: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 556 1 0 100 0 0 10 0\n"
    "   2: 0000000000000000FFFF00000100007F:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000     0        0 557 1 0 100 0 0 10 0\n";

TEST(ProcSockets, ParsesIpv4ListeningRowsOnly) {
  const auto sockets = parse_listening_sockets(kTcp, false);
  ASSERT_EQ(sockets.size(), 2u);
  EXPECT_EQ(sockets[0].address, "127.0.0.1");
  EXPECT_EQ(sockets[0].port, 8080);
  EXPECT_EQ(sockets[0].inode, 4242u);
  EXPECT_EQ(sockets[1].address, "0.0.0.0");
  EXPECT_EQ(sockets[1].port, 80);
}

TEST(ProcSockets, ParsesIpv6Addresses) {
  const auto sockets = parse_listening_sockets(kTcp6, true);
  ASSERT_EQ(sockets.size(), 3u);
  EXPECT_EQ(sockets[0].address, "::");
  EXPECT_EQ(sockets[0].port, 8081);
  EXPECT_EQ(sockets[1].address, "::1");
  EXPECT_EQ(sockets[1].port, 22);
  EXPECT_EQ(sockets[2].address, "::ffff:127.0.0.1");
  EXPECT_EQ(sockets[2].inode, 557u);
}

TEST(ProcSockets, ToleratesGarbage) {
  EXPECT_TRUE(parse_listening_sockets("", false).empty());
  EXPECT_TRUE(parse_listening_sockets("header only", false).empty());
  EXPECT_TRUE(parse_listening_sockets("h\n 0: zz:yy 0 0A\n\n", false).empty());
}

// sock_diag and /proc/net/tcp agree on a socket this test listens on.
TEST(ProcSockets, SockDiagAndProcAgree) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  auto find = [&](const std::vector<ListeningSocket>& sockets) -> std::optional<ListeningSocket> {
    for (const auto& s : sockets) {
      if (s.port == port) return s;
    }
    return std::nullopt;
  };
  const auto from_proc = find(listening_sockets_from_proc());
  const auto diag = listening_sockets_from_sock_diag();
  close(fd);
  ASSERT_TRUE(from_proc.has_value());
  EXPECT_EQ(from_proc->address, "127.0.0.1");
  if (!diag) GTEST_SKIP() << "no sock_diag here";
  const auto from_diag = find(*diag);
  ASSERT_TRUE(from_diag.has_value());
  EXPECT_EQ(from_diag->inode, from_proc->inode);
  EXPECT_EQ(from_diag->address, from_proc->address);
}

using PortsTest = testing::DeviceTest;

TEST_F(PortsTest, ServerStartedByTheRunIsReported) {
  ASSERT_NO_FATAL_FAILURE(start({"python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"}));
  const std::regex serving(R"(port (\d+))");
  std::smatch match;
  ASSERT_TRUE(run_until(io_, [&] { return std::regex_search(rec_.out, match, serving); })) << rec_.err;
  const int port = std::stoi(match[1]);
  ASSERT_TRUE(run_until(io_, [&] { return !rec_.ports.empty(); }));
  ASSERT_EQ(rec_.ports.size(), 1u);
  EXPECT_EQ(rec_.ports[0].port, port);
  EXPECT_EQ(rec_.ports[0].address, "127.0.0.1");
  EXPECT_EQ(rec_.ports[0].pid, process_->pid());

  testing::run_for(io_, std::chrono::milliseconds(200));
  EXPECT_EQ(rec_.ports.size(), 1u) << "reported once";
  process_->terminate(RH_EXIT_FLAG_CANCELLED);
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
}

TEST_F(PortsTest, ServerOfAGrandchildIsReportedWithItsPid) {
  ASSERT_NO_FATAL_FAILURE(start({"sh", "-c", "python3 -u -m http.server 0 --bind 127.0.0.1 & echo child=$!; wait"}));
  const std::regex child(R"(child=(\d+))");
  std::smatch match;
  ASSERT_TRUE(run_until(io_, [&] { return std::regex_search(rec_.out, match, child); }));
  const pid_t server = std::stoi(match[1]);
  ASSERT_TRUE(run_until(io_, [&] { return !rec_.ports.empty(); })) << rec_.err;
  EXPECT_EQ(rec_.ports[0].pid, server);
  process_->terminate(RH_EXIT_FLAG_CANCELLED);
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
}

// A server started in a session of its own (as Claude Code's Bash tool runs every command in a
// group of its own) is still the run's: it carries the run's marker.
TEST_F(PortsTest, ServerThatLeftTheGroupIsReportedByTheRunsMarker) {
  auto spec = testing::make_spec({"sh", "-c", "setsid python3 -u -m http.server 0 --bind 127.0.0.1 > server.log 2>&1 & "
                                              "echo child=$!; wait"},
                                 dir_.path());
  spec.run_id = "run_ports_marker_test";
  ASSERT_NO_FATAL_FAILURE(start(std::move(spec)));
  ASSERT_TRUE(run_until(io_, [&] { return !rec_.ports.empty(); })) << rec_.err;
  const pid_t server = rec_.ports[0].pid;
  EXPECT_NE(getpgid(server), pgid_) << "the server is in a group of its own";
  EXPECT_EQ(rec_.ports[0].address, "127.0.0.1");
  process_->terminate(RH_EXIT_FLAG_CANCELLED);
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
}

// Without the run's marker, a server that left the group is not taken for the run's.
TEST_F(PortsTest, AServerOutsideTheGroupWithoutTheMarkerIsNotReported) {
  auto spec = testing::make_spec({"sh", "-c", "setsid env -u RUNHOST_RUN_ID python3 -u -m http.server 0 --bind 127.0.0.1 "
                                              "> server.log 2>&1 & echo $! > server.pid; wait"},
                                 dir_.path());
  spec.run_id = "run_ports_unmarked_test";
  ASSERT_NO_FATAL_FAILURE(start(std::move(spec)));
  ASSERT_TRUE(run_until(io_, [&] {
    std::ifstream log(dir_.path() / "server.log");
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    return text.find("port ") != std::string::npos;
  }));
  testing::run_for(io_, std::chrono::milliseconds(300));
  EXPECT_TRUE(rec_.ports.empty()) << "port " << rec_.ports[0].port;
  // Not the run's, so the run's end does not stop it either: the test does.
  std::ifstream pid_file(dir_.path() / "server.pid");
  pid_t server = 0;
  if (pid_file >> server && server > 0) ::kill(server, SIGKILL);
  process_->terminate(RH_EXIT_FLAG_CANCELLED);
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
}

// Not a check: the figures for the report. A tick with nothing new asks sock_diag for the
// listening sockets; /proc/net/tcp{,6} is what it would cost without.
TEST(PortWatcherCost, OneTick) {
  boost::asio::io_context io;
  int reported = 0;
  PortWatcher watcher(io, getpid(), std::chrono::milliseconds(200), [&](const ListeningPort&) { ++reported; });
  watcher.poll();  // classifies what listens now
  constexpr int kTicks = 200;
  const auto began = Clock::now();
  for (int i = 0; i < kTicks; ++i) watcher.poll();
  const double per_tick_us = std::chrono::duration<double, std::micro>(Clock::now() - began).count() / kTicks;
  const auto scan_began = Clock::now();
  for (int i = 0; i < 20; ++i) (void)processes_in_group(getpid());
  const double scan_us = std::chrono::duration<double, std::micro>(Clock::now() - scan_began).count() / 20;
  const auto proc_began = Clock::now();
  for (int i = 0; i < 20; ++i) (void)listening_sockets_from_proc();
  const double proc_us = std::chrono::duration<double, std::micro>(Clock::now() - proc_began).count() / 20;
  std::cout << "[ figures  ] port poll: " << per_tick_us << " us per quiet tick; /proc/net/tcp{,6} instead: " << proc_us
            << " us; group scan of /proc: " << scan_us << " us\n";
  EXPECT_EQ(reported, 0);
}

}  // namespace
}  // namespace runhost::devices::local
