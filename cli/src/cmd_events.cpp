// runhost events / runs / cancel: reading and steering runs through the store.
#include <cstdlib>
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "event_printer.hpp"
#include "host_flags.hpp"
#include "terminal.hpp"

namespace runhost::cli {
namespace {

using nlohmann::json;

int64_t parse_count(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || v < 0) throw UsageError{flag + " takes a whole number >= 0, got '" + text + "'"};
  return v;
}

std::string one_run_id(const Args& args, const char* usage) {
  if (args.positionals.size() != 1) throw UsageError{usage};
  return args.positionals[0];
}

}  // namespace

// --tenant T: act as tenant T (another tenant's run is as missing as an unknown one); without
// it, the operator's view of every tenant.
Scope scope_of(const Args& args) {
  if (auto tenant = args.value("--tenant")) {
    if (tenant->empty()) throw UsageError{"--tenant takes a tenant id"};
    return Scope::tenant(*tenant);
  }
  return {};
}

// The one message and exit status for a run that does not exist and for one the acting tenant
// cannot see.
int no_run(const char* command, const std::string& id) {
  std::cerr << "runhost " << command << ": no run '" << id << "'\n";
  return exit_status::no_run;
}

int cmd_events(const std::vector<std::string>& argv) {
  const auto args = parse_args(argv, with_host_flags({{"--json", "--follow"}, {"--after", "--tenant"}}));
  const std::string id = one_run_id(args, "usage: runhost events RUN_ID [--after N] [--follow] [--json] [--tenant T]");
  const int64_t after = args.value("--after") ? parse_count("--after", *args.value("--after")) : 0;
  const Scope scope = scope_of(args);
  auto host = open_host(args);
  if (!host) return exit_status::no_host;
  auto run = host->run(id, scope);
  if (!run) {
    std::cerr << "runhost events: " << run.error().message << "\n";
    return 1;
  }
  if (!*run) return no_run("events", id);
  EventPrinter printer(stdout, args.has("--json"));
  if (!args.has("--follow")) {
    for (int64_t cursor = after;;) {
      auto page = host->events(id, cursor, 5000, scope);
      if (!page && page.error().code == ErrorCode::run_not_found) return no_run("events", id);
      if (!page) {
        std::cerr << "runhost events: " << page.error().message << "\n";
        return 1;
      }
      for (const auto& e : *page) printer.print(e);
      if (page->size() < 5000) break;
      cursor = page->back().seq;
    }
    return 0;
  }
  if (auto st = follow_run(*host, id, after, [&](const Event& e) { printer.print(e); }, scope); !st) {
    if (st.error().code == ErrorCode::run_not_found) return no_run("events", id);
    std::cerr << "runhost events: " << st.error().message << "\n";
    return 1;
  }
  return 0;
}

int cmd_runs(const std::vector<std::string>& argv) {
  const auto args = parse_args(argv, with_host_flags({{"--json"}, {"--tenant", "--status", "--limit"}}));
  if (!args.positionals.empty()) throw UsageError{"unexpected argument '" + args.positionals.front() + "'"};
  const Scope scope = scope_of(args);
  RunQuery query;
  query.status = args.value("--status");
  if (auto l = args.value("--limit")) query.limit = static_cast<size_t>(parse_count("--limit", *l));
  auto host = open_host(args);
  if (!host) return exit_status::no_host;
  auto runs = host->runs(query, scope);
  if (!runs) {
    std::cerr << "runhost runs: " << runs.error().message << "\n";
    return runs.error().code == ErrorCode::invalid_dispatch ? 2 : 1;
  }
  if (args.has("--json")) {
    json out = json::array();
    for (const auto& r : *runs) {
      out.push_back({{"id", r.id}, {"status", r.status}, {"tenant_id", r.tenant_id}, {"workspace_id", r.workspace_id},
                     {"user_id", r.user_id}, {"runtime", r.runtime}, {"device", {{"type", r.device_type}, {"id", r.device_id}}},
                     {"events", r.last_seq}, {"error_code", r.error_code ? json(*r.error_code) : json(nullptr)},
                     {"created_us", r.created_us}, {"updated_us", r.updated_us}});
    }
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::FILE* o = stdout;
  std::fprintf(o, "%s\n", paint(o, Colour::dim, "RUN                              STATUS     RUNTIME        EVENTS  CREATED              PROMPT").c_str());
  for (const auto& r : *runs) {
    const Colour c = r.status == "failed" ? Colour::red : r.status == "succeeded" ? Colour::green
                     : r.status == "running" ? Colour::cyan : Colour::yellow;
    std::string prompt = r.prompt.substr(0, 40);
    for (auto& ch : prompt) {
      if (ch == '\n' || ch == '\t') ch = ' ';
    }
    std::string status = r.status + (r.error_code ? " (" + *r.error_code + ")" : "");
    std::fprintf(o, "%-32s %s %-14s %6lld  %s  %s\n", r.id.c_str(), paint(o, c, status + std::string(status.size() < 10 ? 10 - status.size() : 0, ' ')).c_str(),
                 r.runtime.c_str(), static_cast<long long>(r.last_seq), local_time(r.created_us).c_str(), prompt.c_str());
  }
  return 0;
}

int cmd_cancel(const std::vector<std::string>& argv) {
  const auto args = parse_args(argv, with_host_flags({{}, {"--tenant"}}));
  const std::string id = one_run_id(args, "usage: runhost cancel RUN_ID [--tenant T]");
  const Scope scope = scope_of(args);
  auto host = open_host(args);
  if (!host) return exit_status::no_host;
  auto before = host->run(id, scope);
  if (!before) {
    std::cerr << "runhost cancel: " << before.error().message << "\n";
    return 1;
  }
  if (!*before) return no_run("cancel", id);
  if ((*before)->status == "succeeded" || (*before)->status == "failed" || (*before)->status == "cancelled") {
    std::cout << id << " already " << (*before)->status << "\n";
    return 0;
  }
  if (auto st = host->cancel(id, scope); !st) {
    if (st.error().code == ErrorCode::run_not_found) return no_run("cancel", id);
    std::cerr << "runhost cancel: " << st.error().message << "\n";
    return 1;
  }
  std::cout << "cancel requested for " << id << "\n";
  return 0;
}

}  // namespace runhost::cli
