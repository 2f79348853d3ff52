#include "engine/budgets.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace runhost::engine {
namespace {

using nlohmann::json;
using store::RunCap;

constexpr int64_t kHourUs = 3600LL * 1'000'000;
constexpr int64_t kDayUs = 24 * kHourUs;

std::string usd(double v) {
  char text[64];
  // Cents hide what a small run spends: below a dollar, four decimals.
  std::snprintf(text, sizeof text, v == 0 || v >= 0.995 ? "$%.2f" : "$%.4f", v);
  return text;
}

std::string tokens(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.0f", v);
  return text;
}

// Budgets renew at midnight UTC: the date says when.
std::string renewal(int64_t unix_us) {
  return "00:00 UTC on " + format_time(unix_us).substr(0, 10);
}

std::string duration(int64_t ms) {
  const int64_t minutes = (ms + 59'999) / 60'000;
  if (minutes < 60) return std::to_string(std::max<int64_t>(minutes, 1)) + " min";
  return std::to_string(minutes / 60) + " h " + std::to_string(minutes % 60) + " min";
}

std::string who(const std::string& tenant, const std::string& user, const std::string& workspace, RunCap::Of of) {
  switch (of) {
    case RunCap::Of::user:
      return "user " + user + " of tenant " + tenant;
    case RunCap::Of::workspace:
      return "workspace " + workspace + " of tenant " + tenant;
    default:
      return "tenant " + tenant;
  }
}

// One budget as it stands, for its message.
struct BudgetState {
  const char* key;     // "user_day_usd"
  std::string holder;  // "user u1 of tenant t1", "the run"
  const char* period;  // "daily", "monthly", "" (the run's own)
  bool in_usd;
  double spent;
  double limit;
  std::string top_source;  // empty: nothing spent
  int64_t renews_us;       // 0: never (a run's budget)
};

// `stopped`: the run went past it while running; else a dispatch found nothing left.
Error budget_error(const BudgetState& b, bool stopped) {
  const std::string spent = b.in_usd ? usd(b.spent) : tokens(b.spent) + " tokens";
  const std::string limit = b.in_usd ? usd(b.limit) : tokens(b.limit) + "-token";
  std::string message = b.holder + (stopped ? " spent " : " has spent ") + spent +
                        (stopped ? ", past its " : " of its ") + limit +
                        (*b.period ? " " + std::string(b.period) : std::string()) + " budget (" + b.key + ")";
  if (!b.top_source.empty()) message += ", most of it on " + b.top_source;
  if (stopped) message += ": the run was stopped";
  std::string hint = "raise the limit budgets." + std::string(b.key);
  if (b.renews_us > 0) {
    message += "; it renews at " + renewal(b.renews_us);
    hint += ", or wait until it renews at " + renewal(b.renews_us);
  }
  json recovery{{"action", "raise_budget"},
                {"usage_source", b.top_source.empty() ? "all" : b.top_source},
                {"limit", b.key},
                {"hint", hint}};
  return Error{ErrorCode::budget_exceeded, std::move(message), recovery.dump()};
}

Error quota_error(const char* key, const RunCap& cap, const store::CapReached& reached, const std::string& holder,
                  int64_t now_us) {
  const auto count = static_cast<int64_t>(reached.used);
  std::string message;
  int64_t retry_ms = kConcurrencyRetryMs;
  if (cap.kind == RunCap::Kind::live_runs) {
    message = holder + " has " + std::to_string(count) + " runs queued or running, its limit (" + key +
              "): retry when one of them ends";
  } else {
    const int64_t window = now_us - cap.since_us;
    // The window frees a slot when its oldest run leaves it.
    retry_ms = std::max<int64_t>(1, (reached.oldest_us + window - now_us + 999) / 1000);
    message = holder + " started " + std::to_string(count) + " runs in the last " +
              (window > kHourUs ? "24 hours" : "hour") + ", its limit (" + key + "): the next may start in " +
              duration(retry_ms);
  }
  json recovery{{"action", "request_quota"},
                {"usage_source", "runs"},
                {"retry_after_ms", retry_ms},
                {"limit", key},
                {"hint", "retry later, or raise the limit quotas." + std::string(key)}};
  return Error{ErrorCode::quota_exceeded, std::move(message), recovery.dump()};
}

Spend total(const SpendBySource& spend) {
  Spend sum;
  for (const auto& [source, s] : spend) {
    sum.usd += s.usd;
    sum.tokens += s.tokens;
  }
  return sum;
}

SpendBySource plus(SpendBySource a, const SpendBySource& b) {
  for (const auto& [source, s] : b) {
    a[source].usd += s.usd;
    a[source].tokens += s.tokens;
  }
  return a;
}

std::string top_source(const SpendBySource& spend, bool in_usd) {
  std::string top;
  double most = 0;
  for (const auto& [source, s] : spend) {
    const double v = in_usd ? s.usd : s.tokens;
    if (v > most) {
      most = v;
      top = source;
    }
  }
  return top;
}

Result<SpendBySource> read_spend(store::Store& store, store::UsageFilter filter) {
  auto totals = store.usage(filter);
  if (!totals) return std::move(totals).error();
  SpendBySource out;
  for (const auto& t : *totals) {
    out[t.source] = Spend{t.cost_usd, static_cast<double>(t.input_tokens + t.output_tokens)};
  }
  return out;
}

}  // namespace

store::UsageEntry usage_entry(const json& payload) {
  store::UsageEntry u;
  u.source = payload.value("source", std::string("unknown"));
  if (auto m = payload.find("model"); m != payload.end() && m->is_string()) u.model = m->get<std::string>();
  auto number = [&](const char* key) {
    auto v = payload.find(key);
    return v != payload.end() && v->is_number() ? v->get<double>() : 0.0;
  };
  auto count = [&](const char* key) {
    auto v = payload.find(key);
    return v != payload.end() && v->is_number_integer() ? v->get<int64_t>() : int64_t{0};
  };
  u.cost_usd = number("cost_usd");
  u.input_tokens = count("input_tokens");
  u.output_tokens = count("output_tokens");
  u.cached_input_tokens = count("cached_input_tokens");
  return u;
}

DispatchCaps dispatch_caps(const LimitSet& limits, int64_t now_us) {
  DispatchCaps out;
  auto add = [&](const std::optional<double>& limit, const char* key, RunCap::Kind kind, RunCap::Of of, int64_t since) {
    if (!limit) return;
    out.caps.push_back(RunCap{kind, of, *limit, since});
    out.keys.push_back(key);
  };
  const int64_t day = utc_day_start(now_us);
  const int64_t month = utc_month_start(now_us);
  add(limits.user_day_usd, "user_day_usd", RunCap::Kind::usd_since, RunCap::Of::user, day);
  add(limits.user_day_tokens, "user_day_tokens", RunCap::Kind::tokens_since, RunCap::Of::user, day);
  add(limits.tenant_month_usd, "tenant_month_usd", RunCap::Kind::usd_since, RunCap::Of::tenant, month);
  add(limits.tenant_month_tokens, "tenant_month_tokens", RunCap::Kind::tokens_since, RunCap::Of::tenant, month);
  add(limits.concurrent_per_tenant, "concurrent_per_tenant", RunCap::Kind::live_runs, RunCap::Of::tenant, 0);
  add(limits.concurrent_per_user, "concurrent_per_user", RunCap::Kind::live_runs, RunCap::Of::user, 0);
  add(limits.concurrent_per_workspace, "concurrent_per_workspace", RunCap::Kind::live_runs, RunCap::Of::workspace, 0);
  add(limits.runs_per_tenant_per_hour, "runs_per_tenant_per_hour", RunCap::Kind::runs_since, RunCap::Of::tenant,
      now_us - kHourUs);
  add(limits.runs_per_user_per_day, "runs_per_user_per_day", RunCap::Kind::runs_since, RunCap::Of::user,
      now_us - kDayUs);
  return out;
}

Error refusal(const DispatchCaps& caps, const store::CapReached& reached, const store::NewRun& run, int64_t now_us) {
  const RunCap& cap = caps.caps.at(reached.index);
  const char* key = caps.keys.at(reached.index);
  const std::string holder = who(run.tenant_id, run.user_id, run.workspace_id, cap.of);
  if (cap.kind == RunCap::Kind::live_runs || cap.kind == RunCap::Kind::runs_since) {
    return quota_error(key, cap, reached, holder, now_us);
  }
  const bool daily = cap.of == RunCap::Of::user;
  return budget_error(
      BudgetState{key, holder, daily ? "daily" : "monthly", cap.kind == RunCap::Kind::usd_since, reached.used, cap.max,
                  reached.top_source, daily ? utc_next_day_start(now_us) : utc_next_month_start(now_us)},
      false);
}

Result<RunBudget::Others> RunBudget::others_of(store::Store& store, const LimitSet& limits, const RunIdentity& who,
                                               int64_t now_us) {
  Others others;
  store::UsageFilter filter;
  filter.tenant_id = who.tenant_id;
  filter.except_run_id = who.run_id;
  if (limits.user_day_usd || limits.user_day_tokens) {
    store::UsageFilter user = filter;
    user.user_id = who.user_id;
    user.since_us = utc_day_start(now_us);
    auto spend = read_spend(store, user);
    if (!spend) return std::move(spend).error();
    others.user_day = std::move(*spend);
  }
  if (limits.tenant_month_usd || limits.tenant_month_tokens) {
    filter.since_us = utc_month_start(now_us);
    auto spend = read_spend(store, filter);
    if (!spend) return std::move(spend).error();
    others.tenant_month = std::move(*spend);
  }
  return others;
}

void RunBudget::add(const store::UsageEntry& usage) {
  Spend& s = own_[usage.source];
  s.usd += usage.cost_usd;
  s.tokens += static_cast<double>(usage.input_tokens + usage.output_tokens);
}

std::optional<Error> RunBudget::exceeded(int64_t now_us, bool before_start) const {
  const std::string user = "user " + who_.user_id + " of tenant " + who_.tenant_id;
  const std::string tenant = "tenant " + who_.tenant_id;
  const SpendBySource user_day = plus(others_.user_day, own_);
  const SpendBySource tenant_month = plus(others_.tenant_month, own_);
  struct Check {
    const std::optional<double>& limit;
    const char* key;
    const std::string& holder;
    const char* period;
    bool in_usd;
    const SpendBySource& spend;
    int64_t renews_us;
  };
  const std::string run = "the run";
  const Check checks[] = {
      {limits_.run_usd, "run_usd", run, "", true, own_, 0},
      {limits_.run_tokens, "run_tokens", run, "", false, own_, 0},
      {limits_.user_day_usd, "user_day_usd", user, "daily", true, user_day, utc_next_day_start(now_us)},
      {limits_.user_day_tokens, "user_day_tokens", user, "daily", false, user_day, utc_next_day_start(now_us)},
      {limits_.tenant_month_usd, "tenant_month_usd", tenant, "monthly", true, tenant_month,
       utc_next_month_start(now_us)},
      {limits_.tenant_month_tokens, "tenant_month_tokens", tenant, "monthly", false, tenant_month,
       utc_next_month_start(now_us)},
  };
  for (const auto& c : checks) {
    if (!c.limit) continue;
    const Spend sum = total(c.spend);
    const double spent = c.in_usd ? sum.usd : sum.tokens;
    if (before_start ? spent < *c.limit : spent <= *c.limit) continue;
    return budget_error(
        BudgetState{c.key, c.holder, c.period, c.in_usd, spent, *c.limit, top_source(c.spend, c.in_usd), c.renews_us},
        !before_start);
  }
  return std::nullopt;
}

std::optional<double> RunBudget::remaining_usd() const {
  std::optional<double> least;
  auto consider = [&](const std::optional<double>& limit, const SpendBySource& spend) {
    if (!limit) return;
    const double left = *limit - total(spend).usd;
    if (!least || left < *least) least = left;
  };
  consider(limits_.run_usd, own_);
  consider(limits_.user_day_usd, plus(others_.user_day, own_));
  consider(limits_.tenant_month_usd, plus(others_.tenant_month, own_));
  return least;
}

}  // namespace runhost::engine
