#include "devices/local/process_marker.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace runhost::devices::local {
namespace {

// Reads one file descriptor to its end in fixed chunks, matching `entry` against each
// NUL-delimited entry as the bytes go by: an environment may be larger than any buffer we
// could put on a stack.
// `empty`: the file held nothing at all.
bool stream_has_entry(int fd, const char* entry, size_t len, bool& empty) noexcept {
  char buf[4096];
  size_t matched = 0;   // bytes of `entry` matched so far in the current entry
  bool failed = false;  // the current entry already differs
  bool any = false;     // read anything at all (a zombie's environ is empty)
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;  // not ours to read, not "empty"
    if (n == 0) break;
    any = true;
    for (ssize_t i = 0; i < n; ++i) {
      const char c = buf[i];
      if (c == '\0') {
        if (!failed && matched == len) return true;
        matched = 0;
        failed = false;
      } else if (!failed && matched < len && c == entry[matched]) {
        ++matched;
      } else {
        failed = true;
      }
    }
  }
  empty = !any;
  return any && !failed && matched == len;  // a last entry without its NUL
}

// "/proc/<pid>/<file>" into `out` (at least 48 bytes; `file` at most 15 characters).
void proc_path(pid_t pid, const char* file, char* out) noexcept {
  char digits[16];
  int n = 0;
  for (auto v = static_cast<uint32_t>(pid); n == 0 || v != 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  char* p = out;
  for (const char* s = "/proc/"; *s != '\0'; ++s) *p++ = *s;
  while (n > 0) *p++ = digits[--n];
  *p++ = '/';
  for (const char* s = file; *s != '\0'; ++s) *p++ = *s;
  *p = '\0';
}

// A live user process, by /proc/<pid>/stat: not a zombie, not a kernel thread (whose environ is
// always empty).
bool live_user_process(pid_t pid) noexcept {
  constexpr unsigned long kKernelThread = 0x00200000;  // PF_KTHREAD
  char path[48];
  proc_path(pid, "stat", path);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf - 1)) < 0 && errno == EINTR) {
  }
  ::close(fd);
  if (n <= 0) return false;
  // pid (comm) state ppid pgrp session tty_nr tpgid flags: comm may hold anything, so from the
  // last ')'.
  ssize_t at = n - 1;
  while (at >= 0 && buf[at] != ')') --at;
  if (at < 0 || at + 2 >= n) return false;
  const char state = buf[at + 2];
  if (state == 'Z' || state == 'X' || state == 'x') return false;
  int field = 3;  // state
  unsigned long flags = 0;
  for (ssize_t i = at + 3; i < n && field <= 9; ++i) {
    if (buf[i] == ' ') {
      ++field;
    } else if (field == 9) {
      flags = flags * 10 + static_cast<unsigned long>(buf[i] - '0');
    }
  }
  return (flags & kKernelThread) == 0;
}

struct LinuxDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

}  // namespace

int open_pidfd(pid_t pid) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

bool signal_pidfd(int pidfd, int sig) noexcept {
  return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0;
}

bool parse_pid(const char* name, pid_t& pid) noexcept {
  int64_t value = 0;
  if (*name == '\0') return false;
  for (; *name != '\0'; ++name) {
    if (*name < '0' || *name > '9') return false;
    value = value * 10 + (*name - '0');
    if (value > INT32_MAX) return false;
  }
  pid = static_cast<pid_t>(value);
  return pid > 0;
}

EnvironMatch environ_match(pid_t pid, const char* entry, size_t len) noexcept {
  char path[48];
  proc_path(pid, "environ", path);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return EnvironMatch::no;
  bool empty = false;
  const bool found = stream_has_entry(fd, entry, len, empty);
  ::close(fd);
  if (found) return EnvironMatch::yes;
  return empty && live_user_process(pid) ? EnvironMatch::unsure : EnvironMatch::no;
}

PassResult kill_processes_with_entry(const char* entry, size_t len) noexcept {
  PassResult result;
  const int proc = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) return result;
  const pid_t self = ::getpid();
  alignas(LinuxDirent64) char buf[8192];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, proc, buf, sizeof buf);
    if (n <= 0) break;
    for (long at = 0; at < n;) {
      const auto* d = reinterpret_cast<const LinuxDirent64*>(buf + at);
      at += d->d_reclen;
      pid_t pid = 0;
      if (!parse_pid(d->d_name, pid) || pid == self) continue;
      // The pidfd first: if the pid is recycled after this, the environment read below is
      // another process's and the signal goes nowhere; a stranger is never killed.
      const int pidfd = open_pidfd(pid);
      if (pidfd < 0) continue;
      switch (environ_match(pid, entry, len)) {
        case EnvironMatch::yes:
          if (signal_pidfd(pidfd, SIGKILL)) ++result.killed;
          break;
        case EnvironMatch::unsure:
          ++result.unsure;
          break;
        case EnvironMatch::no:
          break;
      }
      ::close(pidfd);
    }
  }
  ::close(proc);
  return result;
}

}  // namespace runhost::devices::local
