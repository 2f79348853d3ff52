#include "store/writer.hpp"

#include <algorithm>
#include <exception>

#include <sqlite3.h>

#include "util/logging.hpp"

namespace runhost::store {
namespace {

constexpr size_t kMaxBatchOps = 1000;
constexpr size_t kMaxBatchBytes = size_t{8} << 20;

size_t size_of(const EventRow& event) {
  return event.run_id.size() + event.id.size() + event.type.size() + event.json.size() +
         (event.request_id ? event.request_id->size() : 0) + 64;
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Writer::Writer(std::unique_ptr<sqlite::Connection> conn, int group_commit_window_us, std::function<void()> after_commit)
    : conn_(std::move(conn)),
      window_(group_commit_window_us > 0 ? group_commit_window_us : 0),
      after_commit_(std::move(after_commit)) {
  thread_ = std::thread([this] { loop(); });
}

Writer::~Writer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Writer::append(EventRow event, std::function<void(const Status&)> on_durable) {
  const size_t bytes = size_of(event);
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) {
      first_queued_ = std::chrono::steady_clock::now();
      wake = true;
    }
    queue_.emplace_back(Append{std::move(event), std::move(on_durable)});
    queued_bytes_ += bytes;
    // Wake the writer only when that changes what it waits for: the first item, a full batch.
    wake = wake || queue_.size() == kMaxBatchOps ||
           (queued_bytes_ >= kMaxBatchBytes && queued_bytes_ - bytes < kMaxBatchBytes);
  }
  if (wake) wake_.notify_one();
}

void Writer::set_commit_sink(Store::CommitSink sink) {
  std::lock_guard lock(mutex_);
  sink_ = std::move(sink);
}

Status Writer::call(Apply apply) {
  return queue_call(std::move(apply), false);
}

Status Writer::call_ahead(Apply apply) {
  return queue_call(std::move(apply), true);
}

Status Writer::queue_call(Apply apply, bool ahead) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    return Error(ErrorCode::internal, "a store write was called from an on_durable callback, which would deadlock");
  }
  std::promise<Status> done;
  auto result = done.get_future();
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) first_queued_ = std::chrono::steady_clock::now();
    auto at = queue_.end();
    if (ahead) {
      at = queue_.begin();
      while (at != queue_.end() && std::holds_alternative<Call>(*at) && std::get<Call>(*at).ahead) ++at;
    }
    queue_.insert(at, Call{std::move(apply), std::move(done), ahead});
    ++queued_calls_;
  }
  wake_.notify_one();
  return result.get();
}

bool Writer::batch_ready() const {
  // A caller blocked on a result gains nothing from waiting for company.
  return stopping_ || queued_calls_ > 0 || queue_.size() >= kMaxBatchOps || queued_bytes_ >= kMaxBatchBytes;
}

std::vector<Writer::Op> Writer::take_batch() {
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) return {};
  // The window counts from the first item's arrival: items that queued up during the previous
  // commit have waited already.
  wake_.wait_until(lock, first_queued_ + window_, [this] { return batch_ready(); });
  std::vector<Op> batch;
  batch.reserve(std::min(queue_.size(), kMaxBatchOps));
  size_t bytes = 0;
  while (!queue_.empty() && batch.size() < kMaxBatchOps && bytes < kMaxBatchBytes) {
    Op& op = queue_.front();
    if (auto* append = std::get_if<Append>(&op)) {
      bytes += size_of(append->event);
    } else {
      --queued_calls_;
    }
    batch.push_back(std::move(op));
    queue_.pop_front();
  }
  queued_bytes_ = queued_bytes_ > bytes ? queued_bytes_ - bytes : 0;
  if (queue_.empty()) queued_bytes_ = 0;
  return batch;
}

void Writer::loop() {
  for (;;) {
    auto batch = take_batch();
    if (batch.empty()) return;
    // A batch of barriers only (flush(), as a host closes) writes nothing: it must not wait for
    // the write lock, which a stopped host elsewhere may hold.
    if (std::all_of(batch.begin(), batch.end(), [](const Op& op) {
          const auto* call = std::get_if<Call>(&op);
          return call != nullptr && !call->apply;
        })) {
      std::vector<Status> done(batch.size());
      report(batch, done);
      continue;
    }
    if (!begin(batch)) continue;
    auto results = execute(batch);
    report(batch, results);
  }
}

