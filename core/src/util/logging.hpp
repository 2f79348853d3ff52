// The core's logger: spdlog, to stderr, level from RUNHOST_LOG (trace|debug|info|warn|error|off;
// default warn). Every line passes through util::secrets() first, so a plugin that logs a
// credential through the host's log service, or an error that quotes one, shows [redacted].
#pragma once

#include <memory>

#include <spdlog/logger.h>
#include <spdlog/sinks/sink.h>

#include "util/secrets.hpp"

namespace runhost::util {

std::shared_ptr<spdlog::logger> logger();

// A sink that scrubs each message of `redactor`'s secrets, then hands it to `inner`. The
// logger's pattern and formatter go to `inner`. `redactor` must outlive the sink.
std::shared_ptr<spdlog::sinks::sink> redacting_sink(std::shared_ptr<spdlog::sinks::sink> inner,
                                                    const Redactor& redactor = secrets());

}  // namespace runhost::util
