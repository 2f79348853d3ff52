#include "engine/host_impl.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>

#include <boost/asio/post.hpp>

#include "engine/dispatch.hpp"
#include "events/event_types.hpp"
#include "events/ids.hpp"
#include "util/logging.hpp"

namespace runhost {

std::filesystem::path default_store_path() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg == '/') {
    return std::filesystem::path(xdg) / "runhost" / "runhost.db";
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr && *home ? home : "/tmp") / ".local" / "share" / "runhost" / "runhost.db";
}

Result<std::unique_ptr<Host>> Host::open(HostOptions options) { return engine::HostImpl::open(std::move(options)); }

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

// The runs of this process's live hosts. Hosts of one process share its pid, so the store's
// owner record cannot tell a second host opening the store (a test, a backend with two Hosts)
// that a run of the first is not an orphan; this can.
std::mutex g_live_runs_mutex;
std::map<std::string, const void*, std::less<>> g_live_runs;  // run id -> its host

void live_run_started(const std::string& run_id, const void* host) {
  std::lock_guard lock(g_live_runs_mutex);
  g_live_runs[run_id] = host;
}

void live_run_ended(const std::string& run_id) {
  std::lock_guard lock(g_live_runs_mutex);
  g_live_runs.erase(run_id);
}

void live_host_gone(const void* host) {
  std::lock_guard lock(g_live_runs_mutex);
  std::erase_if(g_live_runs, [host](const auto& entry) { return entry.second == host; });
}

bool live_in_this_process(const std::string& run_id) {
  std::lock_guard lock(g_live_runs_mutex);
  return g_live_runs.contains(run_id);
}

bool owner_alive(const store::Owner& owner) {
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

Event event_of(const store::EventRow& row) { return {row.run_id, row.seq, row.type, row.json}; }

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

HostImpl::HostImpl(HostOptions options, std::unique_ptr<store::Store> store, std::shared_ptr<const PluginRegistry> registry,
                   std::unique_ptr<PolicyGate> policies,
                   std::map<std::string, std::unique_ptr<plugins::ConnectorInstance>> connectors)
    : options_(std::move(options)),
      store_(std::move(store)),
      registry_(std::move(registry)),
      policies_(std::move(policies)),
      connectors_(std::move(connectors)),
      work_(boost::asio::make_work_guard(io_)),
      poll_timer_(io_) {
  std::error_code ec;
  workspace_root_ = std::filesystem::canonical(
      options_.workspace_root.empty() ? std::filesystem::current_path(ec) : options_.workspace_root, ec);
  // A store inside a run's working directory: its writes are ours, not the run's (canonical, so
  // that each run compares without a system call).
  const auto store_file = std::filesystem::weakly_canonical(store_->path(), ec);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) own_files_.emplace_back(store_file.string() + suffix);
  self_.pid = getpid();
  self_.start_time = process_start_time(self_.pid);
  reactor_ = std::thread([this] { io_.run(); });
  boost::asio::post(io_, [this] { poll_tick(); });
}

Result<std::unique_ptr<Host>> HostImpl::open(HostOptions options) {
  raise_open_file_limit();
  // Orphans of a run (a runtime's background child whose parent exited) become our children
  // instead of init's, so the local device can reap them by process group: many containers'
  // pid 1 never reaps, and a killed run would leave zombies behind.
  (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
  const auto path = options.store.empty() ? default_store_path() : options.store;
  store::StoreOptions store_options;
  store_options.durable = options.durable;
  auto store = store::Store::open(path, store_options);
  if (!store) return store.error();
  if (!options.workspace_root.empty() && !std::filesystem::is_directory(options.workspace_root)) {
    return Error{ErrorCode::invalid_dispatch, "workspace root " + options.workspace_root.string() + " is not a directory"};
  }

  auto registry = PluginRegistry::load(options.plugins);
  for (const auto& r : registry->refusals()) util::logger()->warn("plugin refused: {}: {}", r.path.string(), r.reason);
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
  std::unique_ptr<HostImpl> host(new HostImpl(std::move(options), std::move(*store), std::move(registry),
                                              std::make_unique<PolicyGate>(std::move(policies)), std::move(connectors)));
  if (auto st = host->recover_orphans(); !st) return st.error();
  return std::unique_ptr<Host>(std::move(host));
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
    active_.clear();
    subscribers_.clear();
  });
  work_.reset();
  workers_.join();
  spawner_.join();
  io_.stop();
  if (reactor_.joinable()) reactor_.join();
  if (auto st = store_->flush(); !st) util::logger()->error("closing the store: {}", st.error().message);
  live_host_gone(this);  // a run that outlasted the bounded wait is an orphan for the next host
}

template <class F>
auto HostImpl::on_reactor(F&& f) -> decltype(f()) {
  std::packaged_task<decltype(f())()> task(std::forward<F>(f));
  auto result = task.get_future();
  boost::asio::post(io_, [&task] { task(); });
  return result.get();
}

