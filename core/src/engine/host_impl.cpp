#include "engine/host_impl.hpp"

#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>

#include <boost/asio/post.hpp>

#include <sys/stat.h>

#include "devices/local/local_driver.hpp"
#include "devices/sandbox/sandbox_driver.hpp"
#include "engine/budgets.hpp"
#include "engine/dispatch.hpp"
#include "events/event_types.hpp"
#include "events/ids.hpp"
#include "store/commit_signal.hpp"
#include "util/logging.hpp"
#include "util/reactor_callers.hpp"
#include "util/secrets.hpp"

namespace runhost {

std::filesystem::path default_store_path() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg == '/') {
    return std::filesystem::path(xdg) / "runhost" / "runhost.db";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr && *home ? home : "/tmp") / ".local" / "share" / "runhost" /
         "runhost.db";
}

Result<std::unique_ptr<Host>> Host::open(HostOptions options) {
  return engine::HostImpl::open(std::move(options));
}

namespace engine {
namespace {

using nlohmann::json;

// A process's start time in clock ticks since boot (/proc/<pid>/stat field 22): with the pid,
// it names one process even after the pid is reused.
int64_t process_start_time(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::atoll(field.c_str());
  }
  return 0;
}

// Each run holds a handful of descriptors (pipes, pidfd, watches); a thousand runs need more
// than the usual soft limit of 1024. Raise it to the hard limit, once.
void raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// A plugin's configuration: the host's own for its id, else its manifest's default.
std::string config_for(const HostOptions& options, const plugins::LoadedPlugin& plugin) {
  auto it = options.plugin_config.find(plugin.info.id);
  return it != options.plugin_config.end() ? it->second : plugin.config_json;
}

// A version-1 run's owner (no host id): alive while its pid names the same process. Hosts of
// one process share the pid, so such a run of this very process is taken for alive too.
bool legacy_owner_alive(const store::Owner& owner) {
  if (owner.pid <= 0) return false;
  if (kill(static_cast<pid_t>(owner.pid), 0) != 0 && errno != EPERM) return false;
  return process_start_time(owner.pid) == owner.start_time;
}

RunInfo info_of(const store::RunRow& r) {
  RunInfo i;
  i.id = r.id;
  i.status = std::string(store::to_string(r.status));
  i.tenant_id = r.tenant_id;
  i.workspace_id = r.workspace_id;
  i.project_id = r.project_id;
  i.user_id = r.user_id;
  i.runtime = r.runtime;
  i.device_type = r.device_type;
  i.device_id = r.device_id;
  i.prompt = r.prompt;
  i.error_code = r.error_code;
  i.last_seq = r.last_seq;
  i.created_us = r.created_us;
  i.updated_us = r.updated_us;
  return i;
}

Event event_of(const store::EventRow& row) {
  return {row.run_id, row.seq, row.type, row.json};
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? "(none loaded)" : out;
}

}  // namespace

// One subscriber's cursor. Callbacks run on the reactor under `mutex`, which the
// Subscription's destructor also takes, so none runs after it returns.
struct SubscriptionState {
  std::string run_id;
  int64_t cursor = 0;
  EventCallback on_event;
  EndCallback on_end;
  std::recursive_mutex mutex;
  bool cancelled = false;  // guarded by mutex
  bool ended = false;      // reactor only
  bool pull_scheduled = false;
};

class SubscriptionHandle final : public Subscription {
 public:
  explicit SubscriptionHandle(std::shared_ptr<SubscriptionState> state) : state_(std::move(state)) {}
  ~SubscriptionHandle() override {
    std::lock_guard lock(state_->mutex);
    state_->cancelled = true;
  }

 private:
  std::shared_ptr<SubscriptionState> state_;
};

