// runhost approvals / approve / deny: the approval round trip from any process sharing the store.
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "host_flags.hpp"
#include "terminal.hpp"

namespace runhost::cli {
namespace {

using nlohmann::json;

int answer(const std::vector<std::string>& argv, bool allow) {
  const char* command = allow ? "approve" : "deny";
  ArgSpec spec{{}, {"--tenant", "--reason", "--by"}};
  if (allow) spec.options.insert("--scope");
  const auto args = parse_args(argv, with_host_flags(spec));
  if (args.positionals.size() != 2) {
    throw UsageError{std::string("usage: runhost ") + command + " RUN_ID APPROVAL_ID" +
                     (allow ? " [--scope once|run]" : "") + " [--reason TEXT] [--by WHO] [--tenant T]"};
  }
  const Scope scope = scope_of(args);
  ApprovalDecision decision;
  decision.allow = allow;
  decision.scope = args.value("--scope").value_or("once");
  decision.reason = args.value("--reason").value_or("");
  decision.actor = args.value("--by").value_or(default_actor());
  auto host = open_host(args);
  if (!host) return exit_status::no_host;
  const auto& run_id = args.positionals[0];
  if (auto st = host->answer_approval(run_id, args.positionals[1], decision, scope); !st) {
    if (st.error().code == ErrorCode::run_not_found) return no_run(command, run_id);
    std::cerr << "runhost " << command << ": " << st.error().message << "\n";
    return st.error().code == ErrorCode::invalid_dispatch ? exit_status::failed : exit_status::no_host;
  }
  std::cout << (allow ? "approved " : "denied ") << args.positionals[1] << " of " << run_id
            << " (the run's host applies it and records approval.resolved)\n";
  return exit_status::ok;
}

}  // namespace

int cmd_approvals(const std::vector<std::string>& argv) {
  const auto args = parse_args(argv, with_host_flags({{"--json"}, {"--tenant"}}));
  if (!args.positionals.empty()) throw UsageError{"unexpected argument '" + args.positionals.front() + "'"};
  const Scope scope = scope_of(args);
  auto host = open_host(args);
  if (!host) return exit_status::no_host;
  auto pending = host->pending_approvals(scope);
  if (!pending) {
    std::cerr << "runhost approvals: " << pending.error().message << "\n";
    return exit_status::failed;
  }
  if (args.has("--json")) {
    json out = json::array();
    for (const auto& p : *pending) {
      out.push_back({{"approval_id", p.id}, {"run_id", p.run_id}, {"tenant_id", p.tenant_id}, {"seq", p.seq},
                     {"request", json::parse(p.request_json, nullptr, false)}, {"created_us", p.created_us},
                     {"deadline_us", p.deadline_us}, {"answered", p.answered}});
    }
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return exit_status::ok;
  }
  std::FILE* o = stdout;
  std::fprintf(o, "%s\n", paint(o, Colour::dim, "APPROVAL                         RUN                              ASKED                DEADLINE             ACTION").c_str());
  for (const auto& p : *pending) {
    const auto request = json::parse(p.request_json, nullptr, false);
    std::string summary = request.is_object() ? request["action"].value("summary", request["action"].value("name", "")) : "";
    if (p.answered) summary += " (answered; being applied)";
    std::fprintf(o, "%-32s %-32s %s  %s  %s\n", p.id.c_str(), p.run_id.c_str(), local_time(p.created_us).c_str(),
                 p.deadline_us > 0 ? local_time(p.deadline_us).c_str() : "-                  ", summary.c_str());
  }
  return exit_status::ok;
}

int cmd_approve(const std::vector<std::string>& argv) { return answer(argv, true); }
int cmd_deny(const std::vector<std::string>& argv) { return answer(argv, false); }

}  // namespace runhost::cli
