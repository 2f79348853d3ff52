// The SQLite store behind Store: the writer thread for every write, a pool of read
// connections, and one more connection for data_version (whose value only means something
// compared with itself).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "store/commit_signal.hpp"
#include "store/reader_pool.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace runhost::store {

class SqliteStore final : public Store {
 public:
  SqliteStore(std::filesystem::path path, std::unique_ptr<sqlite::Connection> writer,
              std::unique_ptr<sqlite::Connection> version_reader, int group_commit_window_us, int busy_timeout_ms);
  ~SqliteStore() override = default;  // the writer drains its queue first

  const std::filesystem::path& path() const noexcept override { return path_; }

  Result<Created> create_run(const NewRun& run, const std::vector<RunCap>& caps) override;
  Status set_status(std::string_view run_id, RunStatus status, std::optional<std::string> error_code) override;
  Status request_cancel(std::string_view run_id) override;
  Status add_artifact(const ArtifactRow& artifact) override;
  Status assign_device(const DeviceAssignment& assignment) override;
  Result<std::optional<std::string>> current_device(std::string_view tenant_id, std::string_view project_id,
                                                    std::string_view device_type) override;
  void append(EventRow event, std::function<void(const Status&)> on_durable) override;
  void set_commit_sink(CommitSink sink) override;
  Status flush() override;
  Result<bool> finish_orphan(std::string_view run_id, const Owner& owner, MakeTerminal make_terminal) override;

  Result<std::optional<RunRow>> run(std::string_view run_id) override;
  Result<std::vector<RunRow>> runs(const RunFilter& filter) override;
  Result<std::vector<EventRow>> events(std::string_view run_id, int64_t after_seq, size_t limit) override;
  Status answer_approval(std::string_view run_id, std::string_view approval_id, const ApprovalAnswer& answer) override;
  Result<std::optional<ApprovalRow>> approval(std::string_view approval_id) override;
  Result<std::vector<ApprovalRow>> pending_approvals(const std::optional<std::string>& tenant_id) override;
  Result<std::vector<ArtifactRow>> artifacts(std::string_view run_id) override;
  Result<std::vector<UsageTotal>> usage(const UsageFilter& filter) override;
  Result<std::vector<RunRow>> active_runs() override;
  Status add_grant(const GrantRow& grant, std::string_view secret_json) override;
  Result<std::vector<GrantRow>> grants(const GrantFilter& filter) override;
  Result<bool> revoke_grant(std::string_view grant_id, const std::optional<std::string>& tenant_id) override;
  Result<std::optional<GrantInUse>> grant_for(std::string_view tenant_id, std::string_view user_id,
                                              std::string_view connector, int64_t now_us) override;
  Result<int64_t> data_version() override;

 private:
  const std::filesystem::path path_;
  ReaderPool readers_;
  std::mutex version_mutex_;
  std::unique_ptr<sqlite::Connection> version_reader_;  // guarded by version_mutex_
  CommitSignal commit_signal_;                          // writer thread only
  Writer writer_;                                       // last: destroyed first, so its drain still has everything else
};

}  // namespace runhost::store
