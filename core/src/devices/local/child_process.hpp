// The spawned process and its process group: signalling the group, reaping the leader.
//
// The group id is the leader's pid. Once kill() says the group is empty (ESRCH) we never
// signal it again, so a recycled id is not hit by a late SIGKILL.
#pragma once

#include <sys/types.h>

#include <optional>

#include <runhost/runtime.h>

namespace runhost::devices::local {

class ChildProcess {
 public:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  bool reaped() const noexcept { return reaped_; }

  // Signals every process of the group; false once it is known to be empty.
  bool signal_group(int sig);
  // Anything of the group left, zombies included (kill(-pgid, 0)).
  bool group_alive() { return signal_group(0); }

  // Reaps the leader if it has exited (never blocks). nullopt while it runs. An exit that
  // cannot be collected (someone else reaped it) is RH_EXIT_LOST.
  std::optional<rh_exit> try_reap();

  // SIGKILL to the group, then waits for the leader and reaps what of the group became ours:
  // for the destructor, so no zombie stays.
  void kill_and_reap();

  // Reaps, without blocking, every exited member of the group that is our child. With the host
  // a child subreaper, orphaned grandchildren of the run are ours; waiting by process group
  // never touches children the embedding application started itself.
  void reap_group() noexcept;

 private:
  pid_t pid_;
  bool reaped_ = false;
  bool group_gone_ = false;
};

}  // namespace runhost::devices::local
