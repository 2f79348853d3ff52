// ActiveRun: what policy decides about a run and its actions, and the approvals a human answers.
//
//   at run start   every policy is asked; deny fails the run, ask waits (queued) for an answer
//   runtime asks   an adapter that takes answers (RH_RUNTIME_CAP_APPROVALS) emits approval.required
//                  before its runtime acts: policies decide at once, and only what they cannot
//                  decide is recorded as approval.required for a human; the answer goes back
//                  through the adapter's respond() to the runtime's stdin
//   tool.started   every action a runtime reports is judged; a runtime that cannot ask is stopped
//                  by a deny or an ask, one that asks live must ask before the call completes
//
// Every evaluation is recorded with each policy's answer, so what decided (and why) is in the
// run's own stream: in run.started (`policy`), in tool.started (`policy`), in approval.required
// (`policy_decision`), and as a policy.decision event for a runtime's request the policies
// answered themselves. Approvals are durable (the approvals table, written in their
// event's transaction) and answered from any process sharing the store; the answer is applied
// here, woken by the store's commit. No answer by the deadline is a deny. Reactor thread.
#include <algorithm>
#include <optional>

#include <runhost/json.h>

#include "engine/active_run.hpp"
#include "engine/host_impl.hpp"
#include "events/ids.hpp"
#include "util/logging.hpp"

