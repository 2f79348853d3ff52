// The store's SELECTs and the mapping of their rows, on whichever connection the caller holds:
// a reader's, or the writer's inside its transaction.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace runhost::store {

Result<std::optional<RunRow>> select_run(sqlite::Connection& conn, std::string_view run_id);
Result<std::optional<RunRow>> select_run_by_key(sqlite::Connection& conn, std::string_view tenant_id,
                                                std::string_view idempotency_key);
Result<std::vector<RunRow>> select_runs(sqlite::Connection& conn, const RunFilter& filter);
Result<std::vector<RunRow>> select_active_runs(sqlite::Connection& conn);
Result<std::vector<EventRow>> select_events(sqlite::Connection& conn, std::string_view run_id, int64_t after_seq,
                                            size_t limit);
Result<std::vector<ArtifactRow>> select_artifacts(sqlite::Connection& conn, std::string_view run_id);
Result<std::optional<std::string>> select_current_device(sqlite::Connection& conn, std::string_view tenant_id,
                                                         std::string_view project_id, std::string_view device_type);
Result<std::optional<ApprovalRow>> select_approval(sqlite::Connection& conn, std::string_view approval_id);
Result<std::vector<ApprovalRow>> select_pending_approvals(sqlite::Connection& conn,
                                                          const std::optional<std::string>& tenant_id);

}  // namespace runhost::store
