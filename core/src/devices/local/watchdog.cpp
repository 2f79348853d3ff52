#include "devices/local/watchdog.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "devices/local/process_marker.hpp"

namespace runhost::devices::local {
namespace {

// Everything below until start() runs in the watchdog: async-signal-safe system calls only.

int64_t monotonic_ms() noexcept {
  struct timespec now {};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1'000'000;
}

void pause_ms(long ms) noexcept {
  struct timespec pause = {0, ms * 1'000'000};
  while (::nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

// The host's handlers are the host's code: nothing of it may run here. Default dispositions,
// then the signals a terminal or a service manager sends to the host's group ignored.
void quiet_signals() noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &action, nullptr);  // glibc's own refuse: fine
  }
  action.sa_handler = SIG_IGN;
  for (int sig : {SIGINT, SIGHUP, SIGTERM, SIGQUIT, SIGPIPE, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2}) {
    ::sigaction(sig, &action, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void close_range_or_each(unsigned first, unsigned last) noexcept {
  if (first > last) return;
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, first, last, 0) == 0) return;
#endif
  // Kernels before 5.9: one by one, up to a bound (a host with a million descriptors open is
  // not a case we wait a second for; a stray descriptor only keeps a pipe open a while).
  for (unsigned fd = first; fd <= last && fd < 65536; ++fd) ::close(static_cast<int>(fd));
}

// Keeps `a` and `b` (either may be -1), closes every other descriptor: the host's pipes,
// sockets and store must not stay open because of us.
void close_all_but(int a, int b) noexcept {
  if (a > b) {
    const int t = a;
    a = b;
    b = t;
  }
  unsigned next = 0;
  for (int keep : {a, b}) {
    if (keep < 0) continue;
    if (static_cast<unsigned>(keep) > next) close_range_or_each(next, static_cast<unsigned>(keep) - 1);
    next = static_cast<unsigned>(keep) + 1;
  }
  close_range_or_each(next, ~0U);
}

// Blocks until the host is gone or tells us to go.
void wait_for_host(pid_t host, int pidfd, int from_host) noexcept {
  if (pidfd >= 0) {
    struct pollfd fds[2] = {{pidfd, POLLIN, 0}, {from_host, POLLIN, 0}};
    while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    return;
  }
  // No pidfd (a kernel before 5.3): being re-parented is how the host's death shows.
  struct pollfd fds[1] = {{from_host, POLLIN, 0}};
  while (::getppid() == host) {
    if (::poll(fds, 1, 100) > 0) return;
  }
}

[[noreturn]] void watch(pid_t host, int from_host, const char* entry, size_t len) noexcept {
  ::setpgid(0, 0);
  quiet_signals();
  if (::chdir("/") != 0) {
    // Only so that the host's working directory is not kept busy; nothing depends on it.
  }
  // The pidfd before the parent check: if the host died before this, getppid() says so even
  // when its pid was recycled; if after, the pidfd turns readable.
  const int pidfd = open_pidfd(host);
  const bool gone = ::getppid() != host;
  close_all_but(from_host, pidfd);
  if (!gone) wait_for_host(host, pidfd, from_host);

  const int64_t deadline = monotonic_ms() + Watchdog::kMaxSweep.count();
  // Until a pass kills nothing (a killed process that has not died yet is found again), or
  // only finds processes whose environment it could not read yet (mid-exec) a few times over.
  for (int unsure_passes = 0; monotonic_ms() < deadline;) {
    const PassResult pass = kill_processes_with_entry(entry, len);
    if (pass.killed == 0 && (pass.unsure == 0 || ++unsure_passes > kMaxUnsurePasses)) break;
    pause_ms(pass.killed > 0 ? 5 : 1);
  }
  ::_exit(0);
}

}  // namespace

Result<std::unique_ptr<Watchdog>> Watchdog::start(const std::string& host_id) {
  if (host_id.empty() || host_id.find('\0') != std::string::npos) {
    return Error{ErrorCode::invalid_dispatch, "watchdog: the host id must be non-empty text without NUL"};
  }
  // Prepared before the clone: the watchdog may not allocate.
  const std::string entry = std::string(kHostIdVariable) + "=" + host_id;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Error{ErrorCode::internal, std::string("watchdog pipe: ") + std::strerror(errno)};
  }
  UniqueFd from_host(fds[0]);
  UniqueFd to_watchdog(fds[1]);
  const pid_t host = ::getpid();

  // A raw clone, like fork() without glibc's atfork handlers: those belong to the embedding
  // application (Python, Node) and may take locks another thread holds.
  const long pid = ::syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) watch(host, from_host.get(), entry.data(), entry.size());
  if (pid < 0) return Error{ErrorCode::internal, std::string("watchdog clone: ") + std::strerror(errno)};

  UniqueFd pidfd(open_pidfd(static_cast<pid_t>(pid)));  // our child: it cannot have been recycled
  return std::unique_ptr<Watchdog>(new Watchdog(static_cast<pid_t>(pid), std::move(to_watchdog), std::move(pidfd)));
}

Watchdog::~Watchdog() {
  // A byte, not only the close: a forked copy of the host process holds the write end too.
  const char bye = 0;
  (void)!::write(to_watchdog_.get(), &bye, 1);
  to_watchdog_.reset();
  // Bounded: a watchdog that does not finish its sweep in time (stopped, say) is killed.
  if (pidfd_) {
    struct pollfd fd = {pidfd_.get(), POLLIN, 0};
    const int timeout = static_cast<int>(kMaxSweep.count()) + 1000;
    int rc;
    while ((rc = ::poll(&fd, 1, timeout)) < 0 && errno == EINTR) {
    }
    if (rc == 0) signal_pidfd(pidfd_.get(), SIGKILL);
    siginfo_t info{};
    while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED) < 0 &&
           errno == EINTR) {
    }
  } else {
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace runhost::devices::local
