// The runtime's stdin: bytes queued by the host and written as the pipe drains, without ever
// blocking the reactor. A runtime that closed its end (EPIPE) is not an error: what is left
// is dropped. The host process gets no SIGPIPE from it.
#pragma once

#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "devices/local/lifetime.hpp"
#include "devices/local/unique_fd.hpp"

namespace runhost::devices::local {

class StdinPipe {
 public:
  StdinPipe(boost::asio::io_context& io, UniqueFd fd);
  StdinPipe(const StdinPipe&) = delete;
  StdinPipe& operator=(const StdinPipe&) = delete;

  void write(std::string_view bytes);
  void close_when_drained();  // closes once everything queued so far is written
  void close_now();           // drops what is queued

 private:
  void pump();

  boost::asio::posix::stream_descriptor pipe_;
  std::string queue_;
  size_t written_ = 0;  // of queue_
  bool waiting_ = false;
  bool close_requested_ = false;
  bool closed_ = false;
  Lifetime lifetime_;
};

}  // namespace runhost::devices::local
