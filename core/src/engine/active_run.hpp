// One run in progress on this host: policy at start, its device, connectors, the adapter
// session, the runtime launched in the device, and every event it produces — stamped, checked,
// persisted, then announced. It drives the device through devices/device.hpp only: which kind
// it is (this machine, a MIOSA sandbox) is the driver's business.
//
// Lives on the host's reactor thread: every method runs there, and so do the adapter's calls
// (feed, finish) and the device's callbacks. It is the rh_run the adapter emits into.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "devices/device.hpp"
#include "engine/budgets.hpp"
#include "engine/dispatch.hpp"
#include "engine/envelope.hpp"
#include "engine/policy_gate.hpp"
#include "host/host_services.hpp"
#include "plugins/instances.hpp"

namespace runhost::engine {

class HostImpl;

class ActiveRun final : public rh_run, public devices::DeviceObserver, public std::enable_shared_from_this<ActiveRun> {
 public:
  // `cwd`: the run's working directory in the device, as the driver's check() gave it.
  ActiveRun(HostImpl& host, store::RunRow row, Dispatch dispatch, std::string cwd, const plugins::LoadedPlugin& adapter,
            devices::DeviceDriver& driver);
  ~ActiveRun();

  const std::string& id() const noexcept { return who_.run_id; }

  void start();                     // policy, the device, connectors, then launch
  void cancel(std::string reason);  // from the user or the host closing
  // Applies the answers recorded (by any process) to this run's pending approvals, if any.
  void check_answer();
  void on_durable(int64_t seq, const Status& status);  // the store committed (or failed) event `seq`
  void store_caught_up();  // the host's queue of events is short again (HostImpl::hold_for_store)
  // Ends the run with a typed run.failed (stopping its process first, if it has one).
  void fail(const Error& error);
  // The store cannot take the run's events (a full disk, an I/O error, a deleted file): nothing
  // more is recorded, the runtime is stopped, and the host ends the run without the store.
  void store_failed(const Error& error);

  // rh_run: an event from the adapter, and bytes for its runtime's stdin.
  rh_status emit(const rh_event& event) noexcept override;
  rh_status send_input(std::string_view data, uint32_t flags) noexcept override;
  // rh_run: helper processes for the adapter (run_helpers.cpp).
  int can_start_processes() noexcept override;
  rh_status start_process(std::string_view spec_json, const rh_process_sink& sink, uint64_t* process) noexcept override;
  rh_status kill_process(uint64_t process) noexcept override;

  // devices::DeviceObserver
  void on_resolved(const Result<devices::DeviceRef>& resolved, std::string_view request_id) override;
  void on_started(const Result<devices::Started>& started, std::string_view request_id) override;
  void on_output(rh_stream stream, std::string_view bytes, std::string_view request_id) override;
  void on_file_changed(const devices::FileChange& change, std::string_view request_id) override;
  void on_artifact(const devices::Artifact& artifact, std::string_view request_id) override;
  void on_preview(const devices::Preview& preview, std::string_view request_id) override;
  void on_exit(const rh_exit& exit, const std::optional<Error>& device_error, std::string_view request_id) override;

 private:
  enum class Phase { starting, awaiting_approval, resolving, connecting, spawning, running, finishing, done };

  // An approval waiting for its answer: asked by a policy at run start (no request_id), or by
  // the runtime about an action (request_id: the runtime's own id, answered through respond()).
  struct PendingApproval {
    std::string id;  // apr_...
    std::string request_id;
    std::string tool_call_id;
    std::string scope_key;  // what an answer with scope "run" covers (action, policy, rule)
    std::unique_ptr<boost::asio::steady_timer> deadline;
  };
  // An answer with scope "run": later asks with the same scope key get it without asking.
  struct StandingAnswer {
    bool allow = false;
    std::string approval_id;
    std::string reason;
  };

