// ActiveRun and its budgets (docs/budgets.md): what is left before launch, and what each usage
// event it records leaves.
#include "engine/active_run.hpp"
#include "engine/host_impl.hpp"
#include "util/logging.hpp"

namespace runhost::engine {

// Reads what the run's user and tenant have spent (every process's runs, from the store), on a
// worker; then the run launches, unless nothing is left. A runtime that can cap its own spend
// gets the least left as constraint host_budget_usd (claude-code: --max-budget-usd): the host
// stops the run from its usage events either way, but only when the runtime reports them,
// which some do only at the end.
void ActiveRun::read_budget() {
  auto others = std::make_shared<Result<RunBudget::Others>>(RunBudget::Others{});
  host_.on_worker([others, &store = host_.store(), limits = budget_.limits(),
                   who = who_] { *others = RunBudget::others_of(store, limits, who, now_us()); },
                  [self = shared_from_this(), others] {
                    if (self->phase_ != Phase::connecting) return;  // cancelled meanwhile
                    if (!*others) return self->fail(others->error());
                    self->budget_.set_others(std::move(**others));
                    if (auto over = self->budget_.exceeded(now_us(), /*before_start=*/true)) return self->fail(*over);
                    if (auto left = self->budget_.remaining_usd()) self->constraints_["host_budget_usd"] = *left;
                    self->budget_read_ = true;
                    self->launch();
                  });
}

void ActiveRun::on_usage(const store::UsageEntry& usage) {
  budget_.add(usage);
  if (!budget_.limited() || forced_failure_ || terminal_recorded_) return;
  if (auto over = budget_.exceeded(now_us(), /*before_start=*/false)) return fail(*over);
  // Other runs of the user and tenant spend too, in this process or another: read what they
  // have now, then judge again.
  const bool shared = budget_.limits().user_day_usd || budget_.limits().user_day_tokens ||
                      budget_.limits().tenant_month_usd || budget_.limits().tenant_month_tokens;
  if (!shared) return;
  auto others = std::make_shared<Result<RunBudget::Others>>(RunBudget::Others{});
  host_.on_worker([others, &store = host_.store(), limits = budget_.limits(),
                   who = who_] { *others = RunBudget::others_of(store, limits, who, now_us()); },
                  [self = shared_from_this(), others] {
                    if (self->forced_failure_ || self->terminal_recorded_) return;
                    if (!*others) {
                      return util::logger()->warn("run {}: reading its user's and tenant's spend: {}",
                                                  self->who_.run_id, others->error().message);
                    }
                    self->budget_.set_others(std::move(**others));
                    if (auto over = self->budget_.exceeded(now_us(), /*before_start=*/false)) self->fail(*over);
                  });
}

}  // namespace runhost::engine
