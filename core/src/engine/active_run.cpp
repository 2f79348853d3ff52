#include "engine/active_run.hpp"

#include <csignal>
#include <cstring>

#include <runhost/exit.h>
#include <runhost/json.h>

#include "engine/grants.hpp"
#include "engine/host_impl.hpp"
#include "events/event_types.hpp"
#include "events/ids.hpp"
#include "events/schema.hpp"
#include "util/logging.hpp"
#include "util/secrets.hpp"

namespace runhost::engine {
namespace {

using nlohmann::json;

constexpr int64_t kPauseAbove = 8192;  // events appended but not yet durable: stop reading output
constexpr int64_t kResumeBelow = 1024;

std::string_view view(rh_str s) noexcept {
  return s.data == nullptr ? std::string_view{} : std::string_view{s.data, s.len};
}

// What the host says when an adapter ended a run without a terminal event of its own.
// The terminal event when the adapter emitted none: the exit as runhost/exit.h reads it, the
// same words every bundled adapter uses.
std::pair<std::string, json> terminal_for_exit(const rh_exit& exit, const std::vector<std::string>& argv) {
  if (exit.flags & RH_EXIT_FLAG_CANCELLED) return {"run.cancelled", json{{"reason", "cancelled"}}};
  auto failed = [&](ErrorCode code, std::string message, const char* action) {
    json p = failure_payload(Error{code, std::move(message), json{{"action", action}}.dump()});
    if (exit.kind == RH_EXIT_EXITED) p["exit_code"] = exit.code;
    if (exit.kind == RH_EXIT_SIGNALED) p["signal"] = exit.signal;
    return std::pair<std::string, json>{"run.failed", p};
  };
  if (exit.flags & RH_EXIT_FLAG_TIMED_OUT)
    return failed(ErrorCode::timeout, "the run exceeded its time limit", "retry");
  const rh_exit_failure implied = rh_exit_failure_of(&exit);
  if (!implied.code) return {"run.completed", json{{"exit_code", 0}}};
  rh_json_buffer message;
  rh_json_buffer_init(&message);
  const rh_status written =
      rh_exit_write_message(&exit, argv.empty() ? nullptr : argv.front().c_str(), &message.writer);
  std::string text = written == RH_OK ? std::string(message.data, message.len) : "the runtime ended";
  rh_json_buffer_free(&message);
  return failed(error_code_from_string(implied.code).value_or(ErrorCode::runtime_error), std::move(text),
                implied.action);
}

bool is_output_type(std::string_view type) {
  return type == "command.output" || type == "message" || type == "reasoning" || type == "runtime.unparsed";
}

// A string value decoded; empty when it is not a string (or absent).
std::string string_of(rh_str value) {
  size_t len = 0;
  if (rh_json_string(value, nullptr, 0, &len) == RH_ERR_INVALID_ARGUMENT || len == 0) return {};
  std::string out(len + 1, '\0');
  (void)rh_json_string(value, out.data(), out.size(), nullptr);
  out.resize(len);
  return out;
}

// `object` (the text of a JSON object without member `name`) with "name":value added last.
std::string with_last_member(std::string_view object, std::string_view name, std::string_view value) {
  const size_t close = object.find_last_not_of(" \t\r\n");
  const size_t before = close == 0 ? std::string_view::npos : object.find_last_not_of(" \t\r\n", close - 1);
  if (close == std::string_view::npos || object[close] != '}' || before == std::string_view::npos) return {};
  std::string out(object.substr(0, before + 1));
  if (object[before] != '{') out += ',';
  out += '"';
  out += name;
  out += "\":";
  out += value;
  out += '}';
  return out;
}

}  // namespace

ActiveRun::ActiveRun(HostImpl& host, store::RunRow row, Dispatch dispatch, std::string cwd,
                     const plugins::LoadedPlugin& adapter, devices::DeviceDriver& driver)
    : host_(host),
      who_(identity_of(row)),
      budget_(host.limits().for_tenant(row.tenant_id), who_),
      dispatch_(std::move(dispatch)),
      dispatch_json_(json::parse(dispatch_.canonical_json)),
      cwd_(std::move(cwd)),
      adapter_(adapter),
      driver_(driver),
      timeout_(host.io()),
      grace_(host.io()),
      seq_(row.last_seq),
      started_at_(std::chrono::steady_clock::now()) {}

ActiveRun::~ActiveRun() = default;

// ---- starting ---------------------------------------------------------------------------------

void ActiveRun::start() {
  const Decision d = host_.policies().at_run_start(who_.run_id, dispatch_json_, cwd_);
  constraints_ = d.constraints;
  if (!host_.policies().empty()) start_decision_ = d.to_json();
  if (d.effect == Effect::deny) {
    return fail(
        Error{ErrorCode::policy_denied, d.reason, json{{"action", "review_policy"}, {"policy", d.policy}}.dump()});
  }
  if (d.effect == Effect::ask) {
    // What is asked about is the run itself (the runtime, the prompt, where, the command and
    // connectors), so a UI can show it. The run stays queued, its approval.required (after the
    // policy.decision that raised it) first in its stream, until an answer is applied, the
    // deadline passes (deny) or it is cancelled.
    json input{{"runtime", dispatch_.runtime}, {"prompt", dispatch_.prompt}};
    if (dispatch_json_.contains("cwd")) input["cwd"] = dispatch_json_["cwd"];
    if (dispatch_json_.contains("command")) input["command"] = dispatch_json_["command"];
    if (!dispatch_.connectors.empty()) input["connectors"] = dispatch_.connectors;
    phase_ = Phase::awaiting_approval;
    return ask(d, json{{"kind", "run"}, {"name", "run.start"}, {"input", std::move(input)}}, {}, {});
  }
  after_run_start_policy();
}

void ActiveRun::after_run_start_policy() {
  phase_ = Phase::resolving;
  devices::DeviceRequest request;
  request.run_id = who_.run_id;
  request.tenant_id = who_.tenant_id;
  request.workspace_id = who_.workspace_id;
  request.project_id = who_.project_id;
  request.user_id = who_.user_id;
  request.device_id = dispatch_.device_id;
  request.idempotency_key = dispatch_.idempotency_key;
  request.cwd = cwd_;
  if (!request.device_id.empty() || !request.project_id || driver_.type() == "local")
    return open_device(std::move(request));
  // No device named: the project's current one, if it has one (read off the reactor).
  auto current = std::make_shared<Result<std::optional<std::string>>>(std::optional<std::string>());
  host_.on_worker([&store = host_.store(), current, tenant = who_.tenant_id, project = *who_.project_id,
                   type = who_.device_type] { *current = store.current_device(tenant, project, type); },
                  [self = shared_from_this(), current, request = std::move(request)]() mutable {
                    if (*current && **current) {
                      request.device_id = ***current;
                      request.remembered = true;
                    }
                    self->open_device(std::move(request));
                  });
}

void ActiveRun::open_device(devices::DeviceRequest request) {
  if (phase_ != Phase::resolving) return;  // cancelled meanwhile
  device_ = driver_.open(std::move(request), *this);
  device_->resolve();
}

void ActiveRun::on_resolved(const Result<devices::DeviceRef>& resolved, std::string_view request_id) {
  if (phase_ != Phase::resolving) return;
  const auto stamped = stamp(request_id);
  if (!resolved) return fail(resolved.error());
  // Events from here on name the device the run resolved to, and so does its record.
  if (resolved->id != who_.device_id) {
    who_.device_id = resolved->id;
    store::DeviceAssignment assignment{who_.run_id, who_.tenant_id, who_.project_id, who_.device_type, resolved->id};
    host_.on_worker([&store = host_.store(), assignment] {
      if (auto st = store.assign_device(assignment); !st) {
        util::logger()->warn("run {}: its device {} was not recorded: {}", assignment.run_id, assignment.device_id,
                             st.error().message);
      }
    });
  }
  cwd_ = resolved->cwd;
  phase_ = Phase::connecting;
  connect(dispatch_.connectors);
}

// Checks and materialises each requested connector on a worker thread, one after another.
void ActiveRun::connect(std::vector<std::string> pending) {
  if (phase_ != Phase::connecting) return;
  if (pending.empty()) return launch();
  const std::string id = pending.front();
  pending.erase(pending.begin());
  auto* connector = host_.connector(id);
  if (connector == nullptr) {
    return fail(Error{ErrorCode::plugin_error, "connector '" + id + "' is not loaded"});
  }
  // The grant is read and used on the worker: the store read and the connector's calls may block.
  auto outcome = std::make_shared<Connected>();
  host_.on_worker(
      [connector, outcome, &store = host_.store(), who = who_] { *outcome = connect_one(*connector, store, who); },
      [self = shared_from_this(), outcome, pending = std::move(pending)]() mutable {
        if (outcome->error) return self->fail(*outcome->error);
        for (const auto& [name, entry] : outcome->env.items()) {
          if (!entry.is_object() || !entry.contains("value") || !entry["value"].is_string()) continue;
          const std::string value = entry["value"].get<std::string>();
          self->connector_env_[name] = value;
          if (entry.value("secret", true)) util::secrets().add(value);
        }
        // MCP servers reach the runtime's command line (claude --mcp-config): a secret in them is
        // refused, never launched; they name secrets as ${VAR}, which the environment holds.
        for (const auto& [name, config] : outcome->mcp_servers.items()) {
          std::string text = config.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
          if (util::secrets().redact(text)) {
            return self->fail(Error{ErrorCode::plugin_error, "a connector's MCP server '" + name +
                                                                 "' holds a secret; secrets go in \"env\", named "
                                                                 "in the server's config as ${NAME}"});
          }
          if (self->mcp_servers_.contains(name)) {
            return self->fail(Error{ErrorCode::plugin_error, "two connectors name the same MCP server '" + name + "'"});
          }
          self->mcp_servers_[name] = config;
        }
        self->connect(std::move(pending));
      });
}

void ActiveRun::launch() {
  if (phase_ != Phase::connecting) return;
  if (budget_.limited() && !budget_read_) return read_budget();  // then launch() again
  plugins::RuntimeSessionArgs args;
  args.run_id = who_.run_id;
  args.dispatch_json = dispatch_.canonical_json;
  args.constraints_json = constraints_.dump();
  args.config_json = host_.plugin_config(adapter_);
  args.resume_id = dispatch_.resume_session_id.value_or("");
  args.cwd = cwd_;
  args.mcp_servers_json = mcp_servers_.dump();
  auto session = plugins::RuntimeSession::create(adapter_, args, this);
  if (!session) {
    // The adapter refused the dispatch (e.g. a field it needs is missing): the dispatch's fault.
    return fail(Error{ErrorCode::invalid_dispatch, session.error().message, R"({"action":"fix_dispatch"})"});
  }
  session_ = std::move(*session);
  auto spec_text = session_->launch();
  if (!spec_text) return fail(Error{ErrorCode::plugin_error, spec_text.error().message});
  const json spec = json::parse(*spec_text, nullptr, false);
  devices::LaunchSpec spawn;
  if (spec.is_object() && spec.contains("argv") && spec["argv"].is_array()) {
    for (const auto& a : spec["argv"]) {
      if (a.is_string()) spawn.argv.push_back(a.get<std::string>());
    }
  }
  if (spawn.argv.empty() || spawn.argv.size() != spec["argv"].size()) {
    return fail(Error{ErrorCode::plugin_error, "runtime '" + who_.runtime + "' launch() gave no valid \"argv\""});
  }
  if (spec.contains("env") && spec["env"].is_object()) {
    for (const auto& [k, v] : spec["env"].items()) {
      if (v.is_string()) spawn.env[k] = v.get<std::string>();
    }
  }
  for (const auto& [k, v] : connector_env_) spawn.env[k] = v;
  spawn.stdin_data = spec.value("stdin", std::string());
  spawn.keep_stdin_open = spec.value("keep_stdin_open", false);
  live_stdin_ = spawn.keep_stdin_open;
  live_approvals_ = spawn.keep_stdin_open && session_->can_respond();

  // A secret in argv is in every process's view of /proc/PID/cmdline: refused, never launched.
  for (const auto& arg : spawn.argv) {
    std::string copy = arg;
    if (util::secrets().redact(copy)) {
      return fail(
          Error{ErrorCode::plugin_error,
                "runtime '" + who_.runtime + "' launch() put a secret in the command line; secrets go in \"env\""});
    }
  }
  argv_ = spawn.argv;
  auto process = device_->launch(std::move(spawn));
  if (!process) return spawn_failed(process.error());
  process_ = std::move(*process);
  phase_ = Phase::spawning;
}

void ActiveRun::on_started(const Result<devices::Started>& started, std::string_view request_id) {
  const auto stamped = stamp(request_id);
  if (!started) {
    process_.reset();  // it never ran; nothing of it follows
    return spawn_failed(started.error());
  }
  phase_ = Phase::running;
  json started_payload{{"cwd", cwd_}, {"argv", argv_}};
  if (started->pid >= 0) started_payload["pid"] = started->pid;
  if (!started->process_id.empty()) started_payload["process_id"] = started->process_id;
  if (!start_decision_.is_null()) started_payload["policy"] = start_decision_;
  record("run.started", "host", std::move(started_payload));
  // The final status is written with the terminal event; should this write land later, the
  // store refuses it (a final status is final), so no ordering is needed here.
  host_.on_worker(
      [&store = host_.store(), id = who_.run_id] { (void)store.set_status(id, store::RunStatus::running); });

  const auto limit =
      dispatch_.timeout_seconds ? std::chrono::seconds(*dispatch_.timeout_seconds) : host_.options().default_timeout;
  timeout_.expires_after(limit);
  timeout_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock(); self && self->process_) self->process_->terminate(RH_EXIT_FLAG_TIMED_OUT);
  });
}

