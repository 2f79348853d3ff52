// The services table (rh_host) the host gives each plugin library, and the per-thread error
// detail that flows both ways across the ABI: plugins set it with set_error() before failing;
// host services set it for last_error().
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <runhost/host.h>
#include <runhost/runtime.h>

// A run as plugins see it (opaque in C): whoever owns a run implements emit(), and
// send_input() when its runtime has a stdin to write to, start_process() and kill_process() when
// its device can run more processes for the adapter.
struct rh_run {
  virtual rh_status emit(const rh_event& event) noexcept = 0;
  // rh_host.send_input: `flags` holds RH_INPUT_CLOSE. The default: this run has no stdin.
  virtual rh_status send_input(std::string_view data, uint32_t flags) noexcept;
  // The "runhost.processes/1" extension (runtime.h). The defaults: this run cannot start any.
  virtual int can_start_processes() noexcept;
  virtual rh_status start_process(std::string_view spec_json, const rh_process_sink& sink, uint64_t* process) noexcept;
  virtual rh_status kill_process(uint64_t process) noexcept;

 protected:
  ~rh_run() = default;
};

namespace runhost::host {

// One rh_host per library, so that log lines name the library that wrote them.
class HostServices {
 public:
  explicit HostServices(std::string library_name);
  const rh_host* table() const noexcept { return &table_; }
  const std::string& library_name() const noexcept { return library_name_; }

 private:
  rh_host table_{};
  std::string library_name_;
};

// Call before a plugin call; then take_plugin_error() after it fails.
void clear_plugin_error() noexcept;
// What the plugin said with set_error() on this thread, or "(the plugin gave no detail)".
std::string take_plugin_error();

// The host-side detail of a failed service call, read by plugins through last_error().
void set_last_error(std::string_view message) noexcept;

// The plugin search path, as reported by the "runhost.host-info/1" extension.
void set_reported_plugin_dirs(std::string dirs);

}  // namespace runhost::host
