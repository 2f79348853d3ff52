// The part of a binding that does not depend on its language: the C++ Host behind one Python
// or JS Host object, shared with that binding's event streams and in-flight calls, so that
// anything outliving the Host gets HostClosed instead of a dangling pointer.
//
// Used by bindings/python/ext and bindings/node/src (each links runhost_binding_common). The
// exceptions are how a binding carries a core error off its worker threads to the place where it
// becomes a language error (a Python exception, a JS RunhostError).
//
// Thread rules: every method may be called from any thread. with_host() holds `lock_` shared;
// close() holds it exclusively, so a call in flight finishes before the Host is destroyed, and a
// call after close() throws HostClosed. close() blocks (the core cancels the running runs and
// waits for their last events): a binding calls it off its interpreter's thread, or without
// the GIL. A Waiter's on_host_closed() runs on the closing thread and must not block.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "runhost/host.hpp"

namespace runhost::binding {

// A core Error, thrown where a binding cannot raise its language's error yet.
struct CoreError : std::exception {
  explicit CoreError(Error e) : error(std::move(e)) {}
  const char* what() const noexcept override { return error.message.c_str(); }
  Error error;
};

// The Host was closed (HostClosedError in both languages).
struct HostClosed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
T value_or_throw(Result<T>&& r) {
  if (!r) throw CoreError(std::move(r).error());
  return std::move(r).value();
}
inline void ok_or_throw(Status&& st) {
  if (!st) throw CoreError(std::move(st).error());
}

// Something that waits for a run's events and must stop waiting when the Host closes.
class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual void on_host_closed() = 0;
};

// Appends `item` to a list of weak references, first dropping the expired ones now and then
// (when the size is a power of two from 64 on), so a long-lived list does not grow without bound.
template <class T>
void push_weak(std::vector<std::weak_ptr<T>>& list, const std::shared_ptr<T>& item) {
  if (list.size() >= 64 && (list.size() & (list.size() - 1)) == 0) {
    std::erase_if(list, [](const auto& w) { return w.expired(); });
  }
  list.push_back(item);
}

class HostState {
 public:
  // Opens the Host: the store, the plugins, the reactor. Blocks (call it off the interpreter's
  // thread, or without the GIL); throws CoreError.
  void open(HostOptions options);

  template <class F>
  auto with_host(F&& f) -> decltype(f(std::declval<Host&>())) {
    std::shared_lock lock(lock_);
    if (!host_) throw HostClosed(closed_ ? "the runhost Host is closed" : "the runhost Host is not open");
    return f(*host_);
  }

  // Wakes every tracked waiter (each then reports HostClosedError instead of sleeping through
  // the shutdown), then destroys the Host: its running runs are cancelled and their last events
  // stored (the core waits up to 15 s). Idempotent: a second call returns once the first has
  // finished, so "close() returned" always means the Host is gone.
  void close();
  bool closed() const noexcept { return closed_.load(); }

  // A waiter to wake on close(); woken at once if the Host is already closed.
  void track(const std::shared_ptr<Waiter>& waiter);

 private:
  std::mutex close_mutex_;  // held for the whole of close()
  std::shared_mutex lock_;
  std::unique_ptr<Host> host_;
  std::atomic<bool> closed_{false};
  std::mutex waiters_mutex_;
  std::vector<std::weak_ptr<Waiter>> waiters_;
};

// The hosts to close together: Python's at interpreter exit (one for the process), Node's when
// an environment is torn down (one per main or worker thread). Any thread.
class HostRegistry {
 public:
  void add(const std::shared_ptr<HostState>& state);
  // Closes every host still open; waits for a close in flight on another thread.
  void close_all();

 private:
  std::mutex mutex_;
  std::vector<std::weak_ptr<HostState>> hosts_;
};

}  // namespace runhost::binding
