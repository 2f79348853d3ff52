#include "store/usage.hpp"

namespace runhost::store {
namespace {

// One statement per leading condition, so that each uses its index (an "?N IS NULL OR ..."
// term cannot): the rest of the filter follows every one of them.
#define RUNHOST_USAGE_SUMS                                                                            \
  "SELECT source, total(cost_usd), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), " \
  "coalesce(sum(cached_input_tokens), 0), count(*) FROM usage_ledger WHERE "
#define RUNHOST_USAGE_REST                                                                                       \
  " AND (?1 IS NULL OR tenant_id = ?1) AND (?2 IS NULL OR user_id = ?2) AND (?3 IS NULL OR workspace_id = ?3) "  \
  "AND (?4 IS NULL OR run_id = ?4) AND (?5 IS NULL OR run_id <> ?5) AND at_us >= ?6 AND (?7 = 0 OR at_us < ?7) " \
  "GROUP BY source ORDER BY 2 DESC, 1"

const char* usage_sql(const UsageFilter& f) {
  if (f.run_id) return RUNHOST_USAGE_SUMS "run_id = ?4" RUNHOST_USAGE_REST;
  if (f.tenant_id && f.user_id) return RUNHOST_USAGE_SUMS "tenant_id = ?1 AND user_id = ?2" RUNHOST_USAGE_REST;
  if (f.tenant_id && f.workspace_id)
    return RUNHOST_USAGE_SUMS "tenant_id = ?1 AND workspace_id = ?3" RUNHOST_USAGE_REST;
  if (f.tenant_id) return RUNHOST_USAGE_SUMS "tenant_id = ?1" RUNHOST_USAGE_REST;
  return RUNHOST_USAGE_SUMS "1" RUNHOST_USAGE_REST;
}

#undef RUNHOST_USAGE_SUMS
#undef RUNHOST_USAGE_REST

std::optional<std::string> user_of(const NewRun& run, RunCap::Of of) {
  return of == RunCap::Of::user ? std::optional<std::string>(run.user_id) : std::nullopt;
}

std::optional<std::string> workspace_of(const NewRun& run, RunCap::Of of) {
  return of == RunCap::Of::workspace ? std::optional<std::string>(run.workspace_id) : std::nullopt;
}

// What one cap counts for `run`, and (runs_since) the oldest run counted or (spend) the source
// that spent the most.
Result<CapReached> count_for(sqlite::Connection& conn, const NewRun& run, const RunCap& cap) {
  const auto user = user_of(run, cap.of);  // bound without a copy: must outlive the query
  const auto workspace = workspace_of(run, cap.of);
  CapReached counted;
  if (cap.kind == RunCap::Kind::live_runs || cap.kind == RunCap::Kind::runs_since) {
    // The live-run count matches agent_runs_live's WHERE, so it reads that partial index.
    auto q = cap.kind == RunCap::Kind::live_runs
                 ? conn.query(
                       "SELECT count(*), 0 FROM agent_runs WHERE tenant_id = ?1 AND (?2 IS NULL OR user_id = ?2) "
                       "AND (?3 IS NULL OR workspace_id = ?3) AND status IN ('queued', 'running')")
                 : conn.query(
                       "SELECT count(*), coalesce(min(created_at), 0) FROM agent_runs WHERE tenant_id = ?1 "
                       "AND (?2 IS NULL OR user_id = ?2) AND (?3 IS NULL OR workspace_id = ?3) "
                       "AND created_at >= ?4");
    if (!q) return std::move(q).error();
    q->bind(1, run.tenant_id).bind(2, user).bind(3, workspace);
    if (cap.kind == RunCap::Kind::runs_since) q->bind(4, cap.since_us);
    auto row = q->step();
    if (!row) return std::move(row).error();
    counted.used = static_cast<double>(q->int64(0));
    counted.oldest_us = q->int64(1);
    return counted;
  }
  UsageFilter filter;
  filter.tenant_id = run.tenant_id;
  filter.user_id = user;
  filter.workspace_id = workspace;
  filter.since_us = cap.since_us;
  auto totals = select_usage(conn, filter);
  if (!totals) return std::move(totals).error();
  double top = -1;
  for (const auto& t : *totals) {
    const double used =
        cap.kind == RunCap::Kind::usd_since ? t.cost_usd : static_cast<double>(t.input_tokens + t.output_tokens);
    counted.used += used;
    if (used > top) {
      top = used;
      counted.top_source = t.source;
    }
  }
  return counted;
}

}  // namespace

Status insert_usage(sqlite::Connection& conn, const EventRow& event) {
  const UsageEntry& u = *event.usage;
  auto q = conn.query(
      "INSERT INTO usage_ledger (run_id, seq, tenant_id, workspace_id, user_id, source, model, cost_usd, input_tokens, "
      "output_tokens, cached_input_tokens, at_us) "
      "SELECT id, ?2, tenant_id, workspace_id, user_id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM agent_runs WHERE id = ?1");
  if (!q) return std::move(q).error();
  q->bind(1, event.run_id).bind(2, event.seq).bind(3, u.source).bind(4, u.model).bind_real(5, u.cost_usd);
  q->bind(6, u.input_tokens).bind(7, u.output_tokens).bind(8, u.cached_input_tokens).bind(9, event.time_us);
  if (auto st = q->run(); !st) return st;
  if (conn.changes() == 0) return Error(ErrorCode::internal, "usage of run " + event.run_id + ": no such run");
  return {};
}

Result<std::vector<UsageTotal>> select_usage(sqlite::Connection& conn, const UsageFilter& filter) {
  auto q = conn.query(usage_sql(filter));
  if (!q) return std::move(q).error();
  q->bind(1, filter.tenant_id).bind(2, filter.user_id).bind(3, filter.workspace_id).bind(4, filter.run_id);
  q->bind(5, filter.except_run_id).bind(6, filter.since_us).bind(7, filter.until_us);
  std::vector<UsageTotal> totals;
  for (;;) {
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) return totals;
    totals.push_back(UsageTotal{q->text(0), q->real(1), q->int64(2), q->int64(3), q->int64(4), q->int64(5)});
  }
}

Result<std::optional<CapReached>> first_cap_reached(sqlite::Connection& conn, const NewRun& run,
                                                    const std::vector<RunCap>& caps) {
  for (size_t i = 0; i < caps.size(); ++i) {
    auto counted = count_for(conn, run, caps[i]);
    if (!counted) return std::move(counted).error();
    if (counted->used >= caps[i].max) {
      counted->index = i;
      return std::optional<CapReached>(std::move(*counted));
    }
  }
  return std::optional<CapReached>();
}

}  // namespace runhost::store
