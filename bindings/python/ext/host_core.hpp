// The Python side of the shared HostState (bindings/common/host_state.hpp): every Host the
// process opened, so that they can all be closed at interpreter exit.
//
// Thread rules: call with the GIL released (close_all() closes hosts, which blocks).
#pragma once

#include <memory>

#include "binding.hpp"

namespace runhost::python {

using binding::HostState;

// Records an open Host for close_all(). Any thread.
void register_open(const std::shared_ptr<HostState>& state);
// Closes every Host still open (atexit).
void close_all();

}  // namespace runhost::python
