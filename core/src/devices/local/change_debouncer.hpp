// Turns a burst of file-system events into one FileChange per path, once the path has been
// quiet for `debounce` (or, for a file written without pause, every 10 x debounce).
//
// Within the window: created then written is "created"; created then deleted is nothing;
// deleted then created is "modified"; a rename carries what happened to its source (a file
// created then renamed is "created" at the new name). Changes come out in the order their
// paths were first touched. `complete` says the content was closed after writing or moved in
// whole: the file may be an artifact.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "devices/local/fs_event.hpp"
#include "devices/local/lifetime.hpp"
#include "devices/local/local_device.hpp"

namespace runhost::devices::local {

class ChangeDebouncer {
 public:
  using Emit = std::function<void(const FileChange& change, bool complete)>;

  ChangeDebouncer(boost::asio::io_context& io, std::filesystem::path root, std::chrono::milliseconds debounce,
                  Emit emit);
  ChangeDebouncer(const ChangeDebouncer&) = delete;
  ChangeDebouncer& operator=(const ChangeDebouncer&) = delete;

  void add(const FsEvent& event);
  // Emits everything pending now, in order. Nothing is touched after an emit that destroyed us.
  void flush_all() { flush(/*everything=*/true); }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Change { created, modified, deleted, renamed };
  struct Pending {
    Change change;
    std::string from;
    bool complete = false;
    uint64_t order = 0;
    Clock::time_point first;
    Clock::time_point last;
  };

  void merge(const std::string& path, Change change, bool complete, Clock::time_point now);
  void rename(const std::string& from, const std::string& to, Clock::time_point now);
  Clock::time_point due(const Pending& p) const;
  void arm_timer();
  void flush(bool everything);

  std::filesystem::path root_;
  std::chrono::milliseconds debounce_;
  Emit emit_;
  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  std::unordered_map<std::string, Pending> pending_;
  uint64_t next_order_ = 0;
  Lifetime lifetime_;
};

}  // namespace runhost::devices::local
