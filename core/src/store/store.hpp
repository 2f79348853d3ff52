// The durable store: SQLite in WAL mode, one file, no server. Runs, their append-only events
// (gap-free seq per run), artifacts, projects, approvals, connector grants (their secrets
// in a table of their own) and the usage ledger.
//
// Writes go through one writer thread with group commit: append() queues an event and returns
// at once; the batch holding it commits within a few milliseconds (or as soon as the previous
// commit finishes), then `on_durable` runs. Reads use their own connections and never wait for
// the writer (WAL). Idempotency is a unique index on (tenant_id, idempotency_key).
//
//   auto store = Store::open("/var/lib/runhost/runhost.db", {});
//   auto created = (*store)->create_run(new_run);          // queued, or the existing run
//   (*store)->append(event_row, [](const Status& st) { /* durable: deliver */ });
//   auto events = (*store)->events(run_id, /*after_seq=*/0, /*limit=*/1000);
//
// Thread rules: every method may be called from any thread. on_durable callbacks run on the
// writer thread, in append order; they must be quick and must not call back into the store
// synchronously (flush() from a callback would deadlock).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runhost/error.hpp"
#include "runhost/host.hpp"

namespace runhost::store {

enum class RunStatus { queued, running, succeeded, failed, cancelled };
std::string_view to_string(RunStatus status) noexcept;
std::optional<RunStatus> run_status_from_string(std::string_view name) noexcept;
bool is_terminal(RunStatus status) noexcept;

// Which host owns a run: the host's id (its lock file, host_lock.hpp, says whether it lives),
// and for people reading the store, its process. Stores of schema version 1 have no host id:
// their runs are judged by pid and start time.
struct Owner {
  std::string host_id;  // "host_<ULID>"; empty for a run of a version-1 store
  int64_t pid = 0;
  int64_t start_time = 0;  // the process's start time (/proc/<pid>/stat field 22): pids are reused
};

// A run as dispatched; the store adds status, times and bookkeeping.
struct NewRun {
  std::string id;  // "run_<ULID>"
  std::string tenant_id;
  std::string workspace_id;
  std::optional<std::string> project_id;
  std::string user_id;
  std::string device_type;  // sandbox | computer | local
  std::string device_id;
  std::string runtime;
  std::string prompt;
  std::optional<std::string> cwd;
  std::string approval_policy;
  std::string idempotency_key;
  std::string request_hash;   // hash of the canonical dispatch: same key + other hash = conflict
  std::string dispatch_json;  // the validated dispatch, canonical JSON
  int64_t created_us = 0;
  Owner owner;  // recorded in the run's own INSERT: there is no moment without an owner
};

struct RunRow : NewRun {
  RunStatus status = RunStatus::queued;
  int64_t updated_us = 0;
  int64_t last_seq = 0;                   // highest durable seq, 0 when none
  std::optional<std::string> error_code;  // for failed runs
  bool cancel_requested = false;
};

// What an approval event does to the approval's record, written in the event's own
// transaction: approval.required inserts it (pending), approval.resolved settles it. So whoever
// reads the event reads the record too, and a pending record always has its event.
struct ApprovalChange {
  std::string id;            // "apr_<ULID>"
  std::string status;        // "pending" | "allowed" | "denied"
  std::string request_json;  // pending: the approval.required payload
  int64_t deadline_us = 0;   // pending: when no answer means deny; 0: never
  std::string decided_by;    // resolved: who (an actor, a policy id, "deadline", "cancel")
  std::string reason;        // resolved
  std::string scope;         // resolved: "once" | "run"
  std::string source;        // resolved: "human" | "policy" | "deadline" | "cancel"
};

// An answer given by any process sharing the store, for the run's host to apply.
struct ApprovalAnswer {
  std::string decision;  // "allow" | "deny"
  std::string scope = "once";
  std::string reason;
  std::string actor;  // who answered, as the caller names them; may be empty
};

struct ApprovalRow {
  std::string id;
  std::string run_id;
  std::string tenant_id;
  int64_t seq = 0;     // the approval.required event
  std::string status;  // "pending" | "allowed" | "denied"
  std::string request_json;
  int64_t created_us = 0;
  int64_t deadline_us = 0;               // 0: none
  std::optional<ApprovalAnswer> answer;  // given, not yet applied by the run's host (or applied)
};

// A connector grant: which user of which tenant let which connector act for them, with what
// scopes, until when. Its secret material is not here: it is written with the grant and read
// back only by grant_for(), for the connector that turns it into a run's credentials.
struct GrantRow {
  std::string id;  // "grt_<ULID>"
  std::string tenant_id;
  std::string user_id;
  std::string connector;
  std::string scopes_json = "[]";    // a JSON array of strings
  std::string metadata_json = "{}";  // a JSON object, never secret
  int64_t created_us = 0;
  std::optional<int64_t> expires_us;  // nullopt: does not expire
  std::optional<int64_t> revoked_us;  // nullopt: not revoked
};

struct GrantFilter {
  std::optional<std::string> tenant_id;  // nullopt: every tenant's
  std::optional<std::string> user_id;
  std::optional<std::string> connector;
  bool include_revoked = false;
  bool include_expired = false;
  int64_t now_us = 0;  // what "expired" is judged against
  size_t limit = 100;  // newest first
};

// The grant a connector is asked about: usable, with its secret (secret_json), or the newest
// expired one, without (secret_json empty), so the connector can say "expired".
struct GrantInUse {
  GrantRow grant;
  std::string secret_json;
};

// What a usage event spent, as the ledger keeps it: written in the event's own transaction, so
// the ledger holds exactly the usage events the store holds (the run's tenant, workspace and
// user are the run's; the time is the event's).
struct UsageEntry {
  std::string source;  // the event's usage source: "anthropic", "openai", a connector...
  std::optional<std::string> model;
  double cost_usd = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_input_tokens = 0;
};

struct EventRow {
  std::string run_id;
  int64_t seq = 0;  // 1, 2, 3... per run: the caller assigns it; the store refuses gaps and repeats
  std::string id;   // "evt_<ULID>"
  std::string type;
  int64_t time_us = 0;
  std::optional<std::string> request_id;
  std::string json;  // the complete envelope, as delivered to subscribers
  // For a terminal event (run.completed, run.failed, run.cancelled): the run's final status,
  // written in the same transaction as the event, so that whoever reads the event reads the
  // final status too.
  std::optional<RunStatus> final_status;
  std::optional<std::string> error_code;
  std::optional<ApprovalChange> approval;  // approval.required / approval.resolved: its record
  std::optional<UsageEntry> usage;         // a usage event: its row of the ledger
};

struct ArtifactRow {
  std::string id;  // "art_<ULID>"
  std::string run_id;
  std::string path;  // relative to the run's cwd
  std::string content_type;
  int64_t size_bytes = 0;
  std::string sha256;  // lowercase hex
  int64_t created_us = 0;
  // The device's own record of it (a MIOSA export), when the device keeps one.
  std::string device_artifact_id;
  std::string preview_url;
  std::string download_url;
};

// The device a run resolved to (a sandbox created or found for it): written on the run, and as
// the project's current device of that type (the seed's projects.current_sandbox_id).
struct DeviceAssignment {
  std::string run_id;
  std::string tenant_id;
  std::optional<std::string> project_id;
  std::string device_type;  // local | sandbox | computer
  std::string device_id;
};

// Which ledger rows to add up: Host::usage's query (every condition given must hold; times
// bound the event's time, since inclusive, until exclusive), and for a run adding up the spend
// of everyone else, one run left out. The sums are Host::usage's UsageTotal, one per source.
struct UsageFilter : UsageQuery {
  std::optional<std::string> except_run_id;
};

// A bound a new run must be within, checked in the run's own INSERT transaction (after its
// idempotency key, so a replay is never refused), so that two processes sharing the store cannot
// both take the last slot. Counted over the new run's tenant, and its user or workspace.
struct RunCap {
  enum class Kind {
    live_runs,     // runs queued or running now
    runs_since,    // runs created at or after since_us
    usd_since,     // the ledger's cost_usd since since_us
    tokens_since,  // the ledger's input + output tokens since since_us
  };
  enum class Of { tenant, user, workspace };
  Kind kind = Kind::live_runs;
  Of of = Of::tenant;
  double max = 0;        // refused when what is counted is >= max
  int64_t since_us = 0;  // *_since kinds
};

// The first cap a new run was refused by (Created::refused): nothing was written.
struct CapReached {
  size_t index = 0;        // into the caps given
  double used = 0;         // runs, USD or tokens counted
  int64_t oldest_us = 0;   // runs_since: the oldest counted run's created_us (when the window frees)
  std::string top_source;  // usd_since / tokens_since: the usage source that spent the most
};

struct RunFilter {
  std::optional<std::string> tenant_id;
  std::optional<RunStatus> status;
  size_t limit = 100;  // newest first
};

struct StoreOptions {
  bool durable = true;         // synchronous=FULL; false: NORMAL (survives a crash of runhost, not of the OS)
  int busy_timeout_ms = 5000;  // waiting for another process's write lock
  // How long the writer waits for more after a batch's first item. 0 (the default): none; a batch
  // is whatever queued while the previous commit (its fsync) was in flight, which batches well
  // under load and adds no latency when idle.
  int group_commit_window_us = 0;
};

class Store {
 public:
  // Opens or creates the store file (and its directory), sets WAL mode, creates or migrates
  // the schema. Errors (code store_unavailable) say what is wrong in one sentence: the file is
  // locked by another process, read-only, not a database / corrupt, or the directory cannot be
  // created. Opening never modifies or deletes existing data to "repair" it.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path, const StoreOptions& options = {});
  virtual ~Store() = default;

