// LocalProcess: one run's process and everything watching it, on the caller's reactor.
//
// The spawn runs on the spawner executor; everything else here on the reactor. Until it is
// done, what callers ask for (stdin, pauses, terminate) and the changes the watcher sees wait
// in `early_`, and are applied once the process exists, after on_started.
//
// The exit is reported last, in this order, each step waiting for the one before:
//   1. the leader is reaped (its pidfd turned readable) — the port poll stops there;
//   2. stdout and stderr reach EOF — or, kPipeGrace after the reap, the group is SIGKILLed and
//      the pipes are read empty and closed, so a grandchild holding them cannot hold the run;
//   3. what is left of the group is killed, and so is every process that left it but carries the
//      run's marker, with its descendants (escapees.hpp): on the spawner, which may block, as
//      this reads /proc; the group is the sweep's alone from here on;
//   4. the inotify queue is read to the end (the kernel queued every change the process made
//      before it died), the watcher stops, and all debounced changes are emitted;
//   5. the artifacts those changes named are hashed;
//   6. on_exit.
// Every callback may destroy this object; each call site checks Lifetime before going on, and
// every handler is guarded, so nothing runs after the destructor.
#include <signal.h>

#include <optional>
#include <utility>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "devices/local/artifact_hasher.hpp"
#include "devices/local/artifact_rules.hpp"
#include "devices/local/change_debouncer.hpp"
#include "devices/local/child_process.hpp"
#include "devices/local/escapees.hpp"
#include "devices/local/file_watcher.hpp"
#include "devices/local/invalid_cwd.hpp"
#include "devices/local/lifetime.hpp"
#include "devices/local/local_device.hpp"
#include "devices/local/output_pipe.hpp"
#include "devices/local/port_watcher.hpp"
#include "devices/local/process_marker.hpp"
#include "devices/local/spawn_child.hpp"
#include "devices/local/stdin_pipe.hpp"

namespace runhost::devices::local {
namespace {

namespace fs = std::filesystem;
using StreamDescriptor = boost::asio::posix::stream_descriptor;

// How long stdout/stderr may stay open after the leader was reaped.
constexpr std::chrono::milliseconds kPipeGrace{500};

class LocalProcessImpl final : public LocalProcess {
 public:
  LocalProcessImpl(boost::asio::io_context& io, boost::asio::any_io_executor spawner,
                   boost::asio::any_io_executor sweeper, const fs::path& cwd, const LocalOptions& options,
                   std::string marker, ProcessObserver& observer)
      : io_(io),
        spawner_(std::move(spawner)),
        sweeper_(sweeper ? std::move(sweeper) : spawner_),
        marker_(std::move(marker)),
        observer_(observer),
        options_(options),
        changes_(io, cwd, options.debounce, [this](const FileChange& c, bool complete) { on_change(c, complete); }),
        artifacts_(io, cwd, options.artifact_max_bytes, [this](const Artifact& a) { observer_.on_artifact(a); }),
        kill_timer_(io),
        pipe_grace_timer_(io) {
    if (options.watch_files) {
      watcher_.emplace(io, cwd, options.ignore_dirs, [this](const FsEvent& e) {
        if (!ignored_file(e.path)) changes_.add(e);
      });
    }
    // The ignored files below cwd, as the relative paths changes carry (they are canonical).
    std::error_code ec;
    const auto root = fs::weakly_canonical(cwd, ec);
    for (const auto& file : options.ignore_files) {
      const auto rel = file.lexically_relative(root);
      if (!ec && !rel.empty() && *rel.begin() != "..") ignored_files_.push_back(rel.generic_string());
    }
  }

  ~LocalProcessImpl() override {
    // A sweep under way on the spawner finishes on its own; it does not touch this object.
    if (!child_ || sweep_ != Sweep::not_started) return;
    child_->kill_and_reap();
    RunLeaders::remove(child_->pid());
    if (!marker_.empty()) end_escapees(0, marker_);  // here, on the caller's thread: it must not outlive us
  }

