// A Host on a fresh store and workspace, with the bundled plugins, and helpers to run a
// dispatch to its end.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "events/schema.hpp"
#include "runhost/host.hpp"
#include "test_paths.hpp"

namespace runhost::testing {

struct Finished {
  std::vector<Event> events;
  Status end;
  bool timed_out = false;
  std::vector<std::string> types() const {
    std::vector<std::string> t;
    for (const auto& e : events) t.push_back(e.type);
    return t;
  }
  nlohmann::json payload(size_t i) const { return nlohmann::json::parse(events.at(i).json)["payload"]; }
  const Event* find(const std::string& type) const {
    for (const auto& e : events) {
      if (e.type == type) return &e;
    }
    return nullptr;
  }
};

class TestHost {
 public:
  explicit TestHost(HostOptions extra = {}) {
    std::filesystem::create_directories(dir_ / "workspace");
    options_ = std::move(extra);
    if (options_.store.empty()) options_.store = dir_ / "runhost.db";
    if (options_.workspace_root.empty()) options_.workspace_root = dir_ / "workspace";
    options_.plugins.directories.insert(options_.plugins.directories.begin(), kBundledDir);
    options_.plugins.use_environment = false;
    options_.plugins.use_bundled = false;
    auto host = Host::open(options_);
    if (!host) throw std::runtime_error("Host::open: " + host.error().message);
    host_ = std::move(*host);
  }
  Host& operator*() { return *host_; }
  Host* operator->() { return host_.get(); }
  void close() { host_.reset(); }
  void reopen() {
    auto host = Host::open(options_);
    if (!host) throw std::runtime_error("Host::open: " + host.error().message);
    host_ = std::move(*host);
  }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path workspace() const { return dir_ / "workspace"; }

  // Follows a run until its terminal event (or `limit`).
  Finished follow(const std::string& run_id, std::chrono::seconds limit = std::chrono::seconds(60)) {
    std::mutex m;
    std::condition_variable cv;
    Finished f;
    bool ended = false;
    auto sub = host_->subscribe(
        run_id, 0,
        [&](const Event& e) {
          std::lock_guard lock(m);
          f.events.push_back(e);
        },
        [&](const Status& st) {
          std::lock_guard lock(m);
          f.end = st;
          ended = true;
          cv.notify_all();
        });
    if (!sub) throw std::runtime_error("subscribe: " + sub.error().message);
    std::unique_lock lock(m);
    f.timed_out = !cv.wait_for(lock, limit, [&] { return ended; });
    return f;
  }

  // Dispatches and follows; fails the test on a dispatch error.
  Finished run(const nlohmann::json& dispatch, std::chrono::seconds limit = std::chrono::seconds(60)) {
    auto d = host_->dispatch(dispatch.dump());
    if (!d) {
      ADD_FAILURE() << "dispatch: " << d.error().message;
      return {};
    }
    last_run_id = d->run.id;
    return follow(d->run.id, limit);
  }

  std::string last_run_id;

 private:
  TempDir dir_;
  HostOptions options_;
  std::unique_ptr<Host> host_;
};

// A dispatch for the custom runtime running `command`, with test defaults.
inline nlohmann::json custom_dispatch(std::vector<std::string> command, const std::string& key) {
  return {{"tenantId", "t1"},     {"workspaceId", "w1"},     {"userId", "u1"},     {"deviceType", "local"},
          {"deviceId", "test"},   {"runtime", "custom"},     {"prompt", "test"},   {"approvalPolicy", "auto"},
          {"idempotencyKey", key}, {"command", std::move(command)}};
}

// A stand-in for a runtime's program at `program`: it records its argv in `argv_file` (one
// argument per line), reads one line of stdin (the prompt) and prints `line`.
inline void write_argv_recorder(const std::filesystem::path& program, const std::filesystem::path& argv_file,
                                const std::string& line) {
  write_file(program, "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > '" + argv_file.string() +
                          "'\nread -r prompt\necho '" + line + "'\n");
  std::filesystem::permissions(program, std::filesystem::perms::owner_all);
}

// Every envelope validates against docs/events.schema.json, and seq runs 1, 2, 3...
inline void expect_valid_stream(const Finished& f) {
  for (size_t i = 0; i < f.events.size(); ++i) {
    EXPECT_EQ(f.events[i].seq, static_cast<int64_t>(i + 1)) << "seq must be gap-free";
    const auto envelope = nlohmann::json::parse(f.events[i].json);
    if (auto st = events::validate_event(envelope); !st) ADD_FAILURE() << st.error().message << "\n" << f.events[i].json;
  }
}

}  // namespace runhost::testing
