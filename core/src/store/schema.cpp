#include "store/schema.hpp"

#include <array>

namespace runhost::store {
namespace {

// Version 1: the seed's agent_runs, agent_run_events, agent_artifacts and projects (with every
// seed column, used or not yet), plus approvals and connector grants. Times are integer
// microseconds since the epoch. Plain CREATE TABLE, not IF NOT EXISTS: a file that already has
// such a table at version 0 is somebody else's database, and we leave it alone.
constexpr const char* kVersion1 = R"sql(
CREATE TABLE agent_runs (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  project_id TEXT,
  user_id TEXT NOT NULL,
  prompt TEXT NOT NULL,
  runtime TEXT NOT NULL,
  device_type TEXT NOT NULL,
  device_id TEXT NOT NULL,
  sandbox_id TEXT,
  computer_id TEXT,
  deployment_id TEXT,
  cwd TEXT,
  approval_policy TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  idempotency_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  dispatch_json TEXT NOT NULL,
  error_code TEXT,
  last_seq INTEGER NOT NULL DEFAULT 0,
  owner_pid INTEGER NOT NULL DEFAULT 0,
  owner_start_time INTEGER NOT NULL DEFAULT 0,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX agent_runs_by_created ON agent_runs (created_at);
CREATE INDEX agent_runs_by_tenant ON agent_runs (tenant_id, created_at);
CREATE INDEX agent_runs_by_status ON agent_runs (status, created_at);

-- Append-only: the code has no UPDATE or DELETE for this table. payload_json keeps the seed's
-- name but holds the complete event envelope, exactly as delivered to subscribers.
CREATE TABLE agent_run_events (
  run_id TEXT NOT NULL REFERENCES agent_runs (id),
  seq INTEGER NOT NULL CHECK (seq > 0),
  id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  payload_json TEXT NOT NULL,
  request_id TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE agent_artifacts (
  id TEXT PRIMARY KEY NOT NULL,
  run_id TEXT NOT NULL REFERENCES agent_runs (id),
  miosa_artifact_id TEXT,
  path TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  preview_url TEXT,
  download_url TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX agent_artifacts_by_run ON agent_artifacts (run_id, created_at);

CREATE TABLE projects (
  id TEXT PRIMARY KEY NOT NULL,
  current_sandbox_id TEXT,
  current_computer_id TEXT,
  current_deployment_id TEXT,
  primary_device_type TEXT,
  primary_device_id TEXT
);

-- seq: the approval.required event that asked.
CREATE TABLE approvals (
  id TEXT PRIMARY KEY NOT NULL,
  run_id TEXT NOT NULL REFERENCES agent_runs (id),
  seq INTEGER NOT NULL,
  action_json TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'allowed', 'denied')),
  decided_by TEXT,
  reason TEXT,
  created_at INTEGER NOT NULL,
  decided_at INTEGER,
  UNIQUE (run_id, seq)
);

-- grant_json is a reference to the credential and its metadata, never the secret itself.
-- scopes: a JSON array of strings.
CREATE TABLE connector_grants (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  connector TEXT NOT NULL,
  grant_json TEXT NOT NULL,
  scopes TEXT NOT NULL DEFAULT '[]',
  expires_at INTEGER,
  created_at INTEGER NOT NULL,
  UNIQUE (tenant_id, user_id, connector)
);

PRAGMA user_version = 1;
)sql";

// Version 2: a run's owner is a host id (whose lock file says whether the host lives), written
// in the run's own INSERT. Version-1 rows keep NULL and are judged by owner_pid as before.
constexpr const char* kVersion2 = R"sql(
ALTER TABLE agent_runs ADD COLUMN owner_host TEXT;
PRAGMA user_version = 2;
)sql";

// Version 3: approvals answered from any process sharing the store. A pending approval has a
// deadline; an answer (answer*) is written by whoever answers and applied by the run's host,
// which then settles the approval (status, decided_*, scope, source) with its
// approval.resolved event.
constexpr const char* kVersion3 = R"sql(
ALTER TABLE approvals ADD COLUMN deadline_at INTEGER;
ALTER TABLE approvals ADD COLUMN answer TEXT;
ALTER TABLE approvals ADD COLUMN answer_scope TEXT;
ALTER TABLE approvals ADD COLUMN answer_reason TEXT;
ALTER TABLE approvals ADD COLUMN answered_by TEXT;
ALTER TABLE approvals ADD COLUMN answered_at INTEGER;
ALTER TABLE approvals ADD COLUMN scope TEXT;
ALTER TABLE approvals ADD COLUMN source TEXT;
CREATE INDEX approvals_pending ON approvals (status, created_at);
PRAGMA user_version = 3;
)sql";

// Version 4: connector grants, durable and many per (tenant, user, connector): a grant that
// expires or is revoked stays listed, and a newer one takes over. The secret material (the
// tokens a connector turns into a run's credentials) lives apart in grant_secrets: nothing
// that lists grants or writes events reads that table, and revoking a grant deletes its row.
// Version 1's connector_grants (one grant per user and connector, no secret) was never
// written by any version; it is left as it is. Times are microseconds; scopes_json a JSON
// array of strings, metadata_json a JSON object the caller gave (never secret).
constexpr const char* kVersion4 = R"sql(
CREATE TABLE grants (
  id TEXT PRIMARY KEY NOT NULL,
  tenant_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  connector TEXT NOT NULL,
  scopes_json TEXT NOT NULL DEFAULT '[]',
  metadata_json TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX grants_by_owner ON grants (tenant_id, user_id, connector, created_at);
CREATE TABLE grant_secrets (
  grant_id TEXT PRIMARY KEY NOT NULL REFERENCES grants (id),
  secret_json TEXT NOT NULL
);
PRAGMA user_version = 4;
)sql";

