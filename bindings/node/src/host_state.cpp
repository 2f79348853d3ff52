#include "host_state.hpp"

#include "watcher.hpp"

namespace runhost::node {

void HostState::close() {
  if (closed_.exchange(true)) return;
  std::unique_ptr<Host> host;
  {
    std::unique_lock lock(lock_);  // calls in flight finish first
    host = std::move(host_);
  }
  host.reset();  // cancels this host's runs and stores their last events
  std::vector<std::weak_ptr<WatchState>> watches;
  {
    std::lock_guard lock(watches_mutex_);
    watches.swap(watches_);
  }
  for (auto& weak : watches) {
    if (auto w = weak.lock()) w->on_host_closed();
  }
}

void HostState::track(const std::shared_ptr<WatchState>& watch) {
  std::lock_guard lock(watches_mutex_);
  if (closed_) {
    watch->on_host_closed();
    return;
  }
  // Drop the watchers that are gone, now and then, so a long-lived host does not accumulate them.
  if (watches_.size() >= 64 && (watches_.size() & (watches_.size() - 1)) == 0) {
    std::erase_if(watches_, [](const auto& w) { return w.expired(); });
  }
  watches_.push_back(watch);
}

}  // namespace runhost::node
