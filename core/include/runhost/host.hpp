// runhost/host.hpp — the host: dispatch prompts into devices, under policy, and read back one
// durable, replayable event stream per run.
//
// A Host owns a store (SQLite by default), the loaded plugins and one reactor thread that runs
// every run's processes, pipes and timers. dispatch() validates a DevicePromptDispatch, records
// the run atomically with its idempotency key and starts it; events are stamped, checked by
// policy, persisted, and only then delivered to subscribers.
//
//   auto host = runhost::Host::open({});                      // embedded defaults
//   auto run = (*host)->dispatch(R"({"tenantId":"t", ... "runtime":"custom", "command":["make"]})");
//   auto sub = (*host)->subscribe(run->run.id, 0,
//       [](const runhost::Event& e) { std::cout << e.json << "\n"; },
//       [](const runhost::Status& end) { /* the terminal event was delivered */ });
//
// Thread rules: every method may be called from any thread. Subscription callbacks run on the
// host's reactor thread: they must be quick and must not block on the host.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runhost/error.hpp"
#include "runhost/plugins.hpp"

namespace runhost {

struct HostOptions {
  std::filesystem::path store;  // empty: default_store_path()
  PluginSearchPath plugins;
  std::filesystem::path workspace_root;              // local runs' cwd must lie inside; empty: the current directory
  std::map<std::string, std::string> plugin_config;  // plugin id -> JSON config, replacing the manifest's default
  std::chrono::seconds default_timeout{3600};        // per run; a dispatch's timeoutSeconds overrides it
  bool durable = true;                    // fsync each group commit (false: survives a runhost crash, not an OS crash)
  bool keep_raw = false;                  // keep each event's native line in `raw`
  int64_t max_output_bytes = 64ll << 20;  // output text recorded per run; the rest is counted and marked truncated
  std::vector<std::string> artifact_patterns;  // empty: the local device's defaults
  // An approval.required nobody answers within this is denied (approval.resolved, source
  // "deadline"); the deadline is in the event.
  std::chrono::seconds approval_timeout{3600};
  // Budgets and quotas (docs/budgets.md), as JSON; empty: none. Checked at open: an unknown key
  // or a bad value is invalid_dispatch naming it.
  //   {"budgets": {"run_usd": 5, "user_day_usd": 20, "tenant_month_usd": 500, "run_tokens": 2000000},
  //    "quotas": {"concurrent_per_tenant": 10, "concurrent_per_user": 3, "runs_per_user_per_day": 50},
  //    "tenants": {"acme": {"budgets": {"tenant_month_usd": 2000}}}}
  std::string limits;
  // The sandbox device: MIOSA sandboxes over HTTP (docs/devices.md). A field left empty is read
  // from the SDK's own variables when use_environment is set: MIOSA_BASE_URL (default
  // https://api.miosa.ai/api/v1), MIOSA_API_KEY (or MIOSA_ACCESS_TOKEN), MIOSA_TENANT. Without
  // a key there is no sandbox device, and a sandbox dispatch is refused (device_unavailable).
  // The key is a secret: it never reaches an event, a log line or the store.
  struct Miosa {
    std::string base_url;
    std::string api_key;
    std::string tenant;
    std::string template_id;  // for the sandboxes runhost creates; empty: "miosa-sandbox"
    bool use_environment = true;
  } miosa;
};

// $XDG_DATA_HOME/runhost/runhost.db, or ~/.local/share/runhost/runhost.db.
std::filesystem::path default_store_path();

struct Event {
  std::string run_id;
  int64_t seq = 0;
  std::string type;
  std::string json;  // the whole envelope (docs/events.md)
};

struct RunInfo {
  std::string id;
  std::string status;  // queued | running | succeeded | failed | cancelled
  std::string tenant_id;
  std::string workspace_id;
  std::optional<std::string> project_id;
  std::string user_id;
  std::string runtime;
  std::string device_type;
  std::string device_id;
  std::string prompt;
  std::optional<std::string> error_code;
  int64_t last_seq = 0;
  int64_t created_us = 0;
  int64_t updated_us = 0;
};

struct DispatchResult {
  RunInfo run;
  bool created = false;  // false: the idempotency key named an existing run; nothing was started
};

struct RunQuery {
  std::optional<std::string> tenant_id;
  std::optional<std::string> status;
  size_t limit = 100;
};

// Who is acting. An empty scope is the operator: every run of every tenant. A scope with a
// tenant walls every call to that tenant's runs: another tenant's run is indistinguishable from
// a missing one (run_not_found, never listed), and a dispatch naming another tenant is refused
// (invalid_dispatch, field tenantId); a scoped dispatch without tenantId gets the scope's.
// Bindings offer it as host.for_tenant("T") (Python) and host.forTenant('T') (Node).
struct Scope {
  std::optional<std::string> tenant_id;