// Version 5: budgets and quotas. usage_ledger has one row per usage event (run_id, seq name
// it), written in the event's transaction, with the run's tenant, workspace and user copied so
// that spend is summed per user per day or per tenant per month without a join; cost_usd is a
// double, tokens integers, at_us the event's time. agent_runs gains an index per user and a
// partial index of the runs queued or running, which the quotas count at every dispatch.
constexpr const char* kVersion5 = R"sql(
CREATE TABLE usage_ledger (
  run_id TEXT NOT NULL REFERENCES agent_runs (id),
  seq INTEGER NOT NULL,
  tenant_id TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  source TEXT NOT NULL,
  model TEXT,
  cost_usd REAL NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cached_input_tokens INTEGER NOT NULL DEFAULT 0,
  at_us INTEGER NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX usage_by_tenant ON usage_ledger (tenant_id, at_us);
CREATE INDEX usage_by_user ON usage_ledger (tenant_id, user_id, at_us);
CREATE INDEX usage_by_workspace ON usage_ledger (tenant_id, workspace_id, at_us);
CREATE INDEX agent_runs_by_user ON agent_runs (tenant_id, user_id, created_at);
CREATE INDEX agent_runs_live ON agent_runs (tenant_id, user_id, workspace_id)
  WHERE status IN ('queued', 'running');
PRAGMA user_version = 5;
)sql";

// Version 6: devices. A project's current sandbox or computer (the seed's projects table) is
// written by the runs that resolve one, and read back only by the same tenant's.
constexpr const char* kVersion6 = R"sql(
ALTER TABLE projects ADD COLUMN tenant_id TEXT;
ALTER TABLE projects ADD COLUMN updated_at INTEGER;
PRAGMA user_version = 6;
)sql";

Status to_version_1(sqlite::Connection& conn) {
  return conn.exec(kVersion1, "creating the schema");
}

Status to_version_2(sqlite::Connection& conn) {
  return conn.exec(kVersion2, "adding run owners (schema version 2)");
}

Status to_version_3(sqlite::Connection& conn) {
  return conn.exec(kVersion3, "adding approvals answered from any process (schema version 3)");
}

Status to_version_4(sqlite::Connection& conn) {
  return conn.exec(kVersion4, "adding connector grants (schema version 4)");
}

Status to_version_5(sqlite::Connection& conn) {
  return conn.exec(kVersion5, "adding the usage ledger (schema version 5)");
}

Status to_version_6(sqlite::Connection& conn) {
  return conn.exec(kVersion6, "adding the projects' devices (schema version 6)");
}

using Migration = Status (*)(sqlite::Connection&);
// kMigrations[i] takes a file from version i to i + 1 and sets user_version to i + 1.
constexpr std::array<Migration, 6> kMigrations = {to_version_1, to_version_2, to_version_3,
                                                  to_version_4, to_version_5, to_version_6};

}  // namespace

int latest_schema_version() noexcept {
  return static_cast<int>(kMigrations.size());
}

Status check_schema(sqlite::Connection& conn) {
  // One statement, so one snapshot: read apart, another host's migration could commit between
  // the version (0) and the table count (> 0), and a fresh store look like somebody else's.
  auto q = conn.query("SELECT user_version, (SELECT count(*) FROM sqlite_schema) FROM pragma_user_version");
  if (!q) return std::move(q).error();
  auto row = q->step();
  if (!row) return std::move(row).error();
  const int64_t version = *row ? q->int64(0) : 0;
  const int64_t tables = *row ? q->int64(1) : 0;
  const std::string store = "store " + conn.path().string();
  if (version > latest_schema_version()) {
    return Error(ErrorCode::store_unavailable, store + " has schema version " + std::to_string(version) +
                                                   ", newer than this runhost knows (" +
                                                   std::to_string(latest_schema_version()) + ")");
  }
  if (version == 0 && tables > 0) {
    return Error(ErrorCode::store_unavailable, store +
                                                   " is a database of something else (it has tables, but no "
                                                   "runhost schema version)");
  }
  return {};
}

Status migrate(sqlite::Connection& conn) {
  // Again under the write lock: another process may have migrated the file meanwhile.
  if (auto st = check_schema(conn); !st) return st;
  auto version = conn.scalar_int("PRAGMA user_version");
  if (!version) return std::move(version).error();
  for (auto v = static_cast<size_t>(*version); v < kMigrations.size(); ++v) {
    if (auto st = kMigrations[v](conn); !st) {
      // Whatever stops a migration (a lock, a full disk, a table of somebody else's) leaves a
      // file this build cannot use.
      Error error = std::move(st).error();
      error.code = ErrorCode::store_unavailable;
      return error;
    }
  }
  return {};
}

}  // namespace runhost::store
