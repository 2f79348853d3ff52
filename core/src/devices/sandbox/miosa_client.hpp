// The MIOSA HTTP API as the official SDK (miosa 2.19.2, _http.py and errors.py) speaks it, on
// the reactor, for the sandbox device.
//
// MiosaClient sends JSON calls and opens SSE streams against one MIOSA base URL with one key,
// through the host's CurlMulti. It keeps to the SDK's transport conventions so that a MIOSA
// server (or the emulator) sees from runhost what it sees from the SDK:
// - the base URL is normalised (strip, drop a trailing '/', append /api/v1 unless it already
//   ends in /v<digits>);
// - every request carries `Authorization: Bearer <key>`, `Accept: application/json` (streams:
//   `text/event-stream, application/json;q=0.9`), `User-Agent: runhost/<version>`, and
//   `X-MIOSA-Tenant` when a tenant is set; a body goes as JSON with its Content-Type; a call's
//   Idempotency-Key goes on every attempt of it, unchanged;
// - a call is retried on 429/500/502/503/504 and on connect, DNS and timeout failures (never on
//   a connection lost mid-body), only when it is safe to replay: GET, HEAD, OPTIONS, PUT and
//   DELETE always, POST and PATCH only with an Idempotency-Key. At most max_retries retries,
//   after Retry-After (seconds, fractions allowed, at most 30 s; ignored after connect or
//   timeout failures), else after min(base·2^attempt + U(0, base), 30 s) with base 0.5 s;
//   the waits are reactor timers;
// - a failure is read from MIOSA's error envelope with the SDK's precedence (MiosaFailure), and
//   becomes a runhost Error with to_error();
// - streams are never retried: a non-2xx answer is a failure, 204 an empty stream, and a
//   connection lost mid-stream (or silent for longer than the idle timeout) ends the stream
//   with a STREAM_DROPPED failure, after every complete frame before it was delivered once.
// The key is registered with util::secrets() when the client is made: no event, log line or
// error can carry it. It is never put into a message, and the Authorization header is never
// logged.
//
//   auto config = MiosaConfig::from_env_and_options({});      // MIOSA_BASE_URL, MIOSA_API_KEY...
//   if (!config) return config.error();                        // device_unavailable, names the key
//   MiosaClient client(io, multi, std::move(*config));
//   client.call("POST", "/sandboxes", json{{"template_id", "miosa-sandbox"}},
//               {.idempotency_key = key}, [](MiosaResult<MiosaResponse> r) {
//                 if (!r) return fail(r.error());              // r.failure().code: "CREDIT_REQUIRED"...
//                 use(r->data["id"]);
//               });
//   MiosaHandle h = client.stream("POST", "/sandboxes/sbx_1/exec/stream", json{{"command", "ls"}}, {},
//                                 {.on_event = [](const SseEvent& e) { ... },
//                                  .on_end = [](MiosaResult<StreamEnd> end) { ... }});
//   h.cancel();                                                 // no callback after
//
// Thread rules: construct, call and destroy on the io_context's thread (the reactor), or after
// it stopped running; every callback runs there too, never from within call(), stream() or a
// handle's method. A callback may call, stream, cancel, pause or resume anything, and may
// destroy the client. Destroying the client cancels everything it started, with no callback
// after. The CurlMulti must outlive the client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "devices/sandbox/sse.hpp"
#include "http/curl_multi.hpp"
#include "runhost/error.hpp"

