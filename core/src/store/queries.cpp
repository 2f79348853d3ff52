#include "store/queries.hpp"

#include <limits>

namespace runhost::store {
namespace {

#define RUNHOST_RUN_COLUMNS                                                                                   \
  "id, tenant_id, workspace_id, project_id, user_id, device_type, device_id, runtime, prompt, cwd, "          \
  "approval_policy, idempotency_key, request_hash, dispatch_json, created_at, status, updated_at, last_seq, " \
  "error_code, owner_pid, owner_start_time, cancel_requested, owner_host"

RunRow run_from(const sqlite::Query& q) {
  RunRow run;
  run.id = q.text(0);
  run.tenant_id = q.text(1);
  run.workspace_id = q.text(2);
  run.project_id = q.optional_text(3);
  run.user_id = q.text(4);
  run.device_type = q.text(5);
  run.device_id = q.text(6);
  run.runtime = q.text(7);
  run.prompt = q.text(8);
  run.cwd = q.optional_text(9);
  run.approval_policy = q.text(10);
  run.idempotency_key = q.text(11);
  run.request_hash = q.text(12);
  run.dispatch_json = q.text(13);
  run.created_us = q.int64(14);
  // The CHECK constraint admits only the five names.
  run.status = run_status_from_string(q.text(15)).value_or(RunStatus::failed);
  run.updated_us = q.int64(16);
  run.last_seq = q.int64(17);
  run.error_code = q.optional_text(18);
  run.owner = {q.optional_text(22).value_or(std::string()), q.int64(19), q.int64(20)};
  run.cancel_requested = q.int64(21) != 0;
  return run;
}

int64_t sql_limit(size_t limit) {
  return limit > static_cast<size_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                          : static_cast<int64_t>(limit);
}

Result<std::optional<RunRow>> one_run(Result<sqlite::Query> q) {
  if (!q) return std::move(q).error();
  auto row = q->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<RunRow>();
  return std::optional<RunRow>(run_from(*q));
}

EventRow event_from(const sqlite::Query& q) {
  return {q.text(0), q.int64(1),   q.text(2),    q.text(3),    q.int64(4),  q.optional_text(5),
          q.text(6), std::nullopt, std::nullopt, std::nullopt, std::nullopt};
}

ArtifactRow artifact_from(const sqlite::Query& q) {
  return {q.text(0),
          q.text(1),
          q.text(2),
          q.text(3),
          q.int64(4),
          q.text(5),
          q.int64(6),
          q.optional_text(7).value_or(""),
          q.optional_text(8).value_or(""),
          q.optional_text(9).value_or("")};
}

// Every row of a bound query, mapped.
template <class Row>
Result<std::vector<Row>> collect(Result<sqlite::Query> q, Row (*map)(const sqlite::Query&)) {
  if (!q) return std::move(q).error();
  std::vector<Row> rows;
  for (;;) {
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) return rows;
    rows.push_back(map(*q));
  }
}

}  // namespace

Result<std::optional<RunRow>> select_run(sqlite::Connection& conn, std::string_view run_id) {
  auto q = conn.query("SELECT " RUNHOST_RUN_COLUMNS " FROM agent_runs WHERE id = ?1");
  if (q) q->bind(1, run_id);
  return one_run(std::move(q));
}

Result<std::optional<RunRow>> select_run_by_key(sqlite::Connection& conn, std::string_view tenant_id,
                                                std::string_view idempotency_key) {
  auto q = conn.query("SELECT " RUNHOST_RUN_COLUMNS " FROM agent_runs WHERE tenant_id = ?1 AND idempotency_key = ?2");
  if (q) q->bind(1, tenant_id).bind(2, idempotency_key);
  return one_run(std::move(q));
}

Result<std::vector<RunRow>> select_runs(sqlite::Connection& conn, const RunFilter& filter) {
  // One statement per filter shape, so each can use its index.
  const char* sql = nullptr;
  if (filter.tenant_id && filter.status) {
    sql = "SELECT " RUNHOST_RUN_COLUMNS
          " FROM agent_runs WHERE tenant_id = ?1 AND status = ?2 ORDER BY created_at DESC, id DESC LIMIT ?3";
  } else if (filter.tenant_id) {
    sql = "SELECT " RUNHOST_RUN_COLUMNS
          " FROM agent_runs WHERE tenant_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?3";
  } else if (filter.status) {
    sql = "SELECT " RUNHOST_RUN_COLUMNS " FROM agent_runs WHERE status = ?2 ORDER BY created_at DESC, id DESC LIMIT ?3";
  } else {
    sql = "SELECT " RUNHOST_RUN_COLUMNS " FROM agent_runs ORDER BY created_at DESC, id DESC LIMIT ?3";
  }
  auto q = conn.query(sql);
  if (q) {
    if (filter.tenant_id) q->bind(1, std::string_view(*filter.tenant_id));
    if (filter.status) q->bind(2, to_string(*filter.status));
    q->bind(3, sql_limit(filter.limit));
  }
  return collect(std::move(q), run_from);
}

