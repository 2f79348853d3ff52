// A thread rule stated in code: RUNHOST_ASSERT_ON_REACTOR(io) checks, in debug builds, that the
// caller runs on `io`'s thread, from within its run(), or that the reactor has stopped (a host
// closing destroys what is left of its runs once no handler can run) — the rule that keeps the
// reactor's structures (runs, devices, HTTP transfers) free of locks. As LevelDB's
// Mutex::AssertHeld.
#pragma once

#include <cassert>

#ifdef NDEBUG
#define RUNHOST_ASSERT_ON_REACTOR(io_context) ((void)0)
#else
#define RUNHOST_ASSERT_ON_REACTOR(io_context) \
  assert((io_context).get_executor().running_in_this_thread() || (io_context).stopped())
#endif
