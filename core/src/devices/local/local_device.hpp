// The local device: a run's runtime as a process on this machine, in a working directory
// confined to a workspace root, with a controlled environment, watched for ground truth.
//
// One LocalProcess per run. It spawns without a shell (posix_spawn), in its own process group,
// with a pidfd; owns the stdin/stdout/stderr pipes, the pidfd, an inotify watch over the working
// directory and a timer that looks for listening TCP ports — all on the caller's io_context
// (the host's one reactor thread): no thread per run. Only the spawn itself runs elsewhere, on
// an executor whose threads may block: posix_spawn waits for the child's exec, which takes a
// millisecond or more when many processes start at once, and the reactor must not wait.
// It reports to a ProcessObserver: that the process started, output chunks, files changed
// (debounced, paths relative to cwd), artifacts (new files matching patterns, with size,
// content type and sha256), ports the run's processes listen on, and finally the exit.
// terminate() kills the whole group: SIGTERM, then SIGKILL after a grace period; the process
// is always reaped. When the run ends, however it ends, what is left of the group and every
// process that left it but carries the run's marker (SpawnSpec::run_id) are killed before
// on_exit (escapees.hpp); the host's Watchdog does the same when the host itself dies.
//
//   auto cwd = confine_cwd(root, dispatch.cwd);              // refuses ".." and symlink escapes
//   SpawnSpec spec{argv, controlled_environment(extra), *cwd};
//   auto proc = LocalProcess::start(io, spawner, std::move(spec), options, observer);
//   ...                                                      // observer.on_started(pid), on_output(...)
//   (*proc)->terminate(RH_EXIT_FLAG_CANCELLED);              // -> observer.on_exit(...)
//
// Thread rules: start() and every method run on the io_context's thread; observer callbacks
// run there too, never re-entrantly from within a method call.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <runhost/runtime.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include "devices/device.hpp"
#include "runhost/error.hpp"

namespace runhost::devices::local {

// Resolves a run's working directory within `root` (which must exist). Empty `requested`
// means `root` itself; a relative path is taken under `root`; an absolute path must lie
// within it. The result is canonical (symlinks resolved) and must be an existing directory
// inside the canonical root: "..", absolute paths elsewhere and symlinks pointing out are
// refused with invalid_dispatch naming field "cwd".
Result<std::filesystem::path> confine_cwd(const std::filesystem::path& root, std::string_view requested);

// The environment a runtime gets: a short allowlist from the host's own (PATH, HOME, USER,
// LOGNAME, SHELL, LANG, LC_*, TZ, TMPDIR), TERM=dumb, then `extra` (launch spec env,
// connector env) on top. Nothing else is inherited: the host's API keys, tokens and RUNHOST_*
// settings never reach a runtime unless a plugin puts them there.
std::map<std::string, std::string> controlled_environment(const std::map<std::string, std::string>& extra);

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] without '/' is looked up on env's PATH
  std::map<std::string, std::string> env;
  std::filesystem::path cwd;
  std::string stdin_data;        // written first
  bool keep_stdin_open = false;  // else stdin is closed after stdin_data
  // The run this process belongs to: put into env as RUNHOST_RUN_ID, so that what leaves the
  // process group (setsid, a double fork) is still found and killed when the run ends. Empty:
  // no marker, and only the group is killed.
  std::string run_id;
};

// What changed and what was made, as every device reports them (devices/device.hpp).
using devices::Artifact;
using devices::FileChange;

struct ListeningPort {
  int port = 0;
  std::string address;  // "127.0.0.1", "0.0.0.0", "::"
  pid_t pid = 0;        // a process of the run holding the socket
};

