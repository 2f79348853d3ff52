#include "store/event_appender.hpp"

#include "store/usage.hpp"
#include "store/write_ops.hpp"

namespace runhost::store {

Status insert_event(sqlite::Connection& conn, const EventRow& event) {
  auto q = conn.query(
      "INSERT INTO agent_run_events (run_id, seq, id, type, payload_json, request_id, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!q) return std::move(q).error();
  q->bind(1, event.run_id).bind(2, event.seq).bind(3, event.id).bind(4, event.type).bind(5, event.json);
  q->bind(6, event.request_id).bind(7, event.time_us);
  return q->run();
}

Status EventAppender::refuse(const EventRow& event, const std::string& reason) {
  std::string message = "event seq " + std::to_string(event.seq) + " for run " + event.run_id + ": " + reason;
  closed_.emplace(event.run_id, message);
  return Error(ErrorCode::internal, std::move(message));
}

Status EventAppender::append(const EventRow& event) {
  if (auto closed = closed_.find(event.run_id); closed != closed_.end()) {
    return Error(ErrorCode::internal, "event seq " + std::to_string(event.seq) + " for run " + event.run_id +
                                          ": not written, an earlier event of the run failed (" + closed->second + ")");
  }
  auto cursor = cursors_.find(event.run_id);
  if (cursor == cursors_.end()) {
    auto q = conn_.query("SELECT last_seq FROM agent_runs WHERE id = ?1");
    if (!q) return std::move(q).error();
    q->bind(1, event.run_id);
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) return refuse(event, "no such run");
    cursor = cursors_.emplace(event.run_id, Cursor{q->int64(0), false}).first;
  }
  if (event.seq != cursor->second.last_seq + 1) {
    return refuse(event, "expected " + std::to_string(cursor->second.last_seq + 1));
  }
  if (auto st = insert_event(conn_, event); !st) {
    if (st.error().code == ErrorCode::store_unavailable) return st;
    return refuse(event, st.error().message);
  }
  cursor->second.last_seq = event.seq;
  cursor->second.dirty = true;
  if (event.approval) {
    if (auto st = apply_approval_change(conn_, event); !st) {
      return st.error().code == ErrorCode::store_unavailable ? st : refuse(event, st.error().message);
    }
  }
  if (event.usage) {
    if (auto st = insert_usage(conn_, event); !st) {
      return st.error().code == ErrorCode::store_unavailable ? st : refuse(event, st.error().message);
    }
  }
  if (event.final_status) {
    if (!is_terminal(*event.final_status)) return refuse(event, "final_status must be a terminal status");
    auto status = conn_.query(
        "UPDATE agent_runs SET status = ?2, error_code = ?3, updated_at = ?4 "
        "WHERE id = ?1 AND status IN ('queued', 'running')");
    if (!status) return std::move(status).error();
    status->bind(1, event.run_id)
        .bind(2, to_string(*event.final_status))
        .bind(3, event.error_code)
        .bind(4, event.time_us);
    if (auto st = status->run(); !st)
      return st.error().code == ErrorCode::store_unavailable ? st : refuse(event, st.error().message);
  }
  return {};
}

Status EventAppender::settle() {
  for (auto& [run_id, cursor] : cursors_) {
    if (!cursor.dirty) continue;
    auto q = conn_.query("UPDATE agent_runs SET last_seq = ?2 WHERE id = ?1");
    if (!q) return std::move(q).error();
    q->bind(1, run_id).bind(2, cursor.last_seq);
    if (auto st = q->run(); !st) return st;
    cursor.dirty = false;
  }
  return {};
}

}  // namespace runhost::store