namespace runhost::engine {
namespace {

using nlohmann::json;

std::string one_line(std::string text, size_t max) {
  for (auto& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
    text = text.substr(0, cut) + "...";
  }
  return text;
}

std::string string_at(const json& j, std::initializer_list<const char*> keys) {
  if (!j.is_object()) return {};
  for (const char* k : keys) {
    if (auto it = j.find(k); it != j.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

// One line a UI can show for an action, when the runtime gave none.
std::string summarize(const json& action, const std::string& runtime) {
  const std::string name = action.value("name", std::string());
  const json input = action.value("input", json());
  if (action.value("kind", std::string()) == "run") {
    const std::string prompt = string_at(input, {"prompt"});
    return "start a " + runtime + " run" + (prompt.empty() ? std::string() : ": " + one_line(prompt, 80));
  }
  std::string detail = string_at(input, {"command", "file_path", "filePath", "path", "notebook_path", "url", "query"});
  if (detail.empty() && input.is_object() && input.contains("command") && input["command"].is_array()) {
    for (const auto& a : input["command"])
      detail += (detail.empty() ? "" : " ") + (a.is_string() ? a.get<std::string>() : a.dump());
  }
  if (detail.empty() && !input.is_null()) detail = input.dump(-1, ' ', false, json::error_handler_t::replace);
  return one_line(name + (detail.empty() ? std::string() : ": " + detail), 160);
}

}  // namespace

namespace {

constexpr std::string_view kActionKinds[] = {"tool", "command", "file", "mcp", "connector", "publish", "spend"};

}  // namespace

json ActiveRun::action_of(const json& payload) {
  const json* source = &payload;
  if (auto a = payload.find("action"); a != payload.end() && a->is_object()) source = &*a;  // approval.required
  std::string kind = source->value("kind", std::string("tool"));
  if (std::find(std::begin(kActionKinds), std::end(kActionKinds), kind) == std::end(kActionKinds)) kind = "tool";
  return json{
      {"kind", kind}, {"name", source->value("name", std::string())}, {"input", source->value("input", json())}};
}

// action_of, read from the text of the object that describes the action (one the schema
// accepted): its members in the adapter's own spelling, nothing decoded or written again.
std::string ActiveRun::action_text(rh_str source) {
  static const char* const kKeys[] = {"kind", "name", "input"};
  rh_str found[3];
  (void)rh_json_find_each(source, kKeys, 3, found);
  const bool known_kind = std::any_of(std::begin(kActionKinds), std::end(kActionKinds),
                                      [&](std::string_view k) { return rh_json_equals(found[0], k.data(), k.size()); });
  std::string out = R"({"kind":)";
  out.append(known_kind ? std::string_view(found[0].data, found[0].len) : std::string_view(R"("tool")"));
  out += R"(,"name":)";
  out.append(rh_json_type_of(found[1]) == RH_JSON_STRING ? std::string_view(found[1].data, found[1].len)
                                                         : std::string_view(R"("")"));
  out += R"(,"input":)";
  out.append(found[2].data != nullptr ? std::string_view(found[2].data, found[2].len) : std::string_view("null"));
  out += '}';
  return out;
}

void ActiveRun::record_decision(const Decision& d, std::string_view phase, const json& action,
                                const std::string& tool_call_id, const std::string& approval_id) {
  json payload = d.to_json();
  payload["phase"] = phase;
  payload["action"] =
      json{{"kind", action.value("kind", std::string("tool"))}, {"name", action.value("name", std::string())}};
  if (!tool_call_id.empty()) payload["tool_call_id"] = tool_call_id;
  if (!approval_id.empty()) payload["approval_id"] = approval_id;
  record("policy.decision", "policy", std::move(payload));
}

// ---- asking a human ---------------------------------------------------------------------------

void ActiveRun::ask(const Decision& d, json action, std::string request_id, std::string tool_call_id) {
  if (!action.contains("summary") || !action["summary"].is_string() ||
      action["summary"].get_ref<const std::string&>().empty()) {
    action["summary"] = summarize(action, dispatch_.runtime);
  }
  PendingApproval pending;
  pending.id = events::new_id("apr");
  pending.request_id = std::move(request_id);
  pending.tool_call_id = std::move(tool_call_id);
  pending.scope_key = action.value("kind", std::string()) + '\x1f' + action.value("name", std::string()) + '\x1f' +
                      d.policy + '\x1f' + d.rule;
  const auto timeout = host_.options().approval_timeout;
  const int64_t deadline_us = now_us() + std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  json payload{{"approval_id", pending.id},
               {"action", std::move(action)},
               {"reason", d.reason},
               {"policy", d.policy},
               {"options", json::array({"allow", "deny"})},
               {"deadline", format_time(deadline_us)}};
  if (!d.rule.empty()) payload["rule"] = d.rule;
  payload["policy_decision"] = d.to_json();
  if (!pending.request_id.empty()) payload["request_id"] = pending.request_id;
  if (!pending.tool_call_id.empty()) payload["tool_call_id"] = pending.tool_call_id;
  store::ApprovalChange change;
  change.id = pending.id;
  change.status = "pending";
  change.request_json = payload.dump();
  change.deadline_us = deadline_us;
  if (!record("approval.required", "policy", std::move(payload), {}, std::move(change))) return;

  const std::string id = pending.id;
  pending.deadline = std::make_unique<boost::asio::steady_timer>(host_.io(), timeout);
  pending.deadline->async_wait([weak = weak_from_this(), id](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || !self->approvals_.count(id)) return;
    self->check_answer();  // an answer recorded just before the deadline still counts
    if (self->approvals_.count(id))
      self->settle_approval(id, false, "once", "no answer by the deadline", "deadline", "deadline");
  });
  approvals_.emplace(id, std::move(pending));
  host_.awaiting_answer(who_.run_id, true);
}

void ActiveRun::check_answer() {
  std::vector<std::string> ids;
  for (const auto& [id, pending] : approvals_) ids.push_back(id);
  for (const auto& id : ids) {
    if (!approvals_.count(id)) continue;
    auto row = host_.store().approval(id);
    if (!row) {
      util::logger()->warn("run {}: reading approval {}: {}", who_.run_id, id, row.error().message);
      continue;
    }
    if (!*row || !(*row)->answer) continue;
    const auto& answer = *(*row)->answer;
    settle_approval(id, answer.decision == "allow", answer.scope, answer.reason, answer.actor, "human");
  }
}

void ActiveRun::settle_approval(std::string id, bool allow, const std::string& scope, const std::string& reason,
                                const std::string& by, const std::string& source) {
  auto it = approvals_.find(id);
  if (it == approvals_.end()) return;
  PendingApproval pending = std::move(it->second);
  approvals_.erase(it);
  if (pending.deadline) pending.deadline->cancel();
  if (approvals_.empty()) host_.awaiting_answer(who_.run_id, false);
  json payload{{"approval_id", id}, {"decision", allow ? "allow" : "deny"}, {"scope", scope}, {"source", source}};
  if (!reason.empty()) payload["reason"] = reason;
  if (!by.empty()) payload["by"] = by;
  store::ApprovalChange change;
  change.id = id;
  change.status = allow ? "allowed" : "denied";
  change.decided_by = by;
  change.reason = reason;
  change.scope = scope;
  change.source = source;
  record("approval.resolved", "host", std::move(payload), {}, std::move(change));
  if (source == "cancel") return;  // the run is ending: the caller records why

  if (!pending.request_id.empty()) {  // the runtime asked: tell it, and it goes on either way
    if (scope == "run") standing_answers_[pending.scope_key] = StandingAnswer{allow, id, reason};
    const std::string why = allow                  ? reason
                            : source == "deadline" ? "not approved by its deadline"
                                                   : "denied by " + (by.empty() ? std::string("the approver") : by) +
                                                         (reason.empty() ? std::string() : ": " + reason);
    return answer_runtime(pending.request_id, id, allow, why, scope, source);
  }
  if (allow) return after_run_start_policy();
  const std::string why = source == "deadline" ? "approval not given by its deadline" : "approval denied";
  fail(Error{ErrorCode::policy_denied, why + (reason.empty() || source == "deadline" ? std::string() : ": " + reason),
             R"({"action":"review_policy"})"});
}

// ---- the runtime asks -------------------------------------------------------------------------

void ActiveRun::on_runtime_ask(json request, std::string raw) {
  const std::string request_id = request.value("approval_id", std::string());
  const std::string tool_call_id = request.value("tool_call_id", std::string());
  json action = action_of(request);
  if (request.contains("action") && request["action"].is_object()) {
    if (auto summary = request["action"].find("summary"); summary != request["action"].end() && summary->is_string()) {
      action["summary"] = *summary;
    }
  }
  if (!session_ || !session_->can_respond()) {
    // It cannot take an answer: its approval.required is a report, kept as it stands, and the
    // action is judged like any reported action (a deny or an ask stops the run).
    const auto d = judge_action(action);
    if (d) request["policy_decision"] = d->to_json();
    if (!record("approval.required", "runtime", std::move(request), raw) || !d) return;
    return act_on(*d, {});
  }
  if (!tool_call_id.empty()) {
    asked_tool_calls_.insert(tool_call_id);
    expected_asks_.erase(tool_call_id);
  }
  const Decision d = before_action(action);
  if (d.effect == Effect::ask) {
    const std::string key = action.value("kind", std::string()) + '\x1f' + action.value("name", std::string()) +
                            '\x1f' + d.policy + '\x1f' + d.rule;
    if (auto standing = standing_answers_.find(key); standing != standing_answers_.end()) {
      const StandingAnswer answer = standing->second;  // answered for the rest of the run
      record_decision(d, "action", action, tool_call_id, answer.approval_id);
      return answer_runtime(request_id, answer.approval_id, answer.allow,
                            answer.allow ? answer.reason : "denied for this run (" + answer.approval_id + ")", "run",
                            "human");
    }
    return ask(d, std::move(action), request_id, tool_call_id);
  }
  record_decision(d, "action", action, tool_call_id, {});
  answer_runtime(request_id, {}, d.effect == Effect::allow, d.reason, "once", "policy");
}

void ActiveRun::answer_runtime(const std::string& request_id, const std::string& approval_id, bool allow,
                               const std::string& reason, const std::string& scope, const std::string& source) {
  json answer{{"request_id", request_id}, {"decision", allow ? "allow" : "deny"}, {"scope", scope}, {"source", source}};
  if (!approval_id.empty()) answer["approval_id"] = approval_id;
  if (!reason.empty()) answer["reason"] = reason;
  // After the adapter call in progress (the emit that asked) has returned: never re-entered.
  boost::asio::post(host_.io(), [weak = weak_from_this(), text = answer.dump()] {
    auto self = weak.lock();
    if (!self || !self->session_ || !self->process_ || self->phase_ != Phase::running) return;
    auto bytes = self->session_->respond(text);
    if (!bytes) {
      util::logger()->warn("run {}: {}", self->who_.run_id, bytes.error().message);
      return self->fail(Error{ErrorCode::plugin_error, bytes.error().message});
    }
    if (!bytes->empty()) self->process_->write_stdin(*bytes);
  });
}

rh_status ActiveRun::send_input(std::string_view data, uint32_t flags) noexcept try {
  if (!process_ || phase_ == Phase::finishing || phase_ == Phase::done) {
    host::set_last_error("send_input: the runtime of run " + who_.run_id + " is not running");
    return RH_ERR_INVALID_ARGUMENT;
  }
  if (!live_stdin_) {
    host::set_last_error(
        "send_input: the runtime's stdin is closed (its launch spec did not keep it open, or it was closed)");
    return RH_ERR_INVALID_ARGUMENT;
  }
  if (!data.empty()) process_->write_stdin(data);
  if (flags & RH_INPUT_CLOSE) {
    process_->close_stdin();
    live_stdin_ = false;
  }
  if (flags & RH_INPUT_END) {
    // The conversation is over: a runtime that lingers past the grace is stopped, not failed.
    grace_.expires_after(kEndGrace);
    grace_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && self->process_ && self->phase_ == Phase::running) {
        self->process_->terminate(RH_EXIT_FLAG_ENDED);
      }
    });
  }
  return RH_OK;
} catch (...) {
  return RH_ERR_NO_MEMORY;
}