  void spawn(fs::path program, SpawnSpec spec);

  pid_t pid() const noexcept override { return child_ ? child_->pid() : -1; }
  void write_stdin(std::string_view bytes) override {
    if (stdin_) return stdin_->write(bytes);
    early_.stdin_data.append(bytes);
  }
  void close_stdin() override {
    if (stdin_) return stdin_->close_when_drained();
    early_.close_stdin = true;
  }
  void terminate(uint32_t flags) override;
  void pause_output() override {
    if (!stdout_) return void(early_.paused = true);
    stdout_->pause();
    stderr_->pause();
  }
  void resume_output() override {
    if (!stdout_) return void(early_.paused = false);
    stdout_->resume();
    stderr_->resume();
  }

 private:
  enum class Phase { spawning, running, reaped, finishing, done };
  enum class Sweep { not_started, running, done };

  // What was asked of the process, or seen of its directory, before it existed.
  struct BeforeSpawned {
    std::string stdin_data;
    bool close_stdin = false;
    bool paused = false;
    std::optional<uint32_t> terminate_flags;
    std::vector<std::pair<FileChange, bool>> changes;  // (change, complete)
  };

  void on_spawned(Result<SpawnedChild> child);
  void run(SpawnedChild child);
  void wait_for_exit();
  void on_exited();
  void on_pipe_closed();
  void finish();
  void sweep_escapees();
  void flush_and_exit();
  void on_change(const FileChange& change, bool complete);
  bool ignored_file(const std::string& path) const {
    return std::find(ignored_files_.begin(), ignored_files_.end(), path) != ignored_files_.end();
  }