  static Scope operator_scope() { return {}; }
  static Scope tenant(std::string id) { return Scope{std::move(id)}; }
  bool sees(std::string_view run_tenant) const noexcept { return !tenant_id || *tenant_id == run_tenant; }
};

// An answer to an approval.required, from any process sharing the store.
struct ApprovalDecision {
  bool allow = false;
  std::string scope = "once";  // what the answer covers: this request ("once")
  std::string reason;
  std::string actor;  // who answered, as the caller names them (recorded as `by`)
};

// An approval.required still waiting for its answer.
struct PendingApproval {
  std::string id;  // the approval_id to answer
  std::string run_id;
  std::string tenant_id;
  int64_t seq = 0;           // its approval.required event
  std::string request_json;  // that event's payload: the action, why, the options, the deadline
  int64_t created_us = 0;
  int64_t deadline_us = 0;  // 0: none
  bool answered = false;    // an answer is recorded; the run's host is applying it
};

// A connector grant to record: for one user of one tenant, what they let a connector do. The
// secret material comes either directly (`secret_json`, e.g. {"access_token": "..."}) or as an
// authorization `code` the connector exchanges with its provider (its exchange(), ABI 1.2).
// Exactly one of the two.
struct GrantInput {
  std::string tenant_id;  // empty in a tenant's scope: the scope's tenant
  std::string user_id;
  std::string connector;  // a loaded connector's id
  std::optional<std::string> code;
  std::optional<std::string> secret_json;  // a JSON object; every string in it is a secret
  std::vector<std::string> scopes;         // asked for (code), or granted (secret)
  // Seconds until the grant expires (at most a century); nullopt: never. With a code, what the
  // exchange says wins.
  std::optional<int64_t> expires_in_s;
  std::string metadata_json;  // an optional JSON object kept with the grant, never secret
};

// A stored grant as listed: never its secret material.
struct GrantInfo {
  std::string id;  // "grt_<ULID>"
  std::string tenant_id;
  std::string user_id;
  std::string connector;
  std::vector<std::string> scopes;
  std::string state;  // active | expired | revoked
  int64_t created_us = 0;
  int64_t expires_us = 0;  // 0: never
  int64_t revoked_us = 0;  // 0: not revoked
  std::string metadata_json = "{}";
};

struct GrantQuery {
  std::optional<std::string> tenant_id;
  std::optional<std::string> user_id;
  std::optional<std::string> connector;
  bool include_revoked = false;
  bool include_expired = false;
  size_t limit = 100;  // newest first
};

// Which spend to add up (Host::usage): every condition given must hold. Times are microseconds
// since the epoch; 0: unbounded.
struct UsageQuery {
  std::optional<std::string> tenant_id;
  std::optional<std::string> user_id;
  std::optional<std::string> workspace_id;
  std::optional<std::string> run_id;
  int64_t since_us = 0;
  int64_t until_us = 0;
};

// The usage events of one usage source, added up.
struct UsageTotal {
  std::string source;  // as the usage events name it: "anthropic", "openai"...
  double cost_usd = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_input_tokens = 0;
  int64_t events = 0;
};

// Ends delivery when destroyed (no callback runs after the destructor returns).
class Subscription {
 public:
  virtual ~Subscription() = default;
};

using EventCallback = std::function<void(const Event&)>;
using EndCallback = std::function<void(const Status&)>;

class Host {
 public:
  // Opens the store (recovering runs left running by a host that died: they become failed with
  // device_lost, their events kept), loads the plugins and starts the reactor.
  static Result<std::unique_ptr<Host>> open(HostOptions options);
  virtual ~Host() = default;  // cancels this host's active runs and waits for their last events

