#include "host_core.hpp"

#include <mutex>
#include <vector>

namespace runhost::python {
namespace {

std::mutex g_open_mutex;
std::vector<std::weak_ptr<HostState>> g_open;  // guarded by g_open_mutex

}  // namespace

void register_open(const std::shared_ptr<HostState>& state) {
  std::lock_guard lock(g_open_mutex);
  std::erase_if(g_open, [](const auto& w) { return w.expired(); });
  g_open.push_back(state);
}

void close_all() {
  std::vector<std::weak_ptr<HostState>> open;
  {
    std::lock_guard lock(g_open_mutex);
    open.swap(g_open);
  }
  for (auto& weak : open) {
    if (auto state = weak.lock()) state->close();
  }
}

}  // namespace runhost::python