  boost::asio::io_context& io_;
  boost::asio::any_io_executor spawner_;
  boost::asio::any_io_executor sweeper_;
  std::string marker_;  // "RUNHOST_RUN_ID=<id>", or empty: no run id, no escapee sweep
  ProcessObserver& observer_;
  LocalOptions options_;
  std::vector<std::string> ignored_files_;  // options_.ignore_files below cwd, relative: never fed to changes_
  ChangeDebouncer changes_;
  ArtifactHasher artifacts_;
  std::optional<FileWatcher> watcher_;  // after changes_, which it feeds; none without options_.watch_files
  std::optional<ChildProcess> child_;
  std::optional<StreamDescriptor> pidfd_;
  std::optional<StdinPipe> stdin_;
  std::optional<OutputPipe> stdout_;
  std::optional<OutputPipe> stderr_;
  std::optional<PortWatcher> ports_;
  boost::asio::steady_timer kill_timer_;
  boost::asio::steady_timer pipe_grace_timer_;
  Phase phase_ = Phase::spawning;
  Sweep sweep_ = Sweep::not_started;
  BeforeSpawned early_;
  bool terminating_ = false;
  uint32_t terminate_flags_ = 0;
  rh_exit exit_{};
  Lifetime lifetime_;
};

void LocalProcessImpl::spawn(fs::path program, SpawnSpec spec) {
  early_.stdin_data = std::move(spec.stdin_data);
  early_.close_stdin = !spec.keep_stdin_open;
  // The handlers below hold `this` but touch it only on the reactor, once `alive` says so.
  boost::asio::post(spawner_, [this, &io = io_, alive = lifetime_.alive(), program = std::move(program),
                               spec = std::move(spec), marker = marker_] {
    auto child = spawn_child(program, spec);
    boost::asio::post(io, [this, alive, marker, child = std::move(child)]() mutable {
      if (alive) return on_spawned(std::move(child));
      // The owner went away meanwhile: the process must not outlive it (as in the destructor).
      if (!child) return;
      ChildProcess(child->pid).kill_and_reap();
      if (!marker.empty()) end_escapees(0, marker);
    });
  });
}

void LocalProcessImpl::on_spawned(Result<SpawnedChild> child) {
  if (!child) {
    phase_ = Phase::done;
    if (watcher_) watcher_->stop();
    observer_.on_started(child.error());
    return;
  }
  const pid_t pid = child->pid;
  run(std::move(*child));
  const auto alive = lifetime_.alive();
  observer_.on_started(pid);
  for (auto& [change, complete] : std::exchange(early_.changes, {})) {
    if (!alive) return;
    on_change(change, complete);
  }
  if (alive && early_.terminate_flags) terminate(*early_.terminate_flags);
}

void LocalProcessImpl::run(SpawnedChild child) {
  phase_ = Phase::running;
  child_.emplace(child.pid);
  RunLeaders::add(child.pid);
  pidfd_.emplace(io_, child.pidfd.release());
  stdin_.emplace(io_, std::move(child.stdin_));
  stdout_.emplace(
      io_, std::move(child.stdout_), [this](std::string_view b) { observer_.on_output(RH_STREAM_STDOUT, b); },
      [this] { on_pipe_closed(); });
  stderr_.emplace(
      io_, std::move(child.stderr_), [this](std::string_view b) { observer_.on_output(RH_STREAM_STDERR, b); },
      [this] { on_pipe_closed(); });
  ports_.emplace(
      io_, child.pid, options_.port_poll, [this](const ListeningPort& p) { observer_.on_listening(p); }, marker_);

  stdin_->write(early_.stdin_data);
  early_.stdin_data.clear();
  if (early_.close_stdin) stdin_->close_when_drained();
  if (early_.paused) pause_output();
  stdout_->start();
  stderr_->start();
  ports_->start();
  wait_for_exit();
}

void LocalProcessImpl::wait_for_exit() {
  pidfd_->async_wait(StreamDescriptor::wait_read, lifetime_.guard([this](const boost::system::error_code& ec) {
    if (!ec) on_exited();
  }));
}

void LocalProcessImpl::on_exited() {
  const std::optional<rh_exit> exit = child_->try_reap();
  if (!exit) {
    // A pidfd is readable only once the process has exited; should the kernel ever say so
    // early, ask again shortly rather than wait for an edge that will not come.
    pipe_grace_timer_.expires_after(std::chrono::milliseconds(10));
    pipe_grace_timer_.async_wait(lifetime_.guard([this](const boost::system::error_code& ec) {
      if (!ec) on_exited();
    }));
    return;
  }
  RunLeaders::remove(child_->pid());  // a skip list for sweeps: a late removal only costs a read
  exit_ = *exit;
  exit_.flags = terminate_flags_;
  phase_ = Phase::reaped;
  ports_->stop();
  stdin_->close_now();
  if (stdout_->done() && stderr_->done()) return finish();
  pipe_grace_timer_.expires_after(kPipeGrace);
  pipe_grace_timer_.async_wait(lifetime_.guard([this](const boost::system::error_code& ec) {
    if (ec) return;
    child_->signal_group(SIGKILL);  // what of the group still holds the pipes
    stdout_->close_when_drained();
    stderr_->close_when_drained();
  }));
}

void LocalProcessImpl::on_pipe_closed() {
  if (phase_ == Phase::reaped && stdout_->done() && stderr_->done()) finish();
}

void LocalProcessImpl::finish() {
  phase_ = Phase::finishing;
  kill_timer_.cancel();
  pipe_grace_timer_.cancel();
  sweep_escapees();
}

void LocalProcessImpl::sweep_escapees() {
  // What is left of the group (a background job that let go of the pipes) ends with the run.
  // signal_group() says whether anything was: if not, the group id may already be another's
  // and is never used again.
  const pid_t group = child_->signal_group(SIGKILL) ? child_->pid() : 0;
  if (group == 0 && marker_.empty()) {
    sweep_ = Sweep::done;
    return flush_and_exit();
  }
  sweep_ = Sweep::running;
  boost::asio::post(sweeper_, [this, &io = io_, alive = lifetime_.alive(), group, marker = marker_] {
    end_escapees(group, marker);
    boost::asio::post(io, [this, alive] {
      if (!alive) return;
      sweep_ = Sweep::done;
      flush_and_exit();
    });
  });
}

void LocalProcessImpl::flush_and_exit() {
  if (watcher_ && watcher_->walking()) return watcher_->when_walked(lifetime_.guard([this] { flush_and_exit(); }));
  if (watcher_) {
    watcher_->drain();
    watcher_->stop();
  }
  const auto alive = lifetime_.alive();
  changes_.flush_all();
  if (!alive) return;
  artifacts_.when_idle([this] {
    phase_ = Phase::done;
    observer_.on_exit(exit_);
  });
}

void LocalProcessImpl::terminate(uint32_t flags) {
  if (phase_ == Phase::spawning) {
    if (!early_.terminate_flags) early_.terminate_flags = flags;
    return;
  }
  if (!child_ || terminating_ || phase_ == Phase::finishing || phase_ == Phase::done) return;
  terminating_ = true;
  // Once the leader is reaped its exit is known: only what is left of the group is killed.
  if (phase_ == Phase::running) terminate_flags_ = flags;
  if (!child_->signal_group(SIGTERM)) return;
  kill_timer_.expires_after(options_.kill_grace);
  kill_timer_.async_wait(lifetime_.guard([this](const boost::system::error_code& ec) {
    if (!ec) child_->signal_group(SIGKILL);
  }));
}

void LocalProcessImpl::on_change(const FileChange& change, bool complete) {
  if (phase_ == Phase::spawning) {
    early_.changes.emplace_back(change, complete);
    return;
  }
  if (!child_) return;  // it never started: nothing more is reported
  const auto alive = lifetime_.alive();
  observer_.on_file_changed(change);
  if (alive && complete && matches_any(options_.artifact_patterns, change.path)) artifacts_.add(change.path);
}

}  // namespace

Result<std::unique_ptr<LocalProcess>> LocalProcess::start(boost::asio::io_context& io,
                                                          boost::asio::any_io_executor spawner, SpawnSpec spec,
                                                          const LocalOptions& options, ProcessObserver& observer,
                                                          boost::asio::any_io_executor sweeper) {
  if (spec.argv.empty()) return Error{ErrorCode::runtime_not_found, "no command to run: argv is empty"};
  std::error_code ec;
  spec.cwd = fs::absolute(spec.cwd, ec);
  if (ec || !fs::is_directory(spec.cwd, ec)) return invalid_cwd("is not an existing directory: " + spec.cwd.string());
  auto program = find_command(spec.argv.front(), spec.env, spec.cwd);
  if (!program) return program.error();
  // The markers (process_marker.hpp). An id with a NUL would end the entry early and match
  // another's; ids are ours, so that is a bug, not a dispatch to refuse politely.
  for (const auto& [name, id] : {std::pair<const char*, std::string>{kHostIdVariable, options.host_id},
                                 std::pair<const char*, std::string>{kRunIdVariable, spec.run_id}}) {
    if (id.empty()) continue;
    if (id.find('\0') != std::string::npos) return Error{ErrorCode::internal, std::string(name) + " holds a NUL"};
    spec.env[name] = id;
  }

  std::string marker;
  if (!spec.run_id.empty()) marker = std::string(kRunIdVariable) + "=" + spec.run_id;
  // Watching starts before the process does, so that none of its changes are missed.
  auto process = std::make_unique<LocalProcessImpl>(io, std::move(spawner), std::move(sweeper), spec.cwd, options,
                                                    std::move(marker), observer);
  process->spawn(std::move(*program), std::move(spec));
  return std::unique_ptr<LocalProcess>(std::move(process));
}

}  // namespace runhost::devices::local