// ---- ending -----------------------------------------------------------------------------------

void ActiveRun::spawn_failed(const Error& error) {
  const rh_exit exit{sizeof(rh_exit), RH_EXIT_SPAWN_FAILED, ENOENT, 0, 0};
  phase_ = Phase::finishing;
  forced_failure_ = error;
  (void)session_->finish(exit);  // the adapter flushes; the host's error replaces its terminal event
  if (store_error_) return abandon();
  if (!terminal_recorded_) fail(error);
}

void ActiveRun::fail(const Error& error_in) {
  Error error = error_in;
  if (error.message.empty()) error.message = std::string(to_string(error.code));
  if (error.recovery_json.empty()) error.recovery_json = json{{"action", default_recovery_action(error.code)}}.dump();
  if (process_) {  // stop it; its exit ends the run with this failure instead of the adapter's ending
    // The first reason to stop is the one the run fails with: what the runtime reports while it
    // is being stopped (more actions a policy refuses) must not overtake it.
    if (!forced_failure_) forced_failure_ = std::move(error);
    process_->terminate(RH_EXIT_FLAG_CANCELLED);
    return;
  }
  phase_ = Phase::finishing;
  record("run.failed", "host", failure_payload(error));
}

void ActiveRun::store_failed(const Error& error) {
  if (store_error_ || phase_ == Phase::done) return;
  store_error_ = error;
  terminal_recorded_ = true;  // record() writes nothing more
  // A process that has not exited yet ends in on_exit, which abandons the run.
  if (process_ && phase_ != Phase::finishing) return process_->terminate(RH_EXIT_FLAG_CANCELLED);
  abandon();
}

