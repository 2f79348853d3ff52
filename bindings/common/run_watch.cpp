#include "run_watch.hpp"

namespace runhost::binding {
namespace {

bool is_terminal_status(std::string_view status) {
  return status == "succeeded" || status == "failed" || status == "cancelled";
}

}  // namespace

RunInfo find_run(Host& host, const std::string& run_id, const Scope& scope) {
  if (auto info = value_or_throw(host.run(run_id, scope))) return *std::move(info);
  // run() says "none in the scope" without an error; events() names it as every call naming a
  // run does, so a missing run and another tenant's read the same to the caller.
  auto events = host.events(run_id, 0, 1, scope);
  if (!events) throw CoreError(std::move(events).error());
  throw CoreError(Error{ErrorCode::run_not_found, "no run '" + run_id + "'"});  // created meanwhile: not ours to see yet
}

RunWatch watch_run(Host& host, const std::string& run_id, const Scope& scope, EventCallback on_event,
                   EndCallback on_end) {
  RunWatch watch{find_run(host, run_id, scope), nullptr};
  if (is_terminal_status(watch.run.status)) return watch;
  watch.subscription = value_or_throw(
      host.subscribe(run_id, watch.run.last_seq, std::move(on_event), std::move(on_end), scope));
  return watch;
}

}  // namespace runhost::binding
