// The services table plugins see: errors both ways, clocks, extensions, emit, and HTTP through
// libcurl against a real server on loopback.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "host/host_services.hpp"
#include "host/string_writer.hpp"

namespace runhost::host {
namespace {

rh_str str(std::string_view s) { return {s.data(), s.size()}; }
std::string text(rh_str s) { return std::string(s.data, s.len); }

// A one-connection HTTP server on 127.0.0.1: records the request, sends `response` (or nothing
// while `stall` is set, until the test ends).
class LoopbackServer {
 public:
  explicit LoopbackServer(std::string response, bool stall = false) : response_(std::move(response)), stall_(stall) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 1);
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackServer() {
    done_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  const std::string& request() const { return request_; }

 private:
  void serve() {
    const int c = accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    char buf[8192];
    while (request_.find("\r\n\r\n") == std::string::npos || !body_complete()) {
      const ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) break;
      request_.append(buf, static_cast<size_t>(n));
    }
    while (stall_ && !done_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!stall_) (void)!write(c, response_.data(), response_.size());
    close(c);
  }
  bool body_complete() const {
    const auto cl = request_.find("Content-Length: ");
    if (cl == std::string::npos) return true;
    const size_t want = std::stoul(request_.substr(cl + 16));
    return request_.size() - (request_.find("\r\n\r\n") + 4) >= want;
  }
  std::string response_;
  bool stall_;
  std::atomic<bool> done_{false};
  int fd_ = -1;
  uint16_t port_ = 0;
  std::string request_;
  std::thread thread_;
};

struct Call {
  rh_status status;
  int32_t http_status;
  std::string body;
  std::string error;
};

Call http(const rh_host* host, const std::string& method, const std::string& url, std::vector<rh_http_header> headers = {},
          const std::string& body = {}, uint32_t timeout_ms = 5000, size_t body_limit = StringWriter::kDefaultLimit) {
  rh_http_request req{};
  req.struct_size = sizeof req;
  req.method = str(method);
  req.url = str(url);
  req.headers = headers.data();
  req.header_count = headers.size();
  req.body = str(body);
  req.timeout_ms = timeout_ms;
  StringWriter out(body_limit);
  rh_http_response resp{};
  resp.struct_size = sizeof resp;
  resp.body = out.get();
  Call c;
  c.status = host->http_request(host, &req, &resp);
  c.http_status = resp.status;
  c.body = out.str();
  c.error = c.status == RH_OK ? "" : text(host->last_error(host));
  return c;
}

TEST(HostHttp, SendsMethodHeadersAndBodyAndReturnsTheResponse) {
  LoopbackServer server("HTTP/1.1 201 Created\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello plugin");
  HostServices services("test.so");
  const rh_host* host = services.table();
  const rh_http_header h{str("X-Runhost-Test"), str("yes")};
  const auto c = http(host, "POST", server.url("/v1/things"), {h}, R"({"a":1})");
  ASSERT_EQ(c.status, RH_OK) << c.error;
  EXPECT_EQ(c.http_status, 201);
  EXPECT_EQ(c.body, "hello plugi") << "the body is what Content-Length says";
  EXPECT_EQ(server.request().rfind("POST /v1/things HTTP/1.1\r\n", 0), 0u) << server.request();
  EXPECT_NE(server.request().find("X-Runhost-Test: yes\r\n"), std::string::npos);
  EXPECT_NE(server.request().find("\r\n\r\n{\"a\":1}"), std::string::npos);
}

TEST(HostHttp, AnErrorStatusIsAResponseNotAFailure) {
  LoopbackServer server("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy");
  HostServices services("test.so");
  const auto c = http(services.table(), "GET", server.url("/"));
  EXPECT_EQ(c.status, RH_OK);
  EXPECT_EQ(c.http_status, 503);
  EXPECT_EQ(c.body, "busy");
}

TEST(HostHttp, ConnectionFailuresAreIoErrorsWithoutSecretsInTheMessage) {
  int port = 0;
  {
    LoopbackServer server("HTTP/1.1 200 OK\r\n\r\n");
    port = std::stoi(server.url("").substr(17));
    http(HostServices("warm.so").table(), "GET", server.url("/"));
  }  // closed: nothing listens on `port` now
  HostServices services("test.so");
  const auto c = http(services.table(), "GET", "http://user:hunter2@127.0.0.1:" + std::to_string(port) + "/x?token=s3cret#frag");
  EXPECT_EQ(c.status, RH_ERR_IO);
  EXPECT_EQ(c.http_status, 0);
  EXPECT_NE(c.error.find("Couldn't connect"), std::string::npos) << c.error;
  EXPECT_NE(c.error.find("http://127.0.0.1:" + std::to_string(port) + "/x"), std::string::npos) << c.error;
  EXPECT_EQ(c.error.find("s3cret"), std::string::npos) << c.error;
  EXPECT_EQ(c.error.find("hunter2"), std::string::npos) << c.error;
}

TEST(HostHttp, TimesOut) {
  LoopbackServer server("", /*stall=*/true);
  HostServices services("test.so");
  const auto start = std::chrono::steady_clock::now();
  const auto c = http(services.table(), "GET", server.url("/slow"), {}, {}, 200);
  EXPECT_EQ(c.status, RH_ERR_TIMEOUT) << c.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(HostHttp, RefusesMalformedRequests) {
  HostServices services("test.so");
  const rh_host* host = services.table();
  EXPECT_EQ(http(host, "GET", "ftp://127.0.0.1/file").status, RH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(http(host, "GET", "ftp://127.0.0.1/file").error, "http_request: url must start with http:// or https:// (got 'ftp://127.0.0.1/file')");
  const rh_http_header injected{str("X-A"), str("1\r\nX-Injected: 2")};
  EXPECT_EQ(http(host, "GET", "http://127.0.0.1:1/", {injected}).status, RH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(http(host, "GET /x HTTP/1.1\r\n", "http://127.0.0.1:1/").status, RH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(host->http_request(host, nullptr, nullptr), RH_ERR_INVALID_ARGUMENT);
}

TEST(HostHttp, StopsWhenThePluginsWriterIsFull) {
  LoopbackServer server("HTTP/1.1 200 OK\r\nContent-Length: 64\r\nConnection: close\r\n\r\n" + std::string(64, 'x'));
  HostServices services("test.so");
  const auto c = http(services.table(), "GET", server.url("/"), {}, {}, 5000, /*body_limit=*/16);
  EXPECT_EQ(c.status, RH_ERR_LIMIT) << c.error;
}

TEST(HostServices, CarriesErrorDetailBothWays) {
  HostServices services("test.so");
  const rh_host* host = services.table();
  clear_plugin_error();
  EXPECT_EQ(take_plugin_error(), "(the plugin gave no detail)");
  host->set_error(host, str("licence expired"));
  EXPECT_EQ(take_plugin_error(), "licence expired");
  EXPECT_EQ(take_plugin_error(), "(the plugin gave no detail)") << "taking clears it";
  std::thread([&] { host->set_error(host, str("other thread")); }).join();
  EXPECT_EQ(take_plugin_error(), "(the plugin gave no detail)") << "per thread";
  set_last_error("host side");
  EXPECT_EQ(text(host->last_error(host)), "host side");
}

TEST(HostServices, DescribesItselfAndItsExtensions) {
  HostServices services("test.so");
  const rh_host* host = services.table();
  EXPECT_EQ(host->struct_size, sizeof(rh_host));
  EXPECT_EQ(host->abi.major, RH_ABI_VERSION_MAJOR);
  EXPECT_STREQ(host->name, "runhost");
  set_reported_plugin_dirs("/a:/b");
  const auto* info = static_cast<const rh_host_info_ext*>(host->get_extension(host, RH_EXT_HOST_INFO));
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->struct_size, sizeof(rh_host_info_ext));
  EXPECT_STREQ(info->plugin_dirs, "/a:/b");
  EXPECT_NE(std::string(info->platform).find("linux-"), std::string::npos);
  const auto* processes = static_cast<const rh_processes_ext*>(host->get_extension(host, RH_EXT_PROCESSES));
  ASSERT_NE(processes, nullptr);
  EXPECT_EQ(processes->struct_size, sizeof(rh_processes_ext));
  EXPECT_EQ(host->get_extension(host, "runhost.no-such-thing/1"), nullptr);
  EXPECT_EQ(host->get_extension(host, nullptr), nullptr);
  using namespace std::chrono;
  const auto now = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  EXPECT_LT(std::llabs(host->now_us(host) - now), 5'000'000);
  const int64_t a = host->monotonic_ns(host);
  EXPECT_LE(a, host->monotonic_ns(host));
}

class RecordingRun final : public rh_run {
 public:
  rh_status emit(const rh_event& e) noexcept override {
    seen.emplace_back(e.type.data, e.type.len);
    return RH_OK;
  }
  std::vector<std::string> seen;
};

TEST(HostServices, EmitForwardsKnownEventTypesAndRefusesOthers) {
  HostServices services("test.so");
  const rh_host* host = services.table();
  RecordingRun run;
  rh_event ok{sizeof(rh_event), str("message"), str(R"({"text":"hi"})"), {nullptr, 0}};
  EXPECT_EQ(host->emit(host, &run, &ok), RH_OK);
  rh_event bad{sizeof(rh_event), str("tool.exploded"), str("{}"), {nullptr, 0}};
  EXPECT_EQ(host->emit(host, &run, &bad), RH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(text(host->last_error(host)), "emit: unknown event type 'tool.exploded'");
  EXPECT_EQ(host->emit(host, nullptr, &ok), RH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(run.seen, std::vector<std::string>{"message"});
}

TEST(HostServices, ProcessesAreRefusedClearlyWhereTheRunCannotStartThem) {
  HostServices services("test.so");
  const rh_host* host = services.table();
  const auto* p = static_cast<const rh_processes_ext*>(host->get_extension(host, RH_EXT_PROCESSES));
  ASSERT_NE(p, nullptr);
  RecordingRun run;  // an rh_run that says nothing about processes: the defaults
  EXPECT_EQ(p->available(host, &run), 0);
  EXPECT_EQ(p->available(host, nullptr), 0);
  auto out = [](void*, uint64_t, rh_stream, const char*, size_t) {};
  auto done = [](void*, uint64_t, const rh_exit*) {};
  rh_process_sink sink{sizeof(rh_process_sink), nullptr, out, done};
  uint64_t id = 0;
  EXPECT_EQ(p->start(host, &run, str(R"({"argv":["true"]})"), &sink, &id), RH_ERR_UNSUPPORTED);
  EXPECT_EQ(text(host->last_error(host)), "processes.start: this run cannot start processes");
  EXPECT_EQ(p->start(host, &run, str(R"({"argv":["true"]})"), nullptr, &id), RH_ERR_INVALID_ARGUMENT);
  rh_process_sink no_exit{sizeof(rh_process_sink), nullptr, out, nullptr};
  EXPECT_EQ(p->start(host, &run, str(R"({"argv":["true"]})"), &no_exit, &id), RH_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(text(host->last_error(host)), "processes.start: the sink needs struct_size, output and exit");
  EXPECT_EQ(p->kill(host, &run, 1), RH_ERR_NOT_FOUND);
  EXPECT_EQ(p->kill(host, nullptr, 1), RH_ERR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace runhost::host
