// Watcher: wakes one JS event reader when its run has new events, and hands it the events
// committed since it last asked, from memory. The store is the source of truth: the reader
// (lib/stream.js) reads pages of stored events after its cursor with host.events() on a worker
// thread when it starts or falls behind; when it has caught up it takes what the watcher holds,
// and waits for the watcher when that is nothing.
//
// A host subscription calls WatchState from the reactor thread, each event right after its
// commit. It appends the envelope to a buffer of at most kBufferBytes (past that the buffer is
// dropped and nothing more is kept until the reader's next take(): the reader then reads those
// from the store, so a slow JS consumer costs no more than that), records the newest seq and,
// if no wake-up is pending yet, queues one call of a ThreadSafeFunction: at most one call is
// queued per watcher. The JS callback gets (seen, ended, error). The thread-safe function is
// released when the run has ended, the watcher is closed or the host is closed, so no handle is
// left open (and while the watcher is idle it is unref'd unless someone waits: see ref()/unref()).
//
// Thread rules: on_event/on_end/on_host_closed run on the reactor (or the closing thread): they
// never block except on `mutex_`, held for a few stores, and never touch JS. Everything else
// runs on the JS thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "binding.hpp"

namespace runhost::node {

class WatchState final : public binding::Waiter, public std::enable_shared_from_this<WatchState> {
 public:
  explicit WatchState(Napi::ThreadSafeFunction tsfn) : tsfn_(std::move(tsfn)) {}

  static constexpr size_t kBufferBytes = size_t{1} << 20;

  void on_event(const Event& event);
  void on_end(const Status& status);
  void on_host_closed() override;

  // JS thread: delivers the state to the JS callback (the thread-safe function's call).
  void deliver(Napi::Env env, Napi::Function callback);
  // JS thread: the events buffered since the last take, as the text of one JSON array, and the
  // seq of the first; nothing when none were kept.
  struct Page {
    int64_t first_seq = 0;
    std::string text;
    bool ascii = true;  // every byte below 0x80: the same text in Latin-1
  };
  std::optional<Page> take();
  // JS thread: stop; no further call of the callback is queued. Idempotent.
  void release();
  void ref(Napi::Env env);
  void unref(Napi::Env env);

  std::unique_ptr<Subscription> subscription;  // reset before release (no callback after it)

 private:
  void wake_locked();   // queues one call unless one is pending
  void finish_locked(); // releases the thread-safe function once

  std::mutex mutex_;
  Napi::ThreadSafeFunction tsfn_;
  bool released_ = false;
  bool pending_ = false;
  int64_t seen_ = 0;
  std::string buffer_;       // "[e1,e2" (no closing bracket), or empty
  int64_t buffer_first_ = 0;  // seq of e1
  bool dropping_ = false;    // the buffer overflowed: keep nothing until the next take()
  bool ascii_ = true;        // the buffer has no byte above 0x7F
  bool ended_ = false;
  bool host_closed_ = false;
  std::optional<Error> error_;
};

// The JS object: new Watcher(...) is never called from JS; NativeHost.watch() makes one.
class Watcher : public Napi::ObjectWrap<Watcher> {
 public:
  static Napi::Function define(Napi::Env env);
  Watcher(const Napi::CallbackInfo& info);
  ~Watcher() override;

  void attach(std::shared_ptr<HostState> host, std::shared_ptr<WatchState> state);

 private:
  Napi::Value close(const Napi::CallbackInfo& info);
  Napi::Value take(const Napi::CallbackInfo& info);
  Napi::Value ref(const Napi::CallbackInfo& info);
  Napi::Value unref(const Napi::CallbackInfo& info);

  std::shared_ptr<HostState> host_;
  std::shared_ptr<WatchState> state_;
};

}  // namespace runhost::node
