#include "devices/sandbox/miosa_client.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <random>
#include <unordered_map>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "util/json_depth.hpp"
#include "util/logging.hpp"
#include "util/secrets.hpp"

namespace runhost::devices::sandbox {
namespace {

using nlohmann::json;

constexpr std::string_view kJsonAccept = "application/json";
// text/event-stream alone is answered 406 by MIOSA routes behind Phoenix's accepts ["json"]
// guard (the SDK's comment on SSE_ACCEPT); naming JSON at a lower q keeps SSE preferred.
constexpr std::string_view kSseAccept = "text/event-stream, application/json;q=0.9";
constexpr size_t kMaxErrorBodyBytes = size_t{1} << 20;  // a stream's non-2xx answer

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7F; });
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((std::isalnum(c) != 0 && c < 0x80) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80                ? 1
                       : c >= 0xC2 && c < 0xE0 ? 2
                       : c >= 0xE0 && c < 0xF0 ? 3
                       : c >= 0xF0 && c < 0xF5 ? 4
                                               : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = cp << 6 | (b & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))
      return false;
    i += len;
  }
  return true;
}

// The SDK's _parse_body: JSON when the content type says so and it parses, bytes for binary
// types (null here: the bytes are in `raw`), else text. `always_try_json`: exec_stream reads a
// failed stream's body as JSON whatever its type.
json parse_body(const std::string& raw, std::string_view content_type, bool always_try_json = false) {
  const std::string type = lower(content_type);
  if ((always_try_json || type.find("application/json") != std::string::npos) && util::json_depth_within(raw)) {
    json parsed = json::parse(raw, nullptr, false);
    if (!parsed.is_discarded()) return parsed;
  }
  if (type.find("image/") != std::string::npos || type.find("application/octet-stream") != std::string::npos)
    return nullptr;
  if (!valid_utf8(raw)) return nullptr;
  return raw;
}

// Python's float() on a header value, as _get_retry_after does; nullopt when it is not a number.
std::optional<double> parse_seconds(std::string_view text) {
  const std::string s(strip_like_python(text));
  if (s.empty() || s.find_first_of("xX(_") != std::string::npos) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return value;
}

std::optional<double> retry_after_header(const http::HttpHead& head) {
  const auto value = head.header("retry-after");
  return value.empty() ? std::nullopt : parse_seconds(value);
}

bool retryable_status(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// What httpx raises as ConnectError or TimeoutException: the SDK retries those. Anything else
// (a connection lost mid-answer is RemoteProtocolError/ReadError there) is not retried.
bool retryable_transport(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:  // httpx: a failed TLS handshake is a ConnectError
      return true;
    default:
      return false;
  }
}

// POST and PATCH may create or change something: replayed only when the server can dedupe.
bool replayable(std::string_view method, bool has_idempotency_key) {
  const std::string m = lower(method);
  return m == "get" || m == "head" || m == "options" || m == "put" || m == "delete" || has_idempotency_key;
}

MiosaFailure transport_failure(CURLcode code, std::string_view error) {
  MiosaFailure f;
  f.curl_code = code;
  f.code = std::string(code == CURLE_OPERATION_TIMEDOUT ? kTimedOut
                       : code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
                               code == CURLE_COULDNT_RESOLVE_PROXY
                           ? kConnectionFailed
                           : kNetworkError);
  f.message = error.empty() ? curl_easy_strerror(code) : std::string(error);
  f.retryable = true;
  return f;
}

// --- the error envelope (errors.py) -------------------------------------------------------------

// flat_error.replace("_", "").isalnum() and flat_error.upper() == flat_error, over ASCII.
bool upper_snake(const json& value) {
  if (!value.is_string()) return false;
  const auto& s = value.get_ref<const std::string&>();
  bool alnum = false;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '_') continue;
    if (c >= 0x80 || std::isalnum(c) == 0 || std::islower(c) != 0) return false;
    alnum = true;
  }
  return alnum;
}

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string extract_code(const json& body) {
  const json* nested = member(body, "error");
  if (const json* code = nested != nullptr ? member(*nested, "code") : nullptr; code != nullptr && code->is_string()) {
    return code->get<std::string>();
  }
  if (const json* code = member(body, "code"); code != nullptr && code->is_string()) return code->get<std::string>();
  if (nested != nullptr && upper_snake(*nested)) return nested->get<std::string>();
  return {};
}