void ActiveRun::abandon() {
  if (phase_ == Phase::done) return;
  phase_ = Phase::done;
  timeout_.cancel();
  host_.run_unrecorded(who_.run_id, *store_error_);
  host_.run_done(who_.run_id);
}

void ActiveRun::cancel(std::string reason) {
  if (terminal_recorded_) return;
  cancel_reason_ = std::move(reason);
  // Asked already: the runtime has its grace (a cancel recorded in the store is re-delivered on
  // every poll until the run ends).
  if (cancel_asked_) return;
  if (process_ && session_ && session_->can_cancel() && phase_ == Phase::running && live_stdin_) {
    // The adapter asks the runtime to stop on its own (ACP's session/cancel); past the grace, the
    // process is stopped. What the runtime asked and nobody answered is settled now: the adapter
    // tells the runtime those requests are cancelled.
    cancel_asked_ = true;
    while (!approvals_.empty()) settle_approval(approvals_.begin()->first, false, "once", cancel_reason_, "", "cancel");
    session_->cancel();
    grace_.expires_after(kCancelGrace);
    grace_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && self->process_) self->process_->terminate(RH_EXIT_FLAG_CANCELLED);
    });
    return;
  }
  if (process_) {
    process_->terminate(RH_EXIT_FLAG_CANCELLED);
    return;
  }
  while (!approvals_.empty()) settle_approval(approvals_.begin()->first, false, "once", cancel_reason_, "", "cancel");
  phase_ = Phase::finishing;
  record("run.cancelled", "host", {{"reason", cancel_reason_}});
}

