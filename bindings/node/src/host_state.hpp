// HostState: the C++ Host behind one JS Host, shared with its Watchers and in-flight tasks, so
// that anything outliving the Host gets HostClosedError instead of a dangling pointer.
//
// Thread rules: with_host() runs on libuv's worker threads (tasks) or the JS thread (quick
// calls); it holds `lock_` shared. close() holds it exclusively, so a call in flight finishes
// before the Host is destroyed, and a call after close() throws HostClosed. close() blocks (the
// core cancels running runs and waits for their last events): call it off the JS thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "binding.hpp"

namespace runhost::node {

class WatchState;

class HostState {
 public:
  explicit HostState(std::unique_ptr<Host> host) : host_(std::move(host)) {}

  template <class F>
  auto with_host(F&& f) -> decltype(f(std::declval<Host&>())) {
    std::shared_lock lock(lock_);
    if (!host_) throw HostClosed("the runhost Host is closed");
    return f(*host_);
  }

  // Destroys the Host, then tells every live watcher (which wakes its JS reader and releases
  // its thread-safe function, so no handle keeps the process alive). Idempotent.
  void close();
  bool closed() const noexcept { return closed_.load(); }

  void track(const std::shared_ptr<WatchState>& watch);

 private:
  std::shared_mutex lock_;
  std::unique_ptr<Host> host_;
  std::atomic<bool> closed_{false};
  std::mutex watches_mutex_;
  std::vector<std::weak_ptr<WatchState>> watches_;
};

}  // namespace runhost::node
