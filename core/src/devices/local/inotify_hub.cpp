#include "devices/local/inotify_hub.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "util/background_close.hpp"
#include "util/logging.hpp"

namespace runhost::devices::local {
namespace {

constexpr size_t kBufferSize = 64 * 1024;
// How long a watch no one holds is kept for the next run in the tree, and how the idle ones are
// removed: slices of this long (inotify_rm_watch is ~2 us), this far apart.
constexpr auto kLinger = std::chrono::seconds(2);
constexpr auto kReapSlice = std::chrono::microseconds(250);
constexpr auto kReapPause = std::chrono::milliseconds(5);

std::mutex& hubs_mutex() {
  static std::mutex m;
  return m;
}

std::map<boost::asio::io_context*, std::weak_ptr<InotifyHub>>& hubs() {
  static std::map<boost::asio::io_context*, std::weak_ptr<InotifyHub>> h;
  return h;
}

}  // namespace

std::shared_ptr<InotifyHub> InotifyHub::for_context(boost::asio::io_context& io) {
  std::lock_guard lock(hubs_mutex());
  auto& slot = hubs()[&io];
  if (auto hub = slot.lock()) return hub;
  auto hub = std::make_shared<InotifyHub>(io);
  slot = hub;
  return hub;
}

InotifyHub::InotifyHub(boost::asio::io_context& io) : io_(io), fd_(io), reaper_(io) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    util::logger()->warn("local device: no file events: inotify_init1: errno {}", errno);
    return;
  }
  fd_.assign(fd);
  wait_readable();
}

InotifyHub::~InotifyHub() {
  {
    std::lock_guard lock(hubs_mutex());
    auto it = hubs().find(&io_);
    if (it != hubs().end() && it->second.expired()) hubs().erase(it);
  }
  if (fd_.is_open()) {
    boost::system::error_code ignored;
    fd_.cancel(ignored);
    util::close_in_background(fd_.release());  // close() waits ~10 ms in the kernel
  }
}

int InotifyHub::add_watch(InotifyClient* client, const std::filesystem::path& dir, uint32_t mask) {
  if (!ok()) {
    errno = EBADF;
    return -1;
  }
  const int wd = ::inotify_add_watch(fd_.native_handle(), dir.c_str(), mask);
  if (wd < 0) return -1;
  idle_.erase(wd);  // taken up again
  auto& holders = holders_[wd];
  if (std::find(holders.begin(), holders.end(), client) == holders.end()) holders.push_back(client);
  return wd;
}

void InotifyHub::remove_watch(InotifyClient* client, int wd) {
  auto it = holders_.find(wd);
  if (it == holders_.end()) return;
  auto& holders = it->second;
  holders.erase(std::remove(holders.begin(), holders.end(), client), holders.end());
  if (holders.empty()) {
    holders_.erase(it);
    idle_[wd] = std::chrono::steady_clock::now();
    if (!reaping_) reap_at(std::chrono::steady_clock::now() + kLinger);
  }
}

void InotifyHub::reap_idle() {
  const auto now = std::chrono::steady_clock::now();
  const auto until = now + kReapSlice;
  auto next = std::chrono::steady_clock::time_point::max();  // when the youngest kept one is due
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (it->second + kLinger > now) {
      next = std::min(next, it->second + kLinger);
      ++it;
    } else if (std::chrono::steady_clock::now() >= until) {
      next = now + kReapPause;  // the rest in the next slice
      break;
    } else {
      ::inotify_rm_watch(fd_.native_handle(), it->first);
      it = idle_.erase(it);
    }
  }
  if (!idle_.empty() && !reaping_) reap_at(std::max(next, now + kReapPause));
}

void InotifyHub::reap_at(std::chrono::steady_clock::time_point when) {
  reaping_ = true;
  reaper_.expires_at(when);
  reaper_.async_wait(lifetime_.guard([this](const boost::system::error_code& ec) {
    reaping_ = false;
    if (!ec) reap_idle();
  }));
}

void InotifyHub::remove_client(InotifyClient* client) {
  std::vector<int> held;
  for (const auto& [wd, holders] : holders_) {
    if (std::find(holders.begin(), holders.end(), client) != holders.end()) held.push_back(wd);
  }
  for (int wd : held) remove_watch(client, wd);
  heard_.erase(std::remove(heard_.begin(), heard_.end(), client), heard_.end());
}

void InotifyHub::wait_readable() {
  fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                 lifetime_.guard([this](const boost::system::error_code& ec) {
                   if (ec || !fd_.is_open()) return;
                   auto keep = shared_from_this();  // a client may let go of the hub while we deliver
                   drain();
                   wait_readable();
                 }));
}

void InotifyHub::drain() {
  if (!ok()) return;
  while (read_batch()) {
  }
  // Clients learn that the queue is empty (a lone MOVED_FROM is then a move out).
  auto heard = std::exchange(heard_, {});
  for (auto* client : heard) {
    if (std::find(heard_.begin(), heard_.end(), client) == heard_.end()) client->on_inotify_drained();
  }
}

bool InotifyHub::read_batch() {
  thread_local std::unique_ptr<char[]> buffer = std::make_unique<char[]>(kBufferSize);
  const ssize_t n = ::read(fd_.native_handle(), buffer.get(), kBufferSize);
  if (n < 0) {
    if (errno == EINTR) return true;
    if (errno != EAGAIN && errno != EWOULDBLOCK) util::logger()->warn("local device: reading inotify: errno {}", errno);
    return false;
  }
  for (size_t at = 0; at + sizeof(inotify_event) <= static_cast<size_t>(n);) {
    inotify_event event;
    std::memcpy(&event, buffer.get() + at, sizeof event);
    const char* name = event.len > 0 ? buffer.get() + at + sizeof event : "";
    at += sizeof event + event.len;
    std::vector<InotifyClient*> to;
    if (event.mask & IN_Q_OVERFLOW) {  // nobody knows what was lost: tell everyone
      for (const auto& [wd, holders] : holders_) to.insert(to.end(), holders.begin(), holders.end());
      std::sort(to.begin(), to.end());
      to.erase(std::unique(to.begin(), to.end()), to.end());
    } else if (auto it = holders_.find(event.wd); it != holders_.end()) {
      to = it->second;  // a copy: a client may add or remove watches while handling the event
    }
    for (auto* client : to) {
      auto it = holders_.find(event.wd);
      const bool still_held =
          (event.mask & IN_Q_OVERFLOW) ||
          (it != holders_.end() && std::find(it->second.begin(), it->second.end(), client) != it->second.end());
      if (!still_held) continue;
      client->on_inotify(event, name);
      if (std::find(heard_.begin(), heard_.end(), client) == heard_.end()) heard_.push_back(client);
    }
    if (event.mask & IN_IGNORED) {  // the kernel dropped the watch
      holders_.erase(event.wd);
      idle_.erase(event.wd);
    }
  }
  return n > 0;
}

}  // namespace runhost::devices::local