void ActiveRun::on_exit(const rh_exit& exit_in, const std::optional<Error>& device_error, std::string_view request_id) {
  timeout_.cancel();
  grace_.cancel();
  const auto stamped = stamp(request_id);
  end_helpers();
  // The device lost the runtime (a sandbox gone, its stream beyond recovery): that is what the
  // run fails with, unless a reason to stop came first.
  if (device_error && !forced_failure_ && cancel_reason_.empty()) forced_failure_ = *device_error;
  if (store_error_) {
    boost::asio::post(host_.io(), [self = shared_from_this()] { self->process_.reset(); });
    return abandon();
  }
  rh_exit exit = exit_in;
  if (output_truncated_) exit.flags |= RH_EXIT_FLAG_OUTPUT_TRUNCATED;
  // Asked to cancel (the adapter's cancel()), it is cancelled whether it stopped on its own or was
  // stopped. (A cancel that came after the runtime had ended by itself changes nothing.)
  if (cancel_asked_) exit.flags |= RH_EXIT_FLAG_CANCELLED;
  phase_ = Phase::finishing;
  live_stdin_ = false;
  // Whatever it asked and nobody answered ends with it: settled, never left pending.
  const std::string ended = cancel_reason_.empty() ? "the runtime ended before an answer" : cancel_reason_;
  while (!approvals_.empty()) settle_approval(approvals_.begin()->first, false, "once", ended, "", "cancel");
  if (session_) {
    if (auto st = session_->finish(exit); !st) util::logger()->warn("run {}: {}", who_.run_id, st.error().message);
  }
  if (!terminal_recorded_) {
    auto [type, payload] = terminal_for_exit(exit, argv_);
    if (forced_failure_) {
      type = "run.failed";
      payload = failure_payload(*forced_failure_);
    } else if (type == "run.cancelled" && !cancel_reason_.empty()) {
      payload["reason"] = cancel_reason_;
    }
    if (output_truncated_) payload["output_truncated"] = true;
    record(type, "host", std::move(payload));
  }
  // The process object may still be on the stack that called us: let it go later.
  boost::asio::post(host_.io(), [self = shared_from_this()] { self->process_.reset(); });
}

