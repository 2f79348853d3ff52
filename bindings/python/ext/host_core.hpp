// The Python side of the shared HostState (bindings/common/host_state.hpp): the registry of
// every Host the process opened, so that they can all be closed at interpreter exit.
//
// Thread rules: any thread; call close_all() with the GIL released (closing blocks).
#pragma once

#include "binding.hpp"

namespace runhost::python {

using binding::HostState;

// Every Host this process opened (the atexit hook closes those still open).
binding::HostRegistry& open_hosts();

}  // namespace runhost::python
