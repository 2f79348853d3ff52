// Budgets and quotas applied (docs/budgets.md): the caps a dispatch is checked against in its
// run's INSERT transaction, the errors that refuse it, and RunBudget, which follows one run's
// spend while it runs.
//
// Spend comes from the usage ledger (store/usage.hpp), which every process sharing the store
// writes, so a host sees the spend of every other host's runs too. Budget periods are UTC
// calendar days and months; run quotas count a sliding window (the last hour, the last 24 hours).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/envelope.hpp"
#include "engine/limits.hpp"
#include "store/store.hpp"

namespace runhost::engine {

// What a refused concurrent-run quota says to wait before trying again: a run's end cannot be
// foreseen, so a constant a client can poll at.
inline constexpr int64_t kConcurrencyRetryMs = 5000;

// The caps a new run must be within, and the limit key each comes from.
struct DispatchCaps {
  std::vector<store::RunCap> caps;
  std::vector<const char*> keys;  // "user_day_usd", "concurrent_per_tenant"...
};
// Budgets first (user per day, tenant per month), then quotas.
DispatchCaps dispatch_caps(const LimitSet& limits, int64_t now_us);

// budget_exceeded (raise_budget, naming the usage source that spent the most, what was spent and
// the limit) or quota_exceeded (request_quota, with retry_after_ms), for a dispatch refused by
// caps.caps[reached.index].
Error refusal(const DispatchCaps& caps, const store::CapReached& reached, const store::NewRun& run, int64_t now_us);

// A usage event's payload (valid against the schema) as its ledger row.
store::UsageEntry usage_entry(const nlohmann::json& payload);

// Spend per usage source.
struct Spend {
  double usd = 0;
  double tokens = 0;  // input + output
};
using SpendBySource = std::map<std::string, Spend>;

// One run's budgets while it runs: its own spend, added as its usage events are recorded, and
// what every other run spent in its user's day and its tenant's month (read from the store,
// again after each usage event). Reactor thread only.
class RunBudget {
 public:
  struct Others {
    SpendBySource user_day;
    SpendBySource tenant_month;
  };

  RunBudget(LimitSet limits, RunIdentity who) : limits_(std::move(limits)), who_(std::move(who)) {}

  bool limited() const noexcept { return limits_.any_budget(); }
  const LimitSet& limits() const noexcept { return limits_; }
  // Any thread (a worker: it reads the store): what every run but `who`'s spent in its user's
  // day and its tenant's month, for the budgets `limits` sets.
  static Result<Others> others_of(store::Store& store, const LimitSet& limits, const RunIdentity& who, int64_t now_us);
  void set_others(Others others) { others_ = std::move(others); }
  void add(const store::UsageEntry& usage);

  // The first budget the run went past (spend > limit); at launch (`before_start`) the first with
  // nothing left (spend >= limit). budget_exceeded, with a raise_budget recovery.
  std::optional<Error> exceeded(int64_t now_us, bool before_start) const;
  // What the run may still spend in USD: the least left of its USD budgets; nullopt when none.
  std::optional<double> remaining_usd() const;

 private:
  LimitSet limits_;
  RunIdentity who_;
  SpendBySource own_;
  Others others_;
};

}  // namespace runhost::engine