namespace runhost::devices::sandbox {

inline constexpr std::string_view kDefaultBaseUrl = "https://api.miosa.ai/api/v1";

// MiosaFailure::code for failures that are not MIOSA's own answer.
inline constexpr std::string_view kConnectionFailed = "CONNECTION_FAILED";  // connect or DNS, all tries
inline constexpr std::string_view kTimedOut = "TIMEOUT";                    // curl's timeout, all tries
inline constexpr std::string_view kNetworkError = "NETWORK_ERROR";          // lost mid-answer, TLS...
inline constexpr std::string_view kStreamDropped = "STREAM_DROPPED";        // reopen the stream
inline constexpr std::string_view kFrameTooLarge = "SSE_FRAME_TOO_LARGE";   // a frame over the limit
inline constexpr std::string_view kResponseTooLarge = "RESPONSE_TOO_LARGE";
inline constexpr std::string_view kInvalidRequest = "INVALID_REQUEST";  // ours: a body that is not JSON text

// The SDK's _normalize_base_url: strip, drop trailing '/', append /api/v1 unless the URL
// already ends in /v<digits>. An empty result stays empty.
std::string normalize_base_url(std::string_view raw);

// One path segment percent-encoded as Python's quote(s, safe="") does (by-name lookups).
std::string escape_path_segment(std::string_view segment);

// What a host passes in; an empty field is not given.
struct MiosaOptions {
  std::string base_url;
  std::string api_key;
  std::string access_token;  // the SDK's other credential; it wins over an API key
  std::string tenant;
};

// Looks a variable up; nullopt when it is not set. The default reads the process environment.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

struct MiosaConfig {
  std::string base_url = std::string(kDefaultBaseUrl);  // normalised
  std::string api_key;                                  // sent as the Bearer token
  std::string tenant;                                   // X-MIOSA-Tenant when not empty
  int max_retries = 3;                                  // retries, so up to 4 attempts
  std::chrono::milliseconds timeout{60'000};            // a call's whole exchange, per attempt
  std::chrono::milliseconds connect_timeout{10'000};
  // Backoff: min(base·2^attempt + U(0, base), max). The SDK's base is 0.5 s; tests make it small.
  std::chrono::milliseconds retry_base_delay{500};
  std::chrono::milliseconds retry_max_delay{30'000};  // also caps Retry-After
  size_t max_response_bytes = size_t{256} << 20;      // a call's body; more is a failure

  // The configuration from `options` first, then the environment, as the SDK reads it:
  // base URL = option › MIOSA_BASE_URL › kDefaultBaseUrl (normalised; http(s) only);
  // key = access_token option › api_key option › MIOSA_ACCESS_TOKEN › MIOSA_API_KEY;
  // tenant = option › MIOSA_TENANT. Empty values count as unset. No key: device_unavailable
  // naming MIOSA_API_KEY, with a configure_device recovery. Registers the key with
  // util::secrets().
  static Result<MiosaConfig> from_env_and_options(const MiosaOptions& options, const EnvLookup& env = {});
};

// A 2xx answer to a call.
struct MiosaResponse {
  long status = 0;
  // The body: parsed when its Content-Type says JSON (and it parses), else the text as a JSON
  // string ("" when empty); null when it is binary (image/*, octet-stream) or not UTF-8: see `raw`.
  nlohmann::json body;
  nlohmann::json data;     // body["data"] when the body is an object with "data", else body
  std::string request_id;  // the x-request-id header, else the body's "request_id"
  std::string content_type;
  std::string raw;  // the body's bytes as received (downloads)
  int attempts = 1;
};

// Why a call or stream failed: MIOSA's error envelope, or what stopped the exchange.
struct MiosaFailure {
  long status = 0;   // 0: no HTTP answer (see curl_code)
  std::string code;  // MIOSA's error code (CREDIT_REQUIRED...), or one of the k* above
  std::string message;
  std::string request_id;      // x-request-id, else the body's request_id; may be empty
  bool retryable = false;      // body "retryable" › the SDK class's default; network failures: true
  int64_t retry_after_ms = 0;  // the body's retry_after_ms/retry_after, else the Retry-After header; 0: none
  nlohmann::json details;      // error.details › details › {detail, reason}; null when none
  int attempts = 1;
  int curl_code = 0;   // CURLcode when the exchange itself failed
  std::string method;  // the call: named in to_error()'s message
  std::string path;

  // The runhost error for this failure: 404 → device_unavailable (configure_device, field
  // deviceId); 401/403 → device_unavailable (configure_device, hint: check MIOSA_API_KEY);
  // 402 → budget_exceeded (raise_budget, usage_source "miosa"); 429 → device_unavailable
  // (retry, retry_after_ms); SANDBOX_STARTING, RESTORE_TRANSIENT and other 409/5xx →
  // device_unavailable (retry); NO_SNAPSHOT_AVAILABLE → device_unavailable
  // (fork_from_snapshot); 400/413/422 → internal (contact_support); no answer →
  // device_unavailable (retry). The recovery also names "device_code" (the MIOSA code) and
  // "request_id". The message names the method, the path, the status, the code and the
  // request id, and is passed through util::secrets().
  Error to_error() const;
};

// The envelope of a non-2xx answer, read with the SDK's precedence (errors.py raise_for_status):
// code = error.code › code › error when it is an UPPER_SNAKE string; message = error.message ›
// detail (with an UPPER_SNAKE error) › the first string (or first item of a list) of message,
// detail, reason, error, errors › a text body › "API request failed with status N"; 429 is
// always retryable. `body` is what the call parsed: a JSON value, or the text as a string.
// Message and details are passed through util::secrets().
MiosaFailure failure_from_response(long status, const nlohmann::json& body, std::string_view header_request_id);

// A call's or stream's outcome: the value, or the MiosaFailure. Converts to Result<T> (with
// to_error()) for code written against the house type.
template <class T>
class [[nodiscard]] MiosaResult {
 public:
  MiosaResult(T value) : state_(std::move(value)) {}                 // NOLINT(google-explicit-constructor)
  MiosaResult(MiosaFailure failure) : state_(std::move(failure)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const MiosaFailure& failure() const& { return std::get<1>(state_); }
  Error error() const { return failure().to_error(); }

  operator Result<T>() const& { return ok() ? Result<T>(value()) : Result<T>(error()); }               // NOLINT
  operator Result<T>() && { return ok() ? Result<T>(std::move(*this).value()) : Result<T>(error()); }  // NOLINT

 private:
  std::variant<T, MiosaFailure> state_;
};

struct CallOptions {
  std::string idempotency_key;                             // sent as Idempotency-Key; makes a POST/PATCH retryable
  std::vector<std::pair<std::string, std::string>> query;  // appended percent-encoded, in order
};

struct StreamOptions {
  // No byte at all (keep-alive comments count) for this long: the stream is dropped.
  std::chrono::milliseconds idle_timeout{60'000};
  bool flush_at_eof = true;  // stream_sse flushes an unterminated last frame; _iter_sse does not
  std::vector<std::pair<std::string, std::string>> query;
  size_t max_frame_bytes = SseParser::kDefaultMaxFrameBytes;
};

struct StreamEnd {
  bool clean = true;       // the server ended the response as framed (a drop is a failure)
  long status = 0;         // 200, or 204 for an empty stream
  std::string request_id;  // the response's x-request-id
  uint64_t events = 0;     // frames delivered
};

struct StreamCallbacks {
  // Once the response's head is in with a 2xx status: its x-request-id (may be empty).
  std::function<void(std::string_view request_id)> on_open;
  std::function<void(const SseEvent& event)> on_event;
  // Last, exactly once unless cancelled.
  std::function<void(MiosaResult<StreamEnd> end)> on_end;
};

using CallCallback = std::function<void(MiosaResult<MiosaResponse> result)>;

namespace detail {
struct ClientCore;
}

// Names one call or stream of a client. Copyable; outliving the call or the client is harmless
// (every method then does nothing).
class MiosaHandle {
 public:
  MiosaHandle() = default;
  // Stops it: no callback after. A call waiting to retry is not retried.
  void cancel() const;
  // Streams: holds back events (and the end) and stops reading, so the server is slowed down
  // by TCP; the idle timeout does not run while paused. Calls: nothing.
  void pause() const;
  void resume() const;
  bool active() const;  // started, not ended or cancelled

 private:
  friend class MiosaClient;
  MiosaHandle(std::weak_ptr<detail::ClientCore> core, uint64_t id) : core_(std::move(core)), id_(id) {}
  std::weak_ptr<detail::ClientCore> core_;
  uint64_t id_ = 0;
};

class MiosaClient {
 public:
  // Registers config.api_key with util::secrets(). `multi` must outlive the client.
  MiosaClient(boost::asio::io_context& io, http::CurlMulti& multi, MiosaConfig config);
  ~MiosaClient();
  MiosaClient(const MiosaClient&) = delete;
  MiosaClient& operator=(const MiosaClient&) = delete;

  const MiosaConfig& config() const noexcept;

  // `path` is relative to the base URL ("/sandboxes/sbx_1"). `done` runs once, unless the
  // handle cancels it first.
  MiosaHandle call(std::string method, std::string path, std::optional<nlohmann::json> body, CallOptions options,
                   CallCallback done);

  // Opens an SSE stream; callbacks as StreamCallbacks says.
  MiosaHandle stream(std::string method, std::string path, std::optional<nlohmann::json> body, StreamOptions options,
                     StreamCallbacks callbacks);
  MiosaHandle stream(std::string method, std::string path, std::optional<nlohmann::json> body, StreamOptions options,
                     std::function<void(const SseEvent&)> on_event, std::function<void(MiosaResult<StreamEnd>)> on_end);

  // The delay before retry number `attempt + 1` (attempt counts from 0), as the SDK computes
  // it: Retry-After when positive (capped), else the backoff. Exposed for the tests.
  std::chrono::milliseconds retry_delay(int attempt, std::optional<double> retry_after_seconds);

 private:
  std::shared_ptr<detail::ClientCore> core_;
};

}  // namespace runhost::devices::sandbox
