// One inotify instance shared by every file watcher on an io_context.
//
// The kernel allows few inotify instances per user (fs.inotify.max_user_instances: 128 here),
// and tearing one down blocks for ~10 ms; a host with a thousand runs cannot give each its own.
// The hub owns the one instance and hands each event to the watchers that hold its watch
// descriptor. Two watchers of the same directory share one descriptor (the kernel returns the
// same one for the same inode), so watches are reference-counted. A watch no one holds is kept
// a while (kLinger) before it is removed: the next run in the same tree (runs come back to back
// in one workspace) takes it up again instead of the kernel removing and adding the same
// thousands of watches at once; the idle ones are removed later, a slice at a time, on the
// reactor (where no add can race the removal).
//
// Thread rules: everything on the io_context's thread.
#pragma once

#include <sys/inotify.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "devices/local/lifetime.hpp"

namespace runhost::devices::local {

class InotifyClient {
 public:
  virtual void on_inotify(const inotify_event& event, const char* name) = 0;
  // After a read found the queue empty: every event queued so far has been delivered.
  virtual void on_inotify_drained() = 0;

 protected:
  ~InotifyClient() = default;
};

class InotifyHub : public std::enable_shared_from_this<InotifyHub> {
 public:
  // The io_context's hub, created on first use; it lives while some watcher holds it.
  static std::shared_ptr<InotifyHub> for_context(boost::asio::io_context& io);
  ~InotifyHub();

  bool ok() const noexcept { return fd_.is_open(); }
  // The watch descriptor, or -1 with errno set.
  int add_watch(InotifyClient* client, const std::filesystem::path& dir, uint32_t mask);
  void remove_watch(InotifyClient* client, int wd);
  void remove_client(InotifyClient* client);
  // Reads everything queued now and delivers it.
  void drain();

  explicit InotifyHub(boost::asio::io_context& io);

 private:
  void wait_readable();
  bool read_batch();                                         // false once the queue is empty
  void reap_idle();                                          // removes watches idle for kLinger, a slice at a time
  void reap_at(std::chrono::steady_clock::time_point when);  // arms reaper_ for reap_idle

  boost::asio::io_context& io_;
  boost::asio::posix::stream_descriptor fd_;
  std::unordered_map<int, std::vector<InotifyClient*>> holders_;         // wd -> watchers holding it
  std::vector<InotifyClient*> heard_;                                    // clients that got events since the last drain
  std::unordered_map<int, std::chrono::steady_clock::time_point> idle_;  // wd -> when its last holder let go
  boost::asio::steady_timer reaper_;
  bool reaping_ = false;  // reaper_ is armed
  Lifetime lifetime_;
};

}  // namespace runhost::devices::local