// ---- actions the runtime reports --------------------------------------------------------------

std::optional<Decision> ActiveRun::judge_action(const json& payload) const {
  if (!may_judge(payload.value("tool_call_id", std::string()))) return std::nullopt;
  return before_action(action_of(payload));
}

bool ActiveRun::may_judge(const std::string& tool_call_id) const {
  if (host_.policies().empty() || forced_failure_) return false;              // already stopping: decided
  return tool_call_id.empty() || asked_tool_calls_.count(tool_call_id) == 0;  // or decided when it asked
}

Decision ActiveRun::before_action(const json& action) const {
  return before_action_text(action.dump(-1, ' ', false, json::error_handler_t::replace));
}

Decision ActiveRun::before_action_text(std::string_view action_text) const {
  if (action_request_prefix_.empty())
    action_request_prefix_ = PolicyGate::action_request_prefix(who_.run_id, dispatch_json_, cwd_);
  return host_.policies().before_action(action_request_prefix_, action_text);
}

void ActiveRun::act_on(const Decision& d, const std::string& tool_call_id) {
  if (d.effect == Effect::allow || forced_failure_) return;
  if (live_approvals_ && !tool_call_id.empty()) {
    // It asks before it acts (Claude Code reports the call first, then asks): the answer goes
    // through its request. If it completes the call without asking, check_completed stops it.
    expected_asks_[tool_call_id] = d;
    return;
  }
  // It reports actions as it takes them and cannot wait for an answer: a deny or an ask stops
  // the run before it goes further.
  const std::string why =
      d.effect == Effect::deny ? d.reason : d.reason + " (needs approval; this runtime cannot wait for one)";
  fail(Error{ErrorCode::policy_denied, why, json{{"action", "review_policy"}, {"policy", d.policy}}.dump()});
}

void ActiveRun::check_completed(const std::string& tool_call_id) {
  if (expected_asks_.empty()) return;
  auto it = expected_asks_.find(tool_call_id);
  if (it == expected_asks_.end()) return;
  const Decision d = it->second;
  expected_asks_.erase(it);
  if (forced_failure_) return;
  fail(Error{ErrorCode::policy_denied, d.reason + " (the runtime completed the call without asking for approval)",
             json{{"action", "review_policy"}, {"policy", d.policy}}.dump()});
}

}  // namespace runhost::engine