Status HostImpl::recover_orphans() {
  auto active = store_->active_runs();
  if (!active) return active.error();
  for (const auto& run : *active) {
    // Another live host's run: another process's, or another Host's of this one.
    if (owner_alive(run.owner) && (run.owner.pid != self_.pid || live_in_this_process(run.id))) continue;
    // Died after its terminal event was stored but before its status was: finish the bookkeeping.
    if (run.last_seq > 0) {
      auto last = store_->events(run.id, run.last_seq - 1, 1);
      if (!last) return last.error();
      if (!last->empty() && events::is_terminal_event_type(last->front().type)) {
        const auto& type = last->front().type;
        const json payload = json::parse(last->front().json, nullptr, false)["payload"];
        const auto status = type == "run.completed" ? store::RunStatus::succeeded
                            : type == "run.failed"  ? store::RunStatus::failed
                                                    : store::RunStatus::cancelled;
        std::optional<std::string> code;
        if (status == store::RunStatus::failed && payload.is_object() && payload.contains("error")) {
          code = payload["error"].value("code", std::string("internal"));
        }
        if (auto st = store_->set_status(run.id, status, code); !st) return st;
        continue;
      }
    }
    const json payload = failure_payload(
        Error{ErrorCode::device_lost,
              "the host running this run (pid " + std::to_string(run.owner.pid) + ") stopped before it finished",
              R"({"action":"retry"})"});
    std::promise<Status> stored;
    store::EventRow event = make_event(identity_of(run), run.last_seq + 1, "run.failed", "host", payload);
    event.final_status = store::RunStatus::failed;
    event.error_code = "device_lost";
    store_->append(std::move(event), [&stored](const Status& st) { stored.set_value(st); });
    if (auto st = stored.get_future().get(); !st) return st;
    util::logger()->warn("run {} was left running by a host that stopped; marked failed (device_lost)", run.id);
  }
  return {};
}

// ---- dispatch -----------------------------------------------------------------------------------

Result<DispatchResult> HostImpl::dispatch(std::string_view dispatch_json) {
  auto parsed = parse_dispatch(dispatch_json);
  if (!parsed) return parsed.error();
  Dispatch d = std::move(*parsed);

  const auto* adapter = registry_->impl().find(PluginKind::runtime, d.runtime);
  if (adapter == nullptr) {
    return invalid_field("runtime", "names no loaded runtime ('" + d.runtime + "'); available: " +
                                        joined(registry_->ids(PluginKind::runtime)));
  }
  if (d.resume_session_id && (adapter->desc->iface.runtime->capabilities & RH_RUNTIME_CAP_RESUME) == 0) {
    return invalid_field("resumeSessionId", "runtime '" + d.runtime + "' cannot resume a session");
  }
  for (const auto& c : d.connectors) {
    if (!connectors_.count(c)) {
      return invalid_field("connectors", "names no loaded connector ('" + c + "'); available: " +
                                             joined(registry_->ids(PluginKind::connector)));
    }
  }
  std::filesystem::path cwd;
  if (d.device_type == "local") {
    auto confined = devices::local::confine_cwd(workspace_root_, d.cwd.value_or(""));
    if (!confined) return confined.error();
    cwd = std::move(*confined);
  }

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
  auto created = store_->create_run(run);
  if (!created) return created.error();
  DispatchResult result{info_of(created->run), created->created};
  if (!created->created) return result;  // same key, same request: the same run, nothing started

  if (auto st = store_->set_owner(run.id, self_); !st) return st.error();
  live_run_started(run.id, this);
  {
    std::lock_guard lock(done_mutex_);
    ++active_count_;
  }
  boost::asio::post(io_, [this, row = created->run, d = std::move(d), cwd = std::move(cwd), adapter]() mutable {
    start_run(std::move(row), std::move(d), std::move(cwd), adapter);
  });
  return result;
}

void HostImpl::start_run(store::RunRow row, Dispatch d, std::filesystem::path cwd, const plugins::LoadedPlugin* adapter) {
  const std::string id = row.id;
  const bool local = d.device_type == "local";
  const std::string device_type = d.device_type;
  auto run = std::make_shared<ActiveRun>(*this, std::move(row), std::move(d), std::move(cwd), *adapter);
  active_[id] = run;
  if (closing_) return run->cancel("the host is shutting down");
  if (!local) {
    return run->fail(Error{ErrorCode::device_unavailable,
                                        "no driver for " + device_type + " devices on this host yet (available: local)",
                                        R"({"action":"retry"})"});
  }
  run->start();
}

void HostImpl::run_done(const std::string& run_id) {
  // Called from the run itself (its on_durable holds a reference, so erasing here is safe).
  if (active_.erase(run_id) == 0) return;
  live_run_ended(run_id);
  std::lock_guard lock(done_mutex_);
  if (active_count_ > 0) --active_count_;
  done_cv_.notify_all();
}

// ---- control ----------------------------------------------------------------------------------

