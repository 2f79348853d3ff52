#include "runhost/error.hpp"

#include <array>

namespace runhost {
namespace {

struct CodeInfo {
  std::string_view name;
  bool retryable;
  std::string_view action;
};

constexpr std::array kCodes = {
#define RUNHOST_X(name, retryable, action) CodeInfo{#name, retryable, #action},
    RUNHOST_ERROR_CODES(RUNHOST_X)
#undef RUNHOST_X
};

}  // namespace

std::string_view to_string(ErrorCode code) noexcept {
  return kCodes[static_cast<size_t>(code)].name;
}

std::optional<ErrorCode> error_code_from_string(std::string_view name) noexcept {
  for (size_t i = 0; i < kCodes.size(); ++i) {
    if (kCodes[i].name == name) return static_cast<ErrorCode>(i);
  }
  return std::nullopt;
}

bool default_retryable(ErrorCode code) noexcept {
  return kCodes[static_cast<size_t>(code)].retryable;
}

std::string_view default_recovery_action(ErrorCode code) noexcept {
  return kCodes[static_cast<size_t>(code)].action;
}

}  // namespace runhost
