// What the device tests share: an observer that records everything, a bounded way to drive
// the io_context, and a look at which processes of a group are still alive.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include "devices/local/local_device.hpp"
#include "test_paths.hpp"

namespace runhost::devices::local::testing {

class Recorder final : public ProcessObserver {
 public:
  std::string out;
  std::string err;
  uint64_t output_bytes = 0;
  size_t largest_chunk = 0;
  bool keep_output = true;  // false: count bytes only
  std::vector<FileChange> changes;
  std::vector<Artifact> artifacts;
  std::vector<ListeningPort> ports;
  std::optional<Result<pid_t>> started;
  std::optional<rh_exit> exit;
  int calls = 0;                   // every callback
  std::vector<std::string> order;  // "started", "output", "file", "artifact", "port", "exit"
  std::function<void(rh_stream, std::string_view)> on_output_hook;
  std::function<void()> on_exit_hook;

  void on_started(const Result<pid_t>& pid) override;
  void on_output(rh_stream stream, std::string_view bytes) override;
  void on_file_changed(const FileChange& change) override;
  void on_artifact(const Artifact& artifact) override;
  void on_listening(const ListeningPort& port) override;
  void on_exit(const rh_exit& e) override;

  // The recorded changes of `path`, as "change" or "renamed<-from".
  std::vector<std::string> changes_of(const std::string& path) const;

 private:
  void note(const char* what);
};

// Runs `io` until `done()` or `timeout`; returns done().
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(20));
// Runs `io` for `duration`.
void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration);

// A SpawnSpec with the controlled environment (plus `extra`).
SpawnSpec make_spec(std::vector<std::string> argv, const std::filesystem::path& cwd,
                    const std::map<std::string, std::string>& extra = {});

// Processes of group `pgid` that are not zombies.
std::vector<pid_t> live_group_members(pid_t pgid);

// Options with short timings for tests.
LocalOptions fast_options();

// True while `pid` exists and is not a zombie.
bool running(pid_t pid);

// The pid written to `path`, once the file holds one (0 after `timeout`).
pid_t wait_for_pid_file(const std::filesystem::path& path, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The test process as a child subreaper, as the host is, for its scope. This machine's pid 1
// may not reap orphans: as their subreaper the test reaps them itself, so that kill(-pgid, 0)
// can say ESRCH once a group is really gone.
class Subreaper {
 public:
  Subreaper();
  ~Subreaper();
  Subreaper(const Subreaper&) = delete;
  Subreaper& operator=(const Subreaper&) = delete;
  // Reaps what of `pgid` has died; true once the group has no process at all.
  static bool group_gone(pid_t pgid);
};

// A fixture with a reactor, a working directory, a recorder and the process under test.
class DeviceTest : public ::testing::Test {
 protected:
  // Starts `argv` (or `spec`) in dir_ and waits for on_started; a failure to start fails the
  // test. The spawn runs on the reactor itself.
  void start(std::vector<std::string> argv, const LocalOptions& options = fast_options());
  void start(SpawnSpec spec, const LocalOptions& options = fast_options());
  // Drives the reactor until the exit arrives (a bounded wait; its absence fails the test).
  void wait_for_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Runs `sh -c script` in dir_ to its exit, which must be 0.
  void run_script(const std::string& script, const LocalOptions& options = fast_options());

  boost::asio::io_context io_;
  runhost::testing::TempDir dir_;
  Recorder rec_;
  std::unique_ptr<LocalProcess> process_;
  pid_t pgid_ = 0;
};

}  // namespace runhost::devices::local::testing
