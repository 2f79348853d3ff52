// The usage ledger's SQL (schema version 5) and the caps a new run is checked against: what
// budgets and quotas read, on whichever connection the caller holds (a reader's, or the
// writer's inside its transaction, where the count and the run's INSERT are one).
#pragma once

#include <optional>
#include <vector>

#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace runhost::store {

// Inside the writer's transaction: the ledger row of a usage event (EventRow::usage), keyed by
// the event's run and seq, with the run's tenant, workspace and user.
Status insert_usage(sqlite::Connection& conn, const EventRow& event);

// Per usage source, most spent first (then by name).
Result<std::vector<UsageTotal>> select_usage(sqlite::Connection& conn, const UsageFilter& filter);

// The first of `caps` that `run` would go past, counted over its tenant (and its user or
// workspace); nullopt when it is within all of them.
Result<std::optional<CapReached>> first_cap_reached(sqlite::Connection& conn, const NewRun& run,
                                                    const std::vector<RunCap>& caps);

}  // namespace runhost::store
