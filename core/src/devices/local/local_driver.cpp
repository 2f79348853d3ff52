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

class LocalExecution final : public Execution, private ProcessObserver {
 public:
  LocalExecution(boost::asio::io_context& io, DeviceObserver& observer) : io_(io), observer_(observer) {}

  Status start(boost::asio::any_io_executor spawner, boost::asio::any_io_executor sweeper, SpawnSpec spec,
               const LocalOptions& options) {
    auto process = LocalProcess::start(io_, std::move(spawner), std::move(spec), options, *this, std::move(sweeper));
    if (!process) return std::move(process).error();
    process_ = std::move(*process);
    return {};
  }

  void write_stdin(std::string_view bytes) override { on_reactor()->write_stdin(bytes); }
  void close_stdin() override { on_reactor()->close_stdin(); }
  void terminate(uint32_t flags) override { on_reactor()->terminate(flags); }
  void pause_output() override { on_reactor()->pause_output(); }
  void resume_output() override { on_reactor()->resume_output(); }

 private:
  LocalProcess* on_reactor() {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    return process_.get();
  }

  // ProcessObserver: what the process saw, as the device interface says it.
  void on_started(const Result<pid_t>& started) override {
    if (!started) return observer_.on_started(started.error(), {});
    observer_.on_started(Started{*started, {}}, {});
  }
  void on_output(rh_stream stream, std::string_view bytes) override { observer_.on_output(stream, bytes, {}); }
  void on_file_changed(const FileChange& change) override { observer_.on_file_changed(change, {}); }
  void on_artifact(const Artifact& artifact) override { observer_.on_artifact(artifact, {}); }
  void on_listening(const ListeningPort& port) override {
    observer_.on_preview(Preview{port.port, port.address, port.pid, local_url(port), {}, {}}, {});
  }
  void on_exit(const rh_exit& exit) override { observer_.on_exit(exit, std::nullopt, {}); }

  boost::asio::io_context& io_;
  DeviceObserver& observer_;
  std::unique_ptr<LocalProcess> process_;  // last: destroyed first, while the rest still exists
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
        request_(std::move(request)),
        observer_(observer) {}

  void resolve() override {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    // Nothing to find: this machine. Reported from the reactor's queue, never re-entrantly.
    boost::asio::post(io_, lifetime_.guard([this] {
      observer_.on_resolved(DeviceRef{"local", request_.device_id, request_.cwd, false}, {});
    }));
  }

  Result<std::unique_ptr<Execution>> launch(LaunchSpec spec) override {
    RUNHOST_ASSERT_ON_REACTOR(io_);
    SpawnSpec spawn;
    spawn.argv = std::move(spec.argv);
    spawn.env = controlled_environment(spec.env);
    spawn.cwd = request_.cwd;
    spawn.run_id = request_.run_id;
    spawn.stdin_data = std::move(spec.stdin_data);
    spawn.keep_stdin_open = spec.keep_stdin_open;
    auto execution = std::make_unique<LocalExecution>(io_, observer_);
    if (auto st = execution->start(spawner_, sweeper_, std::move(spawn), options_); !st) return std::move(st).error();
    return std::unique_ptr<Execution>(std::move(execution));
  }

 private:
  boost::asio::io_context& io_;
  boost::asio::any_io_executor spawner_;
  boost::asio::any_io_executor sweeper_;
  const LocalOptions& options_;
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
  return std::make_unique<LocalDeviceImpl>(io_, spawner_, sweeper_, options_, std::move(request), observer);
}

}  // namespace runhost::devices::local
