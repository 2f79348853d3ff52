// A stand-in for a host process, for the tests that kill one with SIGKILL: it does what a host
// does for containment (child subreaper, a Watchdog, runtimes spawned on a spawner thread with
// the host and run markers) and nothing else.
//
//   runhost_host_stub <host id> <run id> <dir> <script>
//
// In <dir>: runs `sh -c <script>` as run <run id>; starts `sleep 300` as the application's own
// child, without markers, and writes its pid to app.pid; writes watchdog.pid; writes ready once
// the runtime runs. Then serves until killed.
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "devices/local/local_device.hpp"
#include "devices/local/watchdog.hpp"

extern char** environ;

namespace {

using namespace runhost::devices::local;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  std::rename((path + ".tmp").c_str(), path.c_str());  // whole or not at all, for the test polling it
}

class Observer final : public ProcessObserver {
 public:
  explicit Observer(std::string dir) : dir_(std::move(dir)) {}
  void on_started(const runhost::Result<pid_t>& started) override {
    if (started) write_file(dir_ + "/ready", std::to_string(*started));
  }
  void on_output(rh_stream, std::string_view) override {}
  void on_file_changed(const FileChange&) override {}
  void on_artifact(const Artifact&) override {}
  void on_listening(const ListeningPort&) override {}
  void on_exit(const rh_exit&) override {}

 private:
  std::string dir_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s <host id> <run id> <dir> <script>\n", argv[0]);
    return 2;
  }
  const std::string host_id = argv[1];
  const std::string dir = argv[3];
  prctl(PR_SET_CHILD_SUBREAPER, 1);  // as HostImpl::open does
  auto watchdog = Watchdog::start(host_id);
  if (!watchdog) {
    std::fprintf(stderr, "watchdog: %s\n", watchdog.error().message.c_str());
    return 1;
  }
  write_file(dir + "/watchdog.pid", std::to_string((*watchdog)->pid()));

  pid_t app_child = -1;
  char sleep_arg[] = "sleep";
  char seconds[] = "300";
  char* sleep_argv[] = {sleep_arg, seconds, nullptr};
  if (posix_spawnp(&app_child, "sleep", nullptr, nullptr, sleep_argv, environ) != 0) return 1;
  write_file(dir + "/app.pid", std::to_string(app_child));

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  boost::asio::thread_pool spawner(1);
  SpawnSpec spec;
  spec.argv = {"sh", "-c", argv[4]};
  spec.env = controlled_environment({});
  spec.cwd = dir;
  spec.run_id = argv[2];
  LocalOptions options;
  options.host_id = host_id;
  Observer observer(dir);
  auto process = LocalProcess::start(io, spawner.get_executor(), std::move(spec), options, observer);
  if (!process) {
    std::fprintf(stderr, "start: %s\n", process.error().message.c_str());
    return 1;
  }
  io.run();
}
