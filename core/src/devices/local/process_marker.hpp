// Finding a host's or a run's processes by the marker in their environment.
//
// The local device puts RUNHOST_HOST_ID=<host id> and RUNHOST_RUN_ID=<run id> into every
// runtime's environment, and children inherit it: /proc/PID/environ then names the host and
// the run of a process whatever its process group, session or parent (setsid, double fork).
// A process that clears its environment, or whose environment we may not read (another user,
// a setuid program, PR_SET_DUMPABLE 0), is not found this way.
//
// Everything here is async-signal-safe: system calls on caller-provided or stack buffers, no
// malloc, no locks, no exceptions. The watchdog runs it in a raw fork of a multi-threaded host,
// where nothing else is allowed; the run-end sweep runs it on an ordinary thread.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace runhost::devices::local {

inline constexpr char kHostIdVariable[] = "RUNHOST_HOST_ID";
inline constexpr char kRunIdVariable[] = "RUNHOST_RUN_ID";

// pidfd_open / pidfd_send_signal (glibc 2.36 declares the former without C linkage for C++:
// the system calls themselves). -1 / false with errno set on failure.
int open_pidfd(pid_t pid) noexcept;
bool signal_pidfd(int pidfd, int sig) noexcept;

// A /proc directory entry's name as a pid; false for anything that is not a positive number.
bool parse_pid(const char* name, pid_t& pid) noexcept;

enum class EnvironMatch {
  yes,
  no,      // or unreadable: gone, a zombie, a kernel thread, not ours to read
  unsure,  // read empty from a live process: most likely in the middle of an exec, when the
           // kernel shows the new, not yet filled, environment; ask again shortly
};

// Whether /proc/<pid>/environ holds `entry` ("NAME=value", `len` bytes) as a whole
// NUL-delimited entry. It shows the environment the process was exec'd with: unsetenv() or
// clearenv() in the process does not hide the marker, an exec with another environment does.
EnvironMatch environ_match(pid_t pid, const char* entry, size_t len) noexcept;

// What a pass over processes found.
struct PassResult {
  int killed = 0;  // signalled (a process killed but not yet gone counts again next pass)
  int unsure = 0;  // EnvironMatch::unsure
};

// One pass over /proc: SIGKILL, through a pidfd opened before the environment is read (so a
// recycled pid is never hit), to every process but the caller whose environment holds `entry`.
PassResult kill_processes_with_entry(const char* entry, size_t len) noexcept;

// How many passes in a row may end on unsure processes alone before they are taken for
// processes that really have an empty environment (not ours).
inline constexpr int kMaxUnsurePasses = 5;

}  // namespace runhost::devices::local
