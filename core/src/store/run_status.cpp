#include "store/store.hpp"

namespace runhost::store {

std::string_view to_string(RunStatus status) noexcept {
  switch (status) {
    case RunStatus::queued:
      return "queued";
    case RunStatus::running:
      return "running";
    case RunStatus::succeeded:
      return "succeeded";
    case RunStatus::failed:
      return "failed";
    case RunStatus::cancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<RunStatus> run_status_from_string(std::string_view name) noexcept {
  for (auto s :
       {RunStatus::queued, RunStatus::running, RunStatus::succeeded, RunStatus::failed, RunStatus::cancelled}) {
    if (to_string(s) == name) return s;
  }
  return std::nullopt;
}

bool is_terminal(RunStatus status) noexcept {
  return status == RunStatus::succeeded || status == RunStatus::failed || status == RunStatus::cancelled;
}

}  // namespace runhost::store
