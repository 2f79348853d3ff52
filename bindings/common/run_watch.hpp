// The start of a binding's event reader: the run a reader names, looked up in the caller's
// Scope, and a subscription that wakes the reader when the run stores a newer event.
//
// Both bindings read a run's events the same way (the store is the source of truth; a host
// subscription only says "there is something newer"), so both start a reader here: Python's
// EventStream (bindings/python/ext/event_stream.cpp) and Node's watch (bindings/node/src).
//
// Thread rules: any thread but the host's reactor; blocks on the store (call it without the GIL,
// or on a libuv worker). The callbacks run on the reactor, as Host::subscribe's do.
#pragma once

#include <memory>
#include <string>

#include "host_state.hpp"

namespace runhost::binding {

struct RunWatch {
  RunInfo run;  // as stored when the watch began
  // Null when the run had already ended: everything is stored, and no wake-up will come.
  std::unique_ptr<Subscription> subscription;
};

// The run's record in `scope`; a run that is missing or outside the scope throws the core's own
// run_not_found (CoreError), so the message is the same as every other call's.
RunInfo find_run(Host& host, const std::string& run_id, const Scope& scope);

// find_run, then, unless the run has ended, a subscription to its events newer than the last
// one stored (the reader reads the older ones itself). The terminal event is always newer than
// that, so the subscription always ends: on_end once it was delivered, or with the error that
// stopped delivery (store_unavailable: the host could not record the run's events).
RunWatch watch_run(Host& host, const std::string& run_id, const Scope& scope, EventCallback on_event,
                   EndCallback on_end);

}  // namespace runhost::binding
