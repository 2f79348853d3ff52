#include "devices/local/child_process.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <ctime>

#include "util/logging.hpp"

namespace runhost::devices::local {
namespace {

rh_exit make_exit(rh_exit_kind kind, int32_t code, int32_t signal) {
  rh_exit exit{};
  exit.struct_size = sizeof(rh_exit);
  exit.kind = kind;
  exit.code = code;
  exit.signal = signal;
  return exit;
}

}  // namespace

void ChildProcess::reap_group() noexcept {
  if (group_gone_) return;
  while (::waitpid(-pid_, nullptr, WNOHANG) > 0) {
  }
}

bool ChildProcess::signal_group(int sig) {
  if (group_gone_) return false;
  if (sig == 0) reap_group();  // zombies we could reap are not "alive"
  if (::kill(-pid_, sig) == 0) return true;
  if (errno == ESRCH) group_gone_ = true;
  return false;
}

std::optional<rh_exit> ChildProcess::try_reap() {
  if (reaped_) return std::nullopt;
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    // ECHILD: SIGCHLD ignored by the host, or reaped by someone else's waitpid(-1).
    util::logger()->warn("local device: cannot reap process {}: errno {}", pid_, errno);
    reaped_ = true;
    return make_exit(RH_EXIT_LOST, 0, 0);
  }
  if (info.si_pid == 0) return std::nullopt;
  reaped_ = true;
  if (info.si_code == CLD_EXITED) return make_exit(RH_EXIT_EXITED, info.si_status, 0);
  return make_exit(RH_EXIT_SIGNALED, 0, info.si_status);
}

void ChildProcess::kill_and_reap() {
  signal_group(SIGKILL);
  if (!reaped_) {
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  // Killed members turn into zombies within moments; collect those that are ours (bounded).
  for (int i = 0; i < 50 && signal_group(0); ++i) {
    struct timespec pause = {0, 1'000'000};
    nanosleep(&pause, nullptr);
  }
}

}  // namespace runhost::devices::local
