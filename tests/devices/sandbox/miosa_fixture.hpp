// A MiosaClient on the test reactor, pointed at a loopback ScriptServer, with retries fast
// enough for a test suite (1 ms backoff base; Retry-After is still honoured as sent).
#pragma once

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>

#include "devices/sandbox/miosa_client.hpp"
#include "reactor.hpp"
#include "script_server.hpp"

namespace runhost::devices::sandbox {

class MiosaFixture : public ::testing::Test {
 protected:
  static constexpr const char* kKey = "msk_test_7f3a9c2e5b1d4f60";

  MiosaConfig config_for(const std::string& base) const {
    MiosaConfig c;
    c.base_url = normalize_base_url(base);
    c.api_key = kKey;
    c.retry_base_delay = std::chrono::milliseconds(1);
    c.connect_timeout = std::chrono::seconds(5);
    return c;
  }

  void use(MiosaConfig config) { client = std::make_unique<MiosaClient>(reactor.io, multi, std::move(config)); }

  void SetUp() override { use(config_for(server.base_url())); }

  // Paths as the server sees them.
  static std::string api(const std::string& path) { return "/api/v1" + path; }

  MiosaResult<MiosaResponse> call(const std::string& method, const std::string& path,
                                  std::optional<nlohmann::json> body = std::nullopt, CallOptions options = {}) {
    std::optional<MiosaResult<MiosaResponse>> out;
    reactor.run(
        [&] {
          client->call(method, path, std::move(body), std::move(options),
                       [&](MiosaResult<MiosaResponse> r) { out.emplace(std::move(r)); });
        },
        [&] { return out.has_value(); });
    if (!out) {
      MiosaFailure f;
      f.code = "TEST_HUNG";
      return f;
    }
    return std::move(*out);
  }

  // A port nothing listens on.
  static uint16_t closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  // Declaration order is destruction order reversed: the client goes first, the reactor last.
  testing::Reactor reactor;
  testing::ScriptServer server;
  http::CurlMulti multi{reactor.io};
  std::unique_ptr<MiosaClient> client;
};

}  // namespace runhost::devices::sandbox