std::string extract_message(const json& body, long status) {
  if (body.is_object()) {
    const json* nested = member(body, "error");
    if (const json* m = nested != nullptr ? member(*nested, "message") : nullptr; m != nullptr && m->is_string()) {
      return m->get<std::string>();
    }
    if (const json* detail = member(body, "detail");
        nested != nullptr && upper_snake(*nested) && detail != nullptr && detail->is_string()) {
      return detail->get<std::string>();
    }
    for (const char* key : {"message", "detail", "reason", "error", "errors"}) {
      const json* value = member(body, key);
      if (value == nullptr) continue;
      if (value->is_string()) return value->get<std::string>();
      if (value->is_array() && !value->empty()) {
        const json& first = value->front();
        return first.is_string() ? first.get<std::string>()
                                 : first.dump(-1, ' ', false, json::error_handler_t::replace);
      }
    }
  }
  if (body.is_string() && !body.get_ref<const std::string&>().empty()) return body.get<std::string>();
  return "API request failed with status " + std::to_string(status);
}

json extract_details(const json& body) {
  if (!body.is_object()) return nullptr;
  if (const json* nested = member(body, "error");
      nested != nullptr && nested->is_object() && nested->contains("details")) {
    return (*nested)["details"];
  }
  if (body.contains("details")) return body["details"];
  json detail = json::object();
  for (const char* key : {"detail", "reason"}) {
    if (body.contains(key)) detail[key] = body[key];
  }
  return detail.empty() ? json(nullptr) : detail;
}

// Where retry hints live: the nested error object, else the body.
const json* retry_scope(const json& body) {
  if (!body.is_object()) return nullptr;
  const json* nested = member(body, "error");
  return nested != nullptr && nested->is_object() ? nested : &body;
}

std::optional<int64_t> extract_retry_after_ms(const json& body) {
  const json* scope = retry_scope(body);
  const json* raw = scope != nullptr ? member(*scope, "retry_after_ms") : nullptr;
  if (raw == nullptr || raw->is_boolean()) return std::nullopt;
  if (raw->is_number_integer()) return raw->get<int64_t>();
  if (raw->is_number_float() && std::isfinite(raw->get<double>())) return static_cast<int64_t>(raw->get<double>());
  return std::nullopt;
}

// Codes whose SDK class says retryable (MachineStartingError, EnvironmentScrubFailedError).
bool retryable_by_default(std::string_view code) {
  return code == "SANDBOX_STARTING" || code == "COMPUTER_STARTING" || code == "ENVIRONMENT_SCRUB_FAILED";
}

}  // namespace

std::string normalize_base_url(std::string_view raw) {
  std::string_view url = strip_like_python(raw);
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.empty()) return {};
  size_t digits = 0;
  while (digits < url.size() && std::isdigit(static_cast<unsigned char>(url[url.size() - 1 - digits])) != 0) ++digits;
  const bool versioned = digits > 0 && url.size() >= digits + 2 && url[url.size() - digits - 1] == 'v' &&
                         url[url.size() - digits - 2] == '/';
  return versioned ? std::string(url) : std::string(url) + "/api/v1";
}

std::string escape_path_segment(std::string_view segment) {
  return percent_encode(segment);
}

Result<MiosaConfig> MiosaConfig::from_env_and_options(const MiosaOptions& options, const EnvLookup& env) {
  const auto lookup = [&](const char* name) -> std::string {
    std::optional<std::string> value;
    if (env) {
      value = env(name);
    } else if (const char* v = std::getenv(name)) {
      value = v;
    }
    return value.value_or("");
  };
  const auto refuse = [](std::string message, std::string hint) {
    return Error(ErrorCode::device_unavailable, std::move(message),
                 json{{"action", "configure_device"}, {"hint", std::move(hint)}}.dump());
  };
  if (!options.api_key.empty() && !options.access_token.empty()) {
    return refuse("MIOSA: pass either an API key or an access token, not both", "keep one MIOSA credential");
  }
  MiosaConfig config;
  config.api_key = !options.access_token.empty() ? options.access_token : options.api_key;
  if (config.api_key.empty()) config.api_key = lookup("MIOSA_ACCESS_TOKEN");
  if (config.api_key.empty()) config.api_key = lookup("MIOSA_API_KEY");
  if (config.api_key.empty()) {
    return refuse("the sandbox device needs a MIOSA API key: set MIOSA_API_KEY (or MIOSA_ACCESS_TOKEN)",
                  "set MIOSA_API_KEY in the host's environment");
  }
  util::secrets().add(config.api_key);
  if (has_control(config.api_key) || config.api_key.find(' ') != std::string::npos) {
    return refuse("the MIOSA API key contains spaces or control characters", "check MIOSA_API_KEY");
  }

  const std::string base = options.base_url.empty() ? lookup("MIOSA_BASE_URL") : options.base_url;
  config.base_url = normalize_base_url(base);
  if (config.base_url.empty()) config.base_url = std::string(kDefaultBaseUrl);
  const std::string scheme = lower(config.base_url.substr(0, 8));
  if ((scheme.rfind("http://", 0) != 0 && scheme.rfind("https://", 0) != 0) || has_control(config.base_url) ||
      config.base_url.find(' ') != std::string::npos) {
    return refuse("the MIOSA base URL (MIOSA_BASE_URL) must be an http:// or https:// URL", "check MIOSA_BASE_URL");
  }
  config.tenant = options.tenant.empty() ? lookup("MIOSA_TENANT") : options.tenant;
  if (has_control(config.tenant)) return refuse("the MIOSA tenant contains control characters", "check MIOSA_TENANT");
  return config;
}

