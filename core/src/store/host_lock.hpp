// Which hosts sharing a store are alive: each holds an exclusive flock on a file of its own,
// `<store>-hosts/<host id>.lock`, for as long as it lives.
//
// Why a kernel lock and not a lease renewed in the database: a SQLite store in WAL mode can only
// be shared by processes of one machine (its -shm file is shared memory), so every host that can
// own a run of this store runs on one kernel, and that kernel drops a process's locks when the
// process ends, however it ends (exit, kill -9, the OOM killer), and never before. So "the lock
// can be taken" proves the owner is gone, at once, with no clock, no renewal write every few
// seconds and no expiry to tune; and a host that is merely stopped (SIGSTOP, a debugger, a
// long GC pause) keeps its lock, so its runs, whose runtimes still run, are never taken from it
// — a lease would have expired and handed them to someone else. Locks are per open file
// description, so two Hosts of one process hold two different locks, and flock works across
// pid namespaces (containers sharing the store's directory on one kernel). A store shared by
// hosts on several machines (the PostgreSQL plan in DESIGN.md) will need a lease with fencing
// instead; this file is where that decision lives.
//
//   auto mine = HostLock::acquire(store_path, "host_01J...");   // held until destroyed
//   auto probe = HostLock::probe(store_path, other_host_id);    // alive, or gone (+ its lock)
//
// Thread rules: none; a HostLock is owned by one thread at a time.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "runhost/error.hpp"

namespace runhost::store {

struct HostProbe;

class HostLock {
 public:
  // Creates the lock file (and its directory, 0700) and locks it. Never waits: the id is new.
  static Result<HostLock> acquire(const std::filesystem::path& store_path, const std::string& host_id);

  // Whether host `host_id` is alive (it holds its lock). When it is gone and its file still
  // existed, the caller now holds the dead host's lock (two hosts probing one dead host at once
  // are serialised), released with the returned HostLock, which deletes the file.
  static Result<HostProbe> probe(const std::filesystem::path& store_path, const std::string& host_id);

  // The directory of the lock files: the store's path + "-hosts".
  static std::filesystem::path directory(const std::filesystem::path& store_path);

  HostLock(HostLock&& other) noexcept;
  HostLock& operator=(HostLock&& other) noexcept;
  HostLock(const HostLock&) = delete;
  HostLock& operator=(const HostLock&) = delete;
  // Deletes the file, then unlocks: a probe that opened it meanwhile finds an unlinked file,
  // which it recognises and treats as gone.
  ~HostLock();

 private:
  HostLock(int fd, std::filesystem::path path) noexcept : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::filesystem::path path_;
};

struct HostProbe {
  bool alive = false;
  std::optional<HostLock> taken;  // gone, and its lock file is now ours
};

}  // namespace runhost::store
