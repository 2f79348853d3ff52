// A run's helper processes: processes its adapter starts in the run's device beside the runtime
// (the "runhost.processes/1" extension, runtime.h; an ACP agent's terminal/create). Their output
// and exit go to the adapter's sink, as calls of its session like feed(); their ports are the
// run's previews. They end with the runtime: when it exits, what is still running is killed
// before the adapter's finish(), and no callback follows.
#include <cerrno>

#include <nlohmann/json.hpp>

#include "engine/active_run.hpp"
#include "engine/host_impl.hpp"
#include "util/logging.hpp"
#include "util/secrets.hpp"

namespace runhost::engine {
namespace {

using nlohmann::json;

constexpr size_t kHelpersRunning = 16;  // per run, at once

rh_status refuse(rh_status status, std::string message) {
  host::set_last_error("processes.start: " + message);
  return status;
}

rh_status status_of(const Error& error) {
  switch (error.code) {
    case ErrorCode::runtime_not_found:
      return RH_ERR_NOT_FOUND;
    case ErrorCode::invalid_dispatch:
      return RH_ERR_INVALID_ARGUMENT;
    case ErrorCode::device_unavailable:
      return RH_ERR_UNSUPPORTED;
    default:
      return RH_ERR_FAILED;
  }
}

}  // namespace

void ActiveRun::Helper::on_started(const Result<devices::Started>& started) {
  if (started) return;
  util::logger()->debug("run {}: helper {} did not start: {}", run_.who_.run_id, id_, started.error().message);
  const int32_t code = started.error().code == ErrorCode::runtime_not_found ? ENOENT : EIO;
  on_exit(rh_exit{sizeof(rh_exit), RH_EXIT_SPAWN_FAILED, code, 0, 0});
}

void ActiveRun::Helper::on_output(rh_stream stream, std::string_view bytes) {
  if (ended_ || !run_.session_) return;
  const auto stamped = run_.stamp({});
  sink_.output(sink_.user, id_, stream, bytes.data(), bytes.size());
}

void ActiveRun::Helper::on_exit(const rh_exit& exit) {
  if (ended_) return;
  ended_ = true;
  const auto stamped = run_.stamp({});
  if (run_.session_) sink_.exit(sink_.user, id_, &exit);
  run_.helper_done(id_);
}

int ActiveRun::can_start_processes() noexcept {
  return device_ && device_->can_start_helpers() ? 1 : 0;
}

rh_status ActiveRun::start_process(std::string_view spec_json, const rh_process_sink& sink, uint64_t* id) noexcept try {
  if (!device_ || !device_->can_start_helpers()) return refuse(RH_ERR_UNSUPPORTED, "this run's device cannot");
  if (!process_ || phase_ != Phase::running) return refuse(RH_ERR_INVALID_ARGUMENT, "the runtime is not running");
  size_t running = 0;
  for (const auto& [_, helper] : helpers_) running += helper->running() ? 1 : 0;
  if (running >= kHelpersRunning) {
    return refuse(RH_ERR_LIMIT, std::to_string(kHelpersRunning) + " of this run's processes are running");
  }

  const json spec = json::parse(spec_json, nullptr, false);
  if (!spec.is_object()) return refuse(RH_ERR_INVALID_ARGUMENT, "the spec is not a JSON object");
  devices::LaunchSpec launch;
  const auto argv = spec.find("argv");
  if (argv == spec.end() || !argv->is_array() || argv->empty()) {
    return refuse(RH_ERR_INVALID_ARGUMENT, "\"argv\" must be a non-empty array of strings");
  }
  for (const auto& arg : *argv) {
    if (!arg.is_string()) return refuse(RH_ERR_INVALID_ARGUMENT, "\"argv\" must be a non-empty array of strings");
    std::string text = arg.get<std::string>();
    if (text.find('\0') != std::string::npos) return refuse(RH_ERR_INVALID_ARGUMENT, "an argument holds U+0000");
    // In argv a secret is in every process's view of /proc/PID/cmdline.
    if (std::string copy = text; util::secrets().redact(copy)) {
      return refuse(RH_ERR_INVALID_ARGUMENT, "the command line holds a secret; secrets go in \"env\"");
    }
    launch.argv.push_back(std::move(text));
  }
  // The runtime's connector environment, as its own commands get it; then the spec's.
  launch.env = connector_env_;
  if (const auto env = spec.find("env"); env != spec.end()) {
    if (!env->is_object()) return refuse(RH_ERR_INVALID_ARGUMENT, "\"env\" must be an object of strings");
    for (const auto& [name, value] : env->items()) {
      if (!value.is_string() || name.empty() || name.find_first_of("=\0", 0, 2) != std::string::npos) {
        return refuse(RH_ERR_INVALID_ARGUMENT, "\"env\" must map variable names to strings");
      }
      launch.env[name] = value.get<std::string>();
    }
  }
  std::string cwd;
  if (const auto c = spec.find("cwd"); c != spec.end()) {
    if (!c->is_string()) return refuse(RH_ERR_INVALID_ARGUMENT, "\"cwd\" must be a string");
    cwd = c->get<std::string>();
  }

  const uint64_t helper_id = ++last_helper_;
  auto helper = std::make_unique<Helper>(*this, helper_id, sink);
  auto execution = device_->start_helper(std::move(launch), cwd, *helper);
  if (!execution) {
    // The device words a bad cwd as the dispatch's; here it is the spec's.
    std::string_view message = execution.error().message;
    if (message.starts_with("invalid dispatch: ")) message.remove_prefix(18);
    return refuse(status_of(execution.error()), std::string(message));
  }
  helper->execution = std::move(*execution);
  if (output_paused_) helper->execution->pause_output();
  helpers_.emplace(helper_id, std::move(helper));
  *id = helper_id;
  return RH_OK;
} catch (...) {
  return RH_ERR_NO_MEMORY;
}

rh_status ActiveRun::kill_process(uint64_t id) noexcept {
  const auto it = helpers_.find(id);
  if (it == helpers_.end()) {
    if (id == 0 || id > last_helper_) {
      host::set_last_error("processes.kill: this run started no process " + std::to_string(id));
      return RH_ERR_NOT_FOUND;
    }
    return RH_OK;  // it has ended
  }
  if (it->second->running()) it->second->execution->terminate(RH_EXIT_FLAG_CANCELLED);
  return RH_OK;
}

void ActiveRun::helper_done(uint64_t id) {
  // The helper's execution may be on the stack that called us: let it go later.
  boost::asio::post(host_.io(), [self = shared_from_this(), id] { self->helpers_.erase(id); });
}

void ActiveRun::end_helpers() {
  // Destroying an execution kills its process group and what it left behind, with no callback.
  helpers_.clear();
}

void ActiveRun::pause_output() {
  output_paused_ = true;
  process_->pause_output();
  for (auto& [_, helper] : helpers_) {
    if (helper->running()) helper->execution->pause_output();
  }
}

void ActiveRun::resume_output() {
  output_paused_ = false;
  process_->resume_output();
  for (auto& [_, helper] : helpers_) {
    if (helper->running()) helper->execution->resume_output();
  }
}

}  // namespace runhost::engine