// ---- events -----------------------------------------------------------------------------------

ActiveRun::Stamp::Stamp(std::shared_ptr<ActiveRun> run, std::string_view request_id)
    : run_(std::move(run)), saved_(std::exchange(run_->request_id_, std::string(request_id))) {}

ActiveRun::Stamp::~Stamp() {
  run_->request_id_ = std::move(saved_);
}

ActiveRun::Stamp ActiveRun::stamp(std::string_view request_id) {
  return Stamp(shared_from_this(), request_id);
}

rh_status ActiveRun::emit(const rh_event& event) noexcept try {
  const std::string_view type = view(event.type);
  if (output_truncated_ && is_output_type(type)) return RH_OK;  // past the limit: not recorded, not even read
  const std::string_view text = event.payload_json.len ? view(event.payload_json) : std::string_view("{}");
  if (emit_text(type, text, view(event.raw))) return RH_OK;
  return emit_tree(type, text, std::string(view(event.raw)));
} catch (...) {
  return RH_ERR_NO_MEMORY;
}

// Most events: stored as the adapter wrote them, the text checked against the schema without a
// tree (tool.started's action, too, is read from the text). False leaves the event to
// emit_tree: text the check cannot vouch for (which the tree judges and explains), and the types
// the host reads or changes (approvals, usage, terminal events, file.changed, a tool.started
// that brings its own policy member).
bool ActiveRun::emit_text(std::string_view type, std::string_view text, std::string_view raw) {
  if (type == "approval.required" || type == "usage" || type == "file.changed" || events::is_terminal_event_type(type))
    return false;
  if (!events::payload_text_valid(type, text)) return false;
  const bool started = type == "tool.started";
  std::string tool_call_id;
  std::optional<Decision> decision;
  std::string with_policy;  // the adapter's text with the decision added as its last member
  if (started || (type == "tool.completed" && !expected_asks_.empty())) {
    static const char* const kKeys[] = {"tool_call_id", "policy", "action"};
    rh_str found[3];
    const rh_str object{text.data(), text.size()};
    (void)rh_json_find_each(object, kKeys, 3, found);
    if (started && found[1].data != nullptr) return false;
    tool_call_id = string_of(found[0]);
    if (started && may_judge(tool_call_id)) {
      const rh_str action = rh_json_type_of(found[2]) == RH_JSON_OBJECT ? found[2] : object;
      decision = before_action_text(action_text(action));
    }
    if (decision) {
      with_policy = with_last_member(text, "policy", decision->to_text());
      if (with_policy.empty()) return false;
    }
  }
  const bool recorded =
      record(type, "runtime", json(), raw, std::nullopt, decision ? std::string_view(with_policy) : text);
  if (recorded && decision) act_on(*decision, tool_call_id);
  if (recorded && type == "tool.completed") check_completed(tool_call_id);
  return true;
}

