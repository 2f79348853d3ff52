// HostState: the C++ Host behind one runhost.Host, shared with its EventStreams, so that a
// stream outliving its Host gets HostClosedError instead of a dangling pointer.
//
// Thread rules: call with the GIL released. Every use of the Host goes through with_host(),
// which holds `lock_` shared; close() holds it exclusively, so a call in flight finishes before
// the Host is destroyed, and a call after close() throws HostClosed.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "binding.hpp"

namespace runhost::python {

struct Notifier;

class HostState {
 public:
  explicit HostState(std::unique_ptr<Host> host) : host_(std::move(host)) {}

  template <class F>
  auto with_host(F&& f) -> decltype(f(std::declval<Host&>())) {
    std::shared_lock lock(lock_);
    if (!host_) throw HostClosed("the runhost Host is closed");
    return f(*host_);
  }

  // Destroys the Host: its running runs are cancelled and their last events stored (the core
  // waits up to 15 s). Wakes every stream's waiter, which then raises HostClosedError.
  // Idempotent.
  void close();
  bool closed() const noexcept { return closed_.load(); }

  // A stream to wake on close().
  void track(const std::shared_ptr<Notifier>& notifier);

  // Every HostState of the process, for close_all() at interpreter exit.
  static void register_open(const std::shared_ptr<HostState>& state);
  static void close_all();

 private:
  std::shared_mutex lock_;
  std::unique_ptr<Host> host_;
  std::atomic<bool> closed_{false};
  std::mutex streams_mutex_;
  std::vector<std::weak_ptr<Notifier>> streams_;
};

}  // namespace runhost::python
