#include "devices/local/port_watcher.hpp"

#include <unordered_set>
#include <vector>

#include "devices/local/proc_sockets.hpp"
#include "devices/local/process_marker.hpp"

namespace runhost::devices::local {

PortWatcher::PortWatcher(boost::asio::io_context& io, pid_t pgid, std::chrono::milliseconds period,
                         std::function<void(const ListeningPort&)> on_listening, std::string marker)
    : pgid_(pgid), marker_(std::move(marker)), period_(period), on_listening_(std::move(on_listening)), timer_(io) {}

void PortWatcher::start() {
  running_ = true;
  // Sockets listening before the run started are not its servers: remember them as not ours,
  // so the first tick does not scan /proc for every listener on the machine (with many runs
  // starting at once, those scans were the reactor's biggest cost).
  // A shared snapshot may be a little older than the run; then fewer sockets count as
  // pre-existing and the first tick classifies the rest: slower, never wrong.
  for (const auto& socket : *recent_listening_sockets(max_age())) classified_[socket.inode] = false;
  schedule();
}

void PortWatcher::stop() {
  running_ = false;
  boost::system::error_code ignored;
  timer_.cancel(ignored);
}

void PortWatcher::schedule() {
  timer_.expires_after(period_);
  timer_.async_wait(lifetime_.guard([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    const auto alive = lifetime_.alive();
    poll();
    if (alive && running_) schedule();
  }));
}

void PortWatcher::poll() {
  const auto snapshot = recent_listening_sockets(max_age());
  const std::vector<ListeningSocket>& sockets = *snapshot;
  std::unordered_set<uint64_t> unknown;
  std::unordered_map<uint64_t, bool> still_listening;
  for (const auto& socket : sockets) {
    const auto known = classified_.find(socket.inode);
    if (known == classified_.end()) {
      unknown.insert(socket.inode);
    } else {
      still_listening.insert(*known);
    }
  }
  classified_ = std::move(still_listening);  // forget closed sockets: the map stays small
  if (unknown.empty()) return;

  std::unordered_map<uint64_t, pid_t> holder;
  for (const pid_t pid : processes_in_group(pgid_)) {
    for (const uint64_t inode : sockets_held(pid, unknown)) holder.emplace(inode, pid);
    if (holder.size() == unknown.size()) break;
  }
  if (holder.size() < unknown.size() && !marker_.empty()) {
    // Not the group's: a process of the run that left it (Claude Code runs each Bash command in
    // a group of its own, so a server it starts in the background is one) still carries the
    // run's marker in its environment.
    std::unordered_set<uint64_t> rest;
    for (const uint64_t inode : unknown) {
      if (!holder.count(inode)) rest.insert(inode);
    }
    for (const auto& [inode, pid] : socket_holders(rest)) {
      if (environ_match(pid, marker_.data(), marker_.size()) == EnvironMatch::yes) holder.emplace(inode, pid);
    }
  }
  std::vector<ListeningPort> found;
  for (const auto& socket : sockets) {
    if (!unknown.count(socket.inode)) continue;
    const auto owner = holder.find(socket.inode);
    classified_[socket.inode] = owner != holder.end();
    if (owner != holder.end() && reported_.emplace(socket.port, socket.address).second) {
      found.push_back(ListeningPort{socket.port, socket.address, owner->second});
    }
  }
  const auto alive = lifetime_.alive();
  for (const auto& port : found) {
    on_listening_(port);
    if (!alive) return;
  }
}

}  // namespace runhost::devices::local
