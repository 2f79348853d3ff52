// Log lines pass through the secret registry: a secret logged by the host, or by a plugin
// through the host's log service (which writes to util::logger()), shows as [redacted].
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include "util/logging.hpp"
#include "util/secrets.hpp"

namespace runhost::util {
namespace {

TEST(LogRedaction, ASinkScrubsEachMessageAndKeepsThePattern) {
  Redactor redactor;
  redactor.add(R"(hunter2-"quoted")");
  std::ostringstream out;
  auto inner = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  spdlog::logger log("test", redacting_sink(inner, redactor));
  log.set_pattern("%l %v");
  log.warn("login with {} failed", R"(hunter2-"quoted")");
  log.warn("the config was {}", R"({"password":"hunter2-\"quoted\""})");
  log.warn("nothing secret here");
  EXPECT_EQ(out.str(),
            "warning login with [redacted] failed\n"
            "warning the config was {\"password\":\"[redacted]\"}\n"
            "warning nothing secret here\n");
}

TEST(LogRedaction, TheHostLoggerUsesTheProcessRegistry) {
  const std::string secret = "log-secret-5f1c9a";
  secrets().add(secret);
  ::testing::internal::CaptureStderr();
  logger()->error("connector said: token {} expired", secret);
  logger()->flush();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("connector said: token [redacted] expired"), std::string::npos) << err;
  EXPECT_EQ(err.find(secret), std::string::npos) << err;
}

}  // namespace
}  // namespace runhost::util
