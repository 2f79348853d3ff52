#include "devices/local/escapees.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "devices/local/process_marker.hpp"
#include "devices/local/unique_fd.hpp"

namespace runhost::devices::local {
namespace {

using Clock = std::chrono::steady_clock;

// Past these, a pass stops collecting (the next pass finds the rest): a runaway tree must not
// make one pass unbounded.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxPerPass = 4096;

struct Leaders {
  std::mutex mutex;
  std::unordered_set<pid_t> pids;
};

Leaders& leaders() {
  static Leaders instance;
  return instance;
}

// The children of every thread of `pid` ("self" for the host): a process's children are
// listed under the thread that made them, and orphans under whichever thread adopted them.
// Read in large chunks: the kernel walks the child list from its start on every read call, so
// small reads (an ifstream's) cost five times as much with a thousand children.
std::vector<pid_t> children_of(const std::string& pid) {
  std::vector<pid_t> children;
  const std::string tasks = "/proc/" + pid + "/task";
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(tasks.c_str()), ::closedir);
  if (!dir) return children;
  std::string text;
  std::vector<char> chunk(64 * 1024);
  while (const dirent* task = ::readdir(dir.get())) {
    if (task->d_name[0] == '.') continue;
    UniqueFd fd(::openat(::dirfd(dir.get()), (std::string(task->d_name) + "/children").c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) continue;
    text.clear();
    for (ssize_t n; (n = ::read(fd.get(), chunk.data(), chunk.size())) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      text.append(chunk.data(), static_cast<size_t>(n));
    }
    for (const char* p = text.c_str(); *p != '\0';) {
      char* end = nullptr;
      const long child = std::strtol(p, &end, 10);
      if (end == p) break;
      if (child > 0) children.push_back(static_cast<pid_t>(child));
      p = end;
    }
  }
  return children;
}

bool host_is_subreaper() {
  int on = 0;
  return ::prctl(PR_GET_CHILD_SUBREAPER, &on) == 0 && on != 0;
}

// Where the run's escapees can be: the host's children that lead no run, or anywhere.
std::vector<pid_t> candidates(bool subreaper) {
  std::vector<pid_t> pids;
  if (subreaper) {
    const auto children = children_of("self");
    std::lock_guard<std::mutex> lock(leaders().mutex);
    for (pid_t pid : children) {
      if (!leaders().pids.count(pid)) pids.push_back(pid);
    }
    return pids;
  }
  std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
  if (!proc) return pids;
  const pid_t self = ::getpid();
  while (const dirent* entry = ::readdir(proc.get())) {
    pid_t pid = 0;
    if (parse_pid(entry->d_name, pid) && pid != self) pids.push_back(pid);
  }
  return pids;
}

// Stops the process and then, depth first, its descendants, so that none of them can fork
// while the tree is collected; all end up in `doomed`.
void stop_tree(pid_t pid, UniqueFd pidfd, int depth, std::vector<UniqueFd>& doomed) {
  if (!signal_pidfd(pidfd.get(), SIGSTOP)) return;
  doomed.push_back(std::move(pidfd));
  if (depth >= kMaxDepth) return;
  for (pid_t child : children_of(std::to_string(pid))) {
    if (doomed.size() >= kMaxPerPass) return;
    // A stopped parent cannot reap, so its children's pids cannot be recycled meanwhile.
    UniqueFd fd(open_pidfd(child));
    if (fd) stop_tree(child, std::move(fd), depth + 1, doomed);
  }
}

// Kills the doomed, waits (bounded) until they have exited — by then each one's children have
// been re-parented — and reaps those that are ours.
void kill_and_reap(std::vector<UniqueFd>& doomed, Clock::time_point deadline) {
  for (const auto& fd : doomed) signal_pidfd(fd.get(), SIGKILL);
  for (const auto& fd : doomed) {
    struct pollfd exited = {fd.get(), POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    while (::poll(&exited, 1, static_cast<int>(std::max<int64_t>(left, 0))) < 0 && errno == EINTR) {
    }
  }
  for (const auto& fd : doomed) {
    siginfo_t info{};
    // ECHILD: not ours (the host is no subreaper, or someone else adopted it).
    while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd.get()), &info, WEXITED | WNOHANG) < 0 &&
           errno == EINTR) {
    }
  }
}

// One pass: every candidate carrying `marker`, with its tree.
PassResult kill_marked(const std::string& marker, bool subreaper, Clock::time_point deadline) {
  PassResult result;
  std::vector<UniqueFd> doomed;
  for (pid_t pid : candidates(subreaper)) {
    if (doomed.size() >= kMaxPerPass) break;
    // The pidfd before the environment: should the pid be recycled in between, the signal goes
    // nowhere instead of to a stranger.
    UniqueFd fd(open_pidfd(pid));
    if (!fd) continue;
    const EnvironMatch match = environ_match(pid, marker.data(), marker.size());
    if (match == EnvironMatch::yes) stop_tree(pid, std::move(fd), 0, doomed);
    if (match == EnvironMatch::unsure) ++result.unsure;
  }
  kill_and_reap(doomed, deadline);
  result.killed = static_cast<int>(doomed.size());
  return result;
}

}  // namespace

void RunLeaders::add(pid_t pid) {
  std::lock_guard<std::mutex> lock(leaders().mutex);
  leaders().pids.insert(pid);
}

void RunLeaders::remove(pid_t pid) {
  std::lock_guard<std::mutex> lock(leaders().mutex);
  leaders().pids.erase(pid);
}

bool RunLeaders::contains(pid_t pid) {
  std::lock_guard<std::mutex> lock(leaders().mutex);
  return leaders().pids.count(pid) != 0;
}

int end_escapees(pid_t pgid, const std::string& marker) {
  const auto deadline = Clock::now() + kSweepBound;
  const bool subreaper = host_is_subreaper();
  if (pgid > 0) ::kill(-pgid, SIGKILL);
  int killed = 0;
  for (int unsure_passes = 0;;) {
    // Only as a subreaper does the group's end matter: its members' deaths hand their escaped
    // children to the host, where the next pass looks; every zombie of the group is then ours,
    // so an empty group is something we will see. Without, the pass reads all of /proc anyway.
    bool group_left = false;
    if (subreaper && pgid > 0) {
      while (::waitpid(-pgid, nullptr, WNOHANG) > 0) {
      }
      group_left = ::kill(-pgid, 0) == 0;
    }
    const PassResult pass = marker.empty() ? PassResult{} : kill_marked(marker, subreaper, deadline);
    killed += pass.killed;
    // A process caught mid-exec reads as empty: asked again, a few times at most.
    const bool unsure = pass.unsure > 0 && ++unsure_passes <= kMaxUnsurePasses;
    if ((!group_left && pass.killed == 0 && !unsure) || Clock::now() >= deadline) break;
    if (pass.killed == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return killed;
}

}  // namespace runhost::devices::local
