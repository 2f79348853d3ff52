// Looks, every `period`, for TCP ports that processes of the run's group listen on (or, given
// the run's marker, processes of the run that left the group), and reports each new
// (port, address) once.
//
// A tick takes the listening TCP sockets (sock_diag; /proc/net/tcp{,6} where netlink is
// unavailable) from a snapshot shared by every watcher, at most a quarter period old, and does
// nothing else unless one appears that it has not classified yet;
// only then does it list the group's processes (/proc/[pid]/stat) and their fds. Each
// listening inode is classified once (ours or not), so a quiet tick costs one netlink dump
// (tens of microseconds), and usually not even that.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "devices/local/lifetime.hpp"
#include "devices/local/local_device.hpp"

namespace runhost::devices::local {

class PortWatcher {
 public:
  // `marker`: the run's environment entry ("RUNHOST_RUN_ID=<id>"), to recognise its processes
  // that left the group (an agent's tool starting a server with setsid); empty: the group only.
  PortWatcher(boost::asio::io_context& io, pid_t pgid, std::chrono::milliseconds period,
              std::function<void(const ListeningPort&)> on_listening, std::string marker = {});
  PortWatcher(const PortWatcher&) = delete;
  PortWatcher& operator=(const PortWatcher&) = delete;

  void start();
  void stop();
  void poll();  // one tick, now

 private:
  void schedule();
  std::chrono::milliseconds max_age() const { return period_ / 4; }

  pid_t pgid_;
  std::string marker_;
  std::chrono::milliseconds period_;
  std::function<void(const ListeningPort&)> on_listening_;
  boost::asio::steady_timer timer_;
  bool running_ = false;
  std::unordered_map<uint64_t, bool> classified_;  // listening inode -> held by the group
  std::set<std::pair<int, std::string>> reported_;
  Lifetime lifetime_;
};

}  // namespace runhost::devices::local
