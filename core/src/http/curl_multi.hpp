// Non-blocking HTTP on the reactor: one libcurl multi handle driven by an io_context.
//
// The blocking client (curl_http.hpp) serves plugins on worker threads; this one serves the
// host's own calls to remote devices (MIOSA sandboxes), which run on the reactor thread and so
// must never wait. curl tells us which sockets it wants watched (CURLMOPT_SOCKETFUNCTION) and
// when it next needs the clock (CURLMOPT_TIMERFUNCTION); asio waits for those, and every
// readiness or expiry is handed back to curl_multi_socket_action. curl owns the sockets: asio
// watches them through a posix::stream_descriptor that is released, never closed, when curl
// lets go of one. DNS runs on curl's resolver threads (AsynchDNS), and CURLOPT_QUICK_EXIT keeps
// a cancel during a lookup from joining that thread on the reactor.
//
// A request reports to its HttpObserver: on_head once the final response's headers are in
// (redirects are followed and never reported), on_body for each piece of the body, on_done
// last. Body pieces are delivered as curl reads them; pause() holds them back (curl stops
// reading the socket: backpressure reaches the server through TCP) until resume().
//
//   http::CurlMulti multi(io);
//   http::HttpRequest req{"GET", "https://api.example.com/v1/things"};
//   uint64_t id = multi.start(std::move(req), observer);  // observer.on_head, on_body..., on_done
//   multi.cancel(id);                                     // or: no callback after this
//
// Thread rules: construct, call every method and destroy on the io_context's thread (or after
// it stopped running); every observer callback runs there too, never from within start(),
// cancel(), pause() or resume(). A callback may start, cancel, pause or resume any request,
// its own included, and may destroy its observer from on_done on, or once it cancelled the
// request. Destroying the CurlMulti aborts every request with no callback after, and may be done
// from within a callback.
#pragma once

#include <curl/curl.h>

#include <cassert>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "util/reactor_assert.hpp"

namespace runhost::http {

struct HttpRequest {
  std::string method = "GET";        // GET and HEAD as such, anything else with `body` as its body
  std::string url;                   // http:// or https:// only
  std::vector<std::string> headers;  // "Name: value" lines, no CR or LF
  std::string body;                  // sent as is (with Content-Length) unless method is GET/HEAD
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{60'000};  // 0: none (streams watch idleness themselves)
};

struct HttpHead {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names; a repeated header: the last
  // The value of header `name` (lower case), or empty.
  std::string_view header(const std::string& name) const;
};

class HttpObserver {
 public:
  // At most once, before any body: the final response's status and headers.
  virtual void on_head(const HttpHead& head) = 0;
  // A piece of the body, as read. Return false to abort: on_done follows with
  // CURLE_WRITE_ERROR.
  virtual bool on_body(std::string_view bytes) = 0;
  // Last, exactly once unless the request was cancelled: CURLE_OK when the response ended as
  // the server framed it, else why it did not (`error` is curl's one-line explanation). While
  // the request is paused, on_done waits for resume() like the body does.
  virtual void on_done(CURLcode result, std::string_view error) = 0;

 protected:
  ~HttpObserver() = default;
};

class CurlMulti {
 public:
  explicit CurlMulti(boost::asio::io_context& io);
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  // Starts the request; callbacks follow on `observer`, which must live until on_done is called
  // (it may destroy itself there) or the request is cancelled. Never 0. A request curl cannot even begin (a malformed
  // method, URL or header) ends in on_done all the same, never here.
  uint64_t start(HttpRequest request, HttpObserver& observer);
  // Aborts the request if it is still running; no callback for it after this. Unknown or
  // finished ids are ignored.
  void cancel(uint64_t id);
  // Holds back on_body and on_done until resume(). Idempotent.
  void pause(uint64_t id);
  void resume(uint64_t id);

  size_t active() const noexcept;  // requests started and not yet done or cancelled

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with pending asio handlers, which hold it weakly
};

}  // namespace runhost::http
