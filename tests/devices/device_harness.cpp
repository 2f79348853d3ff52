#include "device_harness.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cerrno>

#include <fstream>
#include <sstream>
#include <thread>

namespace runhost::devices::local::testing {

void Recorder::note(const char* what) {
  ++calls;
  order.emplace_back(what);
}

void Recorder::on_started(const Result<pid_t>& pid) {
  note("started");
  started = pid;
}

void Recorder::on_output(rh_stream stream, std::string_view bytes) {
  note("output");
  output_bytes += bytes.size();
  largest_chunk = std::max(largest_chunk, bytes.size());
  if (keep_output) (stream == RH_STREAM_STDOUT ? out : err).append(bytes);
  if (on_output_hook) on_output_hook(stream, bytes);
}

void Recorder::on_file_changed(const FileChange& change) {
  note("file");
  changes.push_back(change);
}

void Recorder::on_artifact(const Artifact& artifact) {
  note("artifact");
  artifacts.push_back(artifact);
}

void Recorder::on_listening(const ListeningPort& port) {
  note("port");
  ports.push_back(port);
}

void Recorder::on_exit(const rh_exit& e) {
  note("exit");
  exit = e;
  if (on_exit_hook) on_exit_hook();
}

std::vector<std::string> Recorder::changes_of(const std::string& path) const {
  std::vector<std::string> found;
  for (const auto& c : changes) {
    if (c.path == path) found.push_back(c.change == "renamed" ? "renamed<-" + c.from : c.change);
  }
  return found;
}

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (io.stopped()) io.restart();
    if (io.run_for(std::chrono::milliseconds(10)) == 0 && io.stopped()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // nothing to do yet
    }
  }
  return done();
}

void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  run_until(
      io, [] { return false; }, duration);
}

SpawnSpec make_spec(std::vector<std::string> argv, const std::filesystem::path& cwd,
                    const std::map<std::string, std::string>& extra) {
  SpawnSpec spec;
  spec.argv = std::move(argv);
  spec.env = controlled_environment(extra);
  spec.cwd = cwd;
  return spec;
}

std::vector<pid_t> live_group_members(pid_t pgid) {
  std::vector<pid_t> members;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return members;
  while (const dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    std::ifstream in("/proc/" + std::string(entry->d_name) + "/stat");
    std::stringstream text;
    text << in.rdbuf();
    const std::string stat = text.str();
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(stat.substr(paren + 1));
    std::string state;
    long ppid = 0;
    long pgrp = 0;
    rest >> state >> ppid >> pgrp;
    if (pgrp == pgid && state != "Z") members.push_back(static_cast<pid_t>(pid));
  }
  closedir(proc);
  return members;
}

void DeviceTest::start(std::vector<std::string> argv, const LocalOptions& options) {
  start(make_spec(std::move(argv), dir_.path()), options);
}

void DeviceTest::start(SpawnSpec spec, const LocalOptions& options) {
  auto started = LocalProcess::start(io_, io_.get_executor(), std::move(spec), options, rec_);
  ASSERT_TRUE(started.ok()) << started.error().message;
  process_ = std::move(*started);
  // One handler at a time, so that nothing past on_started runs before the test goes on.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!rec_.started && std::chrono::steady_clock::now() < deadline) {
    if (io_.stopped()) io_.restart();
    io_.run_one_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(rec_.started.has_value()) << "no on_started";
  ASSERT_TRUE(rec_.started->ok()) << rec_.started->error().message;
  ASSERT_EQ(process_->pid(), **rec_.started);
  pgid_ = process_->pid();
}

void DeviceTest::wait_for_exit(std::chrono::milliseconds timeout) {
  ASSERT_TRUE(run_until(
      io_, [&] { return rec_.exit.has_value(); }, timeout))
      << "no exit; stderr: " << rec_.err;
}

void DeviceTest::run_script(const std::string& script, const LocalOptions& options) {
  ASSERT_NO_FATAL_FAILURE(start({"sh", "-c", script}, options));
  ASSERT_NO_FATAL_FAILURE(wait_for_exit());
  ASSERT_EQ(rec_.exit->code, 0) << rec_.err;
}

bool running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  const char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

pid_t wait_for_pid_file(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    std::ifstream in(path);
    pid_t pid = 0;
    if (in >> pid && pid > 0) return pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } while (std::chrono::steady_clock::now() < deadline);
  return 0;
}

Subreaper::Subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }
Subreaper::~Subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 0); }

bool Subreaper::group_gone(pid_t pgid) {
  siginfo_t info{};
  while (waitid(P_PGID, static_cast<id_t>(pgid), &info, WEXITED | WNOHANG) == 0 && info.si_pid != 0) info = {};
  return kill(-pgid, 0) == -1 && errno == ESRCH;
}

LocalOptions fast_options() {
  LocalOptions options;
  options.debounce = std::chrono::milliseconds(50);
  options.port_poll = std::chrono::milliseconds(50);
  options.kill_grace = std::chrono::milliseconds(300);
  return options;
}

}  // namespace runhost::devices::local::testing