Result<std::vector<RunRow>> select_active_runs(sqlite::Connection& conn) {
  return collect(conn.query("SELECT " RUNHOST_RUN_COLUMNS
                            " FROM agent_runs WHERE status IN ('queued', 'running') ORDER BY created_at, id"),
                 run_from);
}

Result<std::vector<EventRow>> select_events(sqlite::Connection& conn, std::string_view run_id, int64_t after_seq,
                                            size_t limit) {
  auto q = conn.query(
      "SELECT run_id, seq, id, type, created_at, request_id, payload_json FROM agent_run_events "
      "WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3");
  if (q) q->bind(1, run_id).bind(2, after_seq).bind(3, sql_limit(limit));
  return collect(std::move(q), event_from);
}

Result<std::vector<ArtifactRow>> select_artifacts(sqlite::Connection& conn, std::string_view run_id) {
  auto q = conn.query(
      "SELECT id, run_id, path, content_type, size_bytes, sha256, created_at, miosa_artifact_id, preview_url, "
      "download_url FROM agent_artifacts WHERE run_id = ?1 ORDER BY created_at, id");
  if (q) q->bind(1, run_id);
  return collect(std::move(q), artifact_from);
}

Result<std::optional<std::string>> select_current_device(sqlite::Connection& conn, std::string_view tenant_id,
                                                         std::string_view project_id, std::string_view device_type) {
  auto q = conn.query(
      "SELECT CASE ?3 WHEN 'sandbox' THEN current_sandbox_id WHEN 'computer' THEN current_computer_id END "
      "FROM projects WHERE id = ?1 AND tenant_id = ?2");
  if (!q) return std::move(q).error();
  q->bind(1, project_id).bind(2, tenant_id).bind(3, device_type);
  auto row = q->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<std::string>();
  return q->optional_text(0);
}

#define RUNHOST_APPROVAL_COLUMNS                                                                            \
  "a.id, a.run_id, r.tenant_id, a.seq, a.status, a.action_json, a.created_at, coalesce(a.deadline_at, 0), " \
  "a.answer, a.answer_scope, a.answer_reason, a.answered_by"

ApprovalRow approval_from(const sqlite::Query& q) {
  ApprovalRow a;
  a.id = q.text(0);
  a.run_id = q.text(1);
  a.tenant_id = q.text(2);
  a.seq = q.int64(3);
  a.status = q.text(4);
  a.request_json = q.text(5);
  a.created_us = q.int64(6);
  a.deadline_us = q.int64(7);
  if (auto decision = q.optional_text(8)) {
    a.answer = ApprovalAnswer{*decision, q.optional_text(9).value_or("once"), q.optional_text(10).value_or(""),
                              q.optional_text(11).value_or("")};
  }
  return a;
}

Result<std::optional<ApprovalRow>> select_approval(sqlite::Connection& conn, std::string_view approval_id) {
  auto q = conn.query("SELECT " RUNHOST_APPROVAL_COLUMNS
                      " FROM approvals a JOIN agent_runs r ON r.id = a.run_id WHERE a.id = ?1");
  if (q) q->bind(1, approval_id);
  auto rows = collect(std::move(q), approval_from);
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return std::optional<ApprovalRow>();
  return std::optional<ApprovalRow>(std::move(rows->front()));
}

Result<std::vector<ApprovalRow>> select_pending_approvals(sqlite::Connection& conn,
                                                          const std::optional<std::string>& tenant_id) {
  auto q = conn.query(
      "SELECT " RUNHOST_APPROVAL_COLUMNS
      " FROM approvals a JOIN agent_runs r ON r.id = a.run_id "
      "WHERE a.status = 'pending' AND r.status IN ('queued', 'running') AND (?1 IS NULL OR r.tenant_id = ?1) "
      "ORDER BY a.created_at, a.id");
  if (q) q->bind(1, tenant_id);
  return collect(std::move(q), approval_from);
}

#undef RUNHOST_APPROVAL_COLUMNS
#undef RUNHOST_RUN_COLUMNS

}  // namespace runhost::store
