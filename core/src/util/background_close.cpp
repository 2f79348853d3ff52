#include "util/background_close.hpp"

#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace runhost::util {
namespace {

struct Closer {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<int> fds;

  Closer() {
    std::thread([this] {
      std::unique_lock lock(mutex);
      for (;;) {
        wake.wait(lock, [this] { return !fds.empty(); });
        const int fd = fds.front();
        fds.pop_front();
        lock.unlock();
        ::close(fd);
        lock.lock();
      }
    }).detach();
  }
};

// Never destroyed: the detached thread may outlive static destruction at exit.
Closer& closer() {
  static Closer* instance = new Closer();
  return *instance;
}

}  // namespace

void close_in_background(int fd) noexcept {
  if (fd < 0) return;
  try {
    Closer& c = closer();
    {
      std::lock_guard lock(c.mutex);
      c.fds.push_back(fd);
    }
    c.wake.notify_one();
  } catch (...) {
    ::close(fd);  // no thread could be started: close here rather than leak
  }
}

}  // namespace runhost::util
