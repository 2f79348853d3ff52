// The host's watchdog: a small process that outlives the host just long enough to end the
// host's runtimes when the host dies without ending them itself (kill -9, a crash, an OOM kill).
//
// A run's process group and its marker let the host end a run; nothing in the host runs once
// the host is SIGKILLed. So one watchdog per host, started at open, waits for the host to go
// (a pidfd on it) or to close it (a pipe from the host). Either way it then SIGKILLs every
// process whose environment carries RUNHOST_HOST_ID=<host id> (process_marker.hpp), pass after
// pass until a pass finds none, and exits.
//
// Bound: the watchdog wakes as soon as the host is gone and its first pass signals every
// marked process it can read; the passes end within kMaxSweep (1 s). Runtimes of a host killed
// with SIGKILL are therefore killed within 1 s of its death (milliseconds on an idle machine).
//
// It is made with a raw clone system call, not fork(): the host may be a library inside a
// Python or Node process whose atfork handlers and other threads' locks we must not touch. From
// then on it uses only async-signal-safe system calls, keeps no descriptor of the host but its
// two, sits in its own process group (a terminal's Ctrl-C for the host's group does not reach
// it) and ignores SIGINT, SIGHUP, SIGTERM and SIGPIPE. It never kills anything but marked
// processes, so an application's own children are safe.
//
//   auto watchdog = Watchdog::start(host_id);   // at open; keep it for the host's life
//   ...                                         // runtimes spawned with LocalOptions::host_id
//   watchdog->reset();                          // at close, after the runs ended
//
// Thread rules: start() and the destructor may run on any thread, one at a time per object.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "devices/local/unique_fd.hpp"
#include "runhost/error.hpp"

namespace runhost::devices::local {

class Watchdog {
 public:
  // How long a watchdog keeps looking for marked processes once woken.
  static constexpr std::chrono::milliseconds kMaxSweep{1000};

  // Starts the watchdog of the calling process for `host_id` (non-empty, no NUL). Errors:
  // invalid_dispatch for a bad id, internal when the system refuses (pipe, clone).
  static Result<std::unique_ptr<Watchdog>> start(const std::string& host_id);

  // Tells the watchdog to sweep once and exit, then waits for it (bounded by kMaxSweep plus a
  // pass). Runs should have ended first; whatever of them is left is killed.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  pid_t pid() const noexcept { return pid_; }

 private:
  Watchdog(pid_t pid, UniqueFd to_watchdog, UniqueFd pidfd)
      : pid_(pid), to_watchdog_(std::move(to_watchdog)), pidfd_(std::move(pidfd)) {}

  pid_t pid_;
  UniqueFd to_watchdog_;  // the write end: a byte, or its closing, means "the host is closing"
  UniqueFd pidfd_;        // the watchdog's, so that reaping it never touches another process
};

}  // namespace runhost::devices::local