Status HostImpl::cancel(std::string_view run_id_view) {
  const std::string run_id(run_id_view);
  const bool here = on_reactor([&] {
    auto it = active_.find(run_id);
    if (it == active_.end()) return false;
    it->second->cancel("cancelled by request");
    return true;
  });
  if (here) return {};
  auto run = store_->run(run_id);
  if (!run) return run.error();
  if (!*run) return Error{ErrorCode::invalid_dispatch, "no run " + run_id};
  if (store::is_terminal((*run)->status)) return {};
  return store_->request_cancel(run_id);
}

Status HostImpl::resolve_approval(std::string_view run_id, std::string_view approval_id, bool allow, std::string_view reason) {
  return on_reactor([&]() -> Status {
    auto it = active_.find(std::string(run_id));
    if (it == active_.end()) return Error{ErrorCode::invalid_dispatch, "run " + std::string(run_id) + " is not running on this host"};
    return it->second->resolve_approval(std::string(approval_id), allow, std::string(reason));
  });
}

// ---- reading ----------------------------------------------------------------------------------

Result<std::optional<RunInfo>> HostImpl::run(std::string_view run_id) {
  auto row = store_->run(run_id);
  if (!row) return row.error();
  if (!*row) return std::optional<RunInfo>{};
  return std::optional<RunInfo>{info_of(**row)};
}

Result<std::vector<RunInfo>> HostImpl::runs(const RunQuery& query) {
  store::RunFilter filter;
  filter.tenant_id = query.tenant_id;
  filter.limit = query.limit;
  if (query.status) {
    filter.status = store::run_status_from_string(*query.status);
    if (!filter.status) return Error{ErrorCode::invalid_dispatch, "unknown run status '" + *query.status + "' (queued, running, succeeded, failed, cancelled)"};
  }
  auto rows = store_->runs(filter);
  if (!rows) return rows.error();
  std::vector<RunInfo> out;
  for (const auto& r : *rows) out.push_back(info_of(r));
  return out;
}

Result<std::vector<Event>> HostImpl::events(std::string_view run_id, int64_t after_seq, size_t limit) {
  auto rows = store_->events(run_id, after_seq, limit);
  if (!rows) return rows.error();
  std::vector<Event> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(event_of(r));
  return out;
}

// ---- subscriptions ----------------------------------------------------------------------------

Result<std::unique_ptr<Subscription>> HostImpl::subscribe(std::string_view run_id, int64_t after_seq, EventCallback on_event,
                                                          EndCallback on_end) {
  auto run = store_->run(run_id);
  if (!run) return run.error();
  if (!*run) return Error{ErrorCode::invalid_dispatch, "no run " + std::string(run_id)};
  auto state = std::make_shared<SubscriptionState>();
  state->run_id = std::string(run_id);
  state->cursor = std::max<int64_t>(0, after_seq);
  state->on_event = std::move(on_event);
  state->on_end = std::move(on_end);
  boost::asio::post(io_, [this, state] {
    subscribers_.emplace(state->run_id, state);
    schedule_pull(state);
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

// Delivers what the store holds past the cursor. The store is the one source of truth: live
// and replayed events take the same path, so there are no gaps or repeats.
void HostImpl::pull(const std::shared_ptr<SubscriptionState>& sub) {
  if (sub->ended) return;
  auto finish = [&](const Status& st) {
    sub->ended = true;
    std::lock_guard lock(sub->mutex);
    if (!sub->cancelled && sub->on_end) sub->on_end(st);
  };
  {
    std::lock_guard lock(sub->mutex);
    if (sub->cancelled) {
      sub->ended = true;
      return;
    }
  }
  constexpr size_t kPage = 2048;
  auto rows = store_->events(sub->run_id, sub->cursor, kPage);
  if (!rows) return finish(rows.error());
  for (const auto& row : *rows) {
    {
      std::lock_guard lock(sub->mutex);
      if (sub->cancelled) {
        sub->ended = true;
        return;
      }
      if (sub->on_event) sub->on_event(event_of(row));
    }
    sub->cursor = row.seq;
    if (events::is_terminal_event_type(row.type)) return finish({});
  }
  if (rows->size() == kPage) schedule_pull(sub);
}

void HostImpl::event_durable(const std::string& run_id) {
  auto [begin, end] = subscribers_.equal_range(run_id);
  for (auto it = begin; it != end; ++it) schedule_pull(it->second);
}

// Every 100 ms: wake subscribers of runs owned elsewhere (they write to the store, not to us),
// drop finished subscriptions, and honour cancel requests made through the store.
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
      if (!active_.count(it->first)) schedule_pull(it->second);
      ++it;
    }
  }
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

std::string HostImpl::plugin_config(const plugins::LoadedPlugin& plugin) const { return config_for(options_, plugin); }

devices::local::LocalOptions HostImpl::local_options() const {
  devices::local::LocalOptions o;
  if (!options_.artifact_patterns.empty()) o.artifact_patterns = options_.artifact_patterns;
  o.ignore_files = own_files_;
  return o;
}

}  // namespace engine
}  // namespace runhost
