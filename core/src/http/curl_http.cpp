#include "http/curl_http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace runhost::http {
namespace {

constexpr uint32_t kDefaultTimeoutMs = 30'000;

std::string_view view(rh_str s) noexcept {
  return s.data == nullptr ? std::string_view{} : std::string_view{s.data, s.len};
}

struct BodySink {
  const rh_writer* writer = nullptr;
  rh_status status = RH_OK;
};

size_t on_body(char* data, size_t size, size_t count, void* user) noexcept {
  auto* sink = static_cast<BodySink*>(user);
  const size_t len = size * count;
  if (sink->writer == nullptr) return len;
  sink->status = sink->writer->write(sink->writer, data, len);
  return sink->status == RH_OK ? len : 0;  // 0 makes curl stop with CURLE_WRITE_ERROR
}

// The URL as it may appear in an error: no user info, no query, no fragment (tokens live there).
std::string redacted(std::string_view url) {
  const size_t scheme = url.find("://");
  std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  std::string_view prefix = scheme == std::string_view::npos ? std::string_view{} : url.substr(0, scheme + 3);
  if (const size_t at = rest.find('@'); at != std::string_view::npos && at < rest.find('/')) rest.remove_prefix(at + 1);
  rest = rest.substr(0, std::min({rest.find('?'), rest.find('#'), size_t{200}}));
  return std::string(prefix) + std::string(rest);
}

bool header_is_safe(std::string_view s) noexcept {
  return s.find_first_of("\r\n") == std::string_view::npos;
}

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

rh_status perform(const rh_http_request* request, rh_http_response* response, std::string& error) noexcept try {
  if (request == nullptr || response == nullptr || request->struct_size < sizeof(rh_http_request) ||
      response->struct_size < offsetof(rh_http_response, body) + sizeof(response->body)) {
    error = "http_request: request and response are required, with struct_size set";
    return RH_ERR_INVALID_ARGUMENT;
  }
  response->status = 0;
  const std::string url(view(request->url));
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    error = "http_request: url must start with http:// or https:// (got '" + redacted(url) + "')";
    return RH_ERR_INVALID_ARGUMENT;
  }
  const std::string method = request->method.len == 0 ? "GET" : std::string(view(request->method));
  if (method.find_first_of(" \r\n") != std::string::npos) {
    error = "http_request: invalid method";
    return RH_ERR_INVALID_ARGUMENT;
  }

  global_init_once();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    error = "http_request: cannot create a curl handle";
    return RH_ERR_NO_MEMORY;
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(nullptr, &curl_slist_free_all);
  for (size_t i = 0; i < request->header_count; ++i) {
    const auto name = view(request->headers[i].name);
    const auto value = view(request->headers[i].value);
    if (name.empty() || !header_is_safe(name) || !header_is_safe(value) || name.find(':') != std::string_view::npos) {
      error = "http_request: header #" + std::to_string(i) + " has an invalid name or value";
      return RH_ERR_INVALID_ARGUMENT;
    }
    const std::string line = std::string(name) + ": " + std::string(value);
    curl_slist* next = curl_slist_append(headers.get(), line.c_str());
    if (next == nullptr) return RH_ERR_NO_MEMORY;
    headers.release();
    headers.reset(next);
  }

  BodySink sink{response->body, RH_OK};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(request->timeout_ms ? request->timeout_ms : kDefaultTimeoutMs));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  if (method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (request->body.len > 0) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request->body.data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request->body.len));
  }

  const CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  response->status = static_cast<int32_t>(status);
  if (rc == CURLE_OK) return RH_OK;
  if (rc == CURLE_WRITE_ERROR && sink.status != RH_OK) {
    error = "http_request: the response body writer refused data (status " + std::to_string(sink.status) + ")";
    return sink.status;
  }
  error = std::string("http_request: ") + method + " " + redacted(url) + ": " + curl_easy_strerror(rc);
  return rc == CURLE_OPERATION_TIMEDOUT ? RH_ERR_TIMEOUT : RH_ERR_IO;
} catch (...) {
  error = "http_request: out of memory";
  return RH_ERR_NO_MEMORY;
}

}  // namespace runhost::http
