#include "token_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

namespace runhost::testing {

TokenServer::TokenServer() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || ::listen(fd_, 8) != 0) {
    throw std::runtime_error("TokenServer: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

TokenServer::~TokenServer() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

std::string TokenServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void TokenServer::answer(int status, std::string body) {
  std::lock_guard lock(mutex_);
  status_ = status;
  body_ = std::move(body);
}

std::vector<TokenServer::Request> TokenServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void TokenServer::serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int connection = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) continue;
    handle(connection);
    ::close(connection);
  }
}

void TokenServer::handle(int connection) {
  std::string in;
  char buf[4096];
  size_t head_end = std::string::npos;
  size_t want = 0;
  while (head_end == std::string::npos || in.size() < head_end + 4 + want) {
    pollfd p{connection, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;  // a client that stalls gets nothing
    const ssize_t n = ::read(connection, buf, sizeof buf);
    if (n <= 0) return;
    in.append(buf, static_cast<size_t>(n));
    if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
      for (const char* name : {"\r\nContent-Length: ", "\r\ncontent-length: "}) {
        if (const size_t at = in.find(name); at != std::string::npos && at < head_end) {
          want = std::strtoul(in.c_str() + at + 18, nullptr, 10);
        }
      }
    }
  }
  Request request;
  const size_t line_end = in.find("\r\n");
  const std::string line = in.substr(0, line_end);
  const size_t space = line.find(' ');
  request.method = line.substr(0, space);
  request.target = line.substr(space + 1, line.rfind(' ') - space - 1);
  request.headers = in.substr(line_end + 2, head_end - line_end - 2);
  request.body = in.substr(head_end + 4, want);
  std::string out;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(request));
    out = "HTTP/1.1 " + std::to_string(status_) + (status_ == 200 ? " OK" : " Refused") +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body_.size()) +
          "\r\nConnection: close\r\n\r\n" + body_;
  }
  for (size_t sent = 0; sent < out.size();) {
    const ssize_t n = ::write(connection, out.data() + sent, out.size() - sent);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace runhost::testing
