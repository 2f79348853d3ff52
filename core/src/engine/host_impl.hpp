// The Host behind runhost/host.hpp: the store, the plugins, the reactor thread, the runs in
// progress and the subscribers.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "devices/device.hpp"
#include "devices/local/local_device.hpp"
#include "devices/local/watchdog.hpp"
#include "devices/sandbox/miosa_client.hpp"
#include "engine/active_run.hpp"
#include "engine/limits.hpp"
#include "engine/policy_gate.hpp"
#include "http/curl_multi.hpp"
#include "plugins/registry.hpp"
#include "runhost/host.hpp"
#include "store/host_lock.hpp"
#include "store/store.hpp"

namespace runhost::engine {

struct SubscriptionState;

class HostImpl final : public Host {
 public:
  static Result<std::unique_ptr<Host>> open(HostOptions options);
  // The MIOSA configuration HostOptions::miosa and the environment give; nothing when there is
  // no key (no sandbox device), an error when what is given is unusable.
  static Result<std::optional<devices::sandbox::MiosaConfig>> miosa_config(const HostOptions& options);
  ~HostImpl() override;

  Result<DispatchResult> dispatch(std::string_view dispatch_json, const Scope& scope) override;
  Status cancel(std::string_view run_id, const Scope& scope) override;
  Status answer_approval(std::string_view run_id, std::string_view approval_id, const ApprovalDecision& decision,
                         const Scope& scope) override;
  Result<std::vector<PendingApproval>> pending_approvals(const Scope& scope) override;
  Result<std::optional<RunInfo>> run(std::string_view run_id, const Scope& scope) override;
  Result<std::vector<RunInfo>> runs(const RunQuery& query, const Scope& scope) override;
  Result<std::vector<Event>> events(std::string_view run_id, int64_t after_seq, size_t limit,
                                    const Scope& scope) override;
  Result<std::unique_ptr<Subscription>> subscribe(std::string_view run_id, int64_t after_seq, EventCallback on_event,
                                                  EndCallback on_end, const Scope& scope) override;
  // Connector grants: grants.cpp.
  Result<GrantInfo> add_grant(const GrantInput& input, const Scope& scope) override;
  Result<std::vector<GrantInfo>> grants(const GrantQuery& query, const Scope& scope) override;
  Status revoke_grant(std::string_view grant_id, const Scope& scope) override;
  Result<std::vector<UsageTotal>> usage(const UsageQuery& query, const Scope& scope) override;
  const PluginRegistry& plugins() const noexcept override { return *registry_; }
  const std::filesystem::path& store_path() const noexcept override { return store_->path(); }

  // For ActiveRun (reactor thread).
  boost::asio::io_context& io() noexcept { return io_; }
  // Where blocking device work runs (spawning processes): never the reactor.
  boost::asio::any_io_executor spawner() { return spawner_.get_executor(); }
  // Where a run's end sweeps for escaped processes (blocking, brief): not the spawner, so that a
  // run ending never delays another's start.
  boost::asio::any_io_executor sweeper() { return workers_.get_executor(); }
  store::Store& store() noexcept { return *store_; }
  const HostOptions& options() const noexcept { return options_; }
  const std::string& host_id() const noexcept { return self_.host_id; }
  const PolicyGate& policies() const noexcept { return *policies_; }
  const Limits& limits() const noexcept { return limits_; }
  plugins::ConnectorInstance* connector(const std::string& id) const;
  std::string plugin_config(const plugins::LoadedPlugin& plugin) const;
  // Runs `work` on a worker thread, then `done` on the reactor (blocking calls: connectors, store writes).
  void on_worker(std::function<void()> work, std::function<void()> done = {});
  void event_durable(const std::string& run_id);  // wakes the run's subscribers: they read the store
  void run_done(const std::string& run_id);
  // Every run's events appended and not yet durable (reactor only). Above kQueuedPauseAbove each
  // run that appends pauses its output (a run's own limit is higher than one run can reach
  // alone), so the writer's queue, and a new run's first event behind it, stays short with many
  // runs at once; they resume once it is below kQueuedResumeBelow.
  static constexpr int64_t kQueuedPauseAbove = 16384;
  static constexpr int64_t kQueuedResumeBelow = 4096;
  void event_queued() noexcept { ++queued_events_; }
  void event_stored() noexcept { --queued_events_; }
  bool store_backlogged() const noexcept { return queued_events_ > kQueuedPauseAbove; }
  bool store_caught_up() const noexcept { return queued_events_ < kQueuedResumeBelow; }
  // Resumes `run` (ActiveRun::store_caught_up) once the store has caught up.
  void hold_for_store(std::weak_ptr<ActiveRun> run) { held_for_store_.push_back(std::move(run)); }
  // A run of this host waits for (or no longer waits for) an answer that any process may record:
  // while one does, the store's commits are watched, and each wakes its check_answer().
  void awaiting_answer(const std::string& run_id, bool waiting);
  // The store refused the run's events: its subscribers end with `error`, and its run.failed is
  // written by the sweep once the store takes writes again (or by the next host, device_lost).
  void run_unrecorded(const std::string& run_id, const Error& error);

