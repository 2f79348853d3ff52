#include "host_state.hpp"

namespace runhost::binding {

void HostState::open(HostOptions options) {
  auto host = value_or_throw(Host::open(std::move(options)));
  std::unique_lock lock(lock_);
  if (closed_) return;  // closed while opening: `host` shuts down as it goes out of scope
  host_ = std::move(host);
}

void HostState::close() {
  std::lock_guard once(close_mutex_);
  if (closed_.exchange(true)) return;
  std::unique_ptr<Host> host;
  {
    std::unique_lock lock(lock_);  // calls in flight finish first
    host = std::move(host_);
  }
  std::vector<std::weak_ptr<Waiter>> waiters;
  {
    std::lock_guard lock(waiters_mutex_);
    waiters.swap(waiters_);
  }
  for (auto& weak : waiters) {
    if (auto w = weak.lock()) w->on_host_closed();
  }
  host.reset();
}

void HostState::track(const std::shared_ptr<Waiter>& waiter) {
  {
    std::lock_guard lock(waiters_mutex_);
    if (!closed_) {
      push_weak(waiters_, waiter);
      return;
    }
  }
  waiter->on_host_closed();
}

void HostRegistry::add(const std::shared_ptr<HostState>& state) {
  std::lock_guard lock(mutex_);
  push_weak(hosts_, state);
}

void HostRegistry::close_all() {
  std::vector<std::weak_ptr<HostState>> hosts;
  {
    std::lock_guard lock(mutex_);
    hosts.swap(hosts_);
  }
  for (auto& weak : hosts) {
    if (auto state = weak.lock()) state->close();
  }
}

}  // namespace runhost::binding
