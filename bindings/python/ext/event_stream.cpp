#include "event_stream.hpp"

#include "run_watch.hpp"  // bindings/common

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace runhost::python {
namespace {

using Clock = std::chrono::steady_clock;

// How long a blocking wait sleeps before it looks for Ctrl-C (PyErr_CheckSignals).
constexpr auto kWaitSlice = std::chrono::milliseconds(50);
// A page holds at most this many events, and about this many bytes (see read_page).
constexpr size_t kMaxPageEvents = 1024;
constexpr size_t kMinPageEvents = 16;
constexpr size_t kPageBytes = 4u << 20;

bool is_terminal_type(std::string_view type) {
  return type == "run.completed" || type == "run.failed" || type == "run.cancelled";
}

// Marks the stream busy for one call; a second thread gets RuntimeError, as a generator that is
// already executing does. Guarded by the GIL.
class BusyGuard {
 public:
  explicit BusyGuard(bool& busy) : busy_(busy) {
    if (busy_) throw std::runtime_error("this EventStream is already being iterated by another thread");
    busy_ = true;
  }
  ~BusyGuard() { busy_ = false; }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  bool& busy_;
};

}  // namespace

// ---- Notifier: reactor side ---------------------------------------------------------------------

Notifier::~Notifier() { close_fd(); }

void Notifier::signal_locked() {
  if (fd < 0 || signalled) return;
  const uint64_t one = 1;
  // Non-blocking; an eventfd only refuses a write when its counter would overflow.
  if (::write(fd, &one, sizeof one) == static_cast<ssize_t>(sizeof one)) signalled = true;
}

void Notifier::on_event(const Event& event) {
  {
    std::lock_guard lock(mutex);
    seen = std::max(seen, event.seq);
    if (!dropping) {
      if (buffered_bytes + event.json.size() > kBufferBytes) {
        dropping = true;  // the stream reads these from the store
        std::vector<Event>().swap(buffered);
        buffered_bytes = 0;
      } else {
        buffered.push_back(event);
        buffered_bytes += event.json.size();
      }
    }
    signal_locked();
  }
  cv.notify_all();
}

void Notifier::on_end(const Status& status) {
  {
    std::lock_guard lock(mutex);
    ended = true;
    if (!status) error = status.error();
    signal_locked();
  }
  cv.notify_all();
}

void Notifier::on_host_closed() {
  {
    std::lock_guard lock(mutex);
    host_closed = true;
    signal_locked();
  }
  cv.notify_all();
}

int Notifier::fileno() {
  std::lock_guard lock(mutex);
  if (fd < 0) {
    fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    // Born readable: an event reported before the fd existed signalled nothing, so the first
    // wait must not sleep; the reader looks at the store again instead.
    signalled = false;
    signal_locked();
  }
  return fd;
}

void Notifier::clear_signal() {
  std::lock_guard lock(mutex);
  if (fd < 0 || !signalled) return;
  uint64_t count = 0;
  (void)::read(fd, &count, sizeof count);
  signalled = false;
}

void Notifier::close_fd() {
  std::lock_guard lock(mutex);
  if (fd >= 0) ::close(fd);
  fd = -1;
  signalled = false;
}

// ---- EventStream ------------------------------------------------------------------------------

EventStream::EventStream(std::shared_ptr<HostState> host, std::string run_id, int64_t after_seq, Scope scope)
    : host_(std::move(host)),
      run_id_(std::move(run_id)),
      scope_(std::move(scope)),
      cursor_(std::max<int64_t>(0, after_seq)),
      notifier_(std::make_shared<Notifier>()) {
  py::gil_scoped_release release;
  host_->with_host([&](Host& h) {
    auto n = notifier_;
    auto watch = binding::watch_run(
        h, run_id_, scope_, [n](const Event& e) { n->on_event(e); }, [n](const Status& st) { n->on_end(st); });
    if (!watch.subscription) {
      // The run had ended: everything is stored, read it; no subscription needed.
      notifier_->ended = true;
      terminal_ = watch.run.last_seq <= cursor_;
      return;
    }
    subscription_ = std::move(watch.subscription);
  });
  host_->track(notifier_);
}

EventStream::~EventStream() {
  subscription_.reset();  // no callback runs after this
  notifier_->close_fd();
}

void EventStream::check_iterable() const {
  if (ended_ || closed_) {
    throw StreamConsumed("this EventStream of run " + run_id_ +
                         " has ended; call run.events() again for a new stream (it replays from the start, or "
                         "from after=SEQ)");
  }
}

bool EventStream::read_page() {
  bool ended = false;
  std::optional<Error> error;
  std::vector<Event> page;
  {
    py::gil_scoped_release release;
    bool behind = true;
    bool host_closed = false;
    {
      // Snapshot first: when the subscription had ended, this read sees everything there is.
      std::lock_guard lock(notifier_->mutex);
      ended = notifier_->ended;
      error = notifier_->error;
      host_closed = notifier_->host_closed;
      // What the notifier kept, when it follows on from the cursor; else the store has it.
      // (Not once the host is closed: the read below says so, as every call on a closed host does.)
      if (!host_closed && !notifier_->buffered.empty() && notifier_->buffered.front().seq <= cursor_ + 1) {
        page = std::move(notifier_->buffered);
        std::erase_if(page, [&](const Event& e) { return e.seq <= cursor_; });
      }
      notifier_->buffered.clear();
      notifier_->buffered_bytes = 0;
      notifier_->dropping = false;
      behind = notifier_->seen > cursor_;
    }
    if (!page.empty()) {
      page_ = std::move(page);
      next_ = 0;
      return true;
    }
    // Caught up with the store and with every event the notifier reported: nothing to read.
    if (caught_up_ && !behind && !ended && !host_closed) return false;
    page = host_->with_host([&](Host& h) { return value_or_throw(h.events(run_id_, cursor_, page_limit_, scope_)); });
    if (page.empty() && subscription_) caught_up_ = true;
  }
  if (!page.empty()) {
    // Bound a page by bytes too: a run of 1 MiB lines must not pull a gigabyte at once.
    size_t bytes = 0;
    for (const auto& e : page) bytes += e.json.size();
    const size_t average = std::max<size_t>(1, bytes / page.size());
    page_limit_ = std::clamp(kPageBytes / average, kMinPageEvents, kMaxPageEvents);
    page_ = std::move(page);
    next_ = 0;
    return true;
  }
  if (ended) {
    if (error) throw CoreError(*error);
    terminal_ = true;  // the run ended at or before the cursor
  }
  return false;
}

py::object EventStream::pop() {
  const Event& e = page_[next_];
  py::object decoded = decode_event(e);  // may throw: then the event stays, nothing is lost
  ++next_;
  cursor_ = e.seq;
  if (is_terminal_type(e.type)) finish();
  return decoded;
}

void EventStream::finish() {
  terminal_ = true;
  subscription_.reset();
}

py::object EventStream::next(double timeout_seconds) {
  BusyGuard busy(busy_);
  const bool limited = timeout_seconds >= 0;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(limited ? timeout_seconds : 0));
  for (;;) {
    if (buffered()) return pop();
    if (terminal_ || closed_) {
      ended_ = true;
      throw py::stop_iteration();
    }
    if (read_page() || terminal_) continue;
    auto slice = std::chrono::duration_cast<Clock::duration>(kWaitSlice);
    if (limited) {
      const auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) return py::none();
      slice = std::min(slice, left);
    }
    bool stop = false;
    {
      py::gil_scoped_release release;
      std::unique_lock lock(notifier_->mutex);
      notifier_->cv.wait_for(lock, slice, [&] {
        return notifier_->seen > cursor_ || notifier_->ended || notifier_->host_closed || notifier_->stop;
      });
      stop = notifier_->stop;
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // KeyboardInterrupt: the cursor is intact
    if (stop) close_now();
  }
}

py::object EventStream::take(size_t max) {
  BusyGuard busy(busy_);
  if (terminal_ && !buffered()) ended_ = true;
  if (ended_ || closed_) {
    ended_ = true;
    return py::none();
  }
  notifier_->clear_signal();  // before looking: a wake-up after this point is not lost
  if (!buffered()) read_page();
  py::list out;
  const size_t first = next_;
  const int64_t cursor = cursor_;
  try {
    while (buffered() && out.size() < max) out.append(pop());
  } catch (...) {
    next_ = first;  // nothing returned, nothing consumed
    cursor_ = cursor;
    throw;
  }
  if (out.empty() && terminal_) {
    ended_ = true;
    return py::none();
  }
  return out;
}

int EventStream::fileno() { return notifier_->fileno(); }

void EventStream::close() {
  if (busy_) {
    // Another thread waits in next(): it ends its wait and the stream there.
    {
      std::lock_guard lock(notifier_->mutex);
      notifier_->stop = true;
    }
    notifier_->cv.notify_all();
    return;
  }
  close_now();
}

void EventStream::close_now() {
  closed_ = true;
  subscription_.reset();
  notifier_->close_fd();
  page_.clear();
  next_ = 0;
}

}  // namespace runhost::python
