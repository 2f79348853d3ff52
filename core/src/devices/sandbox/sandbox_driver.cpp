// SandboxDriver: one run in a MIOSA sandbox, step by step (sandbox_driver.hpp tells the plan).
//
// One SandboxDevice per run holds every piece of state; its Execution is a thin handle on it.
// Each MIOSA answer comes back on the reactor through a callback that first checks the device
// still lives (alive_), so a device destroyed mid-call hears nothing more; the destructor also
// cancels its streams and stops a runtime still running in the sandbox.
#include "devices/sandbox/sandbox_driver.hpp"

#include <signal.h>

#include <algorithm>
#include <charconv>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "devices/local/artifact_rules.hpp"
#include "util/base64.hpp"
#include "util/logging.hpp"
#include "util/secrets.hpp"
#include "util/sha256.hpp"

namespace runhost::devices::sandbox {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kWorkspace = "/workspace";
constexpr std::string_view kRunScript =
#include "run_sh.inc"
    ;
constexpr std::string_view kTailScript =
#include "tail_sh.inc"
    ;
// SANDBOX_STARTING (the sandbox cannot take commands yet) is waited out this many times.
constexpr int kStartingRetries = 20;
constexpr std::chrono::milliseconds kMaxReopenDelay{5'000};

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

const json& field(const json& object, std::string_view name) {
  static const json null;
  if (!object.is_object()) return null;
  auto it = object.find(name);
  return it == object.end() ? null : *it;
}

std::string string_field(const json& object, std::string_view name) {
  const json& v = field(object, name);
  return v.is_string() ? v.get<std::string>() : std::string();
}

// A sandbox object: the answer's data, or its "sandbox" member.
const json& sandbox_of(const json& data) {
  if (const json& inner = field(data, "sandbox"); inner.is_object()) return inner;
  return data;
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> values) {
  return std::find(values.begin(), values.end(), s) != values.end();
}

// The SDK's readiness rule: `ready` true, or every component "ready".
bool is_ready(const json& data) {
  if (const json& ready = field(data, "ready"); ready.is_boolean()) return ready.get<bool>();
  const json& components = field(field(data, "readiness"), "components");
  if (!components.is_object() || components.empty()) return false;
  for (const auto& [name, component] : components.items()) {
    if (string_field(component, "status") != "ready") return false;
  }
  return true;
}

class SandboxDevice;

class SandboxExecution final : public Execution {
 public:
  explicit SandboxExecution(SandboxDevice& device) : device_(device) {}
  void write_stdin(std::string_view bytes) override;
  void close_stdin() override;
  void terminate(uint32_t flags) override;
  void pause_output() override;
  void resume_output() override;

 private:
  SandboxDevice& device_;
};

class SandboxDevice final : public Device {
  // `f`, called only while this device lives.
  template <class F>
  auto guarded(F f) {
    return [alive = std::weak_ptr<char>(alive_), f = std::move(f)](auto&&... args) mutable {
      if (!alive.expired()) f(std::forward<decltype(args)>(args)...);
    };
  }

 public:
  SandboxDevice(boost::asio::io_context& io, MiosaClient& client, const SandboxOptions& options, DeviceRequest request,
                DeviceObserver& observer)
      : io_(io),
        client_(client),
        options_(options),
        request_(std::move(request)),
        observer_(observer),
        poll_timer_(io),
        debounce_timer_(io),
        kill_timer_(io),
        settle_timer_(io),
        tail_timer_(io),
        watch_timer_(io) {}

  ~SandboxDevice() override {
    alive_.reset();
    tail_.cancel();
    watch_.cancel();
    for (auto& h : calls_) h.cancel();
    // A runtime still running in the sandbox is stopped; the sandbox itself is kept.
    if (pid_ >= 0 && !exit_) {
      (void)client_.call("DELETE", sandbox_path("/processes/" + std::to_string(pid_)), std::nullopt, {},
                         [](MiosaResult<MiosaResponse>) {});
    }
  }

  // ---- resolve -------------------------------------------------------------------------------

  void resolve() override {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    if (request_.device_id.empty()) return create_sandbox();
    read_sandbox(request_.device_id);
  }

  // ---- launch --------------------------------------------------------------------------------

  Result<std::unique_ptr<Execution>> launch(LaunchSpec spec) override {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    if (sandbox_id_.empty()) return Error{ErrorCode::internal, "launch() before the sandbox was resolved"};
    if (spec.argv.empty()) return Error{ErrorCode::invalid_dispatch, "the launch spec has no argv"};
    spec_ = std::move(spec);
    run_dir_ = std::string(kWorkspace) + "/.runhost/" + request_.run_id;
    boost::asio::post(io_, guarded([this] { upload(); }));
    return std::unique_ptr<Execution>(std::make_unique<SandboxExecution>(*this));
  }

  // ---- Execution -----------------------------------------------------------------------------

  void write_stdin(std::string_view bytes) {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    if (input_closed_ || bytes.empty()) return;
    input_.emplace_back(std::string(bytes));
    if (pid_ >= 0) write_input();
  }

  void close_stdin() {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    if (input_closed_) return;
    input_closed_ = true;
    input_.emplace_back(std::nullopt);
    if (pid_ >= 0) write_input();
  }

  void terminate(uint32_t flags) {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    exit_flags_ |= flags;
    if (terminating_ || exit_) return;
    terminating_ = true;
    if (pid_ < 0) return;  // the start sees terminating_ and stops there
    stop_process();
  }

  void pause_output() {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    paused_ = true;
    tail_.pause();
  }

  void resume_output() {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    paused_ = false;
    tail_.resume();
  }

 private:
  std::string sandbox_path(const std::string& rest) const { return "/sandboxes/" + sandbox_id_ + rest; }

  // Keys for what the dispatch asks of MIOSA (its sandbox), the same from any host...
  std::string key(std::string_view purpose) const {
    return SandboxDriver::idempotency_key(request_.tenant_id, request_.idempotency_key, purpose);
  }
  // ...and for what this run does in it (its files, its process): its own.
  std::string run_key(const std::string& purpose) const { return key(purpose + "@" + request_.run_id); }

  // A call that waits out SANDBOX_STARTING (409: the sandbox cannot take it yet) before it
  // gives up; every other outcome goes to `done`. The client itself retries 429, 5xx and the
  // network, as the SDK does.
  void call(std::string method, std::string path, std::optional<json> body, CallOptions options,
            std::function<void(MiosaResult<MiosaResponse>)> done, int starting_retries = kStartingRetries) {
    calls_.push_back(client_.call(
        method, path, body, options,
        guarded([this, method, path, body, options, done = std::move(done),
                 starting_retries](MiosaResult<MiosaResponse> result) mutable {
          prune_calls();
          if (!result && result.failure().code == "SANDBOX_STARTING" && starting_retries > 0) {
            const auto wait =
                std::chrono::milliseconds(std::clamp<int64_t>(result.failure().retry_after_ms, 100, 5'000));
            auto timer = std::make_shared<boost::asio::steady_timer>(io_, wait);
            timer->async_wait(guarded([this, timer, method = std::move(method), path = std::move(path),
                                       body = std::move(body), options = std::move(options), done = std::move(done),
                                       starting_retries](const boost::system::error_code& ec) mutable {
              if (!ec)
                call(std::move(method), std::move(path), std::move(body), std::move(options), std::move(done),
                     starting_retries - 1);
            }));
            return;
          }
          done(std::move(result));
        })));
  }

  void prune_calls() {
    calls_.erase(std::remove_if(calls_.begin(), calls_.end(), [](const MiosaHandle& h) { return !h.active(); }),
                 calls_.end());
  }

  // ---- resolving -----------------------------------------------------------------------------

  void read_sandbox(const std::string& id) {
    sandbox_id_ = id;
    call("GET", sandbox_path(""), std::nullopt, {}, [this](MiosaResult<MiosaResponse> r) {
      if (!r) {
        if (request_.remembered && r.failure().status == 404) return create_sandbox();  // the project's is gone
        return resolve_failed(r.error());
      }
      on_sandbox(sandbox_of(r->data), r->request_id);
    });
  }

  // What to do with a sandbox in the state it is in.
  void on_sandbox(const json& sandbox, const std::string& request_id) {
    const std::string state = string_field(sandbox, "state");
    if (one_of(state, {"destroyed", "deleted", "terminated", "error", "failed"})) {
      if (request_.remembered) return create_sandbox();
      Error e{ErrorCode::device_unavailable,
              "sandbox " + sandbox_id_ + " is " + state +
                  ": it cannot run anything again; fork it from a snapshot, or "
                  "dispatch without a deviceId to get a new one",
              json{{"action", "fork_from_snapshot"}, {"device_id", sandbox_id_}}.dump()};
      e.request_id = request_id;
      return resolve_failed(e);
    }
    if (one_of(state, {"paused", "stopped", "hibernated", "suspended"})) {
      if (field(sandbox, "checkpoint_pending") == json(true)) {
        return after(options_.poll, [this] { read_sandbox(sandbox_id_); });  // its checkpoint is being written
      }
      return resume_sandbox();
    }
    await_ready(Clock::now() + options_.readiness_timeout);
  }

  void create_sandbox() {
    created_ = true;
    // The body is the dispatch's alone (no run id): a create retried for the same dispatch, by
    // any host, is the same request under the same key.
    json metadata{{"runhost_tenant_id", request_.tenant_id}, {"runhost_workspace_id", request_.workspace_id}};
    json body{{"template_id", options_.template_id},
              {"persistent", true},
              {"name", "runhost-" + key("sandbox.name").substr(0, 8)},
              {"external_user_id", request_.user_id},
              {"metadata", metadata}};
    if (request_.project_id) {
      body["external_project_id"] = *request_.project_id;
      body["metadata"]["runhost_project_id"] = *request_.project_id;
    }
    call("POST", "/sandboxes", body, {key("sandbox.create"), {}}, [this](MiosaResult<MiosaResponse> r) {
      if (!r) return resolve_failed(r.error());
      const json& sandbox = sandbox_of(r->data);
      sandbox_id_ = string_field(sandbox, "id");
      if (sandbox_id_.empty()) {
        Error e{ErrorCode::device_unavailable, "MIOSA answered the sandbox create without an id",
                R"({"action":"retry"})"};
        e.request_id = r->request_id;
        return resolve_failed(e);
      }
      await_ready(Clock::now() + options_.readiness_timeout);
    });
  }

  void resume_sandbox() {
    // Retried by the client on 503 RESTORE_TRANSIENT (a checkpoint still settling): a POST
    // with an Idempotency-Key may be replayed.
    call("POST", sandbox_path("/resume"), json::object(), {key("sandbox.resume:" + sandbox_id_), {}},
         [this](MiosaResult<MiosaResponse> r) {
           if (!r) return resolve_failed(r.error());
           await_ready(Clock::now() + options_.readiness_timeout);
         });
  }

  void await_ready(Clock::time_point deadline) {
    call("GET", sandbox_path("/readiness"), std::nullopt, {}, [this, deadline](MiosaResult<MiosaResponse> r) {
      if (r && is_ready(r->data)) return resolved(r->request_id);
      if (!r && r.failure().status != 404 && !r.failure().retryable) return resolve_failed(r.error());
      if (!r && r.failure().status == 404) {
        // No readiness route: the sandbox's state says it.
        return call("GET", sandbox_path(""), std::nullopt, {}, [this, deadline](MiosaResult<MiosaResponse> s) {
          if (!s) return resolve_failed(s.error());
          const json& sandbox = sandbox_of(s->data);
          if (field(sandbox, "ready") == json(true) || string_field(sandbox, "state") == "running") {
            return resolved(s->request_id);
          }
          retry_ready(deadline, s->request_id);
        });
      }
      retry_ready(deadline, r ? r->request_id : r.failure().request_id);
    });
  }

  void retry_ready(Clock::time_point deadline, const std::string& request_id) {
    if (Clock::now() >= deadline) {
      Error e{ErrorCode::device_unavailable,
              "sandbox " + sandbox_id_ + " was not ready after " +
                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(options_.readiness_timeout).count()) +
                  " s",
              json{{"action", "retry"}, {"device_id", sandbox_id_}}.dump()};
      e.request_id = request_id;
      return resolve_failed(e);
    }
    after(options_.poll, [this, deadline] { await_ready(deadline); });
  }

  void resolved(const std::string& request_id) {
    std::string cwd = request_.cwd.empty() ? std::string(kWorkspace) : request_.cwd;
    observer_.on_resolved(DeviceRef{"sandbox", sandbox_id_, std::move(cwd), created_}, request_id);
  }

  void resolve_failed(Error error) {
    if (!sandbox_id_.empty() && error.recovery_json.find("device_id") == std::string::npos) {
      json recovery = json::parse(error.recovery_json.empty() ? "{}" : error.recovery_json, nullptr, false);
      if (recovery.is_object()) {
        recovery["device_id"] = sandbox_id_;
        if (!recovery.contains("action")) recovery["action"] = "retry";
        error.recovery_json = recovery.dump();
      }
    }
    observer_.on_resolved(std::move(error), {});
  }

  // ---- launching -----------------------------------------------------------------------------

  void upload() {
    json files = json::array();
    auto file = [&](const std::string& name, std::string_view content) {
      files.push_back({{"path", run_dir_ + "/" + name}, {"content_base64", util::base64_encode(content)}});
    };
    file("run.sh", kRunScript);
    file("tail.sh", kTailScript);
    if (!spec_.stdin_data.empty()) file("in." + std::to_string(input_index_++), spec_.stdin_data);
    if (!spec_.keep_stdin_open) {
      file("eof." + std::to_string(input_index_), "");
      input_closed_ = true;
    }
    call("POST", sandbox_path("/fs/write-many"), json{{"files", files}}, {run_key("run.upload"), {}},
         [this](MiosaResult<MiosaResponse> r) {
           if (!r) return start_failed(r.error());
           if (const json& failed = field(r->data, "failed"); failed.is_array() && !failed.empty()) {
             Error e{ErrorCode::device_unavailable, "MIOSA could not write runhost's run files: " + failed.dump(),
                     R"({"action":"retry"})"};
             e.request_id = r->request_id;
             return start_failed(e);
           }
           probe();
         });
  }

  // The runtime must be in the sandbox: its template decides what is installed.
  void probe() {
    const std::string& program = spec_.argv.front();
    call("POST", sandbox_path("/exec"), json{{"command", "command -v " + shell_quote(program)}},
         {run_key("run.probe"), {}}, [this, program](MiosaResult<MiosaResponse> r) {
           if (!r) return start_failed(r.error());
           const json& code =
               field(r->data, "exit_code").is_null() ? field(r->data, "exitCode") : field(r->data, "exit_code");
           if (!code.is_number_integer() || code.get<int64_t>() != 0) {
             Error e{ErrorCode::runtime_not_found,
                     "'" + program + "' is not installed in sandbox " + sandbox_id_ + " (`command -v " + program +
                         "` found nothing there)",
                     json{{"action", "install_runtime"},
                          {"hint", "use a sandbox template that has " + program + ", or install it in the sandbox"}}
                         .dump()};
             e.request_id = r->request_id;
             return start_failed(e);
           }
           open_watch();
           start_process();
         });
  }

  void start_process() {
    if (terminating_) return started_then_exit();
    std::string command = "sh " + shell_quote(run_dir_ + "/run.sh") + " " + shell_quote(run_dir_) + " " +
                          shell_quote(request_.cwd.empty() ? std::string(kWorkspace) : request_.cwd);
    for (const auto& arg : spec_.argv) command += " " + shell_quote(arg);
    json env = json::object();
    for (const auto& [k, v] : spec_.env) env[k] = v;
    env["RUNHOST_RUN_ID"] = request_.run_id;
    call("POST", sandbox_path("/processes"),
         json{{"command", command}, {"env", env}, {"name", "runhost-" + request_.run_id}}, {run_key("run.start"), {}},
         [this](MiosaResult<MiosaResponse> r) {
           if (!r) return start_failed(r.error());
           const json& pid = field(r->data, "pid");
           if (!pid.is_number_integer()) {
             Error e{ErrorCode::device_unavailable, "MIOSA answered the process start without a pid",
                     R"({"action":"retry"})"};
             e.request_id = r->request_id;
             return start_failed(e);
           }
           pid_ = pid.get<int64_t>();
           observer_.on_started(Started{pid_, {}}, r->request_id);
           if (!alive_) return;
           open_tail();
           write_input();
           if (terminating_) stop_process();
         });
  }

  void start_failed(const Error& error) {
    watch_.cancel();
    observer_.on_started(error, error.request_id);
  }

  // Stopped before the runtime started: nothing ran, and the run ends as stopped.
  void started_then_exit() {
    watch_.cancel();
    observer_.on_started(Started{-1, {}}, {});
    finish(rh_exit{sizeof(rh_exit), RH_EXIT_SIGNALED, 0, SIGTERM, 0}, std::nullopt);
  }

  // ---- input ---------------------------------------------------------------------------------

  // One numbered file at a time, in order: in.N for bytes, eof.N to close.
  void write_input() {
    if (input_writing_ || input_.empty() || exit_) return;
    input_writing_ = true;
    const std::optional<std::string> chunk = input_.front();
    const std::string name = (chunk ? "in." : "eof.") + std::to_string(input_index_);
    json files =
        json::array({{{"path", run_dir_ + "/" + name}, {"content_base64", util::base64_encode(chunk.value_or(""))}}});
    call("POST", sandbox_path("/fs/write-many"), json{{"files", files}}, {run_key("run.input:" + name), {}},
         [this](MiosaResult<MiosaResponse> r) {
           input_writing_ = false;
           if (!r) {
             util::logger()->warn("run {}: input for the runtime was not written to sandbox {}: {}", request_.run_id,
                                  sandbox_id_, r.error().message);
             return;
           }
           input_.pop_front();
           ++input_index_;
           write_input();
         });
  }

  // ---- output --------------------------------------------------------------------------------

  void open_tail() {
    if (exit_) return;
    const std::string command = "sh " + shell_quote(run_dir_ + "/tail.sh") + " " + shell_quote(run_dir_) + " " +
                                std::to_string(offsets_[0]) + " " + std::to_string(offsets_[1]) + " " +
                                std::to_string(offsets_[2]);
    StreamOptions options;
    options.idle_timeout = options_.stream_idle;
    options.flush_at_eof = false;  // exec/stream: the SDK's _iter_sse
    StreamCallbacks callbacks;
    callbacks.on_open = guarded([this](std::string_view request_id) { tail_request_id_ = request_id; });
    callbacks.on_event = guarded([this](const SseEvent& event) { on_tail_event(event); });
    callbacks.on_end = guarded([this](MiosaResult<StreamEnd> end) { on_tail_end(std::move(end)); });
    tail_ = client_.stream("POST", sandbox_path("/exec/stream"), json{{"command", command}}, std::move(options),
                           std::move(callbacks));
    if (paused_) tail_.pause();
  }

  void on_tail_event(const SseEvent& event) {
    const json data = json::parse(event.data, nullptr, false);
    if (event.type == "stderr") {
      util::logger()->debug("run {}: sandbox reader: {}", request_.run_id, string_field(data, "line"));
      return;
    }
    if (event.type != "stdout" && !(event.type == "message" && field(data, "exit_code").is_null())) return;
    std::string line = data.is_object() ? string_field(data, "line") : std::string();
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.size() < 2 || line[1] != ' ') return;
    const char tag = line[0];
    if (tag == 'x') {
      drops_ = 0;
      return on_exit_status(line.substr(2));
    }
    const size_t space = line.find(' ', 2);
    const int index = tag == 'o' ? 0 : tag == 'e' ? 1 : tag == 'p' ? 2 : -1;
    if (index < 0 || space == std::string::npos) return;
    int64_t offset = -1;
    try {
      offset = std::stoll(line.substr(2, space - 2));
    } catch (...) {
      return;
    }
    auto bytes = util::base64_decode(std::string_view(line).substr(space + 1));
    if (!bytes || offset < 0) {
      util::logger()->warn("run {}: the sandbox reader sent a chunk that does not decode; reading again",
                           request_.run_id);
      return reopen_tail_now();
    }
    drops_ = 0;
    int64_t& have = offsets_[index];
    if (offset > have) return reopen_tail_now();  // a gap: read again from what we have
    const auto size = static_cast<int64_t>(bytes->size());
    if (offset + size <= have) return;  // a chunk we hold already (a resumed stream)
    std::string_view fresh = std::string_view(*bytes).substr(static_cast<size_t>(have - offset));
    have += static_cast<int64_t>(fresh.size());
    if (index == 2) return on_ports(fresh);
    observer_.on_output(index == 0 ? RH_STREAM_STDOUT : RH_STREAM_STDERR, fresh, tail_request_id_);
  }

  void on_tail_end(MiosaResult<StreamEnd> end) {
    if (exit_) return;
    // Ended without the exit status: dropped, cut by the server, or the reader died. Read
    // again from the offsets we hold, after a pause that grows while it keeps failing.
    if (!end) {
      util::logger()->info("run {}: the sandbox output stream ended early ({}); resuming at offsets {}/{}",
                           request_.run_id, end.failure().message, offsets_[0], offsets_[1]);
      last_stream_error_ = end.error();
    }
    if (++drops_ > options_.max_stream_drops) {
      Error lost = lost_track("lost the runtime's output from sandbox " + sandbox_id_ + " after " +
                                  std::to_string(options_.max_stream_drops) + " attempts in a row to read it" +
                                  (last_stream_error_ ? ": " + last_stream_error_->message : std::string()),
                              last_stream_error_ ? last_stream_error_->request_id : std::string());
      // The runtime may still run there: stop it, keep the sandbox.
      (void)client_.call("DELETE", sandbox_path("/processes/" + std::to_string(pid_)), std::nullopt, {},
                         [](MiosaResult<MiosaResponse>) {});
      return finish(rh_exit{sizeof(rh_exit), RH_EXIT_LOST, 0, 0, exit_flags_}, lost);
    }
    auto delay = options_.reopen_delay * (1 << std::min(drops_ - 1, 5));
    tail_timer_.expires_after(std::min<std::chrono::milliseconds>(delay, kMaxReopenDelay));
    tail_timer_.async_wait(guarded([this](const boost::system::error_code& ec) {
      if (!ec) open_tail();
    }));
  }

  // device_lost: the sandbox is still there, the run's process is not within reach.
  Error lost_track(std::string message, std::string request_id) const {
    Error lost{ErrorCode::device_lost, std::move(message),
               json{{"action", "resume_device"}, {"device_id", sandbox_id_}}.dump()};
    lost.request_id = std::move(request_id);
    return lost;
  }

  void reopen_tail_now() {
    tail_.cancel();
    open_tail();
  }

  void on_ports(std::string_view bytes) {
    ports_partial_.append(bytes);
    size_t nl;
    while ((nl = ports_partial_.find('\n')) != std::string::npos) {
      const std::string line = ports_partial_.substr(0, nl);
      ports_partial_.erase(0, nl + 1);
      Preview p;
      char address[128] = {};
      long long pid = 0;
      if (std::sscanf(line.c_str(), "%d %127s %lld", &p.port, address, &pid) < 2 || p.port <= 0 || p.port > 65535)
        continue;
      p.address = address;
      p.pid = pid;
      if (!ports_seen_.insert(p.port).second) continue;
      expose(std::move(p));
    }
  }

  // A port the run listens on: a MIOSA preview of it, and a token URL a browser can open.
  void expose(Preview preview) {
    ++pending_;
    call("POST", sandbox_path("/previews"), json{{"port", preview.port}},
         {run_key("preview:" + std::to_string(preview.port)), {}},
         [this, preview](MiosaResult<MiosaResponse> r) mutable {
           if (!r) return preview_failed(preview, r.error());
           const json& made = field(r->data, "preview").is_object() ? field(r->data, "preview") : r->data;
           preview.preview_id = string_field(made, "id");
           if (preview.preview_id.empty()) preview.preview_id = string_field(made, "preview_id");
           preview.url = string_field(made, "url");
           call("POST", sandbox_path("/preview-token"),
                json{{"expires_in", options_.preview_token_ttl.count()}, {"scope", "read"}}, {},
                [this, preview](MiosaResult<MiosaResponse> t) mutable {
                  if (t) {
                    const json& token =
                        field(t->data, "preview_token").is_object() ? field(t->data, "preview_token") : t->data;
                    if (auto url = string_field(token, "url"); !url.empty()) preview.url = url;
                    preview.expires_at = string_field(token, "expires_at");
                  } else if (preview.url.empty()) {
                    return preview_failed(preview, t.error());
                  }
                  // A URL that carries the API key is never reported.
                  std::string check = preview.url;
                  if (preview.url.empty() || util::secrets().redact(check)) {
                    return preview_failed(preview, Error{ErrorCode::device_unavailable, "the preview URL is unusable"});
                  }
                  observer_.on_preview(preview, t ? t->request_id : std::string());
                  if (alive_) settle_one();
                });
         });
  }

  void preview_failed(const Preview& preview, const Error& error) {
    // The seed's "preview failed" row: say so, keep everything; the run goes on.
    util::logger()->warn("run {}: no preview for port {} in sandbox {}: {}", request_.run_id, preview.port, sandbox_id_,
                         error.message);
    settle_one();
  }

  // ---- files ---------------------------------------------------------------------------------

  std::string cwd() const { return request_.cwd.empty() ? std::string(kWorkspace) : request_.cwd; }

  void open_watch() {
    if (exit_ && settled_) return;
    StreamOptions options;
    options.idle_timeout = options_.stream_idle;
    options.query = {{"path", cwd()}};
    StreamCallbacks callbacks;
    callbacks.on_open = guarded([this](std::string_view request_id) {
      watch_request_id_ = request_id;
      watch_drops_ = 0;
      watch_open_ = true;
      if (pid_ >= 0) reconcile();  // the runtime ran while no watch was open
    });
    callbacks.on_event = guarded([this](const SseEvent& event) { on_watch_event(event); });
    callbacks.on_end = guarded([this](MiosaResult<StreamEnd> end) {
      watch_open_ = false;
      if (settled_) return;
      if (!end) util::logger()->debug("run {}: file watch ended: {}", request_.run_id, end.failure().message);
      const auto delay = std::min<std::chrono::milliseconds>(options_.reopen_delay * (1 << std::min(watch_drops_++, 5)),
                                                             kMaxReopenDelay);
      watch_timer_.expires_after(delay);
      watch_timer_.async_wait(guarded([this](const boost::system::error_code& ec) {
        if (!ec) open_watch();
      }));
    });
    watch_ =
        client_.stream("GET", sandbox_path("/files/watch"), std::nullopt, std::move(options), std::move(callbacks));
  }

  void on_watch_event(const SseEvent& event) {
    const json data = json::parse(event.data, nullptr, false);
    if (!data.is_object() || field(data, "is_dir") == json(true)) return;
    auto relative = relative_path(string_field(data, "path"));
    if (!relative) return;
    std::string change = string_field(data, "event");
    if (!one_of(change, {"created", "modified", "deleted", "renamed"})) change = "modified";
    FileChange c;
    c.path = *relative;
    c.change = change;
    if (change == "renamed") {
      auto from = relative_path(string_field(data, "old_path"));
      if (from) c.from = *from;
    }
    add_change(std::move(c));
  }

  // Changes made while no watch was open (the runtime started before the first one opened, or
  // the watch dropped) are found by listing the files changed since the run started: each path
  // not seen yet is "created" (born after the start) or "modified". Not seen this way: a file
  // changed again after it was reported, or deleted, while no watch was open.
  void reconcile() {
    if (settled_) return;
    ++pending_;
    std::string prune = "-name .runhost";
    for (const auto& dir : options_.ignore_dirs) prune += " -o -name " + shell_quote(dir);
    const std::string started = shell_quote(run_dir_ + "/started");
    const std::string command = "cd " + shell_quote(cwd()) + " && stat -c %.9W " + started + "; find . \\( " + prune +
                                " \\) -prune -o -type f -newer " + started + " -exec stat -c '%.9W %n' {} +";
    call("POST", sandbox_path("/exec"), json{{"command", command}},
         {run_key("files.reconcile." + std::to_string(reconciles_++)), {}}, [this](MiosaResult<MiosaResponse> r) {
           if (!r || !field(r->data, "stdout").is_string()) {
             util::logger()->warn("run {}: could not list the files changed in sandbox {} while the watch was down",
                                  request_.run_id, sandbox_id_);
             return settle_one();
           }
           const std::string& out = field(r->data, "stdout").get_ref<const std::string&>();
           BirthTime run_born{0, 0};
           size_t at = 0;
           for (bool first = true; at < out.size(); first = false) {
             size_t nl = out.find('\n', at);
             if (nl == std::string::npos) nl = out.size();
             const std::string_view line(out.data() + at, nl - at);
             at = nl + 1;
             if (first) {
               run_born = birth_time(line);
               continue;
             }
             const size_t space = line.find(' ');
             if (space == std::string_view::npos || line.substr(space + 1, 2) != "./") continue;
             auto relative = relative_path(std::string(line.substr(space + 3)));
             if (!relative || seen_paths_.count(*relative)) continue;
             const auto born = birth_time(line.substr(0, space));
             FileChange c;
             c.path = std::move(*relative);
             c.change = known(run_born) && known(born) && born >= run_born ? "created" : "modified";
             add_change(std::move(c));
           }
           if (exit_ && !pending_changes_.empty()) {  // the exit waits for these: no debounce now
             debounce_timer_.cancel();
             debounce_armed_ = false;
             flush_changes();
             if (!alive_) return;
           }
           settle_one();
         });
  }

  // stat's %.9W: seconds and nanoseconds since the epoch; {0, 0} when the file system keeps no
  // birth times (stat prints 0) or the text is not one.
  using BirthTime = std::pair<int64_t, int64_t>;
  static bool known(const BirthTime& t) { return t.first > 0; }
  static BirthTime birth_time(std::string_view text) {
    const size_t dot = std::min(text.find('.'), text.size());
    BirthTime t{0, 0};
    if (std::from_chars(text.data(), text.data() + dot, t.first).ec != std::errc() || t.first <= 0) return {0, 0};
    if (dot < text.size()) std::from_chars(text.data() + dot + 1, text.data() + text.size(), t.second);
    return t;
  }

  // The path relative to the run's cwd; nothing for paths outside it, runhost's own files and
  // the directories nobody wants reported.
  std::optional<std::string> relative_path(const std::string& path) const {
    if (path.empty()) return std::nullopt;
    std::string rel;
    const std::string base = cwd() + "/";
    if (path.front() == '/') {
      if (path.compare(0, base.size(), base) != 0) return std::nullopt;
      rel = path.substr(base.size());
    } else {
      rel = path;
    }
    if ((path.front() == '/' ? path : base + rel).rfind(run_dir_ + "/", 0) == 0 || rel.rfind(".runhost/", 0) == 0) {
      return std::nullopt;
    }
    for (const auto& skip : options_.ignore_dirs) {
      const std::string dir = skip + "/";
      if (rel.rfind(dir, 0) == 0 || rel.find("/" + dir) != std::string::npos) return std::nullopt;
    }
    if (rel.empty()) return std::nullopt;
    return rel;
  }

  // Debounced like the local device: created then modified is created; created then deleted
  // is nothing; modified then deleted is deleted.
  void add_change(FileChange c) {
    seen_paths_.insert(c.path);
    auto it = pending_changes_.find(c.path);
    if (it != pending_changes_.end()) {
      const std::string before = it->second.change;
      if (before == "created" && c.change == "deleted") {
        pending_changes_.erase(it);
        return;
      }
      if (before == "created" && c.change == "modified") return;
      it->second = std::move(c);
    } else {
      pending_changes_.emplace(c.path, std::move(c));
    }
    if (!debounce_armed_) {
      debounce_armed_ = true;
      debounce_timer_.expires_after(options_.debounce);
      debounce_timer_.async_wait(guarded([this](const boost::system::error_code&) {
        debounce_armed_ = false;
        flush_changes();
      }));
    }
  }

  void flush_changes() {
    auto changes = std::move(pending_changes_);
    pending_changes_.clear();
    for (auto& [path, change] : changes) {
      observer_.on_file_changed(change, watch_request_id_);
      if (!alive_) return;
      if (change.change != "deleted" && local::matches_any(options_.artifact_patterns, change.path)) hash(change.path);
    }
    if (exit_) settle_one(0);
  }

  // An artifact: its size and sha256 measured in the sandbox, then exported for its MIOSA id.
  void hash(const std::string& relative) {
    if (!artifacts_hashed_.insert(relative).second) return;  // reported once per run
    ++pending_;
    const std::string absolute = cwd() + "/" + relative;
    const std::string quoted = shell_quote(absolute);
    const std::string command = "s=$(stat -c %s -- " + quoted + ") && echo \"$s\" && if [ \"$s\" -le " +
                                std::to_string(options_.artifact_max_bytes) + " ]; then sha256sum -- " + quoted +
                                "; fi";
    call("POST", sandbox_path("/exec"), json{{"command", command}}, {run_key("artifact.hash:" + relative), {}},
         [this, relative, absolute](MiosaResult<MiosaResponse> r) {
           if (!r || !field(r->data, "stdout").is_string()) {
             util::logger()->warn("run {}: could not measure {} in sandbox {}", request_.run_id, relative, sandbox_id_);
             return settle_one();
           }
           const std::string out = field(r->data, "stdout").get<std::string>();
           Artifact a;
           a.path = relative;
           a.content_type = local::content_type_for(relative);
           try {
             a.size_bytes = std::stoll(out);
           } catch (...) {
             return settle_one();  // gone meanwhile
           }
           if (const size_t nl = out.find('\n'); nl != std::string::npos && out.size() >= nl + 65) {
             a.sha256 = out.substr(nl + 1, 64);
           }
           call("POST", sandbox_path("/exports"), json{{"path", absolute}},
                {run_key("artifact.export:" + relative), {}},
                [this, a = std::move(a), request_id = r->request_id](MiosaResult<MiosaResponse> e) mutable {
                  std::string rid = request_id;
                  if (e) {
                    const json& d = field(e->data, "export").is_object() ? field(e->data, "export") : e->data;
                    for (const char* name : {"id", "export_id", "artifact_id"}) {
                      if (a.device_artifact_id.empty()) a.device_artifact_id = string_field(d, name);
                    }
                    for (const char* name : {"download_url", "url"}) {
                      if (a.download_url.empty()) a.download_url = string_field(d, name);
                    }
                    std::string check = a.download_url;
                    if (util::secrets().redact(check)) a.download_url.clear();
                    rid = e->request_id;
                  }
                  observer_.on_artifact(a, rid);
                  if (alive_) settle_one();
                });
         });
  }

  // ---- ending --------------------------------------------------------------------------------

  // DELETE /processes/{pid}: MIOSA sends SIGTERM, then SIGKILL. run.sh records the exit once
  // the runtime is gone; if no exit arrives within the grace after MIOSA answered (a SIGKILL
  // leaves run.sh no time to write one), the runtime counts as killed.
  void stop_process() {
    call("DELETE", sandbox_path("/processes/" + std::to_string(pid_)), std::nullopt, {},
         [this](MiosaResult<MiosaResponse> r) {
           if (!r && r.failure().status != 404) {
             util::logger()->warn("run {}: stopping the runtime in sandbox {}: {}", request_.run_id, sandbox_id_,
                                  r.error().message);
           }
           kill_timer_.expires_after(options_.kill_grace);
           kill_timer_.async_wait(guarded([this](const boost::system::error_code& ec) {
             if (ec || exit_) return;
             tail_.cancel();
             finish(rh_exit{sizeof(rh_exit), RH_EXIT_SIGNALED, 0, SIGKILL, exit_flags_}, std::nullopt);
           }));
         });
  }

  void on_exit_status(const std::string& text) {
    if (text == "lost") {
      // run.sh was killed (its beat stopped) before it could write the runtime's status.
      tail_.cancel();
      return finish(rh_exit{sizeof(rh_exit), RH_EXIT_LOST, 0, 0, exit_flags_},
                    lost_track("the process that ran the runtime in sandbox " + sandbox_id_ +
                                   " was killed before it reported how the runtime ended",
                               tail_request_id_));
    }
    int status = 0;
    try {
      status = std::stoi(text);
    } catch (...) {
      status = 255;
    }
    tail_.cancel();
    // POSIX sh reports a death by signal N as 128 + N.
    rh_exit exit = status > 128 && status < 128 + 65
                       ? rh_exit{sizeof(rh_exit), RH_EXIT_SIGNALED, 0, status - 128, exit_flags_}
                       : rh_exit{sizeof(rh_exit), RH_EXIT_EXITED, status, 0, exit_flags_};
    finish(exit, std::nullopt);
  }

  // The runtime ended: changes still on their way are given a moment, then flushed with the
  // artifacts and previews they lead to, and on_exit comes last.
  void finish(const rh_exit& exit, std::optional<Error> error) {
    if (exit_) return;
    exit_ = exit;
    exit_->flags |= exit_flags_;
    exit_error_ = std::move(error);
    kill_timer_.cancel();
    tail_timer_.cancel();
    if (!watch_open_ && pid_ >= 0) reconcile();  // the watch is down: what changed since it was up
    ++pending_;                                  // the settle window itself
    settle_timer_.expires_after(options_.exit_settle);
    settle_timer_.async_wait(guarded([this](const boost::system::error_code&) {
      debounce_timer_.cancel();
      debounce_armed_ = false;
      flush_changes();
      if (alive_) settle_one();
    }));
  }

  // One of the things the exit waits for is done; the last one reports the exit.
  void settle_one(int done = 1) {
    pending_ -= done;
    if (!exit_ || pending_ > 0 || settled_) return;
    settled_ = true;
    watch_.cancel();
    watch_timer_.cancel();
    // runhost's run directory goes; the sandbox and the run's work stay.
    if (pid_ >= 0) {
      (void)client_.call("POST", sandbox_path("/exec"), json{{"command", "rm -rf " + shell_quote(run_dir_)}}, {},
                         [](MiosaResult<MiosaResponse>) {});
    }
    observer_.on_exit(*exit_, exit_error_, exit_error_ ? exit_error_->request_id : tail_request_id_);
  }

  template <class F>
  void after(std::chrono::milliseconds delay, F f) {
    poll_timer_.expires_after(delay);
    poll_timer_.async_wait(guarded([f = std::move(f)](const boost::system::error_code& ec) mutable {
      if (!ec) f();
    }));
  }

  boost::asio::io_context& io_;
  MiosaClient& client_;
  const SandboxOptions& options_;
  DeviceRequest request_;
  DeviceObserver& observer_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  std::vector<MiosaHandle> calls_;

  std::string sandbox_id_;
  bool created_ = false;
  std::string run_dir_;
  LaunchSpec spec_;
  int64_t pid_ = -1;

  std::deque<std::optional<std::string>> input_;  // nullopt: close
  int input_index_ = 0;
  bool input_writing_ = false;
  bool input_closed_ = false;

  MiosaHandle tail_;
  std::string tail_request_id_;
  int64_t offsets_[3] = {0, 0, 0};  // stdout, stderr, ports: bytes received
  int drops_ = 0;
  std::optional<Error> last_stream_error_;
  bool paused_ = false;
  std::string ports_partial_;
  std::set<int> ports_seen_;

  MiosaHandle watch_;
  std::string watch_request_id_;
  int watch_drops_ = 0;
  std::map<std::string, FileChange> pending_changes_;
  bool debounce_armed_ = false;
  std::set<std::string> artifacts_hashed_;
  std::set<std::string> seen_paths_;  // every path a change was noted for, in this run
  bool watch_open_ = false;
  int reconciles_ = 0;

  bool terminating_ = false;
  uint32_t exit_flags_ = 0;
  std::optional<rh_exit> exit_;
  std::optional<Error> exit_error_;
  int pending_ = 0;  // previews and artifacts in flight, and the settle window after the exit
  bool settled_ = false;

  boost::asio::steady_timer poll_timer_;
  boost::asio::steady_timer debounce_timer_;
  boost::asio::steady_timer kill_timer_;
  boost::asio::steady_timer settle_timer_;
  boost::asio::steady_timer tail_timer_;
  boost::asio::steady_timer watch_timer_;
};

void SandboxExecution::write_stdin(std::string_view bytes) {
  device_.write_stdin(bytes);
}
void SandboxExecution::close_stdin() {
  device_.close_stdin();
}
void SandboxExecution::terminate(uint32_t flags) {
  device_.terminate(flags);
}
void SandboxExecution::pause_output() {
  device_.pause_output();
}
void SandboxExecution::resume_output() {
  device_.resume_output();
}

}  // namespace

SandboxDriver::SandboxDriver(boost::asio::io_context& io, MiosaClient& client, SandboxOptions options)
    : io_(io), client_(client), options_(std::move(options)) {}

Result<std::string> SandboxDriver::check(std::string_view requested_cwd) const {
  auto invalid = [](const std::string& problem) {
    return Error{ErrorCode::invalid_dispatch, "cwd " + problem, R"({"action":"fix_dispatch","field":"cwd"})"};
  };
  std::string_view rest = requested_cwd;
  if (rest.rfind(kWorkspace, 0) == 0 && (rest.size() == kWorkspace.size() || rest[kWorkspace.size()] == '/')) {
    rest.remove_prefix(kWorkspace.size());
  } else if (!rest.empty() && rest.front() == '/') {
    return invalid("must lie within /workspace in a sandbox (got '" + std::string(requested_cwd) + "')");
  }
  std::string out(kWorkspace);
  size_t start = 0;
  while (start <= rest.size()) {
    const size_t slash = rest.find('/', start);
    const std::string_view part =
        rest.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part == "..") return invalid("must not leave /workspace ('..' in '" + std::string(requested_cwd) + "')");
    if (part == ".runhost") return invalid("must not be runhost's own directory");
    if (!part.empty() && part != ".") out += "/" + std::string(part);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

std::unique_ptr<Device> SandboxDriver::open(DeviceRequest request, DeviceObserver& observer) {
  return std::make_unique<SandboxDevice>(io_, client_, options_, std::move(request), observer);
}

std::string SandboxDriver::idempotency_key(std::string_view tenant_id, std::string_view dispatch_key,
                                           std::string_view purpose) {
  util::Sha256 h;
  for (std::string_view part : {std::string_view("runhost.sandbox"), tenant_id, dispatch_key, purpose}) {
    h.update(std::to_string(part.size()));
    h.update(":");
    h.update(part);
  }
  auto d = h.digest();
  d[6] = static_cast<uint8_t>((d[6] & 0x0f) | 0x80);  // version 8
  d[8] = static_cast<uint8_t>((d[8] & 0x3f) | 0x80);  // variant 10
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[d[i] >> 4];
    out += kHex[d[i] & 15];
  }
  return out;
}

}  // namespace runhost::devices::sandbox