MiosaFailure failure_from_response(long status, const json& body, std::string_view header_request_id) {
  MiosaFailure f;
  f.status = status;
  f.code = extract_code(body);
  f.message = extract_message(body, status);
  f.details = extract_details(body);
  f.request_id = std::string(header_request_id);
  if (f.request_id.empty()) {
    if (const json* id = member(body, "request_id"); id != nullptr && id->is_string())
      f.request_id = id->get<std::string>();
  }
  const std::optional<int64_t> retry_after_ms = extract_retry_after_ms(body);
  f.retry_after_ms = retry_after_ms.value_or(0);
  const json* scope = retry_scope(body);
  const json* hint = scope != nullptr ? member(*scope, "retryable") : nullptr;
  if (status == 429) {
    // RateLimitError: always retryable; retry_after (seconds) from the body when no _ms is given.
    f.retryable = true;
    const json* seconds = scope != nullptr ? member(*scope, "retry_after") : nullptr;
    if (!retry_after_ms && seconds != nullptr) {
      std::optional<double> value;
      if (seconds->is_number() || seconds->is_boolean()) {
        value = seconds->is_boolean() ? (seconds->get<bool>() ? 1.0 : 0.0) : seconds->get<double>();
      } else if (seconds->is_string()) {
        value = parse_seconds(seconds->get<std::string>());
      }
      if (value && std::isfinite(*value)) f.retry_after_ms = static_cast<int64_t>(*value * 1000);
    }
  } else if (f.code == "NO_READY_MACHINE" || f.code == "no_ready_machine") {
    f.retryable = false;  // NoReadyMachineError: fail_fast asked for an answer now, whatever the body says
  } else if (hint != nullptr && hint->is_boolean()) {
    f.retryable = hint->get<bool>();
  } else {
    f.retryable = retryable_by_default(f.code);
  }
  // A server that echoes the request (a proxy's error page, a debug body) must not carry the
  // key any further.
  util::secrets().redact(f.message);
  if (!f.details.is_null()) {
    std::string text = f.details.dump(-1, ' ', false, json::error_handler_t::replace);
    if (util::secrets().redact(text)) f.details = json::parse(text, nullptr, false);
  }
  return f;
}