  void after_run_start_policy();
  void open_device(devices::DeviceRequest request);  // then resolve it
  // Records approval.required (durable, with its deadline) and waits for the answer.
  void ask(const Decision& d, nlohmann::json action, std::string request_id, std::string tool_call_id);
  // Records approval.resolved for a pending approval (settling its record), then goes on: at run
  // start allow -> the run starts, deny -> run.failed (policy_denied); for a runtime's request the
  // answer is handed to the adapter. Source "cancel" -> nothing more (the caller records
  // run.cancelled).
  void settle_approval(std::string id, bool allow, const std::string& scope, const std::string& reason,
                       const std::string& by, const std::string& source);
  // The runtime asks before an action (an approval.required it emitted): policies decide, and
  // what they cannot decide goes to a human.
  void on_runtime_ask(nlohmann::json request, std::string raw);
  // Hands a decision to the adapter (after the current adapter call returns) and writes what it
  // answers to the runtime's stdin.
  void answer_runtime(const std::string& request_id, const std::string& approval_id, bool allow,
                      const std::string& reason, const std::string& scope, const std::string& source);
  // Records policy.decision for one evaluation.
  void record_decision(const Decision& d, std::string_view phase, const nlohmann::json& action,
                       const std::string& tool_call_id, const std::string& approval_id);
  // The action a tool.started or approval.required describes, as policies are asked about it.
  static nlohmann::json action_of(const nlohmann::json& payload);
  // The same, as text, from the text of a well-formed object (a tool.started payload, or its
  // "action" member).
  static std::string action_text(rh_str source);
  void connect(std::vector<std::string> pending);
  void launch();
  // Budgets (run_budget.cpp): before launch, what is left (a runtime that can cap its own spend
  // gets it as constraint host_budget_usd); after each usage event recorded, whether the run
  // went past a budget (it is then stopped with budget_exceeded).
  void read_budget();
  void on_usage(const store::UsageEntry& usage);
  void spawn_failed(const Error& error);
  void abandon();  // after store_failed, once the process is gone: hand the run back to the host
  // Helper processes (run_helpers.cpp): one the adapter started, reporting to the adapter's sink
  // as calls of its session.
  class Helper final : public devices::HelperObserver {
   public:
    Helper(ActiveRun& run, uint64_t id, const rh_process_sink& sink) : run_(run), id_(id), sink_(sink) {}
    std::unique_ptr<devices::Execution> execution;
    bool running() const noexcept { return !ended_; }
    void on_started(const Result<devices::Started>& started) override;
    void on_output(rh_stream stream, std::string_view bytes) override;
    void on_exit(const rh_exit& exit) override;

   private:
    ActiveRun& run_;
    uint64_t id_;
    rh_process_sink sink_;
    bool ended_ = false;
  };
  void end_helpers();  // the runtime ended: what is still running is killed, with no callback
  void helper_done(uint64_t id);
  void pause_output();
  void resume_output();
  // Resumes paused output once this run's queue and the host's allow (HostImpl::hold_for_store).
  void resume_when_stored();

  // Stamps and persists one event. Returns false when it was not recorded (after the terminal
  // event, or dropped past the output limit).
  // `approval`: the approval record an approval event changes, in the event's transaction.
  // `payload_text`: `payload` exactly as the adapter wrote it (nothing added by the host), stored
  // as it is unless the host must change it (a secret in it, the output_truncated mark). A null
  // `payload` with a text: the text alone (emit_text's events: never terminal, usage or
  // run.failed, which the host reads from the tree).
  bool record(std::string_view type, std::string_view source, const nlohmann::json& payload, std::string_view raw = {},
              std::optional<store::ApprovalChange> approval = {}, std::string_view payload_text = {});
  bool record_unlimited(std::string_view type, std::string_view source, const nlohmann::json& payload,
                        std::string_view raw = {}, std::optional<store::ApprovalChange> approval = {},
                        std::string_view payload_text = {});
  // Counts an output event's text against the run's limit; the payload's text is read when
  // there is no tree (`payload` null).
  bool over_output_limit(std::string_view type, const nlohmann::json& payload, std::string_view payload_text);
  // emit() for the two kinds of event (see emit_text's comment).
  bool emit_text(std::string_view type, std::string_view text, std::string_view raw);
  rh_status emit_tree(std::string_view type, std::string_view text, std::string raw);
  // What policy says about the action a tool.started (or a runtime's report) describes; nothing
  // when there are no policies, the run is stopping, or the runtime asked about it already.
  std::optional<Decision> judge_action(const nlohmann::json& payload) const;
  // Whether policy is asked about a reported action with this tool call id (see judge_action).
  bool may_judge(const std::string& tool_call_id) const;
  // Acts on a decision about a reported action (recorded with it): a runtime that asks live must
  // ask before the call completes; one that cannot ask is stopped by a deny or an ask.
  void act_on(const Decision& d, const std::string& tool_call_id);
  // What policy says about an action: the request written around the run's prefix.
  Decision before_action(const nlohmann::json& action) const;
  Decision before_action_text(std::string_view action_text) const;
  // tool.completed: an action policy stopped at tool.started must have been asked about by now.
  void check_completed(const std::string& tool_call_id);
  // The payload's text with every known secret replaced (from `payload_text` when given, else
  // written from `payload`), and `raw` likewise.
  std::string redacted(const nlohmann::json& payload, std::string_view payload_text, std::string& raw) const;
  // While a device callback is handled: its request id on every event recorded, and the run kept
  // alive (the callback may end it).
  class Stamp {
   public:
    Stamp(std::shared_ptr<ActiveRun> run, std::string_view request_id);
    ~Stamp();
    Stamp(const Stamp&) = delete;
    Stamp& operator=(const Stamp&) = delete;

