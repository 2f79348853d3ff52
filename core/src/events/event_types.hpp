// The unified event types of schema v1 (docs/events.md). One list, used wherever the host must
// know whether a type exists.
#pragma once

#include <array>
#include <string_view>

namespace runhost::events {

inline constexpr std::string_view kSchema = "runhost.event/1";

inline constexpr std::array<std::string_view, 18> kEventTypes = {
    "run.started",  "message",       "reasoning",        "tool.started",      "tool.completed",    "command.output",
    "file.changed", "preview.ready", "artifact.created", "approval.required", "approval.resolved", "deployment.ready",
    "usage",        "run.completed", "run.failed",       "run.cancelled",     "runtime.unparsed",  "policy.decision",
};

constexpr bool is_event_type(std::string_view type) noexcept {
  for (auto t : kEventTypes) {
    if (t == type) return true;
  }
  return false;
}

constexpr bool is_terminal_event_type(std::string_view type) noexcept {
  return type == "run.completed" || type == "run.failed" || type == "run.cancelled";
}

}  // namespace runhost::events
