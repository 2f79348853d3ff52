#include "util/background_close.hpp"

#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace runhost::util {
namespace {

struct Background {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> tasks;

  Background() {
    std::thread([this] {
      std::unique_lock lock(mutex);
      for (;;) {
        wake.wait(lock, [this] { return !tasks.empty(); });
        auto task = std::move(tasks.front());
        tasks.pop_front();
        lock.unlock();
        task();
        lock.lock();
      }
    }).detach();
  }
};

// Never destroyed: the detached thread may outlive static destruction at exit.
Background& background() {
  static Background* instance = new Background();
  return *instance;
}

}  // namespace

void run_in_background(std::function<void()> task) noexcept {
  try {
    Background& b = background();
    {
      std::lock_guard lock(b.mutex);
      b.tasks.push_back(std::move(task));
    }
    b.wake.notify_one();
  } catch (...) {
    if (task) task();  // no thread could be started: do it here rather than not at all
  }
}

void close_in_background(int fd) noexcept {
  if (fd >= 0) run_in_background([fd] { ::close(fd); });
}

}  // namespace runhost::util