   private:
    std::shared_ptr<ActiveRun> run_;
    std::string saved_;
  };
  Stamp stamp(std::string_view request_id);

  HostImpl& host_;
  RunIdentity who_;
  RunBudget budget_;
  bool budget_read_ = false;  // launch() waits for read_budget() once, when a budget applies
  Dispatch dispatch_;
  nlohmann::json dispatch_json_;
  std::string cwd_;  // in the device
  // PolicyGate::action_request_prefix, written at the first action (cwd_ is settled by then).
  mutable std::string action_request_prefix_;
  const plugins::LoadedPlugin& adapter_;
  devices::DeviceDriver& driver_;
  Phase phase_ = Phase::starting;

  nlohmann::json constraints_ = nlohmann::json::object();
  nlohmann::json start_decision_;  // what policy said at run start, for run.started
  std::map<std::string, std::string> connector_env_;
  nlohmann::json mcp_servers_ = nlohmann::json::object();   // from the connectors: name -> MCP server config
  std::map<std::string, PendingApproval> approvals_;        // by approval id
  std::map<std::string, StandingAnswer> standing_answers_;  // by scope key
  // Runs whose adapter asks live (it takes answers and its runtime's stdin stays open).
  bool live_approvals_ = false;
  bool live_stdin_ = false;                 // the runtime's stdin is open for send_input
  std::set<std::string> asked_tool_calls_;  // tool calls the runtime asked about
  // tool_call_id -> what policy said at tool.started, when it was not allow and the runtime
  // is expected to ask before it acts.
  std::map<std::string, Decision> expected_asks_;

  std::unique_ptr<plugins::RuntimeSession> session_;
  std::unique_ptr<devices::Device> device_;
  std::unique_ptr<devices::Execution> process_;          // the runtime in the device, once launched
  std::map<uint64_t, std::unique_ptr<Helper>> helpers_;  // by id: destroyed before the device
  uint64_t last_helper_ = 0;
  // The request id of the device call behind the callback being handled (MIOSA's x-request-id):
  // stamped on the events recorded meanwhile, the adapter's included.
  std::string request_id_;
  std::vector<std::string> argv_;  // as launched, for run.started
  boost::asio::steady_timer timeout_;
  // How long the runtime may take to exit by itself: after RH_INPUT_END (then it is stopped with
  // RH_EXIT_FLAG_ENDED), or after the adapter asked it to cancel (then RH_EXIT_FLAG_CANCELLED).
  boost::asio::steady_timer grace_;
  static constexpr std::chrono::seconds kEndGrace{3};
  static constexpr std::chrono::seconds kCancelGrace{5};
  bool cancel_asked_ = false;            // the adapter's cancel() was called
  std::optional<Error> forced_failure_;  // a policy stopped the run: this replaces the adapter's terminal event
  std::optional<Error> store_error_;     // the store refused an event: nothing more is recorded
  std::string cancel_reason_;

  int64_t seq_ = 0;
  int64_t pending_ = 0;  // appended, not yet durable
  bool output_paused_ = false;
  bool held_for_store_ = false;  // waiting in HostImpl::hold_for_store
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
