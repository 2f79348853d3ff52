#include "host/host_services.hpp"

#include <chrono>
#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "events/event_types.hpp"
#include "http/curl_http.hpp"
#include "util/logging.hpp"

#ifndef RUNHOST_VERSION_STRING
#define RUNHOST_VERSION_STRING "0.0.0"
#endif

namespace runhost::host {
namespace {

thread_local std::string t_plugin_error;
thread_local bool t_plugin_error_set = false;
thread_local std::string t_last_error;

std::string_view view(rh_str s) noexcept {
  return s.data == nullptr ? std::string_view{} : std::string_view{s.data, s.len};
}

const HostServices& owner(const rh_host* host) noexcept {
  return *static_cast<const HostServices*>(host->host_data);
}

void host_log(const rh_host* host, rh_log_level level, rh_str message) noexcept {
  try {
    auto lvl = spdlog::level::info;
    switch (level) {
      case RH_LOG_TRACE:
        lvl = spdlog::level::trace;
        break;
      case RH_LOG_DEBUG:
        lvl = spdlog::level::debug;
        break;
      case RH_LOG_INFO:
        lvl = spdlog::level::info;
        break;
      case RH_LOG_WARN:
        lvl = spdlog::level::warn;
        break;
      default:
        lvl = spdlog::level::err;
        break;
    }
    util::logger()->log(lvl, "[{}] {}", owner(host).library_name(), view(message));
  } catch (...) {
    // Logging must never fail a plugin.
  }
}

void host_set_error(const rh_host*, rh_str message) noexcept {
  try {
    t_plugin_error.assign(view(message));
    t_plugin_error_set = true;
  } catch (...) {
  }
}

rh_str host_last_error(const rh_host*) noexcept {
  return {t_last_error.data(), t_last_error.size()};
}

int64_t host_now_us(const rh_host*) noexcept {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t host_monotonic_ns(const rh_host*) noexcept {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

std::mutex g_info_mutex;
std::string g_plugin_dirs;

const rh_host_info_ext* host_info() noexcept {
  static const rh_host_info_ext info = [] {
    rh_host_info_ext i{};
    i.struct_size = sizeof i;
#if defined(__x86_64__)
    i.platform = "linux-x86_64";
#elif defined(__aarch64__)
    i.platform = "linux-aarch64";
#else
    i.platform = "linux-unknown";
#endif
    return i;
  }();
  return &info;
}

// "runhost.processes/1": helper processes in a run's device (runtime.h).
int processes_available(const rh_host*, rh_run* run) noexcept {
  return run != nullptr && run->can_start_processes();
}

rh_status processes_start(const rh_host*, rh_run* run, rh_str spec, const rh_process_sink* sink,
                          uint64_t* process_out) noexcept {
  if (run == nullptr || sink == nullptr || process_out == nullptr || (spec.data == nullptr && spec.len != 0)) {
    set_last_error("processes.start: run, spec, sink and process_out are required");
    return RH_ERR_INVALID_ARGUMENT;
  }
  if (sink->struct_size < sizeof(rh_process_sink) || sink->output == nullptr || sink->exit == nullptr) {
    set_last_error("processes.start: the sink needs struct_size, output and exit");
    return RH_ERR_INVALID_ARGUMENT;
  }
  return run->start_process(view(spec), *sink, process_out);
}

rh_status processes_kill(const rh_host*, rh_run* run, uint64_t process) noexcept {
  if (run == nullptr) {
    set_last_error("processes.kill: a run is required");
    return RH_ERR_INVALID_ARGUMENT;
  }
  return run->kill_process(process);
}

const rh_processes_ext k_processes = {sizeof(rh_processes_ext), &processes_available, &processes_start,
                                      &processes_kill};

const void* host_get_extension(const rh_host*, const char* id) noexcept {
  if (id == nullptr) return nullptr;
  if (std::string_view(id) == RH_EXT_PROCESSES) return &k_processes;
  if (std::string_view(id) == RH_EXT_HOST_INFO) {
    // plugin_dirs is per process and may change when a new registry loads; hand out a
    // per-thread copy so the pointer stays valid while the caller reads it.
    thread_local rh_host_info_ext copy;
    thread_local std::string dirs;
    std::lock_guard lock(g_info_mutex);
    dirs = g_plugin_dirs;
    copy = *host_info();
    copy.plugin_dirs = dirs.c_str();
    return &copy;
  }
  return nullptr;
}

rh_status host_emit(const rh_host*, rh_run* run, const rh_event* event) noexcept {
  if (run == nullptr || event == nullptr || event->struct_size < sizeof(uint32_t) + sizeof(rh_str) * 2) {
    set_last_error("emit: run and event are required, with struct_size set");
    return RH_ERR_INVALID_ARGUMENT;
  }
  if (!events::is_event_type(view(event->type))) {
    set_last_error("emit: unknown event type '" + std::string(view(event->type)) + "'");
    return RH_ERR_INVALID_ARGUMENT;
  }
  return run->emit(*event);
}

rh_status host_send_input(const rh_host*, rh_run* run, rh_str data, uint32_t flags) noexcept {
  if (run == nullptr || (data.data == nullptr && data.len != 0)) {
    set_last_error("send_input: a run is required, and data {NULL, n} only with n == 0");
    return RH_ERR_INVALID_ARGUMENT;
  }
  if ((flags & ~(RH_INPUT_CLOSE | RH_INPUT_END)) != 0) {
    set_last_error("send_input: unknown flags " + std::to_string(flags & ~(RH_INPUT_CLOSE | RH_INPUT_END)));
    return RH_ERR_INVALID_ARGUMENT;
  }
  if ((flags & RH_INPUT_END) && !(flags & RH_INPUT_CLOSE)) {
    set_last_error("send_input: RH_INPUT_END goes with RH_INPUT_CLOSE");
    return RH_ERR_INVALID_ARGUMENT;
  }
  return run->send_input(view(data), flags);
}

rh_status host_http_request(const rh_host*, const rh_http_request* request, rh_http_response* response) noexcept {
  std::string error;
  const rh_status status = http::perform(request, response, error);
  if (status != RH_OK) set_last_error(error);
  return status;
}

}  // namespace

HostServices::HostServices(std::string library_name) : library_name_(std::move(library_name)) {
  table_.struct_size = sizeof(rh_host);
  table_.abi = {RH_ABI_VERSION_MAJOR, RH_ABI_VERSION_MINOR};
  table_.name = "runhost";
  table_.version = RUNHOST_VERSION_STRING;
  table_.host_data = this;
  table_.log = &host_log;
  table_.set_error = &host_set_error;
  table_.last_error = &host_last_error;
  table_.now_us = &host_now_us;
  table_.monotonic_ns = &host_monotonic_ns;
  table_.get_extension = &host_get_extension;
  table_.emit = &host_emit;
  table_.http_request = &host_http_request;
  table_.send_input = &host_send_input;
}

}  // namespace runhost::host

rh_status rh_run::send_input(std::string_view, uint32_t) noexcept {
  runhost::host::set_last_error("send_input: this run has no runtime stdin to write to");
  return RH_ERR_INVALID_ARGUMENT;
}

int rh_run::can_start_processes() noexcept {
  return 0;
}

rh_status rh_run::start_process(std::string_view, const rh_process_sink&, uint64_t*) noexcept {
  runhost::host::set_last_error("processes.start: this run cannot start processes");
  return RH_ERR_UNSUPPORTED;
}

rh_status rh_run::kill_process(uint64_t process) noexcept {
  runhost::host::set_last_error("processes.kill: this run started no process " + std::to_string(process));
  return RH_ERR_NOT_FOUND;
}

namespace runhost::host {

void clear_plugin_error() noexcept {
  t_plugin_error.clear();
  t_plugin_error_set = false;
}

std::string take_plugin_error() {
  std::string detail =
      t_plugin_error_set && !t_plugin_error.empty() ? std::move(t_plugin_error) : "(the plugin gave no detail)";
  clear_plugin_error();
  return detail;
}

void set_last_error(std::string_view message) noexcept {
  try {
    t_last_error.assign(message);
  } catch (...) {
    t_last_error.clear();
  }
}

void set_reported_plugin_dirs(std::string dirs) {
  std::lock_guard lock(g_info_mutex);
  g_plugin_dirs = std::move(dirs);
}

}  // namespace runhost::host