rh_status ActiveRun::emit_tree(std::string_view type, std::string_view text, std::string raw) {
  json payload = json::parse(text, nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) {
    host::set_last_error("emit: the payload of " + std::string(type) + " is not a JSON object");
    record("runtime.unparsed", "runtime",
           {{"stream", "stdout"},
            {"line", raw.empty() ? std::string(text.substr(0, 4096)) : raw},
            {"reason", "the adapter emitted " + std::string(type) + " with a payload that is not a JSON object"}});
    return RH_ERR_INVALID_ARGUMENT;
  }
  if (auto valid = events::validate_payload(type, payload); !valid) {
    host::set_last_error(valid.error().message);
    record("runtime.unparsed", "runtime",
           {{"stream", "stdout"},
            {"line", raw.empty() ? payload.dump(-1, ' ', false, json::error_handler_t::replace) : raw},
            {"reason", std::string(type) + " does not match the event schema: " + valid.error().message}});
    return RH_ERR_INVALID_ARGUMENT;
  }
  if (events::is_terminal_event_type(type) && forced_failure_) return RH_OK;  // the host's failure replaces it
  if (type == "run.cancelled" && !cancel_reason_.empty()) payload["reason"] = cancel_reason_;  // the host knows why
  if (type == "file.changed")
    runtime_reported_files_[payload.value("path", std::string())] = std::chrono::steady_clock::now();
  if (type == "approval.required") {
    on_runtime_ask(std::move(payload), std::move(raw));
    return RH_OK;
  }
  std::optional<Decision> decision;
  std::string with_policy;  // the adapter's text with the decision added as its last member
  if (type == "tool.started" && (decision = judge_action(payload))) {
    json body = decision->to_json();
    if (!payload.contains("policy")) with_policy = with_last_member(text, "policy", decision->to_text());
    payload["policy"] = std::move(body);
  }
  const bool changed = (decision && with_policy.empty()) || (type == "run.cancelled" && !cancel_reason_.empty());
  const std::string_view stored = changed ? std::string_view() : decision ? std::string_view(with_policy) : text;
  const bool recorded = record(type, "runtime", payload, raw, std::nullopt, stored);
  if (recorded && type == "usage") on_usage(usage_entry(payload));
  if (recorded && decision) act_on(*decision, payload.value("tool_call_id", std::string()));
  if (recorded && type == "tool.completed") check_completed(payload.value("tool_call_id", std::string()));
  return RH_OK;
}

bool ActiveRun::over_output_limit(std::string_view type, const json& payload, std::string_view payload_text) {
  if (!is_output_type(type)) return false;
  if (output_truncated_) return true;
  if (payload.is_null()) {  // only the adapter's text: its "text" (or "line") string, decoded
    const rh_str object{payload_text.data(), payload_text.size()};
    rh_str member{};
    size_t len = 0;
    if (rh_json_find(object, "text", &member) == RH_OK || rh_json_find(object, "line", &member) == RH_OK)
      (void)rh_json_string(member, nullptr, 0, &len);
    output_bytes_ += static_cast<int64_t>(len);
  } else {
    const auto& text = payload.contains("text") ? payload["text"] : payload.contains("line") ? payload["line"] : json();
    output_bytes_ += text.is_string() ? static_cast<int64_t>(text.get_ref<const std::string&>().size()) : 0;
  }
  if (output_bytes_ <= host_.options().max_output_bytes) return false;
  output_truncated_ = true;
  record_unlimited("command.output", "host",
                   {{"stream", "stderr"},
                    {"text", "[runhost] this run's output passed " + std::to_string(host_.options().max_output_bytes) +
                                 " bytes; further output is not recorded"},
                    {"truncated", true}});
  return true;
}