  virtual const std::filesystem::path& path() const noexcept = 0;

  // Creates the run as queued, atomically with its idempotency key. When (tenant_id,
  // idempotency_key) exists already: the existing run and created=false if its request_hash
  // matches, else idempotency_conflict naming the existing run id.
  // With `caps`: checked in the same transaction, after the idempotency key; the first one
  // reached is `refused`, and nothing is created (created=false, run empty).
  struct Created {
    RunRow run;
    bool created = false;
    std::optional<CapReached> refused;
  };
  virtual Result<Created> create_run(const NewRun& run, const std::vector<RunCap>& caps = {}) = 0;

  // Status changes and bookkeeping. They are ordered with appended events (same writer queue)
  // and return once committed.
  virtual Status set_status(std::string_view run_id, RunStatus status, std::optional<std::string> error_code = {}) = 0;
  virtual Status request_cancel(std::string_view run_id) = 0;  // not_found-style error if no such run
  virtual Status add_artifact(const ArtifactRow& artifact) = 0;
  // The run's device (agent_runs.device_id, and sandbox_id or computer_id), and the project's
  // current one of that type. A project another tenant's runs assigned is left alone.
  virtual Status assign_device(const DeviceAssignment& assignment) = 0;
  // The project's current device of `device_type`, for `tenant_id` only; nothing if none.
  virtual Result<std::optional<std::string>> current_device(std::string_view tenant_id, std::string_view project_id,
                                                            std::string_view device_type) = 0;

