#include "host_core.hpp"

#include "event_stream.hpp"

namespace runhost::python {
namespace {

std::mutex g_open_mutex;
std::vector<std::weak_ptr<HostState>> g_open;  // guarded by g_open_mutex

}  // namespace

void HostState::register_open(const std::shared_ptr<HostState>& state) {
  std::lock_guard lock(g_open_mutex);
  std::erase_if(g_open, [](const auto& w) { return w.expired(); });
  g_open.push_back(state);
}

void HostState::close_all() {
  std::vector<std::weak_ptr<HostState>> open;
  {
    std::lock_guard lock(g_open_mutex);
    open.swap(g_open);
  }
  for (auto& weak : open) {
    if (auto state = weak.lock()) state->close();
  }
}

void HostState::close() {
  if (closed_.exchange(true)) return;
  std::unique_ptr<Host> host;
  {
    std::unique_lock lock(lock_);  // calls in flight finish first
    host = std::move(host_);
  }
  // Waiters fail fast with HostClosedError instead of sleeping through the shutdown.
  std::vector<std::weak_ptr<Notifier>> streams;
  {
    std::lock_guard lock(streams_mutex_);
    streams.swap(streams_);
  }
  for (auto& weak : streams) {
    if (auto n = weak.lock()) n->on_host_closed();
  }
  host.reset();
}

void HostState::track(const std::shared_ptr<Notifier>& notifier) {
  std::lock_guard lock(streams_mutex_);
  if (closed_) {
    notifier->on_host_closed();
    return;
  }
  // Drop the streams that are gone, now and then, so a long-lived host does not accumulate them.
  if (streams_.size() >= 64 && (streams_.size() & (streams_.size() - 1)) == 0) {
    std::erase_if(streams_, [](const auto& w) { return w.expired(); });
  }
  streams_.push_back(notifier);
}

}  // namespace runhost::python
