#include "host_flags.hpp"

#include <condition_variable>
#include <cstdlib>
#include <iostream>
#include <mutex>

namespace runhost::cli {

ArgSpec with_host_flags(ArgSpec spec) {
  spec.options.insert({"--store", "--plugin-dir", "--workspace-root", "--plugin-config"});
  return spec;
}

std::unique_ptr<Host> open_host(const Args& args) {
  HostOptions options;
  if (auto store = args.value("--store")) options.store = *store;
  for (const auto& dir : args.values("--plugin-dir")) options.plugins.directories.emplace_back(dir);
  if (auto root = args.value("--workspace-root")) {
    options.workspace_root = *root;
  } else if (const char* env = std::getenv("RUNHOST_WORKSPACE_ROOT"); env != nullptr && *env) {
    options.workspace_root = env;
  }
  for (const auto& pc : args.values("--plugin-config")) {
    const size_t eq = pc.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError{"--plugin-config takes ID=JSON, got '" + pc + "'"};
    options.plugin_config[pc.substr(0, eq)] = pc.substr(eq + 1);
  }
  auto host = Host::open(std::move(options));
  if (!host) {
    std::cerr << "runhost: " << host.error().message << "\n";
    return nullptr;
  }
  return std::move(*host);
}

Status follow_run(Host& host, const std::string& run_id, int64_t after_seq, const EventCallback& on_event) {
  std::mutex m;
  std::condition_variable cv;
  bool ended = false;
  Status end;
  auto sub = host.subscribe(run_id, after_seq, on_event, [&](const Status& st) {
    std::lock_guard lock(m);
    ended = true;
    end = st;
    cv.notify_all();
  });
  if (!sub) return sub.error();
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return ended; });
  return end;
}

}  // namespace runhost::cli