 private:
  HostImpl(HostOptions options, std::unique_ptr<store::Store> store, std::string host_id, store::HostLock lock,
           std::shared_ptr<const PluginRegistry> registry, std::unique_ptr<PolicyGate> policies,
           std::map<std::string, std::unique_ptr<plugins::ConnectorInstance>> connectors, Limits limits,
           std::optional<devices::sandbox::MiosaConfig> miosa);
  void recover_orphans();  // worker thread
  void sweep();            // worker thread
  void schedule_sweep();
  void store_lost(const Error& error);  // reactor
  std::optional<Error> unrecorded(const std::string& run_id);
  // The run, if it exists and `scope` sees it; else run_not_found (the same error either way).
  Result<store::RunRow> visible_run(std::string_view run_id, const Scope& scope);
  Status check_with_adapter(const Dispatch& d, const plugins::LoadedPlugin& adapter, const std::string& cwd);
  void start_run(store::RunRow row, Dispatch dispatch, std::string cwd, const plugins::LoadedPlugin* adapter);
  devices::local::LocalOptions local_options() const;
  // The driver for a dispatch's deviceType, or device_unavailable naming the ones there are.
  Result<devices::DeviceDriver*> driver_for(const std::string& device_type) const;
  void schedule_pull(const std::shared_ptr<SubscriptionState>& sub);
  void pull(const std::shared_ptr<SubscriptionState>& sub);
  void on_committed(std::vector<store::Store::Committed> batch);
  void poll_tick();
  // Wakes the subscribers of runs this host does not own (another host writes their events)
  // when any process commits to the store (store/commit_signal.hpp), through inotify.
  void watch_store_commits();
  void read_store_commits();
  // Schedules a pull for each live subscriber of a run this host does not run (when `wake`);
  // returns how many there are.
  size_t wake_foreign_subscribers(bool wake);
  template <class F>
  auto on_reactor(F&& f) -> decltype(f());

  HostOptions options_;
  std::filesystem::path workspace_root_;
  std::unique_ptr<store::Store> store_;
  std::optional<store::HostLock> lock_;                 // held for the host's life: proves to other hosts that it lives
  std::unique_ptr<devices::local::Watchdog> watchdog_;  // ends our runtimes should we die without ending them
  std::shared_ptr<const PluginRegistry> registry_;
  std::unique_ptr<PolicyGate> policies_;
  Limits limits_;  // HostOptions::limits, parsed
  std::map<std::string, std::unique_ptr<plugins::ConnectorInstance>> connectors_;
  store::Owner self_;
  std::pair<dev_t, ino_t> store_identity_{};  // the store file as opened: a different one means it was deleted
  std::atomic<bool> sweeping_{false};
  std::atomic<bool> store_lost_{false};
  int64_t queued_events_ = 0;                             // reactor only: see event_queued()
  std::vector<std::weak_ptr<ActiveRun>> held_for_store_;  // reactor only: paused until the store caught up
  std::mutex unrecorded_mutex_;
  std::map<std::string, Error> unrecorded_;       // guarded by unrecorded_mutex_: runs whose events the store refused
  std::vector<std::filesystem::path> own_files_;  // the store's files, for LocalOptions::ignore_files

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::thread_pool workers_{2};
  boost::asio::thread_pool spawner_{1};
  // One per device type this host can run in (after the pools their executors name; before the
  // runs that use them).
  std::unique_ptr<http::CurlMulti> curl_;                 // the sandbox device's HTTP, on the reactor
  std::unique_ptr<devices::sandbox::MiosaClient> miosa_;  // when MIOSA is configured
  std::map<std::string, std::unique_ptr<devices::DeviceDriver>, std::less<>> drivers_;
  boost::asio::steady_timer poll_timer_;
  // inotify on the hosts' directory (for CommitSignal's file); closed when inotify cannot be
  // used, and then poll_tick wakes those subscribers instead.
  boost::asio::posix::stream_descriptor commit_watch_;
  bool reading_commits_ = false;         // reactor only: a read of commit_watch_ is pending
  alignas(8) char commit_buffer_[4096];  // inotify records (struct inotify_event is 8-aligned)
  std::thread reactor_;

  // Reactor thread only.
  std::map<std::string, std::shared_ptr<ActiveRun>> active_;
  std::multimap<std::string, std::shared_ptr<SubscriptionState>> subscribers_;
  std::set<std::string> awaiting_;  // runs waiting for an approval's answer
  bool closing_ = false;
  uint64_t ticks_ = 0;

  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  size_t active_count_ = 0;  // guarded by done_mutex_
};

}  // namespace runhost::engine
