// HostOptions::limits: the budgets and quotas runs are held to (docs/budgets.md), parsed and
// checked once at Host::open, and the UTC calendar periods budgets are counted over.
//
//   {"budgets": {"run_usd": 5, "user_day_usd": 20, "tenant_month_usd": 500},
//    "quotas": {"concurrent_per_user": 3, "runs_per_tenant_per_hour": 100},
//    "tenants": {"acme": {"budgets": {"tenant_month_usd": 2000}, "quotas": {"concurrent_per_user": null}}}}
//
// A tenant's entry changes only the keys it names (null lifts that limit for the tenant).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "runhost/error.hpp"

namespace runhost::engine {

// Every limit that applies to one tenant's runs; nullopt: none.
struct LimitSet {
  // Budgets: USD and tokens (input + output) from usage events.
  std::optional<double> run_usd, run_tokens;                    // one run
  std::optional<double> user_day_usd, user_day_tokens;          // one user of the tenant, per UTC day
  std::optional<double> tenant_month_usd, tenant_month_tokens;  // the tenant, per UTC month
  // Quotas: runs queued or running at once, and runs created in a sliding window.
  std::optional<double> concurrent_per_tenant, concurrent_per_user, concurrent_per_workspace;
  std::optional<double> runs_per_tenant_per_hour, runs_per_user_per_day;

  bool any_budget() const noexcept;
};

class Limits {
 public:
  // Empty text: no limits. Errors (invalid_dispatch) name the key: "limits: budgets.run_usd
  // must be a number >= 0".
  static Result<Limits> parse(std::string_view json_text);

  const LimitSet& for_tenant(const std::string& tenant_id) const;

 private:
  LimitSet defaults_;
  std::map<std::string, LimitSet, std::less<>> tenants_;
};

// The start of the UTC day and month holding `unix_us`, and of the ones after.
int64_t utc_day_start(int64_t unix_us);
int64_t utc_next_day_start(int64_t unix_us);
int64_t utc_month_start(int64_t unix_us);
int64_t utc_next_month_start(int64_t unix_us);

}  // namespace runhost::engine