// Another host holding the write lock past the busy timeout (a host stopped in the middle of a
// write, many hosts' writes at once, a long checkpoint) is contention, not a failure of this
// store: failing the batch would end every run with an event in it. So the whole batch goes
// back to the head of the queue, in order, and is tried again; meanwhile the runs'
// backpressure pauses their runtimes' output. A caller blocked on a write (a dispatch) is told
// after kBusyRoundsBeforeCallsFail busy timeouts in a row ("locked"; it may retry); events keep
// waiting. Only a host that is closing gives up on them.
bool Writer::begin(std::vector<Op>& batch) {
  auto begun = conn_->exec("BEGIN IMMEDIATE", "starting a write batch");
  if (begun) {
    busy_rounds_ = 0;
    return true;
  }
  const bool busy = (sqlite3_errcode(conn_->handle()) & 0xff) == SQLITE_BUSY;
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    stopping = stopping_;
  }
  if (!busy || stopping) {
    std::vector<Status> results(batch.size(), begun);
    report(batch, results);
    return false;
  }
  const bool answer_calls = ++busy_rounds_ >= kBusyRoundsBeforeCallsFail;
  if (answer_calls) busy_rounds_ = 0;
  util::logger()->warn("{}; the writes wait and are tried again", begun.error().message);
  std::vector<Status> answers;
  std::vector<Op> answered;
  {
    std::lock_guard lock(mutex_);
    for (auto op = batch.rbegin(); op != batch.rend(); ++op) {
      if (auto* append = std::get_if<Append>(&*op)) {
        queued_bytes_ += size_of(append->event);
        queue_.push_front(std::move(*op));
      } else if (answer_calls && std::get<Call>(*op).apply) {
        answered.push_back(std::move(*op));
        answers.push_back(begun);
      } else {
        ++queued_calls_;  // a caller still waiting (a barrier waits for the events before it)
        queue_.push_front(std::move(*op));
      }
    }
    if (!queue_.empty()) first_queued_ = std::chrono::steady_clock::now();
  }
  report(answered, answers);
  return false;
}

Status Writer::apply_call(EventAppender& appender, const Apply& apply, int64_t now) {
  if (!apply) return {};
  // Other writes may read last_seq; bring it up to date first.
  if (auto st = appender.settle(); !st) return st;
  if (auto st = conn_->exec("SAVEPOINT op", "starting a write"); !st) return st;
  Status outcome;
  try {
    outcome = apply(*conn_, now);
  } catch (const std::exception& e) {  // the writer thread must outlive any one write
    outcome = Error(ErrorCode::internal, std::string("a store write threw: ") + e.what());
  }
  if (!outcome && conn_->in_transaction()) {
    if (auto st = conn_->exec("ROLLBACK TO op", "undoing a refused write"); !st) return st;
  }
  if (conn_->in_transaction()) {
    if (auto st = conn_->exec("RELEASE op", "finishing a write"); !st) return st;
  }
  return outcome;
}

std::vector<Status> Writer::execute(std::vector<Op>& batch) {
  std::vector<Status> results(batch.size());
  std::optional<Error> lost;  // begin() has opened the transaction

  EventAppender appender(*conn_, closed_runs_);
  const int64_t now = now_us();
  for (size_t i = 0; i < batch.size() && !lost; ++i) {
    if (auto* append = std::get_if<Append>(&batch[i])) {
      results[i] = appender.append(append->event);
    } else {
      results[i] = apply_call(appender, std::get<Call>(batch[i]).apply, now);
    }
    // store_unavailable means the file is in trouble (locked, full, I/O...): SQLite may have
    // rolled the transaction back already, and nothing more can be trusted to it.
    if (!results[i] && (results[i].error().code == ErrorCode::store_unavailable || !conn_->in_transaction())) {
      lost = results[i].error();
    }
  }
  if (!lost) {
    if (auto st = appender.settle(); !st) lost = std::move(st).error();
  }
  if (!lost) {
    if (auto st = conn_->exec("COMMIT", "committing a write batch"); !st) lost = std::move(st).error();
  }
  if (!lost) {
    if (after_commit_) after_commit_();
    return results;
  }

  if (conn_->in_transaction()) (void)conn_->exec("ROLLBACK");
  for (size_t i = 0; i < batch.size(); ++i) {
    if (auto* append = std::get_if<Append>(&batch[i])) closed_runs_.emplace(append->event.run_id, lost->message);
    if (results[i]) results[i] = *lost;
  }
  return results;
}

void Writer::report(std::vector<Op>& batch, std::vector<Status>& results) {
  std::vector<Store::Committed> committed;
  if (sink_) committed.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (auto* call = std::get_if<Call>(&batch[i])) {
      call->done.set_value(std::move(results[i]));
      continue;
    }
    auto& append = std::get<Append>(batch[i]);
    if (sink_) {
      committed.push_back({std::move(append.event), std::move(results[i]), std::move(append.on_durable)});
      continue;
    }
    auto& on_durable = append.on_durable;
    if (!on_durable) continue;
    try {
      on_durable(results[i]);
    } catch (const std::exception& e) {
      util::logger()->error("store: an on_durable callback threw: {}", e.what());
    } catch (...) {
      util::logger()->error("store: an on_durable callback threw");
    }
  }
  if (committed.empty()) return;
  try {
    sink_(std::move(committed));
  } catch (const std::exception& e) {
    util::logger()->error("store: the commit sink threw: {}", e.what());
  } catch (...) {
    util::logger()->error("store: the commit sink threw");
  }
}

}  // namespace runhost::store
