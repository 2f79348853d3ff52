#include "store/write_ops.hpp"

#include "store/queries.hpp"
#include "store/usage.hpp"

#include <optional>

namespace runhost::store {
namespace {

// The run's status, nullopt when there is no such run.
Result<std::optional<RunStatus>> current_status(sqlite::Connection& conn, std::string_view run_id) {
  auto q = conn.query("SELECT status FROM agent_runs WHERE id = ?1");
  if (!q) return std::move(q).error();
  q->bind(1, run_id);
  auto row = q->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<RunStatus>();
  return run_status_from_string(q->text(0));
}

Result<Store::Created> existing_or_conflict(RunRow existing, const NewRun& run) {
  if (existing.request_hash != run.request_hash) {
    return Error(ErrorCode::idempotency_conflict,
                 "idempotency key '" + run.idempotency_key + "' was already used by run " + existing.id +
                     " with a different request",
                 R"({"action":"fix_dispatch","field":"idempotencyKey"})");
  }
  return Store::Created{std::move(existing), false, std::nullopt};
}

}  // namespace

Error no_such_run(std::string_view run_id) {
  return {ErrorCode::internal, "no run '" + std::string(run_id) + "'"};
}

Result<Store::Created> insert_run(sqlite::Connection& conn, const NewRun& run, int64_t now_us,
                                  const std::vector<RunCap>& caps) {
  auto existing = select_run_by_key(conn, run.tenant_id, run.idempotency_key);
  if (!existing) return std::move(existing).error();
  if (*existing) return existing_or_conflict(std::move(**existing), run);
  // Counted under the write lock the INSERT below takes too: no other process can start a run
  // between the count and the insert.
  if (!caps.empty()) {
    auto reached = first_cap_reached(conn, run, caps);
    if (!reached) return std::move(reached).error();
    if (*reached) {
      Store::Created refused;
      refused.refused = std::move(*reached);
      return refused;
    }
  }

  RunRow row;
  static_cast<NewRun&>(row) = run;
  if (row.created_us == 0) row.created_us = now_us;
  row.updated_us = row.created_us;
  auto q = conn.query(
      "INSERT INTO agent_runs (id, tenant_id, workspace_id, project_id, user_id, device_type, device_id, runtime, "
      "prompt, cwd, approval_policy, idempotency_key, request_hash, dispatch_json, status, created_at, updated_at, "
      "owner_host, owner_pid, owner_start_time) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'queued', ?15, ?15, ?16, ?17, ?18)");
  if (!q) return std::move(q).error();
  q->bind(1, row.id).bind(2, row.tenant_id).bind(3, row.workspace_id).bind(4, row.project_id).bind(5, row.user_id);
  q->bind(6, row.device_type).bind(7, row.device_id).bind(8, row.runtime).bind(9, row.prompt).bind(10, row.cwd);
  q->bind(11, row.approval_policy).bind(12, row.idempotency_key).bind(13, row.request_hash);
  q->bind(14, row.dispatch_json).bind(15, row.created_us);
  const std::optional<std::string> owner_host =  // bound without a copy: must outlive the query
      row.owner.host_id.empty() ? std::nullopt : std::optional<std::string>(row.owner.host_id);
  q->bind(16, owner_host);
  q->bind(17, row.owner.pid).bind(18, row.owner.start_time);
  if (auto st = q->run(); !st) {
    // The unique index is the arbiter: whoever lost a race on the key reads the winner.
    auto winner = select_run_by_key(conn, run.tenant_id, run.idempotency_key);
    if (winner && *winner) return existing_or_conflict(std::move(**winner), run);
    return std::move(st).error();
  }
  return Store::Created{std::move(row), true, std::nullopt};
}

Status update_status(sqlite::Connection& conn, std::string_view run_id, RunStatus status,
                     const std::optional<std::string>& error_code, int64_t now_us) {
  auto current = current_status(conn, run_id);
  if (!current) return std::move(current).error();
  if (!*current) return no_such_run(run_id);
  if (is_terminal(**current)) {
    return Error(ErrorCode::internal, "run " + std::string(run_id) + " is already " +
                                          std::string(to_string(**current)) + "; cannot make it " +
                                          std::string(to_string(status)));
  }
  auto q = conn.query("UPDATE agent_runs SET status = ?2, error_code = ?3, updated_at = ?4 WHERE id = ?1");
  if (!q) return std::move(q).error();
  q->bind(1, run_id).bind(2, to_string(status)).bind(3, error_code).bind(4, now_us);
  return q->run();
}

Result<bool> end_orphan(sqlite::Connection& conn, std::string_view run_id, const Owner& owner,
                        const Store::MakeTerminal& make_terminal) {
  auto run = select_run(conn, run_id);
  if (!run) return std::move(run).error();
  if (!*run) return no_such_run(run_id);
  const RunRow& row = **run;
  // Ended already, or no longer the owner's (a version-1 row judged by pid): nothing to do.
  if (is_terminal(row.status) || row.owner.host_id != owner.host_id ||
      (owner.host_id.empty() && row.owner.pid != owner.pid)) {
    return false;
  }
  EventRow event = make_terminal(row);
  event.seq = row.last_seq + 1;
  if (!event.final_status || !is_terminal(*event.final_status)) {
    return Error(ErrorCode::internal, "finish_orphan: the terminal event has no final status");
  }
  event.run_id = row.id;
  if (auto st = insert_event(conn, event); !st) return std::move(st).error();
  auto update =
      conn.query("UPDATE agent_runs SET status = ?2, error_code = ?3, last_seq = ?4, updated_at = ?5 WHERE id = ?1");
  if (!update) return std::move(update).error();
  update->bind(1, row.id).bind(2, to_string(*event.final_status)).bind(3, event.error_code);
  update->bind(4, event.seq).bind(5, event.time_us);
  if (auto st = update->run(); !st) return std::move(st).error();
  return true;
}

Status mark_cancel_requested(sqlite::Connection& conn, std::string_view run_id, int64_t now_us) {
  auto current = current_status(conn, run_id);
  if (!current) return std::move(current).error();
  if (!*current) return no_such_run(run_id);
  if (is_terminal(**current)) return {};
  auto q = conn.query("UPDATE agent_runs SET cancel_requested = 1, updated_at = ?2 WHERE id = ?1");
  if (!q) return std::move(q).error();
  q->bind(1, run_id).bind(2, now_us);
  return q->run();
}

Status insert_artifact(sqlite::Connection& conn, const ArtifactRow& artifact) {
  auto current = current_status(conn, artifact.run_id);
  if (!current) return std::move(current).error();
  if (!*current) return no_such_run(artifact.run_id);
  auto q = conn.query(
      "INSERT INTO agent_artifacts (id, run_id, path, content_type, size_bytes, sha256, created_at, "
      "miosa_artifact_id, preview_url, download_url) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, nullif(?8, ''), nullif(?9, ''), nullif(?10, ''))");
  if (!q) return std::move(q).error();
  q->bind(1, artifact.id).bind(2, artifact.run_id).bind(3, artifact.path).bind(4, artifact.content_type);
  q->bind(5, artifact.size_bytes).bind(6, artifact.sha256).bind(7, artifact.created_us);
  q->bind(8, artifact.device_artifact_id).bind(9, artifact.preview_url).bind(10, artifact.download_url);
  return q->run();
}

Status write_device(sqlite::Connection& conn, const DeviceAssignment& a, int64_t now_us) {
  const bool sandbox = a.device_type == "sandbox";
  const bool computer = a.device_type == "computer";
  auto run = conn.query(
      "UPDATE agent_runs SET device_id = ?2, "
      "sandbox_id = CASE WHEN ?3 THEN ?2 ELSE sandbox_id END, "
      "computer_id = CASE WHEN ?4 THEN ?2 ELSE computer_id END WHERE id = ?1");
  if (!run) return std::move(run).error();
  run->bind(1, a.run_id).bind(2, a.device_id).bind(3, int64_t{sandbox}).bind(4, int64_t{computer});
  if (auto st = run->run(); !st) return st;
  if (!a.project_id || (!sandbox && !computer)) return {};
  // The project's current device; a row of another tenant's (project ids are the backend's,
  // unique across its tenants, so this means a confused caller) is not taken over.
  auto project = conn.query(
      "INSERT INTO projects (id, tenant_id, updated_at, current_sandbox_id, current_computer_id) "
      "VALUES (?1, ?2, ?3, CASE WHEN ?5 THEN ?4 END, CASE WHEN ?6 THEN ?4 END) "
      "ON CONFLICT (id) DO UPDATE SET updated_at = ?3, "
      "current_sandbox_id = CASE WHEN ?5 THEN ?4 ELSE current_sandbox_id END, "
      "current_computer_id = CASE WHEN ?6 THEN ?4 ELSE current_computer_id END, "
      "tenant_id = coalesce(tenant_id, ?2) "
      "WHERE coalesce(projects.tenant_id, ?2) = ?2");
  if (!project) return std::move(project).error();
  project->bind(1, *a.project_id).bind(2, a.tenant_id).bind(3, now_us).bind(4, a.device_id);
  project->bind(5, int64_t{sandbox}).bind(6, int64_t{computer});
  return project->run();
}

Status write_answer(sqlite::Connection& conn, std::string_view run_id, std::string_view approval_id,
                    const ApprovalAnswer& answer, int64_t now_us) {
  auto q = conn.query(
      "UPDATE approvals SET answer = ?3, answer_scope = ?4, answer_reason = ?5, answered_by = ?6, answered_at = ?7 "
      "WHERE id = ?1 AND run_id = ?2 AND status = 'pending' AND answer IS NULL "
      "AND (SELECT status FROM agent_runs WHERE id = ?2) IN ('queued', 'running')");
  if (!q) return std::move(q).error();
  q->bind(1, approval_id).bind(2, run_id).bind(3, answer.decision).bind(4, answer.scope).bind(5, answer.reason);
  q->bind(6, answer.actor).bind(7, now_us);
  if (auto st = q->run(); !st) return st;
  if (conn.changes() > 0) return {};
  // Nothing changed: say why.
  auto current =
      conn.query("SELECT status, answer, coalesce(decided_by, '') FROM approvals WHERE id = ?1 AND run_id = ?2");
  if (!current) return std::move(current).error();
  current->bind(1, approval_id).bind(2, run_id);
  auto row = current->step();
  if (!row) return std::move(row).error();
  const std::string which = "approval " + std::string(approval_id) + " of run " + std::string(run_id);
  if (!*row)
    return Error(ErrorCode::invalid_dispatch,
                 "run " + std::string(run_id) + " has no approval " + std::string(approval_id));
  if (current->text(0) != "pending") {
    return Error(ErrorCode::invalid_dispatch, which + " was already settled: " + current->text(0) +
                                                  (current->text(2).empty() ? "" : " (" + current->text(2) + ")"));
  }
  // A run that ended while its approval was pending (its host died: device_lost) cannot apply
  // an answer; recording one would only mislead whoever gave it.
  auto run = current_status(conn, run_id);
  if (!run) return std::move(run).error();
  if (*run && is_terminal(**run)) {
    return Error(ErrorCode::invalid_dispatch,
                 which + " can no longer be answered: the run has ended (" + std::string(to_string(**run)) + ")");
  }
  return Error(ErrorCode::invalid_dispatch,
               which + " was already answered (" + current->text(1) + "); its run applies it");
}

Status apply_approval_change(sqlite::Connection& conn, const EventRow& event) {
  const ApprovalChange& a = *event.approval;
  if (a.status == "pending") {
    auto q = conn.query(
        "INSERT INTO approvals (id, run_id, seq, action_json, status, created_at, deadline_at) "
        "VALUES (?1, ?2, ?3, ?4, 'pending', ?5, nullif(?6, 0))");
    if (!q) return std::move(q).error();
    q->bind(1, a.id).bind(2, event.run_id).bind(3, event.seq).bind(4, a.request_json).bind(5, event.time_us);
    q->bind(6, a.deadline_us);
    return q->run();
  }
  auto q = conn.query(
      "UPDATE approvals SET status = ?3, decided_by = ?4, reason = ?5, scope = ?6, source = ?7, decided_at = ?8 "
      "WHERE id = ?1 AND run_id = ?2 AND status = 'pending'");
  if (!q) return std::move(q).error();
  q->bind(1, a.id).bind(2, event.run_id).bind(3, a.status).bind(4, a.decided_by).bind(5, a.reason).bind(6, a.scope);
  q->bind(7, a.source).bind(8, event.time_us);
  if (auto st = q->run(); !st) return st;
  if (conn.changes() == 0) return Error(ErrorCode::internal, "approval " + a.id + " is not pending");
  return {};
}

}  // namespace runhost::store
