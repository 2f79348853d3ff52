// runhost usage: what the usage events of the store add up to, per usage source.
#include <cstdio>
#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "host_flags.hpp"
#include "terminal.hpp"

namespace runhost::cli {
namespace {

using nlohmann::json;

// --since / --until: "today" and "month" (the current UTC day and month, as budgets count them),
// YYYY-MM-DD (UTC midnight) or YYYY-MM-DDTHH:MM[:SS][Z] (UTC), as microseconds since the epoch.
int64_t parse_when(const std::string& flag, const std::string& text) {
  const std::time_t now = std::time(nullptr);
  std::tm t{};
  gmtime_r(&now, &t);
  t.tm_hour = t.tm_min = t.tm_sec = 0;
  if (text == "today") return static_cast<int64_t>(timegm(&t)) * 1'000'000;
  if (text == "month") {
    t.tm_mday = 1;
    return static_cast<int64_t>(timegm(&t)) * 1'000'000;
  }
  t = std::tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, used = 0;
  const int fields = std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &used);
  bool ok = fields == 3 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
  if (ok && static_cast<size_t>(used) < text.size()) {
    int more = 0;
    const std::string rest = text.substr(static_cast<size_t>(used));
    ok = (std::sscanf(rest.c_str(), "T%2d:%2d:%2d%n", &hour, &minute, &second, &more) == 3 ||
          std::sscanf(rest.c_str(), "T%2d:%2d%n", &hour, &minute, &more) == 2) &&
         (rest.substr(static_cast<size_t>(more)).empty() || rest.substr(static_cast<size_t>(more)) == "Z") &&
         hour < 24 && minute < 60 && second < 61;
  }
  if (!ok) {
    throw UsageError{flag + " takes today, month, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (UTC), got '" + text + "'"};
  }
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  t.tm_min = minute;
  t.tm_sec = second;
  return static_cast<int64_t>(timegm(&t)) * 1'000'000;
}

json total_json(const UsageTotal& t) {
  return {{"source", t.source},
          {"cost_usd", t.cost_usd},
          {"input_tokens", t.input_tokens},
          {"output_tokens", t.output_tokens},
          {"cached_input_tokens", t.cached_input_tokens},
          {"events", t.events}};
}

}  // namespace

int cmd_usage(const std::vector<std::string>& argv) {
  const auto args = parse_args(
      argv, with_host_flags({{"--json"}, {"--tenant", "--user", "--workspace", "--run", "--since", "--until"}}));
  if (!args.positionals.empty()) throw UsageError{"unexpected argument '" + args.positionals.front() + "'"};
  const Scope scope = scope_of(args);
  UsageQuery query;
  query.user_id = args.value("--user");
  query.workspace_id = args.value("--workspace");
  query.run_id = args.value("--run");
  if (auto since = args.value("--since")) query.since_us = parse_when("--since", *since);
  if (auto until = args.value("--until")) query.until_us = parse_when("--until", *until);
  auto host = open_host(args);
  if (!host) return exit_status::no_host;
  auto totals = host->usage(query, scope);
  if (!totals) {
    std::cerr << "runhost usage: " << totals.error().message << "\n";
    return exit_status::failed;
  }
  UsageTotal all{"all", 0, 0, 0, 0, 0};
  for (const auto& t : *totals) {
    all.cost_usd += t.cost_usd;
    all.input_tokens += t.input_tokens;
    all.output_tokens += t.output_tokens;
    all.cached_input_tokens += t.cached_input_tokens;
    all.events += t.events;
  }
  if (args.has("--json")) {
    json out{{"sources", json::array()}, {"total", total_json(all)}};
    for (const auto& t : *totals) out["sources"].push_back(total_json(t));
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return exit_status::ok;
  }
  std::FILE* o = stdout;
  char line[256];
  std::snprintf(line, sizeof line, "%-20s %12s %14s %14s %14s %8s", "SOURCE", "COST_USD", "INPUT_TOKENS",
                "OUTPUT_TOKENS", "CACHED_INPUT", "EVENTS");
  std::fprintf(o, "%s\n", paint(o, Colour::dim, line).c_str());
  auto row = [&](const UsageTotal& t) {
    std::fprintf(o, "%-20s %12.4f %14lld %14lld %14lld %8lld\n", t.source.c_str(), t.cost_usd,
                 static_cast<long long>(t.input_tokens), static_cast<long long>(t.output_tokens),
                 static_cast<long long>(t.cached_input_tokens), static_cast<long long>(t.events));
  };
  for (const auto& t : *totals) row(t);
  row(all);
  return exit_status::ok;
}

}  // namespace runhost::cli