Error MiosaFailure::to_error() const {
  ErrorCode error_code = ErrorCode::device_unavailable;
  json recovery = {{"action", "retry"}};
  if (status == 402 || code == "CREDIT_REQUIRED" || code == "TEAM_MEMBER_CAP_REACHED") {
    error_code = ErrorCode::budget_exceeded;
    recovery = {{"action", "raise_budget"}, {"usage_source", "miosa"}, {"hint", "add MIOSA credits or seats"}};
  } else if (status == 401 || status == 403) {
    recovery = {{"action", "configure_device"}, {"hint", "MIOSA refused the credentials: check MIOSA_API_KEY"}};
  } else if (code == "IDEMPOTENCY_CONFLICT") {
    // The key runhost derived from the dispatch's went with another request body before (another
    // host with another template, say): the same key again can only conflict again.
    error_code = ErrorCode::idempotency_conflict;
    recovery = {{"action", "fix_dispatch"},
                {"field", "idempotencyKey"},
                {"hint", "MIOSA saw this dispatch's key with a different request: dispatch with a new idempotencyKey"}};
  } else if (code == "NO_SNAPSHOT_AVAILABLE") {
    recovery = {{"action", "fork_from_snapshot"}};
  } else if (status == 404) {
    recovery = {{"action", "configure_device"},
                {"field", "deviceId"},
                {"hint", "MIOSA does not know this sandbox: dispatch without deviceId to create one"}};
  } else if (status == 400 || status == 413 || status == 422) {
    error_code = ErrorCode::internal;
    recovery = {{"action", "contact_support"}};
  }
  if (!code.empty()) recovery["device_code"] = code;
  if (!request_id.empty()) recovery["request_id"] = request_id;
  if (retry_after_ms > 0 && recovery["action"] == "retry") recovery["retry_after_ms"] = retry_after_ms;

  std::string text = "MIOSA " + method + " " + path + " failed: ";
  if (status > 0) text += "HTTP " + std::to_string(status) + " ";
  if (!code.empty()) text += code + ": ";
  text += message;
  if (!request_id.empty()) text += " (request " + request_id + ")";
  if (attempts > 1) text += " after " + std::to_string(attempts) + " attempts";
  std::string recovery_json = recovery.dump(-1, ' ', false, json::error_handler_t::replace);
  util::secrets().redact(text);
  util::secrets().redact(recovery_json);
  Error error(error_code, std::move(text), std::move(recovery_json));
  error.request_id = request_id;
  return error;
}

// --- the client ---------------------------------------------------------------------------------

namespace detail {

class Operation;

struct ClientCore : std::enable_shared_from_this<ClientCore> {
  ClientCore(boost::asio::io_context& context, http::CurlMulti& curl, MiosaConfig c)
      : io(context), multi(curl), config(std::move(c)), rng(std::random_device{}()) {
    base_headers.push_back("Authorization: Bearer " + config.api_key);
    base_headers.push_back("User-Agent: runhost/" RUNHOST_VERSION_STRING);
    if (!config.tenant.empty()) base_headers.push_back("X-MIOSA-Tenant: " + config.tenant);
  }

  std::string url(const std::string& path, const std::vector<std::pair<std::string, std::string>>& query) const {
    std::string out = config.base_url;
    if (path.empty() || path.front() != '/') out += '/';
    out += path;
    char separator = path.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [key, value] : query) {
      out += separator;
      out += percent_encode(key) + "=" + percent_encode(value);
      separator = '&';
    }
    return out;
  }

  std::chrono::milliseconds retry_delay(int attempt, std::optional<double> retry_after_seconds) {
    const double cap = static_cast<double>(config.retry_max_delay.count());
    if (retry_after_seconds && *retry_after_seconds > 0) {  // NaN is not > 0: the backoff, as in Python
      return std::chrono::milliseconds(static_cast<int64_t>(std::min(*retry_after_seconds * 1000.0, cap)));
    }
    const double base = static_cast<double>(config.retry_base_delay.count());
    const double jitter = std::uniform_real_distribution<double>(0.0, base)(rng);
    const double delay = base * std::pow(2.0, std::min(attempt, 60)) + jitter;
    return std::chrono::milliseconds(static_cast<int64_t>(std::min(delay, cap)));
  }

  std::shared_ptr<Operation> find(uint64_t id) const {
    const auto it = ops.find(id);
    return it == ops.end() ? nullptr : it->second;
  }

  void cancel(uint64_t id);
  void shutdown();

  boost::asio::io_context& io;
  http::CurlMulti& multi;
  MiosaConfig config;
  std::vector<std::string> base_headers;
  std::unordered_map<uint64_t, std::shared_ptr<Operation>> ops;
  uint64_t next_id = 1;
  std::mt19937_64 rng;
};

// One call or stream. Kept alive by the core's table and, during each callback, by a local
// reference of its own: a callback may cancel it (or destroy the client) while it runs.
class Operation : public http::HttpObserver, public std::enable_shared_from_this<Operation> {
 public:
  Operation(std::shared_ptr<ClientCore> core, uint64_t id, std::string method, std::string path)
      : core_(core), id_(id), method_(std::move(method)), path_(std::move(path)), multi_(core->multi) {}
  virtual ~Operation() = default;

  // No callback after this. Never destroys a std::function that may be running.
  virtual void abort() {
    ended_ = true;
    if (transfer_ != 0) multi_.cancel(transfer_);
    transfer_ = 0;
  }
  virtual void pause() {}
  virtual void resume() {}
  bool ended() const noexcept { return ended_; }