// Every secret the process knows (util::secrets(): every run's connector credentials, every
// plugin's secret configuration), not only this run's: a file another run named after its
// token is no less a leak here. In each spelling the host can foresee (raw, JSON-escaped,
// URL-encoded); the payload stays valid JSON.
// With secrets known, the adapter's text is searched as it is only when it spells every character
// the one way a dump would: adapters copy a runtime's JSON strings as they are, so a secret
// spelled with escapes (\u0063, \/) would pass a search of that text. Such a text is written out
// again from its tree, in the spelling the search expects.
std::string ActiveRun::redacted(const json& payload, std::string_view payload_text, std::string& raw) const {
  auto& secrets = util::secrets();
  const auto escaped = [](std::string_view t) {
    return t.find("\\u") != std::string_view::npos || t.find("\\/") != std::string_view::npos;
  };
  const bool respell = payload_text.empty() || (!secrets.empty() && escaped(payload_text));
  std::string text;
  if (!respell) {
    text = payload_text;
  } else if (payload.is_null()) {  // only the adapter's text (emit_text checked it parses)
    text = json::parse(payload_text).dump(-1, ' ', false, json::error_handler_t::replace);
  } else {
    text = payload.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (secrets.empty()) return text;
  (void)secrets.redact(text);
  // The native line (kept with keep_raw) likewise, when it is JSON with such escapes.
  if (escaped(raw)) {
    if (const json line = json::parse(raw, nullptr, false); !line.is_discarded())
      raw = line.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  (void)secrets.redact(raw);
  return text;
}

bool ActiveRun::record(std::string_view type, std::string_view source, const json& payload, std::string_view raw_in,
                       std::optional<store::ApprovalChange> approval, std::string_view payload_text) {
  if (terminal_recorded_) {
    util::logger()->debug("run {}: {} after the terminal event, not recorded", who_.run_id, type);
    return false;
  }
  if (over_output_limit(type, payload, payload_text)) return false;
  return record_unlimited(type, source, payload, raw_in, std::move(approval), payload_text);
}

bool ActiveRun::record_unlimited(std::string_view type, std::string_view source, const json& payload_in,
                                 std::string_view raw_in, std::optional<store::ApprovalChange> approval,
                                 std::string_view payload_text) {
  std::string raw = host_.options().keep_raw ? std::string(raw_in) : std::string();
  const bool terminal = events::is_terminal_event_type(type);
  json marked;  // a terminal event after truncated output says so
  if (terminal && output_truncated_) {
    marked = payload_in;
    marked["output_truncated"] = true;
    payload_text = {};
  }
  const json& payload = marked.is_null() ? payload_in : marked;
  const std::string text = redacted(payload, payload_text, raw);
  std::optional<store::UsageEntry> usage;
  if (type == "usage") usage = usage_entry(payload);  // its ledger row, in the event's transaction
  std::string error_code;
  if (type == "run.failed") {
    const auto& error = payload.contains("error") ? payload["error"] : json();
    error_code = error.is_object() ? error.value("code", std::string("internal")) : "internal";
  }
  store::EventRow row = make_event_text(who_, ++seq_, type, source, text, raw,
                                        request_id_.empty() ? std::nullopt : std::optional<std::string>(request_id_));
  row.approval = std::move(approval);
  row.usage = std::move(usage);
  if (terminal) {
    terminal_recorded_ = true;
    terminal_seq_ = row.seq;
    final_status_ = type == "run.completed" ? store::RunStatus::succeeded
                    : type == "run.failed"  ? store::RunStatus::failed
                                            : store::RunStatus::cancelled;
    if (final_status_ == store::RunStatus::failed) final_error_code_ = error_code;
    row.final_status = final_status_;  // the store ends the run in the event's own transaction
    row.error_code = final_error_code_;
  }
  ++pending_;
  host_.event_queued();
  if (process_ && !output_paused_ && (pending_ > kPauseAbove || host_.store_backlogged())) pause_output();
  // On the reactor: the host's commit sink brings each commit there in one hand-off. The host's
  // count goes down whether or not the run is still there.
  host_.store().append(std::move(row), [weak = weak_from_this(), seq = seq_, &host = host_](const Status& st) {
    host.event_stored();
    if (auto self = weak.lock()) self->on_durable(seq, st);
  });
  return true;
}

void ActiveRun::resume_when_stored() {
  if (!output_paused_ || !process_ || pending_ >= kResumeBelow) return;  // its own on_durable comes back
  if (host_.store_caught_up()) return resume_output();
  if (!held_for_store_) {
    held_for_store_ = true;
    host_.hold_for_store(weak_from_this());
  }
}

void ActiveRun::store_caught_up() {
  held_for_store_ = false;
  resume_when_stored();
}

void ActiveRun::on_durable(int64_t seq, const Status& status) {
  --pending_;
  // After a store failure too: the runtime's output must drain (into nothing) for it to end.
  if (output_paused_ && process_ && (store_error_ || !status)) resume_output();
  resume_when_stored();
  if (!status) {
    if (store_error_) return;  // the first refusal said it; the rest of the queue follows it
    util::logger()->error("run {}: event {} was not stored: {}", who_.run_id, seq, status.error().message);
    Error error = status.error();
    error.code = ErrorCode::store_unavailable;  // whatever the store said, this run's record stops here
    if (error.recovery_json.empty()) error.recovery_json = R"({"action":"retry"})";
    return store_failed(error);
  }
  if (seq != terminal_seq_) return;  // the host hands the event to the run's subscribers
  phase_ = Phase::done;              // the terminal event, and with it the final status (same transaction), is durable
  host_.run_done(who_.run_id);
}

// ---- what the device saw ----------------------------------------------------------------------

void ActiveRun::on_output(rh_stream stream, std::string_view bytes, std::string_view request_id) {
  if (!session_) return;
  const auto stamped = stamp(request_id);
  if (auto st = session_->feed(stream, bytes); !st)
    util::logger()->debug("run {}: {}", who_.run_id, st.error().message);
}

void ActiveRun::on_file_changed(const devices::FileChange& change, std::string_view request_id) {
  const auto stamped = stamp(request_id);
  // The runtime's own report of the same file wins; the device's fills in what it did not say.
  if (auto it = runtime_reported_files_.find(change.path);
      it != runtime_reported_files_.end() && std::chrono::steady_clock::now() - it->second < std::chrono::seconds(5)) {
    return;
  }
  json payload{{"path", change.path}, {"change", change.change}};
  if (!change.from.empty()) payload["from"] = change.from;
  if (change.size_bytes >= 0) payload["size_bytes"] = change.size_bytes;
  record("file.changed", "device", std::move(payload));
}

void ActiveRun::on_artifact(const devices::Artifact& artifact, std::string_view request_id) {
  const auto stamped = stamp(request_id);
  json payload{{"path", artifact.path},
               {"size_bytes", artifact.size_bytes},
               {"content_type", artifact.content_type},
               {"sha256", artifact.sha256}};
  if (!artifact.device_artifact_id.empty()) payload["device_artifact_id"] = artifact.device_artifact_id;
  if (!artifact.download_url.empty()) payload["download_url"] = artifact.download_url;
  if (!record("artifact.created", "device", std::move(payload))) return;
  store::ArtifactRow row{events::new_id("art"),
                         who_.run_id,
                         artifact.path,
                         artifact.content_type,
                         artifact.size_bytes,
                         artifact.sha256,
                         now_us(),
                         artifact.device_artifact_id,
                         {},
                         artifact.download_url};
  host_.on_worker([&store = host_.store(), row] { (void)store.add_artifact(row); });
}

void ActiveRun::on_preview(const devices::Preview& preview, std::string_view request_id) {
  const auto stamped = stamp(request_id);
  json payload{{"port", preview.port}, {"url", preview.url}};
  if (!preview.address.empty()) payload["address"] = preview.address;
  if (preview.pid > 0) payload["pid"] = preview.pid;
  if (!preview.preview_id.empty()) payload["preview_id"] = preview.preview_id;
  if (!preview.expires_at.empty()) payload["expires_at"] = preview.expires_at;
  record("preview.ready", "device", std::move(payload));
}

}  // namespace runhost::engine
