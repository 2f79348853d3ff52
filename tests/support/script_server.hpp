// A scriptable HTTP/1.1 server on 127.0.0.1 for the HTTP client tests: each route answers a
// sequence of scripted responses, and every request is recorded with its headers.
//
// A scripted response may wait before answering, send its body whole (Content-Length) or in
// chunks (Transfer-Encoding: chunked) with a pause before each, drop the connection in the
// middle of the body, hang after what it sent until the client leaves, or close without any
// answer. Connections are kept alive between complete answers, as curl expects, and each one is
// served on its own thread, so a stream held open does not hold up other requests.
//
//   ScriptServer server;
//   server.script("GET", "/api/v1/sandboxes/sbx_1",
//                 {ScriptedResponse::json(503, R"({"error":{"code":"RESTORE_TRANSIENT"}})"),
//                  ScriptedResponse::json(200, R"({"data":{"id":"sbx_1"}})")});
//   ... client calls server.base_url() ...
//   auto seen = server.requests("GET", "/api/v1/sandboxes/sbx_1");  // 2, with their headers
//
// Thread rules: every method may be called from any thread; the destructor stops the server
// and joins its threads (connections still open are shut down).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace runhost::testing {

struct ScriptedResponse {
  enum class Ending {
    complete,   // the whole answer; the connection stays open for the next request
    drop,       // close in the middle: chunks without the last (0) chunk, or `body` cut at drop_at
    hang,       // after what was sent, say nothing more until the client closes
    no_answer,  // close as soon as the request is read, without a status line
  };

  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Length/Transfer-Encoding
  std::string body;                                          // sent with Content-Length, unless `chunks` is set
  std::vector<std::string> chunks;                           // sent chunked, one write (and one chunk) each
  std::chrono::milliseconds delay{0};                        // before the status line
  std::chrono::milliseconds chunk_delay{0};                  // before each chunk
  Ending ending = Ending::complete;
  size_t drop_at = 0;  // Ending::drop with `body`: bytes of it sent before closing

  static ScriptedResponse json(int status, std::string body,
                               std::vector<std::pair<std::string, std::string>> headers = {});
  // An SSE answer (200, text/event-stream), one chunk per string.
  static ScriptedResponse sse(std::vector<std::string> chunks, std::chrono::milliseconds chunk_delay = {},
                              std::vector<std::pair<std::string, std::string>> headers = {});
};

struct RecordedRequest {
  std::string method;
  std::string target;                                             // as sent: path and query
  std::string path;                                               // without the query
  std::string query;                                              // without '?'
  std::map<std::string, std::string> headers;                     // lower-cased names, last wins
  std::vector<std::pair<std::string, std::string>> header_lines;  // as sent, in order
  std::string body;
  int connection = 0;  // which connection it came on (1, 2, ... in accept order)

  std::string header(const std::string& lower_name) const;  // empty when absent
};

class ScriptServer {
 public:
  ScriptServer();
  ~ScriptServer();
  ScriptServer(const ScriptServer&) = delete;
  ScriptServer& operator=(const ScriptServer&) = delete;

  uint16_t port() const noexcept { return port_; }
  std::string base_url() const;  // http://127.0.0.1:<port>

  // What `method path` (path without query) answers: the responses in order, then the last one
  // again for every later request. Replaces an earlier script of the route. Unscripted routes
  // answer 404 {"error":{"code":"NOT_SCRIPTED"}}.
  void script(const std::string& method, const std::string& path, std::vector<ScriptedResponse> responses);
  void script(const std::string& method, const std::string& path, ScriptedResponse response);

  std::vector<RecordedRequest> requests() const;
  std::vector<RecordedRequest> requests(std::string_view method, std::string_view path) const;
  // Waits until at least `count` requests were recorded; false after `timeout`.
  bool wait_for_requests(size_t count, std::chrono::milliseconds timeout) const;
  // Waits until no connection is open (the client closed them); false after `timeout`.
  bool wait_for_idle(std::chrono::milliseconds timeout) const;
  // Waits until connection number `connection` (RecordedRequest::connection) is closed.
  bool wait_for_closed(int connection, std::chrono::milliseconds timeout) const;
  size_t connections_accepted() const;

 private:
  struct Route {
    std::vector<ScriptedResponse> responses;
    size_t next = 0;
  };

  void accept_loop();
  void serve(int fd, int connection);
  ScriptedResponse next_response(const std::string& method, const std::string& path);
  bool pause(std::chrono::milliseconds how_long, int fd) const;  // false: stop, or the client left

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::pair<std::string, std::string>, Route> routes_;  // guarded by mutex_
  std::vector<RecordedRequest> requests_;                        // guarded by mutex_
  std::vector<int> open_fds_;                                    // guarded by mutex_
  std::vector<int> closed_connections_;                          // guarded by mutex_
  std::vector<std::thread> workers_;                             // guarded by mutex_
  int accepted_ = 0;                                             // guarded by mutex_
  std::thread acceptor_;
};

}  // namespace runhost::testing