  // Every call below takes the acting Scope last (default: the operator, unscoped). A run id
  // that names no run, or a run outside the scope, is run_not_found with the same message.
  virtual Result<DispatchResult> dispatch(std::string_view dispatch_json, const Scope& scope = {}) = 0;
  // Cancels a run: this host's own at once; another live host's through the store (it polls).
  // A finished run is left as it is (OK).
  virtual Status cancel(std::string_view run_id, const Scope& scope = {}) = 0;
  // Answers a pending approval.required, from any process sharing the store: the answer is
  // recorded at once (a second answer is refused, naming the first), and the run's host applies
  // it, recording approval.resolved (at once when that is this host; else within milliseconds,
  // woken by the store's commit). invalid_dispatch when there is no such pending approval.
  virtual Status answer_approval(std::string_view run_id, std::string_view approval_id,
                                 const ApprovalDecision& decision, const Scope& scope = {}) = 0;
  Status resolve_approval(std::string_view run_id, std::string_view approval_id, bool allow,
                          std::string_view reason = {}, const Scope& scope = {}) {
    return answer_approval(run_id, approval_id, ApprovalDecision{allow, "once", std::string(reason), {}}, scope);
  }
  // The approvals waiting for an answer, oldest first (in a scope: its tenant's).
  virtual Result<std::vector<PendingApproval>> pending_approvals(const Scope& scope = {}) = 0;

  // nullopt when there is no such run in the scope.
  virtual Result<std::optional<RunInfo>> run(std::string_view run_id, const Scope& scope = {}) = 0;
  // A scope restricts the listing to its tenant (a query naming another tenant lists nothing).
  virtual Result<std::vector<RunInfo>> runs(const RunQuery& query, const Scope& scope = {}) = 0;
  // Stored events with seq > after_seq; run_not_found when there is no such run in the scope.
  virtual Result<std::vector<Event>> events(std::string_view run_id, int64_t after_seq, size_t limit = 10000,
                                            const Scope& scope = {}) = 0;
  // Every event with seq > after_seq, stored then live, in order, without gaps or repeats;
  // on_end once the terminal event has been delivered (or with the error that stopped delivery:
  // store_unavailable when this host could not record the run's events).
  // Works for runs of other processes sharing the store too (it polls them).
  virtual Result<std::unique_ptr<Subscription>> subscribe(std::string_view run_id, int64_t after_seq,
                                                          EventCallback on_event, EndCallback on_end,
                                                          const Scope& scope = {}) = 0;

  virtual const PluginRegistry& plugins() const noexcept = 0;
  virtual const std::filesystem::path& store_path() const noexcept = 0;

  // Connector grants, kept in the store for every process sharing it; the newest usable one
  // of the run's tenant and user is what a dispatch naming the connector runs with. The
  // secret material is stored apart, registered with the host's redaction and never listed,
  // logged or put in an event. A scope walls grants as it walls runs: another tenant's grant
  // is not found.
  //
  // Records a grant, after the connector exchanged the code when one is given (on the calling
  // thread: it may wait for the provider; never call it from a subscription callback). Errors:
  // invalid_dispatch naming the field (recovery {"action": "fix_dispatch", "field": ...});
  // connector_authorization_missing when the provider refused the code; plugin_error when the
  // connector failed otherwise. Nothing is stored unless it returns the grant.
  virtual Result<GrantInfo> add_grant(const GrantInput& input, const Scope& scope = {}) = 0;
  // Newest first; by default only active grants. A scope lists only its tenant's.
  virtual Result<std::vector<GrantInfo>> grants(const GrantQuery& query, const Scope& scope = {}) = 0;
  // Revokes a grant and deletes its secret: runs dispatched after it no longer get it (runs
  // already started keep what they were given). Revoking a revoked grant changes nothing.
  // invalid_dispatch (field grant_id) when there is no such grant in the scope.
  virtual Status revoke_grant(std::string_view grant_id, const Scope& scope = {}) = 0;

  // What the usage events of every process sharing the store add up to, per usage source, most
  // spent first. A scope adds up only its tenant's (a query naming another tenant: nothing).
  virtual Result<std::vector<UsageTotal>> usage(const UsageQuery& query, const Scope& scope = {}) = 0;
};

}  // namespace runhost