  // Queues one event; returns at once. `on_durable` gets OK once the event is committed, or the
  // error if it could not be (a gap or repeat in seq, the disk full...); nothing after a failed
  // event of the same run is written.
  virtual void append(EventRow event, std::function<void(const Status&)> on_durable) = 0;
  // With a sink, each commit's appended events go to it in one call, on the writer thread, in
  // append order, each with its outcome and its on_durable (not called by the store): the
  // receiver moves the whole batch to its own thread in one hand-off, and has every event's
  // envelope in memory the moment it is durable. Set it before the first append.
  struct Committed {
    EventRow event;
    Status status;
    std::function<void(const Status&)> on_durable;
  };
  using CommitSink = std::function<void(std::vector<Committed>)>;
  virtual void set_commit_sink(CommitSink sink) = 0;
  // Waits until everything queued before the call is committed (or failed).
  virtual Status flush() = 0;

  // Ends a run its owner can no longer end: in one write transaction, if the run is still
  // queued or running and still owned by `owner_host_id` (empty: a version-1 run owned by
  // `owner_pid`), appends the terminal event `make_terminal` builds for it (at last_seq + 1;
  // final_status set) and ends the run. true: this call ended it; false: it had ended already
  // (another host recovered it first, or its owner finished it). However many hosts call this
  // for one run at once, exactly one gets true.
  using MakeTerminal = std::function<EventRow(const RunRow& run)>;
  virtual Result<bool> finish_orphan(std::string_view run_id, const Owner& owner, MakeTerminal make_terminal) = 0;

  virtual Result<std::optional<RunRow>> run(std::string_view run_id) = 0;
  virtual Result<std::vector<RunRow>> runs(const RunFilter& filter) = 0;
  // Events with seq > after_seq, in seq order, at most `limit`.
  virtual Result<std::vector<EventRow>> events(std::string_view run_id, int64_t after_seq, size_t limit) = 0;
  virtual Result<std::vector<ArtifactRow>> artifacts(std::string_view run_id) = 0;
  // Records an answer to the run's pending approval, once: invalid_dispatch naming why when
  // there is no such approval, it was settled already, or another answer came first.
  virtual Status answer_approval(std::string_view run_id, std::string_view approval_id,
                                 const ApprovalAnswer& answer) = 0;
  virtual Result<std::optional<ApprovalRow>> approval(std::string_view approval_id) = 0;
  // Pending approvals of runs still queued or running (a run that ended otherwise, a host that
  // died, leaves its approval unanswerable), oldest first, of one tenant or (nullopt) of all.
  virtual Result<std::vector<ApprovalRow>> pending_approvals(const std::optional<std::string>& tenant_id) = 0;
  // Records a grant and its secret material (a JSON object) in one transaction.
  virtual Status add_grant(const GrantRow& grant, std::string_view secret_json) = 0;
  virtual Result<std::vector<GrantRow>> grants(const GrantFilter& filter) = 0;
  // Marks the grant revoked and deletes its secret. false: there is no such grant (of
  // `tenant_id`, when given). A grant revoked already stays as it was (true).
  virtual Result<bool> revoke_grant(std::string_view grant_id, const std::optional<std::string>& tenant_id) = 0;
  // The newest grant of (tenant, user, connector) that is neither revoked nor expired at
  // `now_us`, with its secret; else the newest expired one, without; else nullopt.
  virtual Result<std::optional<GrantInUse>> grant_for(std::string_view tenant_id, std::string_view user_id,
                                                      std::string_view connector, int64_t now_us) = 0;
  // The usage ledger added up per usage source (most spent first).
  virtual Result<std::vector<UsageTotal>> usage(const UsageFilter& filter) = 0;
  // Runs in `running` or `queued` state, for recovery at start and cancel polling.
  virtual Result<std::vector<RunRow>> active_runs() = 0;
  // Changes whenever any connection commits (PRAGMA data_version on the reader): a follower in
  // another process polls this cheaply before querying.
  virtual Result<int64_t> data_version() = 0;
};

}  // namespace runhost::store