 protected:
  // Marks the operation ended and forgets it; the caller then runs its last callback.
  void retire() {
    ended_ = true;
    if (auto core = core_.lock()) core->ops.erase(id_);
  }

  MiosaFailure with_call(MiosaFailure f, int attempts) const {
    f.method = method_;
    f.path = path_;
    f.attempts = attempts;
    return f;
  }

  std::weak_ptr<ClientCore> core_;
  uint64_t id_;
  std::string method_, path_;
  http::CurlMulti& multi_;
  uint64_t transfer_ = 0;
  bool ended_ = false;
};

void ClientCore::cancel(uint64_t id) {
  const auto it = ops.find(id);
  if (it == ops.end()) return;
  const std::shared_ptr<Operation> op = std::move(it->second);  // outlives erase: abort() runs on it
  ops.erase(it);
  op->abort();
}

void ClientCore::shutdown() {
  auto all = std::move(ops);
  ops.clear();
  for (auto& [id, op] : all) op->abort();
}

// --- calls ---------------------------------------------------------------------------------------

class CallOp final : public Operation {
 public:
  CallOp(std::shared_ptr<ClientCore> core, uint64_t id, std::string method, std::string path, http::HttpRequest request,
         bool may_retry, CallCallback done)
      : Operation(core, id, std::move(method), std::move(path)),
        request_(std::move(request)),
        may_retry_(may_retry),
        done_(std::move(done)),
        timer_(core->io),
        max_retries_(core->config.max_retries),
        max_bytes_(core->config.max_response_bytes) {}

  void begin() {
    head_ = {};
    received_.clear();
    too_large_ = false;
    transfer_ = multi_.start(request_, *this);
  }

  // Ends without a request (a body that cannot be sent): reported from the reactor, later.
  void refuse(MiosaFailure failure) {
    boost::asio::post(timer_.get_executor(), [weak = weak_from_this(), failure = std::move(failure)]() mutable {
      auto self = std::static_pointer_cast<CallOp>(weak.lock());
      if (self && !self->ended()) self->finish(self->with_call(std::move(failure), 1));
    });
  }

  void abort() override {
    Operation::abort();
    timer_.cancel();
  }

  void on_head(const http::HttpHead& head) override { head_ = head; }

  bool on_body(std::string_view bytes) override {
    if (received_.size() + bytes.size() > max_bytes_) {
      too_large_ = true;
      return false;
    }
    received_.append(bytes);
    return true;
  }

  void on_done(CURLcode result, std::string_view error) override {
    const auto keep = shared_from_this();
    transfer_ = 0;
    if (ended_) return;
    const int attempts = attempt_ + 1;
    if (too_large_) {
      MiosaFailure f;
      f.status = head_.status;
      f.code = std::string(kResponseTooLarge);
      f.message = "the response is larger than " + std::to_string(max_bytes_) + " bytes";
      f.request_id = std::string(head_.header("x-request-id"));
      return finish(with_call(std::move(f), attempts));
    }
    if (result != CURLE_OK) {
      if (may_retry_ && retryable_transport(result) && attempt_ < max_retries_) {
        return retry(std::nullopt, curl_easy_strerror(result));  // Retry-After is not read here
      }
      return finish(with_call(transport_failure(result, error), attempts));
    }
    if (may_retry_ && retryable_status(head_.status) && attempt_ < max_retries_) {
      return retry(retry_after_header(head_), "HTTP " + std::to_string(head_.status));
    }
    const std::string content_type(head_.header("content-type"));
    json body = parse_body(received_, content_type);
    if (head_.status >= 200 && head_.status < 300) {
      MiosaResponse response;
      response.status = head_.status;
      response.request_id = std::string(head_.header("x-request-id"));
      if (const json* id = member(body, "request_id");
          response.request_id.empty() && id != nullptr && id->is_string()) {
        response.request_id = id->get<std::string>();
      }
      const json* data = member(body, "data");
      response.data = data != nullptr ? *data : body;
      response.body = std::move(body);
      response.content_type = content_type;
      response.raw = std::move(received_);
      response.attempts = attempts;
      return finish(std::move(response));
    }
    MiosaFailure f = failure_from_response(head_.status, body, head_.header("x-request-id"));
    if (f.retry_after_ms == 0) {
      if (const auto seconds = retry_after_header(head_); seconds && *seconds > 0 && std::isfinite(*seconds)) {
        f.retry_after_ms = static_cast<int64_t>(*seconds * 1000);
      }
    }
    finish(with_call(std::move(f), attempts));
  }