HostImpl::HostImpl(HostOptions options, std::unique_ptr<store::Store> store, std::string host_id, store::HostLock lock,
                   std::shared_ptr<const PluginRegistry> registry, std::unique_ptr<PolicyGate> policies,
                   std::map<std::string, std::unique_ptr<plugins::ConnectorInstance>> connectors, Limits limits,
                   std::optional<devices::sandbox::MiosaConfig> miosa)
    : options_(std::move(options)),
      store_(std::move(store)),
      lock_(std::move(lock)),
      registry_(std::move(registry)),
      policies_(std::move(policies)),
      limits_(std::move(limits)),
      connectors_(std::move(connectors)),
      work_(boost::asio::make_work_guard(io_)),
      poll_timer_(io_),
      commit_watch_(io_) {
  std::error_code ec;
  workspace_root_ = std::filesystem::canonical(
      options_.workspace_root.empty() ? std::filesystem::current_path(ec) : options_.workspace_root, ec);
  // A store inside a run's working directory: its writes are ours, not the run's (canonical, so
  // that each run compares without a system call).
  const auto store_file = std::filesystem::weakly_canonical(store_->path(), ec);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) own_files_.emplace_back(store_file.string() + suffix);
  self_.host_id = std::move(host_id);
  self_.pid = getpid();
  self_.start_time = process_start_time(self_.pid);
  struct stat info {};
  if (::stat(store_->path().c_str(), &info) == 0) store_identity_ = {info.st_dev, info.st_ino};
  auto local = std::make_unique<devices::local::LocalDriver>(io_, spawner_.get_executor(), workers_.get_executor(),
                                                             workspace_root_, local_options());
  drivers_.emplace(std::string(local->type()), std::move(local));
  if (miosa) {
    curl_ = std::make_unique<http::CurlMulti>(io_);
    miosa_ = std::make_unique<devices::sandbox::MiosaClient>(io_, *curl_, std::move(*miosa));
    devices::sandbox::SandboxOptions sandbox;
    if (!options_.miosa.template_id.empty()) sandbox.template_id = options_.miosa.template_id;
    if (!options_.artifact_patterns.empty()) sandbox.artifact_patterns = options_.artifact_patterns;
    auto driver = std::make_unique<devices::sandbox::SandboxDriver>(io_, *miosa_, std::move(sandbox));
    drivers_.emplace(std::string(driver->type()), std::move(driver));
  }
  // Each commit comes to the reactor in one hand-off, every envelope in it still in memory.
  store_->set_commit_sink([this](std::vector<store::Store::Committed> batch) {
    boost::asio::post(io_, [this, batch = std::move(batch)]() mutable { on_committed(std::move(batch)); });
  });
  watch_store_commits();
  reactor_ = std::thread([this] { io_.run(); });
  boost::asio::post(io_, [this] { poll_tick(); });
}

