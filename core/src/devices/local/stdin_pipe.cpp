#include "devices/local/stdin_pipe.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <utility>

#include "util/logging.hpp"

namespace runhost::devices::local {
namespace {

// write() with SIGPIPE blocked for this thread; a SIGPIPE this write raised is consumed, so
// a host that did not ignore SIGPIPE is not killed by a runtime that closed its stdin.
ssize_t write_without_sigpipe(int fd, const char* data, size_t len) {
  sigset_t sigpipe;
  sigemptyset(&sigpipe);
  sigaddset(&sigpipe, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  const bool already_pending = sigismember(&pending, SIGPIPE) == 1;
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &sigpipe, &previous);
  const ssize_t n = ::write(fd, data, len);
  const int err = errno;
  if (n < 0 && err == EPIPE && !already_pending) {
    const timespec no_wait{};
    while (sigtimedwait(&sigpipe, nullptr, &no_wait) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  errno = err;
  return n;
}

}  // namespace

StdinPipe::StdinPipe(boost::asio::io_context& io, UniqueFd fd) : pipe_(io, fd.release()) {}

void StdinPipe::write(std::string_view bytes) {
  if (closed_ || close_requested_ || bytes.empty()) return;
  queue_.append(bytes);
  pump();
}

void StdinPipe::close_when_drained() {
  close_requested_ = true;
  pump();
}

void StdinPipe::close_now() {
  if (closed_) return;
  closed_ = true;
  queue_.clear();
  written_ = 0;
  boost::system::error_code ignored;
  pipe_.close(ignored);
}

void StdinPipe::pump() {
  if (closed_ || waiting_) return;
  while (written_ < queue_.size()) {
    const ssize_t n = write_without_sigpipe(pipe_.native_handle(), queue_.data() + written_, queue_.size() - written_);
    if (n >= 0) {
      written_ += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (written_ > queue_.size() / 2) queue_.erase(0, std::exchange(written_, 0));  // keep the queue compact
      waiting_ = true;
      pipe_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                       lifetime_.guard([this](const boost::system::error_code&) {
                         waiting_ = false;
                         pump();
                       }));
      return;
    }
    if (errno != EPIPE) util::logger()->warn("local device: writing the runtime's stdin failed: errno {}", errno);
    return close_now();  // the runtime closed its stdin: not an error, the rest is dropped
  }
  queue_.clear();
  written_ = 0;
  if (close_requested_) close_now();
}

}  // namespace runhost::devices::local
