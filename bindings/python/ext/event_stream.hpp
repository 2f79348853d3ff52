// EventStream: one reader of one run's events, from a cursor (a seq) to the run's terminal event.
//
// The store is the source of truth. The stream reads pages of stored events after its cursor
// (Host::events, in the caller's Scope) when it starts or falls behind; once caught up it
// follows a Notifier that a host subscription pokes from the reactor thread right after each
// commit. The notifier records the newest seq, keeps the events committed since the stream last
// took them (at most kBufferBytes; past that it keeps nothing until the next take, and the
// stream reads those from the store, so a slow Python consumer costs no more than that) and
// wakes the waiter (a condition variable for blocking iteration, an eventfd for asyncio's
// add_reader). No thread exists per run. A page is bounded by count and, adaptively, by bytes.
//
// Thread rules: the Python-facing methods need the GIL and release it while they read the store
// or wait. One thread at a time may iterate a stream (another gets RuntimeError). Notifier's
// methods run on the host's reactor: they never block (a mutex held only for a few stores) and
// never touch Python.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "host_core.hpp"

namespace runhost::python {

struct Notifier final : binding::Waiter {
  std::mutex mutex;
  std::condition_variable cv;
  int64_t seen = 0;          // the newest seq the subscription delivered
  bool ended = false;        // the subscription ended: terminal event delivered, or `error`
  std::optional<Error> error;
  bool host_closed = false;
  bool stop = false;         // close() from another thread while one waits in next()
  int fd = -1;               // eventfd for asyncio, made on first fileno(); -1 without
  bool signalled = false;    // fd holds an unread wake-up

  static constexpr size_t kBufferBytes = size_t{1} << 20;
  std::vector<Event> buffered;  // committed since the last take, in seq order
  size_t buffered_bytes = 0;
  bool dropping = false;        // the buffer overflowed: keep nothing until the next take

  ~Notifier();
  // Each takes `mutex` briefly, then wakes the waiter. Reactor thread (or close()).
  void on_event(const Event& event);
  void on_end(const Status& status);
  void on_host_closed() override;
  // The eventfd, made on first use. Any thread.
  int fileno();
  // Empties the eventfd before the reader looks at the store (so no wake-up is lost).
  void clear_signal();
  void close_fd();

 private:
  void signal_locked();
};

class EventStream {
 public:
  // Reads the run as `scope` sees it: a run outside it is RunNotFound, as a missing one.
  EventStream(std::shared_ptr<HostState> host, std::string run_id, int64_t after_seq, Scope scope);
  ~EventStream();
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // __iter__: itself; StreamConsumed once the stream has ended.
  void check_iterable() const;
  // The next event, blocking until there is one (GIL released, Ctrl-C honoured every 50 ms).
  // timeout < 0: no limit; on timeout, None. At the end: py::stop_iteration.
  py::object next(double timeout_seconds);
  // asyncio: up to `max` events available now, without waiting: a list (empty: wait for
  // fileno() to be readable, then call again), or None when the stream has ended.
  py::object take(size_t max);
  int fileno();
  void close();

  const std::string& run_id() const noexcept { return run_id_; }
  int64_t cursor() const noexcept { return cursor_; }
  bool ended() const noexcept { return ended_ || closed_; }

 private:
  bool read_page();    // GIL held on entry: releases it to read; true if it got events
  bool buffered() const noexcept { return next_ < page_.size(); }
  py::object pop();    // decodes page_[next_], then advances the cursor
  void finish();       // the terminal event was returned: drop the subscription
  void close_now();

  std::shared_ptr<HostState> host_;
  std::string run_id_;
  Scope scope_;
  int64_t cursor_;     // seq of the last event returned to the caller
  std::vector<Event> page_;
  size_t next_ = 0;
  size_t page_limit_ = 16;  // grows with the first page (read_page)
  bool terminal_ = false;  // nothing more will come (terminal event returned, or the run ended at or before the cursor)
  bool caught_up_ = false; // a store read found nothing newer: from then on the notifier reports every event
  bool ended_ = false;     // the end was reported to the caller (StopIteration / None)
  bool closed_ = false;
  bool busy_ = false;      // a thread is inside next()/take(); guarded by the GIL
  std::shared_ptr<Notifier> notifier_;
  std::unique_ptr<Subscription> subscription_;
};

}  // namespace runhost::python