Result<std::unique_ptr<Host>> HostImpl::open(HostOptions options) {
  raise_open_file_limit();
  // Orphans of a run (a runtime's background child whose parent exited) become our children
  // instead of init's, so the local device can reap them by process group: many containers'
  // pid 1 never reaps, and a killed run would leave zombies behind.
  (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
  auto limits = Limits::parse(options.limits);
  if (!limits) return limits.error();
  auto miosa = miosa_config(options);
  if (!miosa) return miosa.error();
  const auto path = options.store.empty() ? default_store_path() : options.store;
  store::StoreOptions store_options;
  store_options.durable = options.durable;
  auto store = store::Store::open(path, store_options);
  if (!store) return store.error();
  if (!options.workspace_root.empty() && !std::filesystem::is_directory(options.workspace_root)) {
    return Error{ErrorCode::invalid_dispatch,
                 "workspace root " + options.workspace_root.string() + " is not a directory"};
  }

  auto registry = PluginRegistry::load(options.plugins);
  for (const auto& r : registry->refusals()) util::logger()->warn("plugin refused: {}: {}", r.path.string(), r.reason);
  // Secrets in any plugin's configuration are known before anything could print them.
  for (const auto& p : registry->impl().loaded) {
    for (const auto& secret : util::secrets_in_config(config_for(options, p))) util::secrets().add(secret);
  }
  std::vector<std::unique_ptr<plugins::PolicyInstance>> policies;
  std::map<std::string, std::unique_ptr<plugins::ConnectorInstance>> connectors;
  for (const auto& p : registry->impl().loaded) {
    if (p.info.kind == PluginKind::policy) {
      auto instance = plugins::PolicyInstance::create(p, config_for(options, p));
      if (!instance) return Error{ErrorCode::plugin_error, instance.error().message};
      policies.push_back(std::move(*instance));
    } else if (p.info.kind == PluginKind::connector) {
      auto instance = plugins::ConnectorInstance::create(p, config_for(options, p));
      if (!instance) return Error{ErrorCode::plugin_error, instance.error().message};
      connectors[p.info.id] = std::move(*instance);
    }
  }
  // The lock first: from the moment a run of ours exists in the store, our lock proves us alive.
  std::string host_id = events::new_id("host");
  auto lock = store::HostLock::acquire((*store)->path(), host_id);
  if (!lock) return lock.error();
  std::unique_ptr<HostImpl> host(new HostImpl(
      std::move(options), std::move(*store), std::move(host_id), std::move(*lock), std::move(registry),
      std::make_unique<PolicyGate>(std::move(policies)), std::move(connectors), std::move(*limits), std::move(*miosa)));
  // Before any run: a runtime of ours never outlives us, however we die.
  auto watchdog = devices::local::Watchdog::start(host->self_.host_id);
  if (watchdog) {
    host->watchdog_ = std::move(*watchdog);
  } else {
    util::logger()->warn("no watchdog for this host ({}): its runtimes would outlive a kill -9",
                         watchdog.error().message);
  }
  // Runs of hosts that died are ended off this thread: opening waits for no one.
  host->schedule_sweep();
  return std::unique_ptr<Host>(std::move(host));
}

Result<std::optional<devices::sandbox::MiosaConfig>> HostImpl::miosa_config(const HostOptions& options) {
  devices::sandbox::MiosaOptions given{options.miosa.base_url, options.miosa.api_key, {}, options.miosa.tenant};
  devices::sandbox::EnvLookup env = [&](const char* name) -> std::optional<std::string> {
    const char* value = options.miosa.use_environment ? std::getenv(name) : nullptr;
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
  if (given.api_key.empty() && !env("MIOSA_API_KEY") && !env("MIOSA_ACCESS_TOKEN")) {
    return std::optional<devices::sandbox::MiosaConfig>();  // no sandbox device
  }
  auto config = devices::sandbox::MiosaConfig::from_env_and_options(given, env);
  if (!config) return config.error();
  return std::optional<devices::sandbox::MiosaConfig>(std::move(*config));
}

HostImpl::~HostImpl() {
  // Cancel what still runs, wait (bounded) for each terminal event to be durable, then stop.
  boost::asio::post(io_, [this] {
    closing_ = true;
    for (auto& [id, run] : active_) run->cancel("the host is shutting down");
  });
  {
    std::unique_lock lock(done_mutex_);
    done_cv_.wait_for(lock, std::chrono::seconds(15), [this] { return active_count_ == 0; });
  }
  boost::asio::post(io_, [this] {
    poll_timer_.cancel();
    boost::system::error_code ignored;
    commit_watch_.close(ignored);
    active_.clear();
    subscribers_.clear();
  });
  work_.reset();
  workers_.join();
  spawner_.join();
  io_.stop();
  if (reactor_.joinable()) reactor_.join();
  if (auto st = store_->flush(); !st) util::logger()->error("closing the store: {}", st.error().message);
  watchdog_.reset();  // the runs have ended: it sweeps once for stragglers and exits
  // Last: the lock goes with the host, and a run that outlasted the bounded wait (or whose
  // ending the store refused) becomes an orphan for the next host to end.
  lock_.reset();
}

template <class F>
auto HostImpl::on_reactor(F&& f) -> decltype(f()) {
  std::packaged_task<decltype(f())()> task(std::forward<F>(f));
  auto result = task.get_future();
  // Counted as waiting: output turns on the reactor end early until this task runs.
  auto& callers = boost::asio::use_service<util::ReactorCallers>(io_);
  callers.arrive();
  boost::asio::post(io_, [&task, &callers] {
    callers.served();
    task();
  });
  return result.get();
}

// Ends, exactly once whoever else is trying, the runs of hosts that are provably gone (their
// lock can be taken, host_lock.hpp): a run.failed with device_lost after the events they left.
// Runs on a worker: it may wait for the store's write lock, and the caller of open() must not.
void HostImpl::recover_orphans() {
  auto active = store_->active_runs();
  if (!active) return util::logger()->warn("looking for runs left by stopped hosts: {}", active.error().message);
  std::map<std::string, std::vector<const store::RunRow*>> by_owner;
  for (const auto& run : *active) {
    if (run.owner.host_id == self_.host_id) continue;
    if (run.owner.host_id.empty() && legacy_owner_alive(run.owner)) continue;
    by_owner[run.owner.host_id].push_back(&run);
  }
  for (const auto& [owner, runs] : by_owner) {
    std::optional<store::HostLock> held;  // the dead owner's lock, held while its runs are ended
    if (!owner.empty()) {
      auto probe = store::HostLock::probe(store_->path(), owner);
      if (!probe) {
        util::logger()->warn("cannot tell whether host {} lives: {}", owner, probe.error().message);
        continue;
      }
      if (probe->alive) continue;
      held = std::move(probe->taken);
    }
    for (const store::RunRow* run : runs) {
      const json payload = failure_payload(Error{ErrorCode::device_lost,
                                                 "the host running this run (" +
                                                     (owner.empty() ? std::string("pid ") : owner + ", pid ") +
                                                     std::to_string(run->owner.pid) + ") stopped before it finished",
                                                 R"({"action":"retry"})"});
      auto ended = store_->finish_orphan(run->id, run->owner, [&](const store::RunRow& row) {
        store::EventRow event = make_event(identity_of(row), row.last_seq + 1, "run.failed", "host", payload);
        event.final_status = store::RunStatus::failed;
        event.error_code = "device_lost";
        return event;
      });
      if (!ended) {
        util::logger()->warn("run {} was left by a stopped host; ending it failed: {}", run->id, ended.error().message);
      } else if (*ended) {
        util::logger()->warn("run {} was left running by a host that stopped ({}); marked failed (device_lost) by {}",
                             run->id, owner, self_.host_id);
      }
    }
  }
}

// Every second, on a worker: the store file is still there, this host's runs whose events the
// store refused get their ending once it takes writes again, and the runs of hosts that died
// meanwhile are ended (so followers of such a run are not left waiting for the next host).
void HostImpl::sweep() {
  struct stat info {};
  const bool same = ::stat(store_->path().c_str(), &info) == 0 && info.st_dev == store_identity_.first &&
                    info.st_ino == store_identity_.second;
  if (!same) {
    const Error lost{ErrorCode::store_unavailable,
                     "store " + store_->path().string() + " was deleted or replaced while this host was using it",
                     R"({"action":"retry"})"};
    boost::asio::post(io_, [this, lost] { store_lost(lost); });
    return;
  }
  std::map<std::string, Error> unrecorded;
  {
    std::lock_guard lock(unrecorded_mutex_);
    unrecorded = unrecorded_;
  }
  for (const auto& [id, error] : unrecorded) {
    auto ended = store_->finish_orphan(id, self_, [&](const store::RunRow& row) {
      store::EventRow event =
          make_event(identity_of(row), row.last_seq + 1, "run.failed", "host", failure_payload(error));
      event.final_status = store::RunStatus::failed;
      event.error_code = std::string(to_string(error.code));
      return event;
    });
    if (ended) {
      std::lock_guard lock(unrecorded_mutex_);
      unrecorded_.erase(id);
    }
  }
  recover_orphans();
}

// ---- dispatch -----------------------------------------------------------------------------------

Result<DispatchResult> HostImpl::dispatch(std::string_view dispatch_json, const Scope& scope) {
  if (store_lost_) {
    return Error{
        ErrorCode::store_unavailable,
        "store " + store_->path().string() + " was deleted or replaced while this host was using it; open a new host"};
  }
  auto parsed = parse_dispatch(dispatch_json, scope.tenant_id);
  if (!parsed) return parsed.error();
  Dispatch d = std::move(*parsed);

  const auto* adapter = registry_->impl().find(PluginKind::runtime, d.runtime);
  if (adapter == nullptr) {
    return invalid_field("runtime", "names no loaded runtime ('" + d.runtime +
                                        "'); available: " + joined(registry_->ids(PluginKind::runtime)));
  }
  if (d.resume_session_id && (adapter->desc->iface.runtime->capabilities & RH_RUNTIME_CAP_RESUME) == 0) {
    return invalid_field("resumeSessionId", "runtime '" + d.runtime + "' cannot resume a session");
  }
  for (const auto& c : d.connectors) {
    if (!connectors_.count(c)) {
      return invalid_field("connectors", "names no loaded connector ('" + c +
                                             "'); available: " + joined(registry_->ids(PluginKind::connector)));
    }
  }
  auto driver = driver_for(d.device_type);
  if (!driver) return driver.error();
  auto checked = (*driver)->check(d.cwd.value_or(""));
  if (!checked) return checked.error();
  std::string cwd = std::move(*checked);

  // approvalPolicy is never silently downgraded: a runtime that cannot ask while it runs cannot
  // honour confirm-risky or manual, and the dispatch is refused before anything is recorded.
  if (d.approval_policy != "auto") {
    const auto* iface = adapter->desc->iface.runtime;
    if (!(iface->capabilities & RH_RUNTIME_CAP_APPROVALS) || iface->respond == nullptr) {
      return Error{ErrorCode::invalid_dispatch,
                   "runtime '" + d.runtime + "' cannot ask for approval while it runs, so approvalPolicy '" +
                       d.approval_policy + "' cannot be honoured (it is never downgraded)",
                   json{{"action", "fix_dispatch"},
                        {"field", "approvalPolicy"},
                        {"hint",
                         "use approvalPolicy \"auto\" (policies still deny what they must), or a runtime that asks "
                         "live: claude-code, or this agent over ACP"}}
                       .dump()};
    }
  }
  if (auto st = check_with_adapter(d, *adapter, cwd); !st) return std::move(st).error();

  store::NewRun run;
  run.id = events::new_id("run");
  run.tenant_id = d.tenant_id;
  run.workspace_id = d.workspace_id;
  run.project_id = d.project_id;
  run.user_id = d.user_id;
  run.device_type = d.device_type;
  run.device_id = d.device_id;
  run.runtime = d.runtime;
  run.prompt = d.prompt;
  run.cwd = d.cwd;
  run.approval_policy = d.approval_policy;
  run.idempotency_key = d.idempotency_key;
  run.request_hash = d.request_hash;
  run.dispatch_json = d.canonical_json;
  run.created_us = now_us();
  run.owner = self_;
  // Budgets and quotas are counted in the run's own INSERT transaction: every process's runs
  // and spend, and no other dispatch between the count and the insert.
  const auto caps = dispatch_caps(limits_.for_tenant(run.tenant_id), run.created_us);
  auto created = store_->create_run(run, caps.caps);
  if (!created) return created.error();
  if (created->refused) return refusal(caps, *created->refused, run, run.created_us);
  DispatchResult result{info_of(created->run), created->created};
  if (!created->created) return result;  // same key, same request: the same run, nothing started

  {
    std::lock_guard lock(done_mutex_);
    ++active_count_;
  }
  boost::asio::post(io_, [this, row = created->run, d = std::move(d), cwd = std::move(cwd), adapter]() mutable {
    start_run(std::move(row), std::move(d), std::move(cwd), adapter);
  });
  return result;
}

namespace {

// The rh_run of a session made only to be asked whether it takes a dispatch: it runs nothing,
// so it has nothing to emit.
struct DryRun final : rh_run {
  rh_status emit(const rh_event&) noexcept override { return RH_ERR_INVALID_ARGUMENT; }
};

}  // namespace

// The adapter is asked (create, then destroy, on the reactor where adapters live) before any
// run row exists: a dispatch it refuses (the custom runtime without a command, say) is the
// caller's mistake, answered at once, not a run that fails.
Status HostImpl::check_with_adapter(const Dispatch& d, const plugins::LoadedPlugin& adapter, const std::string& cwd) {
  return on_reactor([&]() -> Status {
    DryRun dry;
    plugins::RuntimeSessionArgs args;
    args.run_id = "run_dispatch_check";
    args.dispatch_json = d.canonical_json;
    args.config_json = plugin_config(adapter);
    args.resume_id = d.resume_session_id.value_or("");
    args.cwd = cwd;
    auto session = plugins::RuntimeSession::create(adapter, args, &dry);
    if (!session) {
      return Error{ErrorCode::invalid_dispatch, session.error().message, R"({"action":"fix_dispatch"})"};
    }
    return {};
  });
}

void HostImpl::start_run(store::RunRow row, Dispatch d, std::string cwd, const plugins::LoadedPlugin* adapter) {
  const std::string id = row.id;
  auto& driver = *drivers_.find(d.device_type)->second;  // dispatch() checked it
  auto run = std::make_shared<ActiveRun>(*this, std::move(row), std::move(d), std::move(cwd), *adapter, driver);
  active_[id] = run;
  if (closing_) return run->cancel("the host is shutting down");
  run->start();
}

Result<devices::DeviceDriver*> HostImpl::driver_for(const std::string& device_type) const {
  if (auto it = drivers_.find(device_type); it != drivers_.end()) return it->second.get();
  std::string available;
  for (const auto& [type, driver] : drivers_) available += (available.empty() ? "" : ", ") + type;
  return Error{
      ErrorCode::device_unavailable,
      "this host has no driver for " + device_type + " devices (available: " + available + ")" +
          (device_type == "sandbox" ? "; set MIOSA_API_KEY (and MIOSA_BASE_URL) to run in MIOSA sandboxes" : ""),
      nlohmann::json{{"action", "configure_device"}, {"field", "deviceType"}}.dump()};
}

void HostImpl::run_done(const std::string& run_id) {
  // Called from the run itself (its on_durable holds a reference, so erasing here is safe).
  awaiting_.erase(run_id);
  if (active_.erase(run_id) == 0) return;
  std::lock_guard lock(done_mutex_);
  if (active_count_ > 0) --active_count_;
  done_cv_.notify_all();
}

// ---- control ----------------------------------------------------------------------------------

Result<store::RunRow> HostImpl::visible_run(std::string_view run_id, const Scope& scope) {
  auto row = store_->run(run_id);
  if (!row) return std::move(row).error();
  if (!*row || !scope.sees((*row)->tenant_id)) {
    return Error{ErrorCode::run_not_found, "no run '" + std::string(run_id) + "'"};
  }
  return std::move(**row);
}

Status HostImpl::cancel(std::string_view run_id_view, const Scope& scope) {
  const std::string run_id(run_id_view);
  auto run = visible_run(run_id, scope);
  if (!run) return std::move(run).error();
  const bool here = on_reactor([&] {
    auto it = active_.find(run_id);
    if (it == active_.end()) return false;
    it->second->cancel("cancelled by request");
    return true;
  });
  if (here || store::is_terminal(run->status)) return {};
  return store_->request_cancel(run_id);
}

Status HostImpl::answer_approval(std::string_view run_id, std::string_view approval_id,
                                 const ApprovalDecision& decision, const Scope& scope) {
  auto run = visible_run(run_id, scope);
  if (!run) return std::move(run).error();
  if (decision.scope != "once" && decision.scope != "run") {
    return Error{ErrorCode::invalid_dispatch, "approval scope '" + decision.scope + "' is not one of: once, run",
                 R"({"action":"fix_dispatch","field":"scope"})"};
  }
  store::ApprovalAnswer answer{decision.allow ? "allow" : "deny", decision.scope, decision.reason, decision.actor};
  util::secrets().redact(answer.reason);
  if (auto st = store_->answer_approval(run_id, approval_id, answer); !st) return st;
  // Ours: apply it now. Another host's: its commit watch wakes it (awaiting_answer).
  boost::asio::post(io_, [this, id = std::string(run_id)] {
    if (auto it = active_.find(id); it != active_.end()) it->second->check_answer();
  });
  return {};
}

Result<std::vector<PendingApproval>> HostImpl::pending_approvals(const Scope& scope) {
  auto rows = store_->pending_approvals(scope.tenant_id);
  if (!rows) return std::move(rows).error();
  std::vector<PendingApproval> out;
  for (auto& r : *rows) {
    out.push_back(PendingApproval{std::move(r.id), std::move(r.run_id), std::move(r.tenant_id), r.seq,
                                  std::move(r.request_json), r.created_us, r.deadline_us, r.answer.has_value()});
  }
  return out;
}

void HostImpl::awaiting_answer(const std::string& run_id, bool waiting) {
  if (waiting) {
    awaiting_.insert(run_id);
    read_store_commits();
  } else {
    awaiting_.erase(run_id);
  }
}

// ---- reading ----------------------------------------------------------------------------------

Result<std::optional<RunInfo>> HostImpl::run(std::string_view run_id, const Scope& scope) {
  auto row = store_->run(run_id);
  if (!row) return row.error();
  if (!*row || !scope.sees((*row)->tenant_id)) return std::optional<RunInfo>{};
  return std::optional<RunInfo>{info_of(**row)};
}

Result<std::vector<RunInfo>> HostImpl::runs(const RunQuery& query, const Scope& scope) {
  store::RunFilter filter;
  filter.tenant_id = query.tenant_id;
  filter.limit = query.limit;
  if (scope.tenant_id) {
    if (query.tenant_id && *query.tenant_id != *scope.tenant_id) return std::vector<RunInfo>{};
    filter.tenant_id = scope.tenant_id;
  }
  if (query.status) {
    filter.status = store::run_status_from_string(*query.status);
    if (!filter.status)
      return Error{ErrorCode::invalid_dispatch,
                   "unknown run status '" + *query.status + "' (queued, running, succeeded, failed, cancelled)"};
  }
  auto rows = store_->runs(filter);
  if (!rows) return rows.error();
  std::vector<RunInfo> out;
  for (const auto& r : *rows) out.push_back(info_of(r));
  return out;
}

Result<std::vector<Event>> HostImpl::events(std::string_view run_id, int64_t after_seq, size_t limit,
                                            const Scope& scope) {
  if (auto run = visible_run(run_id, scope); !run) return std::move(run).error();
  auto rows = store_->events(run_id, after_seq, limit);
  if (!rows) return rows.error();
  std::vector<Event> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(event_of(r));
  return out;
}

Result<std::vector<UsageTotal>> HostImpl::usage(const UsageQuery& query, const Scope& scope) {
  store::UsageFilter filter;
  static_cast<UsageQuery&>(filter) = query;
  if (scope.tenant_id) {
    if (query.tenant_id && *query.tenant_id != *scope.tenant_id) return std::vector<UsageTotal>{};
    filter.tenant_id = scope.tenant_id;
  }
  return store_->usage(filter);
}

// ---- subscriptions ----------------------------------------------------------------------------

Result<std::unique_ptr<Subscription>> HostImpl::subscribe(std::string_view run_id, int64_t after_seq,
                                                          EventCallback on_event, EndCallback on_end,
                                                          const Scope& scope) {
  if (auto run = visible_run(run_id, scope); !run) return std::move(run).error();
  auto state = std::make_shared<SubscriptionState>();
  state->run_id = std::string(run_id);
  state->cursor = std::max<int64_t>(0, after_seq);
  state->on_event = std::move(on_event);
  state->on_end = std::move(on_end);
  boost::asio::post(io_, [this, state] {
    subscribers_.emplace(state->run_id, state);
    schedule_pull(state);
    if (!active_.count(state->run_id)) read_store_commits();  // another host writes its events
  });
  return std::unique_ptr<Subscription>(new SubscriptionHandle(state));
}

void HostImpl::schedule_pull(const std::shared_ptr<SubscriptionState>& sub) {
  if (sub->pull_scheduled || sub->ended) return;
  sub->pull_scheduled = true;
  boost::asio::post(io_, [this, sub] {
    sub->pull_scheduled = false;
    pull(sub);
  });
}

namespace {

void finish(SubscriptionState& sub, const Status& status) {
  sub.ended = true;
  std::lock_guard lock(sub.mutex);
  if (!sub.cancelled && sub.on_end) sub.on_end(status);
}

// Hands one event to the subscriber at its cursor; false once it has ended (cancelled, or this
// was the terminal event).
bool deliver_row(SubscriptionState& sub, const store::EventRow& row) {
  {
    std::lock_guard lock(sub.mutex);
    if (sub.cancelled) {
      sub.ended = true;
      return false;
    }
    if (sub.on_event) sub.on_event(event_of(row));
  }
  sub.cursor = row.seq;
  if (!events::is_terminal_event_type(row.type)) return true;
  finish(sub, {});
  return false;
}

}  // namespace

// Delivers what the store holds past the cursor: a subscriber's start, one that fell behind, a
// run another host writes. The store is the one source of truth; on_committed hands a caught-up
// subscriber the same rows from memory, and the cursor says which path has which event, so
// there are no gaps or repeats.
void HostImpl::pull(const std::shared_ptr<SubscriptionState>& sub) {
  if (sub->ended) return;
  {
    std::lock_guard lock(sub->mutex);
    if (sub->cancelled) {
      sub->ended = true;
      return;
    }
  }
  constexpr size_t kPage = 2048;
  auto rows = store_->events(sub->run_id, sub->cursor, kPage);
  if (!rows) return finish(*sub, rows.error());
  for (const auto& row : *rows) {
    if (!deliver_row(*sub, row)) return;
  }
  if (rows->size() == kPage) return schedule_pull(sub);
  if (auto error = unrecorded(sub->run_id)) finish(*sub, *error);
}

void HostImpl::event_durable(const std::string& run_id) {
  auto [begin, end] = subscribers_.equal_range(run_id);
  for (auto it = begin; it != end; ++it) schedule_pull(it->second);
}

// A commit, on the reactor: each event's own on_durable (its run's bookkeeping), then the event
// itself to the subscribers that are at it. One behind (or with a read pending) reads the store.
void HostImpl::on_committed(std::vector<store::Store::Committed> batch) {
  for (auto& committed : batch) {
    if (committed.on_durable) committed.on_durable(committed.status);
    if (!committed.status) continue;
    const auto& row = committed.event;
    auto [begin, end] = subscribers_.equal_range(row.run_id);
    for (auto it = begin; it != end; ++it) {
      auto& sub = it->second;
      if (sub->ended || sub->cursor >= row.seq) continue;
      if (sub->pull_scheduled || sub->cursor != row.seq - 1) {
        schedule_pull(sub);
        continue;
      }
      deliver_row(*sub, row);
    }
  }
  if (!held_for_store_.empty() && store_caught_up()) {
    for (auto& held : std::exchange(held_for_store_, {})) {
      if (auto run = held.lock()) run->store_caught_up();
    }
  }
}

// A run owned by another host gets its events from that host's writes; every host touches
// CommitSignal's file after each commit, so an inotify IN_MODIFY on it is a wake-up per commit
// with no poll interval on the path. The directory is watched, not the file, so the file made
// after this host started is seen too. A commit wakes each such subscriber once however many
// runs it wrote (schedule_pull coalesces); the subscriber then reads the store, which is the
// truth either way, so a wake-up for a commit of other runs costs one read and loses nothing.
void HostImpl::watch_store_commits() {
  const auto dir = store::HostLock::directory(store_->path());  // exists: our lock is in it
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0 || ::inotify_add_watch(fd, dir.c_str(), IN_MODIFY | IN_ONLYDIR) < 0) {
    util::logger()->warn("cannot watch {} ({}): followers of other hosts' runs are woken every 100 ms", dir.string(),
                         std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return;
  }
  commit_watch_.assign(fd);
}

// Reads the commit watch while someone follows a run owned elsewhere or a run waits for an
// approval's answer (which any process may record), and only then: a host
// whose subscribers all follow its own runs (woken by its writer directly) is not woken by its
// own commits. Unread, the kernel keeps one record however many commits happen (it merges a
// record identical to the last one queued), so not reading costs nothing.
void HostImpl::read_store_commits() {
  if (reading_commits_ || !commit_watch_.is_open()) return;
  reading_commits_ = true;
  commit_watch_.async_read_some(boost::asio::buffer(commit_buffer_), [this](const boost::system::error_code& ec,
                                                                            size_t n) {
    reading_commits_ = false;
    if (ec == boost::asio::error::operation_aborted || !commit_watch_.is_open()) return;
    if (ec) {
      util::logger()->warn("watching the store for commits: {}; followers of other hosts' runs are woken every 100 ms",
                           ec.message());
      boost::system::error_code ignored;
      commit_watch_.close(ignored);
      return;
    }
    bool committed = false;
    for (size_t at = 0; at + sizeof(inotify_event) <= n;) {
      const auto* record = reinterpret_cast<const inotify_event*>(commit_buffer_ + at);
      if (record->mask & IN_Q_OVERFLOW) committed = true;  // records were lost: assume one was ours
      if (record->len > 0 && std::strcmp(record->name, store::CommitSignal::kFileName) == 0) committed = true;
      at += sizeof(inotify_event) + record->len;
    }
    // Woken or not, followers of runs owned elsewhere and runs waiting for an answer keep the
    // watch read.
    const size_t followers = wake_foreign_subscribers(committed);
    if (committed) {
      const auto awaiting = awaiting_;  // a check that applies an answer leaves awaiting_
      for (const auto& id : awaiting) {
        if (auto it = active_.find(id); it != active_.end()) it->second->check_answer();
      }
    }
    if (followers > 0 || !awaiting_.empty()) read_store_commits();
  });
}

size_t HostImpl::wake_foreign_subscribers(bool wake) {
  size_t foreign = 0;
  for (auto& [run_id, sub] : subscribers_) {
    if (sub->ended || active_.count(run_id)) continue;
    ++foreign;
    if (wake) schedule_pull(sub);
  }
  return foreign;
}

// Every 100 ms: drop finished subscriptions, honour cancel requests made through the store, and,
// when the store's commits cannot be watched, wake subscribers of runs owned elsewhere.
void HostImpl::poll_tick() {
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    bool drop = it->second->ended;
    if (!drop) {
      std::lock_guard lock(it->second->mutex);
      drop = it->second->cancelled;
    }
    if (drop) {
      it = subscribers_.erase(it);
    } else {
      ++it;
    }
  }
  if (!commit_watch_.is_open()) wake_foreign_subscribers(true);
  if (ticks_ % 10 == 0) schedule_sweep();
  if (++ticks_ % 3 == 0 && !active_.empty()) {
    auto requested = std::make_shared<std::vector<std::string>>();
    on_worker(
        [this, requested] {
          auto runs = store_->active_runs();
          if (!runs) return;
          for (const auto& r : *runs) {
            if (r.cancel_requested) requested->push_back(r.id);
          }
        },
        [this, requested] {
          for (const auto& id : *requested) {
            if (auto it = active_.find(id); it != active_.end()) it->second->cancel("cancelled by request");
          }
        });
  }
  poll_timer_.expires_after(std::chrono::milliseconds(100));
  poll_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) poll_tick();
  });
}

