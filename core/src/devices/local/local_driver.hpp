// The local device behind the device interface (devices/device.hpp): a run's runtime as a
// process tree on this machine (LocalProcess), in a working directory confined to the host's
// workspace root. Resolving it is immediate: the device is this machine, its id the one
// dispatched. Its previews are the listening ports themselves (http://127.0.0.1:PORT/).
#pragma once

#include <filesystem>
#include <memory>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include "devices/device.hpp"
#include "devices/local/inotify_hub.hpp"
#include "devices/local/local_device.hpp"

namespace runhost::devices::local {

class LocalDriver final : public DeviceDriver {
 public:
  // `spawner`: where processes are spawned (may block); `sweeper`: where the run-end sweep for
  // escaped processes runs. See LocalProcess::start.
  LocalDriver(boost::asio::io_context& io, boost::asio::any_io_executor spawner, boost::asio::any_io_executor sweeper,
              std::filesystem::path workspace_root, LocalOptions options);

  std::string_view type() const noexcept override { return "local"; }
  // The cwd confined to the workspace root (confine_cwd): canonical, existing, inside it.
  Result<std::string> check(std::string_view requested_cwd) const override;
  std::unique_ptr<Device> open(DeviceRequest request, DeviceObserver& observer) override;

 private:
  boost::asio::io_context& io_;
  boost::asio::any_io_executor spawner_;
  boost::asio::any_io_executor sweeper_;
  std::filesystem::path root_;
  LocalOptions options_;
  // The reactor's inotify instance, held from the first run for the host's life rather than a
  // run's: watches a run let go of wait there for the next run in the same tree (inotify_hub.hpp).
  std::shared_ptr<InotifyHub> inotify_;
};

}  // namespace runhost::devices::local
