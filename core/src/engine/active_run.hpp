// One run in progress on this host: policy at start, connectors, the adapter session, the
// local process, and every event it produces — stamped, checked, persisted, then announced.
//
// Lives on the host's reactor thread: every method runs there, and so do the adapter's calls
// (feed, finish) and the device's callbacks. It is the rh_run the adapter emits into.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "devices/local/local_device.hpp"
#include "engine/dispatch.hpp"
#include "engine/envelope.hpp"
#include "engine/policy_gate.hpp"
#include "host/host_services.hpp"
#include "plugins/instances.hpp"

namespace runhost::engine {

class HostImpl;

class ActiveRun final : public rh_run,
                        public devices::local::ProcessObserver,
                        public std::enable_shared_from_this<ActiveRun> {
 public:
  ActiveRun(HostImpl& host, store::RunRow row, Dispatch dispatch, std::filesystem::path cwd,
            const plugins::LoadedPlugin& adapter);
  ~ActiveRun();

  const std::string& id() const noexcept { return who_.run_id; }

  void start();                                   // policy, connectors, then launch
  void cancel(std::string reason);                // from the user or the host closing
  // Applies the pending approval's answer if one was recorded (by any process); else nothing.
  void check_answer();
  void on_durable(int64_t seq, const Status& status);  // the store committed (or failed) event `seq`
  // Ends the run with a typed run.failed (stopping its process first, if it has one).
  void fail(const Error& error);
  // The store cannot take the run's events (a full disk, an I/O error, a deleted file): nothing
  // more is recorded, the runtime is stopped, and the host ends the run without the store.
  void store_failed(const Error& error);

  // rh_run: an event from the adapter.
  rh_status emit(const rh_event& event) noexcept override;

  // devices::local::ProcessObserver
  void on_started(const Result<pid_t>& started) override;
  void on_output(rh_stream stream, std::string_view bytes) override;
  void on_file_changed(const devices::local::FileChange& change) override;
  void on_artifact(const devices::local::Artifact& artifact) override;
  void on_listening(const devices::local::ListeningPort& port) override;
  void on_exit(const rh_exit& exit) override;

 private:
  enum class Phase { starting, awaiting_approval, connecting, spawning, running, finishing, done };

  void after_run_start_policy();
  void ask_at_run_start(const Decision& d);
  // Records approval.resolved for the pending approval (settling its record), then goes on:
  // allow -> the run starts; deny -> run.failed (policy_denied); source "cancel" -> nothing more
  // (the caller records run.cancelled).
  void settle_approval(bool allow, const std::string& scope, const std::string& reason, const std::string& by,
                       const std::string& source);
  void connect(std::vector<std::string> pending);
  void launch();
  void spawn_failed(const Error& error);
  void abandon();  // after store_failed, once the process is gone: hand the run back to the host

  // Stamps and persists one event. Returns false when it was not recorded (after the terminal
  // event, or dropped past the output limit).
  // `approval`: the approval record an approval event changes, in the event's transaction.
  bool record(std::string_view type, std::string_view source, nlohmann::json payload, std::string_view raw = {},
              std::optional<store::ApprovalChange> approval = {});
  bool record_unlimited(std::string_view type, std::string_view source, nlohmann::json payload, std::string_view raw = {},
                        std::optional<store::ApprovalChange> approval = {});
  bool over_output_limit(std::string_view type, const nlohmann::json& payload);
  void check_action(const nlohmann::json& tool_started);
  void redact(nlohmann::json& payload, std::string& raw) const;

  HostImpl& host_;
  RunIdentity who_;
  Dispatch dispatch_;
  nlohmann::json dispatch_json_;
  std::filesystem::path cwd_;
  const plugins::LoadedPlugin& adapter_;
  Phase phase_ = Phase::starting;

  nlohmann::json constraints_ = nlohmann::json::object();
  std::map<std::string, std::string> connector_env_;
  struct PendingApproval {
    std::string id;
    std::string reason;
  };
  std::optional<PendingApproval> approval_;
  boost::asio::steady_timer approval_deadline_;

  std::unique_ptr<plugins::RuntimeSession> session_;
  std::unique_ptr<devices::local::LocalProcess> process_;
  std::vector<std::string> argv_;  // as launched, for run.started
  boost::asio::steady_timer timeout_;
  std::optional<Error> forced_failure_;
  std::optional<Error> store_error_;  // the store refused an event: nothing more is recorded  // a policy stopped the run: this replaces the adapter's terminal event
  std::string cancel_reason_;

  int64_t seq_ = 0;
  int64_t pending_ = 0;          // appended, not yet durable
  bool output_paused_ = false;
  int64_t output_bytes_ = 0;
  bool output_truncated_ = false;
  bool terminal_recorded_ = false;
  int64_t terminal_seq_ = 0;
  store::RunStatus final_status_ = store::RunStatus::failed;
  std::optional<std::string> final_error_code_;
  std::map<std::string, std::chrono::steady_clock::time_point> runtime_reported_files_;
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace runhost::engine
