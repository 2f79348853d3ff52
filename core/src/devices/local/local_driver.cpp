// LocalDriver: LocalProcess and its observer, adapted to the device interface.
#include "devices/local/local_driver.hpp"

#include <boost/asio/post.hpp>

#include "devices/local/lifetime.hpp"

namespace runhost::devices::local {
namespace {

// The URL a browser on this machine reaches a listening socket at.
std::string local_url(const ListeningPort& port) {
  const bool any = port.address == "0.0.0.0" || port.address == "::" || port.address.empty();
  const std::string host = any                                           ? "127.0.0.1"
                           : port.address.find(':') != std::string::npos ? "[" + port.address + "]"
                                                                         : port.address;
  return "http://" + host + ":" + std::to_string(port.port) + "/";
}

Preview preview_of(const ListeningPort& port) {
  return Preview{port.port, port.address, port.pid, local_url(port), {}, {}};
}

// An Execution backed by one LocalProcess, which reports to the derived class.
class ProcessExecution : public Execution, protected ProcessObserver {
 public:
  explicit ProcessExecution(boost::asio::io_context& io) : io_(io) {}

  Status start(boost::asio::any_io_executor spawner, boost::asio::any_io_executor sweeper, SpawnSpec spec,
               const LocalOptions& options) {
    auto process = LocalProcess::start(io_, std::move(spawner), std::move(spec), options, *this, std::move(sweeper));
    if (!process) return std::move(process).error();
    process_ = std::move(*process);
    return {};
  }

  ~ProcessExecution() override = default;

  void write_stdin(std::string_view bytes) override { on_reactor()->write_stdin(bytes); }
  void close_stdin() override { on_reactor()->close_stdin(); }
  void terminate(uint32_t flags) override { on_reactor()->terminate(flags); }
  void pause_output() override { on_reactor()->pause_output(); }
  void resume_output() override { on_reactor()->resume_output(); }

 protected:
  // The derived class calls it first in its destructor: the process goes while what it reports
  // to still exists.
  void stop() noexcept { process_.reset(); }

 private:
  LocalProcess* on_reactor() {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    return process_.get();
  }

  boost::asio::io_context& io_;
  std::unique_ptr<LocalProcess> process_;  // no callback after it is gone
};

// The run's runtime: everything the process saw, as the device interface says it.
class LocalExecution final : public ProcessExecution {
 public:
  LocalExecution(boost::asio::io_context& io, DeviceObserver& observer) : ProcessExecution(io), observer_(observer) {}
  ~LocalExecution() override { stop(); }

 private:
  void on_started(const Result<pid_t>& started) override {
    if (!started) return observer_.on_started(started.error(), {});
    observer_.on_started(Started{*started, {}}, {});
  }
  void on_output(rh_stream stream, std::string_view bytes) override { observer_.on_output(stream, bytes, {}); }
  void on_file_changed(const FileChange& change) override { observer_.on_file_changed(change, {}); }
  void on_artifact(const Artifact& artifact) override { observer_.on_artifact(artifact, {}); }
  void on_listening(const ListeningPort& port) override { observer_.on_preview(preview_of(port), {}); }
  void on_exit(const rh_exit& exit) override { observer_.on_exit(exit, std::nullopt, {}); }

  DeviceObserver& observer_;
};

// A helper process the run's adapter started: its output and exit to the helper's observer, its
// ports to the run's (previews). It watches no files (LocalOptions::watch_files is off).
class LocalHelper final : public ProcessExecution {
 public:
  LocalHelper(boost::asio::io_context& io, HelperObserver& observer, DeviceObserver& run)
      : ProcessExecution(io), observer_(observer), run_(run) {}
  ~LocalHelper() override { stop(); }

 private:
  void on_started(const Result<pid_t>& started) override {
    if (!started) return observer_.on_started(started.error());
    observer_.on_started(Started{*started, {}});
  }
  void on_output(rh_stream stream, std::string_view bytes) override { observer_.on_output(stream, bytes); }
  void on_file_changed(const FileChange&) override {}
  void on_artifact(const Artifact&) override {}
  void on_listening(const ListeningPort& port) override { run_.on_preview(preview_of(port), {}); }
  void on_exit(const rh_exit& exit) override { observer_.on_exit(exit); }