// ---- helpers ----------------------------------------------------------------------------------

void HostImpl::schedule_sweep() {
  if (sweeping_.exchange(true)) return;  // the last one is still at it (a store locked by a stopped host)
  boost::asio::post(workers_, [this] {
    sweep();
    sweeping_ = false;
  });
}

void HostImpl::run_unrecorded(const std::string& run_id, const Error& error) {
  {
    std::lock_guard lock(unrecorded_mutex_);
    unrecorded_.emplace(run_id, error);
  }
  util::logger()->error("run {}: the store refused its events ({}); its runtime is stopped", run_id, error.message);
  event_durable(run_id);  // its subscribers read what is stored, then end with the error
}

std::optional<Error> HostImpl::unrecorded(const std::string& run_id) {
  std::lock_guard lock(unrecorded_mutex_);
  auto it = unrecorded_.find(run_id);
  return it == unrecorded_.end() ? std::nullopt : std::optional<Error>(it->second);
}

void HostImpl::store_lost(const Error& error) {
  if (store_lost_) return;
  store_lost_ = true;
  util::logger()->error("{}: ending this host's runs", error.message);
  for (auto& [id, run] : active_) run->store_failed(error);
}

void HostImpl::on_worker(std::function<void()> work, std::function<void()> done) {
  boost::asio::post(workers_, [this, work = std::move(work), done = std::move(done)] {
    work();
    if (done) boost::asio::post(io_, done);
  });
}

plugins::ConnectorInstance* HostImpl::connector(const std::string& id) const {
  auto it = connectors_.find(id);
  return it == connectors_.end() ? nullptr : it->second.get();
}

std::string HostImpl::plugin_config(const plugins::LoadedPlugin& plugin) const {
  return config_for(options_, plugin);
}

devices::local::LocalOptions HostImpl::local_options() const {
  devices::local::LocalOptions o;
  if (!options_.artifact_patterns.empty()) o.artifact_patterns = options_.artifact_patterns;
  o.ignore_files = own_files_;
  o.host_id = self_.host_id;
  o.ignore_dirs.push_back(store::HostLock::directory(store_->path()).filename().string());
  return o;
}

}  // namespace engine
}  // namespace runhost