class ProcessObserver {
 public:
  // First, exactly once: the process runs (its pid, also its process group's id), or it could
  // not be spawned (the error, runtime_not_found or internal; no callback follows).
  virtual void on_started(const Result<pid_t>& started) = 0;
  virtual void on_output(rh_stream stream, std::string_view bytes) = 0;  // chunks as read, <= 64 KiB
  virtual void on_file_changed(const FileChange& change) = 0;
  virtual void on_artifact(const Artifact& artifact) = 0;
  virtual void on_listening(const ListeningPort& port) = 0;  // once per new (port, address)
  // Last: after stdout and stderr reached EOF (or the group was killed) and the process was
  // reaped, what was left of the run killed, and pending file changes flushed. No callback
  // follows.
  virtual void on_exit(const rh_exit& exit) = 0;

 protected:
  ~ProcessObserver() = default;
};

struct LocalOptions {
  // Glob patterns (fnmatch, FNM_PATHNAME off) on the relative path of files that become
  // artifacts when written and closed.
  std::vector<std::string> artifact_patterns = {"*.pdf", "*.docx", "*.xlsx", "*.pptx",   "*.png",  "*.jpg", "*.jpeg",
                                                "*.gif", "*.svg",  "*.zip",  "*.tar.gz", "*.html", "*.csv", "*.md"};
  int64_t artifact_max_bytes = 512ll << 20;  // larger files are reported without sha256 (empty)
  std::chrono::milliseconds debounce{100};
  std::chrono::milliseconds port_poll{200};
  std::chrono::milliseconds kill_grace{2000};
  // Watch the working directory for file changes and artifacts. Off for a run's helper
  // processes (Device::start_helper): the run's own watching sees what they change.
  bool watch_files = true;
  // Directory names never watched (relative components): noise, not work.
  std::vector<std::string> ignore_dirs = {".git", "node_modules", "__pycache__", ".venv"};
  // Files never reported, wherever the working directory is: the host's own (its store and the
  // store's -wal/-shm/-journal), whose writes are the host's, not the run's. Canonical paths.
  std::vector<std::filesystem::path> ignore_files;
  // The host this process belongs to: put into env as RUNHOST_HOST_ID, which the host's
  // Watchdog (watchdog.hpp) kills by when the host dies. Empty: no marker.
  std::string host_id;
};

class LocalProcess {
 public:
  // Checks the spec and starts watching the working directory here, then spawns on `spawner`
  // and carries on on `io`, where observer.on_started() comes first. Errors found before the
  // spawn are returned: runtime_not_found (argv[0] not found on PATH or not executable: the
  // message names it), invalid_dispatch (bad cwd). The spawn's own go to on_started().
  // Passing io's own executor as `spawner` spawns on the reactor (tests, tools). The run-end
  // sweep for what left the group (it reads /proc) runs on `spawner` too.
  // `sweeper`: where the run-end sweep for escaped processes runs (it may block); none: on
  // `spawner`. A host gives it other threads, so that a sweep never delays the next spawn.
  static Result<std::unique_ptr<LocalProcess>> start(boost::asio::io_context& io, boost::asio::any_io_executor spawner,
                                                     SpawnSpec spec, const LocalOptions& options,
                                                     ProcessObserver& observer,
                                                     boost::asio::any_io_executor sweeper = {});
  // Kills the group and the run's escapees if still alive, on the calling thread; no callback
  // after.
  virtual ~LocalProcess() = default;

  virtual pid_t pid() const noexcept = 0;  // -1 until on_started
  // Every method below may be called before on_started: it takes effect once the process runs.
  virtual void write_stdin(std::string_view bytes) = 0;  // queued; written as the pipe drains
  virtual void close_stdin() = 0;
  // Kills the process group (SIGTERM, SIGKILL after kill_grace); the exit carries `flags`
  // (RH_EXIT_FLAG_CANCELLED or RH_EXIT_FLAG_TIMED_OUT). Idempotent. Before the spawn has
  // finished, the process is killed as soon as it exists.
  virtual void terminate(uint32_t flags) = 0;
  // Backpressure: stop reading stdout/stderr until resume_output() (the host's event queue is
  // full). The runtime then blocks on a full pipe; memory stays bounded.
  virtual void pause_output() = 0;
  virtual void resume_output() = 0;
};

}  // namespace runhost::devices::local
