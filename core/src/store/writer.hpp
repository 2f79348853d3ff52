// The writer thread: the store's one writing connection, a queue and group commit.
//
// Every write is queued here, so appends, status changes and run creation are applied in the
// order they were queued. The thread takes what is queued, waiting up to the group-commit
// window after the first item for more (less when a caller is blocked on the result or the
// batch is full: 1000 operations or 8 MiB), applies it all in one BEGIN IMMEDIATE transaction,
// commits, and only then reports each operation's outcome, in queue order. A refused operation
// fails alone; an error that loses the transaction (a lock held too long, a full disk, an I/O
// error, a failed COMMIT) fails every operation of the batch. Nothing is reported durable
// before its COMMIT returned.
//
// Thread rules: append() and call() may be called from any thread except the writer's own
// (that is, not from an on_durable callback: call() would wait for itself and is refused).
// The queue is unbounded; append() never blocks on the disk.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "store/event_appender.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace runhost::store {

class Writer {
 public:
  // Applied inside the batch transaction, in a savepoint of its own; now_us is the batch's time.
  using Apply = std::function<Status(sqlite::Connection& conn, int64_t now_us)>;

  // `after_commit` runs on the writer thread after each COMMIT that succeeded, before the batch's
  // outcomes are reported (CommitSignal::notify: other processes' followers look now).
  Writer(std::unique_ptr<sqlite::Connection> conn, int group_commit_window_us, std::function<void()> after_commit = {});
  // Drains the queue (everything queued is committed or failed and reported), then stops.
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void append(EventRow event, std::function<void(const Status&)> on_durable);
  // Store::set_commit_sink: before the first append (the queue's mutex publishes it).
  void set_commit_sink(Store::CommitSink sink);
  // Queues `apply` and waits until its batch committed: its own error, the batch's, or OK.
  // An empty `apply` is a barrier: it returns once everything queued before it is done.
  Status call(Apply apply);
  // The same for a write that depends on no queued event (a new run's row): it goes ahead of
  // the events queued (after the calls that went ahead before it), so a caller is not kept
  // waiting behind other runs' output.
  Status call_ahead(Apply apply);

 private:
  struct Append {
    EventRow event;
    std::function<void(const Status&)> on_durable;
  };
  struct Call {
    Apply apply;
    std::promise<Status> done;
    bool ahead = false;  // queued by call_ahead
  };
  Status queue_call(Apply apply, bool ahead);
  using Op = std::variant<Append, Call>;

  void loop();
  // Opens the batch's transaction. false: it could not, and the batch was dealt with (answered,
  // or put back to wait for a lock another host holds).
  bool begin(std::vector<Op>& batch);
  std::vector<Op> take_batch();
  std::vector<Status> execute(std::vector<Op>& batch);
  Status apply_call(EventAppender& appender, const Apply& apply, int64_t now_us);
  void report(std::vector<Op>& batch, std::vector<Status>& results);
  bool batch_ready() const;

  std::unique_ptr<sqlite::Connection> conn_;
  const std::chrono::microseconds window_;
  const std::function<void()> after_commit_;
  Store::CommitSink sink_;  // set before the first append; read on the writer thread

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Op> queue_;                                // guarded by mutex_
  size_t queued_bytes_ = 0;                             // guarded by mutex_
  size_t queued_calls_ = 0;                             // guarded by mutex_: callers blocked on a result
  std::chrono::steady_clock::time_point first_queued_;  // guarded by mutex_
  bool stopping_ = false;                               // guarded by mutex_

  // Busy timeouts in a row before a blocked caller is told the store is locked (events wait on).
  static constexpr int kBusyRoundsBeforeCallsFail = 6;
  int busy_rounds_ = 0;     // writer thread only
  ClosedRuns closed_runs_;  // writer thread only
  std::thread thread_;
};

}  // namespace runhost::store