 private:
  void retry(std::optional<double> retry_after_seconds, const std::string& why) {
    auto core = core_.lock();
    if (!core) return;
    const auto delay = core->retry_delay(attempt_, retry_after_seconds);
    ++attempt_;
    util::logger()->debug("MIOSA {} {}: {}; retry {} of {} in {} ms", method_, path_, why, attempt_, max_retries_,
                          delay.count());
    timer_.expires_after(delay);
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      auto self = std::static_pointer_cast<CallOp>(weak.lock());
      if (self && !self->ended()) self->begin();
    });
  }

  void finish(MiosaResult<MiosaResponse> result) {
    if (!result) {
      util::logger()->debug("MIOSA {} {} failed: status {} code {} request {}", method_, path_, result.failure().status,
                            result.failure().code, result.failure().request_id);
    }
    retire();
    CallCallback done = std::move(done_);
    if (done) done(std::move(result));
  }

  http::HttpRequest request_;
  bool may_retry_;
  CallCallback done_;
  boost::asio::steady_timer timer_;
  int max_retries_;
  size_t max_bytes_;
  int attempt_ = 0;  // retries made so far
  http::HttpHead head_;
  std::string received_;
  bool too_large_ = false;
};

// --- streams -------------------------------------------------------------------------------------

class StreamOp final : public Operation {
 public:
  StreamOp(std::shared_ptr<ClientCore> core, uint64_t id, std::string method, std::string path,
           http::HttpRequest request, StreamOptions options, StreamCallbacks callbacks)
      : Operation(core, id, std::move(method), std::move(path)),
        request_(std::move(request)),
        options_(std::move(options)),
        callbacks_(std::move(callbacks)),
        parser_(options_.max_frame_bytes),
        idle_(core->io) {}

  void begin() {
    transfer_ = multi_.start(request_, *this);
    arm_idle();
  }

  void refuse(MiosaFailure failure) {
    boost::asio::post(idle_.get_executor(), [weak = weak_from_this(), failure = std::move(failure)]() mutable {
      auto self = std::static_pointer_cast<StreamOp>(weak.lock());
      if (self && !self->ended()) self->fail(std::move(failure));
    });
  }

  void abort() override {
    Operation::abort();
    idle_.cancel();
  }

  void pause() override {
    if (ended_ || paused_) return;
    paused_ = true;
    idle_.cancel();
    if (transfer_ != 0) multi_.pause(transfer_);
  }

  void resume() override {
    if (ended_ || !paused_) return;
    paused_ = false;
    if (transfer_ != 0) {
      multi_.resume(transfer_);
      arm_idle();
    }
    // Events held back are delivered from the reactor, not from within resume().
    boost::asio::post(idle_.get_executor(), [weak = weak_from_this()] {
      if (auto self = std::static_pointer_cast<StreamOp>(weak.lock())) self->deliver();
    });
  }

  void on_head(const http::HttpHead& head) override {
    const auto keep = shared_from_this();
    head_ = head;
    arm_idle();
    if (head.status < 200 || head.status >= 300) return;
    opened_ = true;
    if (callbacks_.on_open) callbacks_.on_open(head_.header("x-request-id"));
  }

