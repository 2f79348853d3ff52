// The core's logger: spdlog, to stderr, level from RUNHOST_LOG (trace|debug|info|warn|error|off;
// default warn). Nothing secret is ever passed to it.
#pragma once

#include <memory>

#include <spdlog/logger.h>

namespace runhost::util {

std::shared_ptr<spdlog::logger> logger();

}  // namespace runhost::util
