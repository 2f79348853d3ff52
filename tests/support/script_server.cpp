#include "script_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace runhost::testing {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

// Everything or nothing: false once the client is gone.
bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string hex(size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

}  // namespace

ScriptedResponse ScriptedResponse::json(int status, std::string body,
                                        std::vector<std::pair<std::string, std::string>> headers) {
  ScriptedResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "application/json");
  return r;
}

ScriptedResponse ScriptedResponse::sse(std::vector<std::string> chunks, std::chrono::milliseconds chunk_delay,
                                       std::vector<std::pair<std::string, std::string>> headers) {
  ScriptedResponse r;
  r.chunks = std::move(chunks);
  r.chunk_delay = chunk_delay;
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "text/event-stream");
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

std::string RecordedRequest::header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? std::string{} : it->second;
}

ScriptServer::ScriptServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("ScriptServer: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

ScriptServer::~ScriptServer() {
  stop_ = true;
  acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    for (const int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    workers = std::move(workers_);
  }
  for (auto& worker : workers) worker.join();
  ::close(listen_fd_);
}

std::string ScriptServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void ScriptServer::script(const std::string& method, const std::string& path, std::vector<ScriptedResponse> responses) {
  std::lock_guard lock(mutex_);
  routes_[{method, path}] = Route{std::move(responses), 0};
}

void ScriptServer::script(const std::string& method, const std::string& path, ScriptedResponse response) {
  script(method, path, std::vector<ScriptedResponse>{std::move(response)});
}

std::vector<RecordedRequest> ScriptServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::vector<RecordedRequest> ScriptServer::requests(std::string_view method, std::string_view path) const {
  std::lock_guard lock(mutex_);
  std::vector<RecordedRequest> out;
  for (const auto& r : requests_) {
    if (r.method == method && r.path == path) out.push_back(r);
  }
  return out;
}

bool ScriptServer::wait_for_requests(size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
}

bool ScriptServer::wait_for_idle(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return open_fds_.empty(); });
}

bool ScriptServer::wait_for_closed(int connection, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    return std::find(closed_connections_.begin(), closed_connections_.end(), connection) != closed_connections_.end();
  });
}

size_t ScriptServer::connections_accepted() const {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(accepted_);
}

void ScriptServer::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int one = 1;  // the head and the body go in separate writes: no Nagle delay between them
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex_);
    open_fds_.push_back(fd);
    const int connection = ++accepted_;
    workers_.emplace_back([this, fd, connection] { serve(fd, connection); });
  }
}

ScriptedResponse ScriptServer::next_response(const std::string& method, const std::string& path) {
  std::lock_guard lock(mutex_);
  const auto it = routes_.find({method, path});
  if (it == routes_.end() || it->second.responses.empty()) {
    return ScriptedResponse::json(404, R"({"error":{"code":"NOT_SCRIPTED","message":"no script for this route"}})");
  }
  Route& route = it->second;
  const size_t index = std::min(route.next, route.responses.size() - 1);
  ++route.next;
  return route.responses[index];
}

bool ScriptServer::pause(std::chrono::milliseconds how_long, int fd) const {
  const auto until = std::chrono::steady_clock::now() + how_long;
  while (!stop_) {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    const int wait_ms = static_cast<int>(std::min<int64_t>((left.count() + 999) / 1000, 20));  // rounded up
    pollfd p{fd, POLLRDHUP, 0};
    if (::poll(&p, 1, wait_ms) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0) {
      return false;  // the client left
    }
  }
  return false;
}

void ScriptServer::serve(int fd, int connection) {
  std::string in;
  char buf[16384];
  bool keep_open = true;
  while (keep_open && !stop_) {
    // One request: its head, then Content-Length bytes of body.
    size_t head_end = std::string::npos;
    size_t want = 0;
    bool closed = false;
    while (!stop_) {
      if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
        const std::string head = lower(in.substr(0, head_end));
        if (const size_t at = head.find("\r\ncontent-length:"); at != std::string::npos) {
          want = std::strtoul(head.c_str() + at + 17, nullptr, 10);
        }
      }
      if (head_end != std::string::npos && in.size() >= head_end + 4 + want) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) {
        closed = true;
        break;
      }
      in.append(buf, static_cast<size_t>(n));
    }
    if (closed || stop_) break;

    RecordedRequest request;
    request.connection = connection;
    const size_t line_end = in.find("\r\n");
    const std::string line = in.substr(0, line_end);
    const size_t space = line.find(' ');
    request.method = line.substr(0, space);
    request.target = line.substr(space + 1, line.rfind(' ') - space - 1);
    const size_t q = request.target.find('?');
    request.path = request.target.substr(0, q);
    request.query = q == std::string::npos ? std::string{} : request.target.substr(q + 1);
    for (size_t at = line_end + 2; at < head_end;) {
      const size_t end = in.find("\r\n", at);
      const std::string header = in.substr(at, std::min(end, head_end) - at);
      if (const size_t colon = header.find(':'); colon != std::string::npos) {
        std::string name = header.substr(0, colon);
        std::string value = trim(header.substr(colon + 1));
        request.headers[lower(name)] = value;
        request.header_lines.emplace_back(std::move(name), std::move(value));
      }
      at = end + 2;
    }
    request.body = in.substr(head_end + 4, want);
    in.erase(0, head_end + 4 + want);
    const bool client_closes = lower(request.header("connection")) == "close";
    const ScriptedResponse response = next_response(request.method, request.path);
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(std::move(request));
    }
    changed_.notify_all();

    if (response.ending == ScriptedResponse::Ending::no_answer) break;
    if (response.delay.count() > 0 && !pause(response.delay, fd)) break;

    const bool chunked = !response.chunks.empty();
    std::string head =
        "HTTP/1.1 " + std::to_string(response.status) + (response.status < 400 ? " OK" : " Error") + "\r\n";
    for (const auto& [name, value] : response.headers) head += name + ": " + value + "\r\n";
    head +=
        chunked ? "Transfer-Encoding: chunked\r\n" : "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    head += "\r\n";
    if (!send_all(fd, head)) break;

    bool sent = true;
    if (chunked) {
      for (const auto& chunk : response.chunks) {
        if (response.chunk_delay.count() > 0 && !pause(response.chunk_delay, fd)) {
          sent = false;
          break;
        }
        if (chunk.empty()) continue;  // an empty chunk would end the body
        if (!send_all(fd, hex(chunk.size()) + "\r\n" + chunk + "\r\n")) {
          sent = false;
          break;
        }
      }
      if (sent && response.ending == ScriptedResponse::Ending::complete) sent = send_all(fd, "0\r\n\r\n");
    } else {
      const bool cut = response.ending == ScriptedResponse::Ending::drop;
      sent = send_all(fd, cut ? std::string_view(response.body).substr(0, response.drop_at) : response.body);
    }
    if (!sent || response.ending == ScriptedResponse::Ending::drop) break;
    if (response.ending == ScriptedResponse::Ending::hang) {
      while (!stop_) {  // until the client closes: read and discard
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        if (::read(fd, buf, sizeof buf) <= 0) break;
      }
      break;
    }
    keep_open = !client_closes;
  }
  {
    std::lock_guard lock(mutex_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    closed_connections_.push_back(connection);
    ::close(fd);
  }
  changed_.notify_all();
}

}  // namespace runhost::testing