  bool on_body(std::string_view bytes) override {
    const auto keep = shared_from_this();
    if (ended_) return false;
    arm_idle();
    if (!opened_) {  // an error answer: its envelope, bounded
      error_body_.append(bytes.substr(0, kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, error_body_.size())));
      return true;
    }
    std::vector<SseEvent> parsed;
    const Status st = parser_.feed(bytes, parsed);
    for (auto& event : parsed) queue_.push_back(std::move(event));
    if (!st) {
      MiosaFailure f = dropped(st.error().message, "frame_too_large");
      f.code = std::string(kFrameTooLarge);
      f.retryable = false;  // reopening would meet the same frame
      failure_ = std::move(f);
    }
    deliver();
    // Aborting makes curl end the transfer (on_done reports failure_); so does a cancel.
    return !ended_ && !failure_;
  }

  void on_done(CURLcode result, std::string_view error) override {
    const auto keep = shared_from_this();
    transfer_ = 0;
    idle_.cancel();
    if (ended_) return;
    if (failure_) return fail(std::move(*failure_));
    if (!opened_ && head_.status != 0) {  // an error answer, even if cut short
      const json body = parse_body(error_body_, head_.header("content-type"), /*always_try_json=*/true);
      return fail(failure_from_response(head_.status, body, head_.header("x-request-id")));
    }
    if (result == CURLE_OK) {
      std::vector<SseEvent> parsed;
      (void)parser_.finish(options_.flush_at_eof, parsed);  // cannot fail: feed() would have first
      for (auto& event : parsed) queue_.push_back(std::move(event));
    }
    end_ = result;
    end_error_ = std::string(error);
    deliver();
  }

 private:
  // Delivers the frames held, in order, until paused or ended; then the end, once the
  // transfer's own end is known and nothing is held.
  void deliver() {
    const auto keep = shared_from_this();
    while (!ended_ && !paused_ && !queue_.empty()) {
      SseEvent event = std::move(queue_.front());
      queue_.pop_front();
      ++delivered_;
      if (callbacks_.on_event) callbacks_.on_event(event);
    }
    if (ended_ || paused_ || !queue_.empty() || !end_) return;
    if (*end_ == CURLE_OK) {
      StreamEnd end;
      end.clean = true;
      end.status = head_.status;
      end.request_id = std::string(head_.header("x-request-id"));
      end.events = delivered_;
      return finish(std::move(end));
    }
    if (opened_) return fail(dropped("the connection was lost mid-stream: " + end_error_, "connection_lost"));
    MiosaFailure f = transport_failure(*end_, end_error_);
    fail(std::move(f));
  }

  void arm_idle() {
    if (ended_ || paused_ || transfer_ == 0) return;
    idle_.expires_after(options_.idle_timeout);
    idle_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      auto self = std::static_pointer_cast<StreamOp>(weak.lock());
      if (self) self->idle_expired();
    });
  }

  void idle_expired() {
    if (ended_ || paused_ || transfer_ == 0) return;
    multi_.cancel(transfer_);
    transfer_ = 0;
    fail(dropped("no byte for " + std::to_string(options_.idle_timeout.count()) + " ms", "idle_timeout"));
  }

  MiosaFailure dropped(std::string message, std::string reason) const {
    MiosaFailure f;
    f.status = head_.status;
    f.code = std::string(kStreamDropped);
    f.message = std::move(message);
    f.request_id = std::string(head_.header("x-request-id"));
    f.retryable = true;
    f.details = {{"reason", std::move(reason)}, {"events_delivered", delivered_}};
    f.curl_code = end_ ? static_cast<int>(*end_) : 0;
    return f;
  }

  void fail(MiosaFailure failure) {
    util::logger()->debug("MIOSA stream {} {} ended: {} {}", method_, path_, failure.code, failure.message);
    finish(with_call(std::move(failure), 1));
  }

  void finish(MiosaResult<StreamEnd> result) {
    if (transfer_ != 0) multi_.cancel(transfer_);
    transfer_ = 0;
    idle_.cancel();
    retire();
    auto on_end = std::move(callbacks_.on_end);
    if (on_end) on_end(std::move(result));
  }

  http::HttpRequest request_;
  StreamOptions options_;
  StreamCallbacks callbacks_;
  SseParser parser_;
  boost::asio::steady_timer idle_;
  http::HttpHead head_;
  bool opened_ = false;  // a 2xx head arrived
  bool paused_ = false;
  std::string error_body_;
  std::deque<SseEvent> queue_;
  uint64_t delivered_ = 0;
  std::optional<MiosaFailure> failure_;  // decided by us; reported once curl stopped
  std::optional<CURLcode> end_;          // how the transfer ended, once it did
  std::string end_error_;
};

}  // namespace detail

// --- MiosaHandle, MiosaClient --------------------------------------------------------------------

void MiosaHandle::cancel() const {
  if (auto core = core_.lock()) {
    RUNHOST_ASSERT_ON_REACTOR(core->io);
    core->cancel(id_);
  }
}

void MiosaHandle::pause() const {
  if (auto core = core_.lock()) {
    RUNHOST_ASSERT_ON_REACTOR(core->io);
    if (auto op = core->find(id_)) op->pause();
  }
}

void MiosaHandle::resume() const {
  if (auto core = core_.lock()) {
    RUNHOST_ASSERT_ON_REACTOR(core->io);
    if (auto op = core->find(id_)) op->resume();
  }
}

