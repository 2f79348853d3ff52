// A run's processes that left its process group (setsid, a double fork, setpgid), ended with
// the run.
//
// Killing the group does not reach them. Their environment still carries the run's marker
// (process_marker.hpp), and once the group is dead each of them is either a child of the host
// — the host is a child subreaper, so orphans of runs are re-parented to it — or, when the
// host is not a subreaper, somewhere else in /proc. So the sweep looks at the host's own
// children when it is a subreaper (a short list: every run's leader is skipped through
// RunLeaders, without a read) and at all of /proc otherwise. Each process found is stopped,
// its descendants (marked or not: a child of a run's process is the run's) collected and
// stopped the same way, and then all of them killed; the host's children among them are
// reaped. Passes repeat until the group is empty and a pass finds nothing, or a bound.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace runhost::devices::local {

// The pids of live runs' leaders, process-wide: the sweep's list of the host's children skips
// them without reading their environments (with a thousand runs, the leaders are nearly all of
// them). Thread-safe.
class RunLeaders {
 public:
  static void add(pid_t pid);
  static void remove(pid_t pid);
  static bool contains(pid_t pid);
};

// What the bound on a sweep is: passes stop after this long even if something is still found
// (a process in uninterruptible sleep may take longer to die; it was signalled).
inline constexpr std::chrono::milliseconds kSweepBound{1000};

// Kills what is left of group `pgid` (SIGKILL) and every process outside it whose environment
// holds `marker` ("RUNHOST_RUN_ID=<id>"; empty: the group only), with its descendants; reaps
// those that are the host's children. Blocks (reads /proc, waits a few milliseconds between
// passes): never on the reactor in the host. Returns how many processes outside the group
// were killed. Thread-safe.
int end_escapees(pid_t pgid, const std::string& marker);

}  // namespace runhost::devices::local
