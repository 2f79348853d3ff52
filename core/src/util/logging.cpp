#include "util/logging.hpp"

#include <cstdlib>
#include <string>
#include <utility>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace runhost::util {
namespace {

class RedactingSink final : public spdlog::sinks::sink {
 public:
  RedactingSink(std::shared_ptr<spdlog::sinks::sink> inner, const Redactor& redactor)
      : inner_(std::move(inner)), redactor_(redactor) {}

  void log(const spdlog::details::log_msg& msg) override {
    // Only the message can hold a secret: the rest of the line is the time, level and name.
    std::string text(msg.payload.data(), msg.payload.size());
    if (!redactor_.redact(text)) return inner_->log(msg);
    spdlog::details::log_msg scrubbed = msg;
    scrubbed.payload = text;
    inner_->log(scrubbed);
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
  const Redactor& redactor_;
};

}  // namespace

std::shared_ptr<spdlog::sinks::sink> redacting_sink(std::shared_ptr<spdlog::sinks::sink> inner,
                                                    const Redactor& redactor) {
  return std::make_shared<RedactingSink>(std::move(inner), redactor);
}

std::shared_ptr<spdlog::logger> logger() {
  static const std::shared_ptr<spdlog::logger> instance = [] {
    auto l = std::make_shared<spdlog::logger>("runhost",
                                              redacting_sink(std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
    const char* level = std::getenv("RUNHOST_LOG");
    l->set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::warn);
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %v", spdlog::pattern_time_type::utc);
    return l;
  }();
  return instance;
}

}  // namespace runhost::util
