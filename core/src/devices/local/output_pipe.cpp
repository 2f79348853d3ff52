#include "devices/local/output_pipe.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>

#include <boost/asio/post.hpp>

#include "util/logging.hpp"

namespace runhost::devices::local {
namespace {

// A turn yields to other handlers after this many reads (1 MiB) or this long, whichever comes
// first: with a hundred busy runs, a run's next turn (its first event, say) comes a hundred
// turns later.
constexpr int kReadsPerTurn = 16;
constexpr auto kTurn = std::chrono::milliseconds(1);

// One buffer per reactor thread, shared by every pipe on it: a chunk lives only for the
// on_data call, and reading is never re-entered from there.
char* read_buffer() {
  thread_local std::unique_ptr<char[]> buffer = std::make_unique<char[]>(OutputPipe::kChunk);
  return buffer.get();
}

}  // namespace

OutputPipe::OutputPipe(boost::asio::io_context& io, UniqueFd fd, std::function<void(std::string_view)> on_data,
                       std::function<void()> on_eof)
    : io_(io),
      callers_(boost::asio::use_service<util::ReactorCallers>(io)),
      pipe_(io, fd.release()),
      on_data_(std::move(on_data)),
      on_eof_(std::move(on_eof)) {}

void OutputPipe::resume() {
  paused_ = false;
  schedule_read();
}

void OutputPipe::close_when_drained() {
  drain_then_close_ = true;
  if (waiting_) {
    boost::system::error_code ignored;
    pipe_.cancel(ignored);  // the wait completes (aborted) and reads at once
  }
}

void OutputPipe::schedule_read() {
  if (scheduled_ || done_ || paused_) return;
  scheduled_ = true;
  boost::asio::post(io_, lifetime_.guard([this] {
    scheduled_ = false;
    read_turn();
  }));
}

void OutputPipe::wait_readable() {
  scheduled_ = waiting_ = true;
  pipe_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   lifetime_.guard([this](const boost::system::error_code&) {
                     scheduled_ = waiting_ = false;
                     read_turn();
                   }));
}

void OutputPipe::read_turn() {
  char* buffer = read_buffer();
  const auto until = std::chrono::steady_clock::now() + kTurn;
  for (int i = 0; i < kReadsPerTurn; ++i) {
    if (done_ || paused_) return;
    // A caller waiting for the reactor goes first: its task is queued, this turn goes behind it.
    if (callers_.waiting() || (i > 0 && std::chrono::steady_clock::now() >= until)) break;
    const ssize_t n = ::read(pipe_.native_handle(), buffer, kChunk);
    if (n > 0) {
      const auto alive = lifetime_.alive();
      on_data_(std::string_view(buffer, static_cast<size_t>(n)));
      if (!alive) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !drain_then_close_) return wait_readable();
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      util::logger()->warn("local device: reading runtime output failed: errno {}", errno);
    }
    return finish();  // EOF, drained after the grace, or a read error
  }
  schedule_read();
}

void OutputPipe::finish() {
  done_ = true;
  boost::system::error_code ignored;
  pipe_.close(ignored);
  on_eof_();
}

}  // namespace runhost::devices::local
