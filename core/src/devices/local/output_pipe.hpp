// Reads one of the runtime's output pipes on the reactor: chunks of at most 64 KiB, handed to
// `on_data` as read; `on_eof` once, last, when the pipe is done.
//
// Reading waits for readiness only after read() said EAGAIN; otherwise it goes on in posted
// turns of about a millisecond each (a turn ends at once while a caller waits for the reactor,
// util::ReactorCallers), so one busy pipe cannot starve the reactor and an edge-triggered
// wake-up is never needed to resume (the writer may be blocked on the pipe we stopped reading).
// pause() stops reading: the pipe fills and the writer blocks, so memory stays bounded.
#pragma once

#include <functional>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "devices/local/lifetime.hpp"
#include "devices/local/unique_fd.hpp"
#include "util/reactor_callers.hpp"

namespace runhost::devices::local {

class OutputPipe {
 public:
  static constexpr size_t kChunk = 64 * 1024;

  OutputPipe(boost::asio::io_context& io, UniqueFd fd, std::function<void(std::string_view)> on_data,
             std::function<void()> on_eof);
  OutputPipe(const OutputPipe&) = delete;
  OutputPipe& operator=(const OutputPipe&) = delete;

  void start() { schedule_read(); }
  void pause() { paused_ = true; }
  void resume();
  // Stop waiting for writers (a grandchild may hold the pipe for ever): read what the pipe
  // holds now, then end as at EOF. Still honours pause().
  void close_when_drained();
  bool done() const noexcept { return done_; }

 private:
  void schedule_read();
  void wait_readable();
  void read_turn();
  void finish();

  boost::asio::io_context& io_;
  const util::ReactorCallers& callers_;
  boost::asio::posix::stream_descriptor pipe_;
  std::function<void(std::string_view)> on_data_;
  std::function<void()> on_eof_;
  bool paused_ = false;
  bool scheduled_ = false;  // a read turn is posted or a readiness wait is pending
  bool waiting_ = false;    // ... and it is the wait
  bool drain_then_close_ = false;
  bool done_ = false;
  Lifetime lifetime_;
};

}  // namespace runhost::devices::local
