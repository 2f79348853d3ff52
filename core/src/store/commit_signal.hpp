// How hosts sharing a store learn that another one committed: after every commit, the writer
// writes one byte to `<store>-hosts/commits`, and a host with followers of runs it does not own
// watches that file with inotify (HostImpl::watch_store_commits).
//
// Why a file of our own and not the database's: the store's WAL file is written before a commit
// is visible (SQLite publishes it in the -shm index afterwards, through shared memory, which
// inotify does not see), so a reader woken by the WAL write can look too early and then sleep
// through the commit it was woken for. This byte is written after COMMIT returned, so whoever it
// wakes sees the commit. Nothing reads the byte; the file's content means nothing.
//
// Thread rules: notify() runs on the writer thread only.
#pragma once

#include <filesystem>

namespace runhost::store {

class CommitSignal {
 public:
  static constexpr const char* kFileName = "commits";
  static std::filesystem::path path_for(const std::filesystem::path& store_path);

  explicit CommitSignal(std::filesystem::path store_path) : store_path_(std::move(store_path)) {}
  ~CommitSignal();
  CommitSignal(const CommitSignal&) = delete;
  CommitSignal& operator=(const CommitSignal&) = delete;

  // Wakes every watcher. Never fails the commit: a signal that cannot be given costs followers
  // in other processes their wake-up (they fall back to a slower poll), never an event.
  void notify() noexcept;

 private:
  std::filesystem::path store_path_;
  int fd_ = -1;
  bool failed_ = false;  // told once in the log, not again
};

}  // namespace runhost::store
