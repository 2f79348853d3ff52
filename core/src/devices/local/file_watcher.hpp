// Watches a working directory recursively with inotify and reports FsEvents, relative paths.
//
// Subdirectories get watches as they appear, and are scanned once when they do: files written
// into a new directory before its watch existed are still reported (as "appeared"). Names in
// `ignore_dirs` are never watched. A directory renamed within the tree keeps its watches and
// reports each file in it as renamed; one moved out is reported once as deleted (its own path).
// A MOVED_FROM pairs with the MOVED_TO that immediately follows it (same cookie), as the kernel
// queues them; a MOVED_FROM left alone at the end of what could be read is a move out.
//
// The first walk of a large tree does not hold up the run: the constructor watches what it can
// in about a millisecond (all of a typical project) and the rest is watched a slice at a time on
// the io_context, while the process runs (from 20 ms on, so that the run's start goes first). A directory watched late
// is listed when its watch is in place, and each file in it changed since the watcher was made is reported then
// (created if it was born since, else modified); what the walk cannot see is a file created and deleted, or renamed, in
// such a directory before its watch existed. drain() finishes the walk first.
//
// Limits: all watchers on an io_context share one inotify instance (InotifyHub), so the number
// of runs is not limited by fs.inotify.max_user_instances; watches are still per user
// (max_user_watches): past that the watcher logs once and reports what it still can. A queue
// overflow loses events: it is logged, never fatal.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "devices/local/fs_event.hpp"
#include "devices/local/inotify_hub.hpp"
#include "devices/local/lifetime.hpp"

namespace runhost::devices::local {

class FileWatcher final : private InotifyClient {
 public:
  // Start it before the process: the tree's first slice is watched when the constructor returns
  // (see above for the rest). `on_event` must not destroy the watcher.
  FileWatcher(boost::asio::io_context& io, std::filesystem::path root, std::vector<std::string> ignore_dirs,
              std::function<void(const FsEvent&)> on_event);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Finishes the first walk, then reads what the kernel has queued so far, now: at exit, every
  // change the process made before it was reaped is in the queue.
  void drain();
  bool walking() const noexcept { return !unwalked_.empty(); }  // the first walk is not done
  // `done` once the first walk is done (now if it is), its later slices still between other
  // handlers: a process that exits at once in a large tree does not stall the io_context.
  void when_walked(std::function<void()> done);
  void stop();  // no event after

 private:
  struct PendingMove {
    uint32_t cookie;
    std::string path;
    bool is_dir;
    bool watched;  // a directory whose tree we watch (not an ignored one)
  };

  void on_inotify(const inotify_event& event, const char* name) override { handle(event, name); }
  void on_inotify_drained() override;
  void handle(const inotify_event& event, const char* name);
  void handle_moved_to(const std::string& path, bool is_dir, bool ignored_name, uint32_t cookie);
  void moved_out(const PendingMove& move);
  // Watches `rel` and everything below; with `report`, each file found has appeared.
  void add_tree(const std::string& rel, bool report);
  void forget_tree(const std::string& rel);
  void rename_tree(const std::string& from, const std::string& to);
  // Visits `rel` and the directories below it (ignored names skipped, symlinks not followed),
  // watching each first when `watch`, and calls `on_file` for each regular file.
  void walk(const std::string& rel, bool watch, const std::function<void(const std::string&)>& on_file);
  // Watches `dir` (when `watch`), then lists it: files to `on_file`, directories onto `subdirs`.
  void walk_one(const std::string& dir, bool watch, const std::function<void(const std::string&)>& on_file,
                std::vector<std::string>& subdirs);
  // The first walk: directories from unwalked_ until it is empty or `budget` has passed.
  void walk_first(std::chrono::steady_clock::duration budget);
  void schedule_first_walk();
  // A file listed by the first walk after the constructor: changed since the watcher was made?
  void report_if_changed(const std::string& path);
  bool ignored(std::string_view name) const;
  void emit(FsEvent::Kind kind, std::string path, std::string from = {});

  std::filesystem::path root_;
  std::vector<std::string> ignore_dirs_;
  std::function<void(const FsEvent&)> on_event_;
  std::shared_ptr<InotifyHub> hub_;            // the io_context's one inotify instance
  std::unordered_map<int, std::string> dirs_;  // watch descriptor -> relative directory ("" is the root)
  std::optional<PendingMove> pending_move_;
  bool limit_logged_ = false;
  boost::asio::io_context& io_;
  boost::asio::steady_timer pause_;    // before the first walk's later slices
  std::vector<std::string> unwalked_;  // the first walk's directories still to watch and list
  std::function<void()> on_walked_;    // when_walked's
  bool late_ = false;                  // the constructor has returned: files listed now may have changed
  int64_t since_ns_ = 0;               // realtime, when the watcher was made (less the kernel's clock tick)
  Lifetime lifetime_;
};

}  // namespace runhost::devices::local