  HelperObserver& observer_;
  DeviceObserver& run_;
};

class LocalDeviceImpl final : public Device {
 public:
  LocalDeviceImpl(boost::asio::io_context& io, boost::asio::any_io_executor spawner,
                  boost::asio::any_io_executor sweeper, const LocalOptions& options, DeviceRequest request,
                  DeviceObserver& observer)
      : io_(io),
        spawner_(std::move(spawner)),
        sweeper_(std::move(sweeper)),
        options_(options),
        helper_options_(options),
        request_(std::move(request)),
        observer_(observer) {
    helper_options_.watch_files = false;
  }

  void resolve() override {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    // Nothing to find: this machine. Reported from the reactor's queue, never re-entrantly.
    boost::asio::post(io_, lifetime_.guard([this] {
      observer_.on_resolved(DeviceRef{"local", request_.device_id, request_.cwd, false}, {});
    }));
  }

  Result<std::unique_ptr<Execution>> launch(LaunchSpec spec) override {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    auto execution = std::make_unique<LocalExecution>(io_, observer_);
    if (auto st =
            execution->start(spawner_, sweeper_, spawn_spec(std::move(spec), request_.cwd, request_.run_id), options_);
        !st)
      return std::move(st).error();
    return std::unique_ptr<Execution>(std::move(execution));
  }

  bool can_start_helpers() const noexcept override { return true; }

  Result<std::unique_ptr<Execution>> start_helper(LaunchSpec spec, std::string_view cwd,
                                                  HelperObserver& observer) override {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    auto confined = confine_cwd(request_.cwd, cwd);
    if (!confined) return confined.error();
    // Its own marker: its end sweeps what it left behind, never the runtime's processes.
    const std::string marker = request_.run_id + "~helper" + std::to_string(++helpers_);
    auto execution = std::make_unique<LocalHelper>(io_, observer, observer_);
    if (auto st = execution->start(spawner_, sweeper_, spawn_spec(std::move(spec), confined->string(), marker),
                                   helper_options_);
        !st)
      return std::move(st).error();
    return std::unique_ptr<Execution>(std::move(execution));
  }

 private:
  boost::asio::io_context& io_;
  boost::asio::any_io_executor spawner_;
  boost::asio::any_io_executor sweeper_;
  static SpawnSpec spawn_spec(LaunchSpec spec, std::string cwd, std::string marker) {
    SpawnSpec spawn;
    spawn.argv = std::move(spec.argv);
    spawn.env = controlled_environment(spec.env);
    spawn.cwd = std::move(cwd);
    spawn.run_id = std::move(marker);
    spawn.stdin_data = std::move(spec.stdin_data);
    spawn.keep_stdin_open = spec.keep_stdin_open;
    return spawn;
  }

  const LocalOptions& options_;
  LocalOptions helper_options_;  // options_ without file watching
  uint64_t helpers_ = 0;
  DeviceRequest request_;
  DeviceObserver& observer_;
  Lifetime lifetime_;
};

}  // namespace

LocalDriver::LocalDriver(boost::asio::io_context& io, boost::asio::any_io_executor spawner,
                         boost::asio::any_io_executor sweeper, std::filesystem::path workspace_root,
                         LocalOptions options)
    : io_(io),
      spawner_(std::move(spawner)),
      sweeper_(std::move(sweeper)),
      root_(std::move(workspace_root)),
      options_(std::move(options)) {}

Result<std::string> LocalDriver::check(std::string_view requested_cwd) const {
  auto confined = confine_cwd(root_, requested_cwd);
  if (!confined) return confined.error();
  return confined->string();
}

std::unique_ptr<Device> LocalDriver::open(DeviceRequest request, DeviceObserver& observer) {
  // Kept from the first run that got one (inotify instances are few: a host that could not have
  // one tries again at its next run).
  if (!inotify_ && options_.watch_files) {
    if (auto hub = InotifyHub::for_context(io_); hub->ok()) inotify_ = std::move(hub);
  }
  return std::make_unique<LocalDeviceImpl>(io_, spawner_, sweeper_, options_, std::move(request), observer);
}

}  // namespace runhost::devices::local
