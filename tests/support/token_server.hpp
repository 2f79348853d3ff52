// A small OAuth-style token endpoint on 127.0.0.1 for the grant tests: it records every request
// it gets and answers each with what the test set (an HTTP status and a JSON body), one
// connection at a time, closing each after its answer.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace runhost::testing {

class TokenServer {
 public:
  struct Request {
    std::string method;
    std::string target;   // the path and query, as sent
    std::string headers;  // the header lines, as sent
    std::string body;
  };

  TokenServer();
  ~TokenServer();
  TokenServer(const TokenServer&) = delete;
  TokenServer& operator=(const TokenServer&) = delete;

  std::string url(const std::string& path) const;
  // What every request gets from now on.
  void answer(int status, std::string body);
  std::vector<Request> requests() const;

 private:
  void serve();
  void handle(int connection);

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  int status_ = 500;              // guarded by mutex_
  std::string body_ = "{}";       // guarded by mutex_
  std::vector<Request> requests_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace runhost::testing
