// The writes other than event appends, as the writer thread runs them inside its batch
// transaction (each in its own savepoint, so a refused one leaves the rest of the batch intact).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace runhost::store {

// The run as queued, or the run already holding (tenant_id, idempotency_key): returned when its
// request_hash matches, else idempotency_conflict naming it. created_us 0 means now_us. A new
// run past one of `caps` is not inserted (Created::refused).
Result<Store::Created> insert_run(sqlite::Connection& conn, const NewRun& run, int64_t now_us,
                                  const std::vector<RunCap>& caps = {});

// Refused for a run that is already succeeded, failed or cancelled: a finished run stays finished.
Status update_status(sqlite::Connection& conn, std::string_view run_id, RunStatus status,
                     const std::optional<std::string>& error_code, int64_t now_us);
// One row of agent_run_events, as given (EventAppender checks seq first; end_orphan computes it).
Status insert_event(sqlite::Connection& conn, const EventRow& event);

// Store::finish_orphan's write, inside the writer's transaction.
Result<bool> end_orphan(sqlite::Connection& conn, std::string_view run_id, const Owner& owner,
                        const Store::MakeTerminal& make_terminal);
// A finished run has nothing to cancel: OK, unchanged.
Status mark_cancel_requested(sqlite::Connection& conn, std::string_view run_id, int64_t now_us);
Status insert_artifact(sqlite::Connection& conn, const ArtifactRow& artifact);
Status write_device(sqlite::Connection& conn, const DeviceAssignment& assignment, int64_t now_us);
// Store::answer_approval's write.
Status write_answer(sqlite::Connection& conn, std::string_view run_id, std::string_view approval_id,
                    const ApprovalAnswer& answer, int64_t now_us);
// The approval record an approval event carries (EventRow::approval), in the event's transaction.
Status apply_approval_change(sqlite::Connection& conn, const EventRow& event);

// The error for a run id that is not in the store (internal: the host checks a run exists, in
// the caller's scope, before it writes to it).
Error no_such_run(std::string_view run_id);

}  // namespace runhost::store
