#include "store/grants.hpp"

#include <limits>

namespace runhost::store {
namespace {

// expires_at and revoked_at are NULL for "never" and "not revoked": each is read with a flag
// column beside it, since a NULL integer reads as 0.
#define RUNHOST_GRANT_COLUMNS                                                                 \
  "g.id, g.tenant_id, g.user_id, g.connector, g.scopes_json, g.metadata_json, g.created_at, " \
  "coalesce(g.expires_at, 0), g.expires_at IS NOT NULL, coalesce(g.revoked_at, 0), g.revoked_at IS NOT NULL"

GrantRow grant_from(const sqlite::Query& q) {
  GrantRow g;
  g.id = q.text(0);
  g.tenant_id = q.text(1);
  g.user_id = q.text(2);
  g.connector = q.text(3);
  g.scopes_json = q.text(4);
  g.metadata_json = q.text(5);
  g.created_us = q.int64(6);
  if (q.int64(8) != 0) g.expires_us = q.int64(7);
  if (q.int64(10) != 0) g.revoked_us = q.int64(9);
  return g;
}

}  // namespace

Status insert_grant(sqlite::Connection& conn, const GrantRow& grant, std::string_view secret_json) {
  auto q = conn.query(
      "INSERT INTO grants (id, tenant_id, user_id, connector, scopes_json, metadata_json, created_at, expires_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, nullif(?8, 0))");
  if (!q) return std::move(q).error();
  q->bind(1, grant.id).bind(2, grant.tenant_id).bind(3, grant.user_id).bind(4, grant.connector);
  q->bind(5, grant.scopes_json).bind(6, grant.metadata_json).bind(7, grant.created_us);
  q->bind(8, grant.expires_us.value_or(0));
  if (auto st = q->run(); !st) return st;
  auto secret = conn.query("INSERT INTO grant_secrets (grant_id, secret_json) VALUES (?1, ?2)");
  if (!secret) return std::move(secret).error();
  secret->bind(1, grant.id).bind(2, secret_json);
  return secret->run();
}

Result<bool> mark_grant_revoked(sqlite::Connection& conn, std::string_view grant_id,
                                const std::optional<std::string>& tenant_id, int64_t now_us) {
  auto q = conn.query(
      "UPDATE grants SET revoked_at = coalesce(revoked_at, ?3) WHERE id = ?1 AND (?2 IS NULL OR tenant_id = ?2)");
  if (!q) return std::move(q).error();
  q->bind(1, grant_id).bind(2, tenant_id).bind(3, now_us);
  if (auto st = q->run(); !st) return std::move(st).error();
  if (conn.changes() == 0) return false;
  // A revoked grant is never used again: its secret has no reason to stay on disk.
  auto secret = conn.query("DELETE FROM grant_secrets WHERE grant_id = ?1");
  if (!secret) return std::move(secret).error();
  secret->bind(1, grant_id);
  if (auto st = secret->run(); !st) return std::move(st).error();
  return true;
}

Result<std::vector<GrantRow>> select_grants(sqlite::Connection& conn, const GrantFilter& filter) {
  auto q = conn.query("SELECT " RUNHOST_GRANT_COLUMNS
                      " FROM grants g WHERE (?1 IS NULL OR g.tenant_id = ?1) AND (?2 IS NULL OR g.user_id = ?2) "
                      "AND (?3 IS NULL OR g.connector = ?3) AND (?4 OR g.revoked_at IS NULL) "
                      "AND (?5 OR g.expires_at IS NULL OR g.expires_at > ?6) "
                      "ORDER BY g.created_at DESC, g.id DESC LIMIT ?7");
  if (!q) return std::move(q).error();
  const auto limit = std::min<size_t>(filter.limit, std::numeric_limits<int64_t>::max());
  q->bind(1, filter.tenant_id).bind(2, filter.user_id).bind(3, filter.connector);
  q->bind(4, int64_t{filter.include_revoked}).bind(5, int64_t{filter.include_expired}).bind(6, filter.now_us);
  q->bind(7, static_cast<int64_t>(limit));
  std::vector<GrantRow> rows;
  for (;;) {
    auto row = q->step();
    if (!row) return std::move(row).error();
    if (!*row) return rows;
    rows.push_back(grant_from(*q));
  }
}

Result<std::optional<GrantInUse>> select_grant_for(sqlite::Connection& conn, std::string_view tenant_id,
                                                   std::string_view user_id, std::string_view connector,
                                                   int64_t now_us) {
  // Usable first, then the newest: an expired grant is returned only when no usable one exists.
  auto q = conn.query("SELECT " RUNHOST_GRANT_COLUMNS
                      ", (g.expires_at IS NULL OR g.expires_at > ?4), coalesce(s.secret_json, '') "
                      "FROM grants g LEFT JOIN grant_secrets s ON s.grant_id = g.id "
                      "WHERE g.tenant_id = ?1 AND g.user_id = ?2 AND g.connector = ?3 AND g.revoked_at IS NULL "
                      "ORDER BY 12 DESC, g.created_at DESC, g.id DESC LIMIT 1");
  if (!q) return std::move(q).error();
  q->bind(1, tenant_id).bind(2, user_id).bind(3, connector).bind(4, now_us);
  auto row = q->step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<GrantInUse>();
  GrantInUse found{grant_from(*q), q->int64(11) != 0 ? q->text(12) : std::string()};
  return std::optional<GrantInUse>(std::move(found));
}

#undef RUNHOST_GRANT_COLUMNS

}  // namespace runhost::store
