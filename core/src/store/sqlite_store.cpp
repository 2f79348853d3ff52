#include "store/sqlite_store.hpp"

#include "store/grants.hpp"
#include "store/open_file.hpp"
#include "store/queries.hpp"
#include "store/usage.hpp"
#include "store/write_ops.hpp"

namespace runhost::store {

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& path, const StoreOptions& options) {
  if (path.has_parent_path()) {
    if (auto st = create_store_directory(path.parent_path()); !st) return std::move(st).error();
  }
  auto writer = open_writer(path, options);
  if (!writer) return std::move(writer).error();
  auto version_reader = open_reader(path, options.busy_timeout_ms);
  if (!version_reader) return std::move(version_reader).error();
  return std::unique_ptr<Store>(new SqliteStore(path, std::move(*writer), std::move(*version_reader),
                                                options.group_commit_window_us, options.busy_timeout_ms));
}

SqliteStore::SqliteStore(std::filesystem::path path, std::unique_ptr<sqlite::Connection> writer,
                         std::unique_ptr<sqlite::Connection> version_reader, int group_commit_window_us,
                         int busy_timeout_ms)
    : path_(std::move(path)),
      readers_(path_, busy_timeout_ms),
      version_reader_(std::move(version_reader)),
      commit_signal_(path_),
      writer_(std::move(writer), group_commit_window_us, [this] { commit_signal_.notify(); }) {}

Result<Store::Created> SqliteStore::create_run(const NewRun& run, const std::vector<RunCap>& caps) {
  std::optional<Created> created;
  auto insert = [&](sqlite::Connection& conn, int64_t now_us) -> Status {
    auto inserted = insert_run(conn, run, now_us, caps);
    if (!inserted) return std::move(inserted).error();
    created = std::move(*inserted);
    return {};
  };
  // Nothing queued concerns a run not yet created: its row goes ahead of other runs' events,
  // unless caps count what queued events change (spend in usage rows, runs that a queued
  // terminal event ends): then it counts after them, as it always did.
  auto st = caps.empty() ? writer_.call_ahead(insert) : writer_.call(insert);
  if (!st) return std::move(st).error();
  return std::move(*created);
}

Status SqliteStore::set_status(std::string_view run_id, RunStatus status, std::optional<std::string> error_code) {
  return writer_.call([&](sqlite::Connection& conn, int64_t now_us) {
    return update_status(conn, run_id, status, error_code, now_us);
  });
}

Result<bool> SqliteStore::finish_orphan(std::string_view run_id, const Owner& owner, MakeTerminal make_terminal) {
  bool finished = false;
  auto st = writer_.call([&](sqlite::Connection& conn, int64_t) -> Status {
    auto done = end_orphan(conn, run_id, owner, make_terminal);
    if (!done) return std::move(done).error();
    finished = *done;
    return {};
  });
  if (!st) return std::move(st).error();
  return finished;
}

Status SqliteStore::request_cancel(std::string_view run_id) {
  return writer_.call(
      [&](sqlite::Connection& conn, int64_t now_us) { return mark_cancel_requested(conn, run_id, now_us); });
}

Status SqliteStore::add_artifact(const ArtifactRow& artifact) {
  return writer_.call([&](sqlite::Connection& conn, int64_t) { return insert_artifact(conn, artifact); });
}

Status SqliteStore::assign_device(const DeviceAssignment& assignment) {
  return writer_.call([&](sqlite::Connection& conn, int64_t now_us) { return write_device(conn, assignment, now_us); });
}

Result<std::optional<std::string>> SqliteStore::current_device(std::string_view tenant_id, std::string_view project_id,
                                                               std::string_view device_type) {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_current_device(**conn, tenant_id, project_id, device_type);
}

void SqliteStore::append(EventRow event, std::function<void(const Status&)> on_durable) {
  writer_.append(std::move(event), std::move(on_durable));
}

void SqliteStore::set_commit_sink(CommitSink sink) {
  writer_.set_commit_sink(std::move(sink));
}

Status SqliteStore::flush() {
  return writer_.call(nullptr);
}

Result<std::optional<RunRow>> SqliteStore::run(std::string_view run_id) {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_run(**conn, run_id);
}

Result<std::vector<RunRow>> SqliteStore::runs(const RunFilter& filter) {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_runs(**conn, filter);
}

Result<std::vector<EventRow>> SqliteStore::events(std::string_view run_id, int64_t after_seq, size_t limit) {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_events(**conn, run_id, after_seq, limit);
}

Result<std::vector<ArtifactRow>> SqliteStore::artifacts(std::string_view run_id) {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_artifacts(**conn, run_id);
}

Status SqliteStore::answer_approval(std::string_view run_id, std::string_view approval_id,
                                    const ApprovalAnswer& answer) {
  return writer_.call([&](sqlite::Connection& conn, int64_t now_us) {
    return write_answer(conn, run_id, approval_id, answer, now_us);
  });
}

Result<std::optional<ApprovalRow>> SqliteStore::approval(std::string_view approval_id) {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_approval(**conn, approval_id);
}

Result<std::vector<ApprovalRow>> SqliteStore::pending_approvals(const std::optional<std::string>& tenant_id) {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_pending_approvals(**conn, tenant_id);
}

Result<std::vector<UsageTotal>> SqliteStore::usage(const UsageFilter& filter) {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_usage(**conn, filter);
}

Result<std::vector<RunRow>> SqliteStore::active_runs() {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_active_runs(**conn);
}

Status SqliteStore::add_grant(const GrantRow& grant, std::string_view secret_json) {
  return writer_.call([&](sqlite::Connection& conn, int64_t) { return insert_grant(conn, grant, secret_json); });
}

Result<std::vector<GrantRow>> SqliteStore::grants(const GrantFilter& filter) {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_grants(**conn, filter);
}

Result<bool> SqliteStore::revoke_grant(std::string_view grant_id, const std::optional<std::string>& tenant_id) {
  bool found = false;
  auto st = writer_.call([&](sqlite::Connection& conn, int64_t now_us) -> Status {
    auto revoked = mark_grant_revoked(conn, grant_id, tenant_id, now_us);
    if (!revoked) return std::move(revoked).error();
    found = *revoked;
    return {};
  });
  if (!st) return std::move(st).error();
  return found;
}

Result<std::optional<GrantInUse>> SqliteStore::grant_for(std::string_view tenant_id, std::string_view user_id,
                                                         std::string_view connector, int64_t now_us) {
  auto conn = readers_.lease();
  if (!conn) return std::move(conn).error();
  return select_grant_for(**conn, tenant_id, user_id, connector, now_us);
}

Result<int64_t> SqliteStore::data_version() {
  std::lock_guard lock(version_mutex_);
  return version_reader_->scalar_int("PRAGMA data_version");
}

}  // namespace runhost::store