bool MiosaHandle::active() const {
  const auto core = core_.lock();
  return core && core->find(id_) != nullptr;
}

MiosaClient::MiosaClient(boost::asio::io_context& io, http::CurlMulti& multi, MiosaConfig config)
    : core_(std::make_shared<detail::ClientCore>(io, multi, std::move(config))) {
  util::secrets().add(core_->config.api_key);
}

MiosaClient::~MiosaClient() {
  core_->shutdown();
}

const MiosaConfig& MiosaClient::config() const noexcept {
  return core_->config;
}

std::chrono::milliseconds MiosaClient::retry_delay(int attempt, std::optional<double> retry_after_seconds) {
  return core_->retry_delay(attempt, retry_after_seconds);
}

namespace {

// The request line, headers and body every attempt of a call (or a stream) sends.
struct Prepared {
  http::HttpRequest request;
  std::optional<MiosaFailure> refused;
};

Prepared prepare(const detail::ClientCore& core, const std::string& method, const std::string& path,
                 const std::optional<json>& body, const std::string& idempotency_key,
                 const std::vector<std::pair<std::string, std::string>>& query, std::string_view accept) {
  Prepared p;
  http::HttpRequest& r = p.request;
  r.method = method;
  r.url = core.url(path, query);
  r.headers = core.base_headers;
  r.headers.push_back("Accept: " + std::string(accept));
  r.connect_timeout = core.config.connect_timeout;
  r.total_timeout = core.config.timeout;
  const auto refuse = [&](std::string why) {
    MiosaFailure f;
    f.code = std::string(kInvalidRequest);
    f.message = std::move(why);
    p.refused = std::move(f);
  };
  if (has_control(idempotency_key)) refuse("the Idempotency-Key contains control characters");
  if (has_control(path) || path.find(' ') != std::string::npos)
    refuse("the path contains spaces or control characters");
  if (!idempotency_key.empty()) r.headers.push_back("Idempotency-Key: " + idempotency_key);
  if (body) {
    r.headers.emplace_back("Content-Type: application/json");
    try {
      r.body = body->dump();
    } catch (const nlohmann::json::exception&) {
      refuse("the request body is not valid UTF-8 JSON");
    }
  }
  return p;
}

}  // namespace

MiosaHandle MiosaClient::call(std::string method, std::string path, std::optional<json> body, CallOptions options,
                              CallCallback done) {
  RUNHOST_ASSERT_ON_REACTOR(core_->io);
  Prepared p = prepare(*core_, method, path, body, options.idempotency_key, options.query, kJsonAccept);
  const bool may_retry = replayable(method, !options.idempotency_key.empty());
  const uint64_t id = core_->next_id++;
  auto op = std::make_shared<detail::CallOp>(core_, id, std::move(method), std::move(path), std::move(p.request),
                                             may_retry, std::move(done));
  core_->ops.emplace(id, op);
  if (p.refused) {
    op->refuse(std::move(*p.refused));
  } else {
    op->begin();
  }
  return MiosaHandle(core_, id);
}

MiosaHandle MiosaClient::stream(std::string method, std::string path, std::optional<json> body, StreamOptions options,
                                StreamCallbacks callbacks) {
  RUNHOST_ASSERT_ON_REACTOR(core_->io);
  Prepared p = prepare(*core_, method, path, body, {}, options.query, kSseAccept);
  p.request.total_timeout = std::chrono::milliseconds(0);  // a stream lasts; idleness is watched instead
  const uint64_t id = core_->next_id++;
  auto op = std::make_shared<detail::StreamOp>(core_, id, std::move(method), std::move(path), std::move(p.request),
                                               std::move(options), std::move(callbacks));
  core_->ops.emplace(id, op);
  if (p.refused) {
    op->refuse(std::move(*p.refused));
  } else {
    op->begin();
  }
  return MiosaHandle(core_, id);
}

MiosaHandle MiosaClient::stream(std::string method, std::string path, std::optional<json> body, StreamOptions options,
                                std::function<void(const SseEvent&)> on_event,
                                std::function<void(MiosaResult<StreamEnd>)> on_end) {
  StreamCallbacks callbacks;
  callbacks.on_event = std::move(on_event);
  callbacks.on_end = std::move(on_end);
  return stream(std::move(method), std::move(path), std::move(body), std::move(options), std::move(callbacks));
}

}  // namespace runhost::devices::sandbox
