#include "plugins/instances.hpp"

#include "host/string_writer.hpp"

namespace runhost::plugins {
namespace {

rh_str str(std::string_view s) noexcept { return {s.data(), s.size()}; }

std::string who(const PluginInfo& info, std::string_view fn) {
  return std::string(to_string(info.kind)) + " '" + info.id + "' " + std::string(fn) + "()";
}

// Runs `call(writer)` and returns what the plugin wrote, or the failure.
template <class Call>
Result<std::string> collect(const PluginInfo& info, std::string_view fn, Call&& call) {
  host::StringWriter out;
  host::clear_plugin_error();
  const rh_status status = call(out.get());
  if (auto st = call_plugin(who(info, fn), status); !st) return st.error();
  return out.take();
}

}  // namespace

Status call_plugin(std::string_view what, rh_status status) {
  if (status == RH_OK) return {};
  return Error{ErrorCode::plugin_error,
               std::string(what) + " failed (status " + std::to_string(status) + "): " + host::take_plugin_error()};
}

// ---- policy -------------------------------------------------------------------------------

PolicyInstance::PolicyInstance(const LoadedPlugin& plugin, rh_policy_instance* instance)
    : info_(plugin.info), library_(plugin.library), iface_(plugin.desc->iface.policy), instance_(instance) {}

PolicyInstance::~PolicyInstance() { iface_->destroy(instance_); }

Result<std::unique_ptr<PolicyInstance>> PolicyInstance::create(const LoadedPlugin& plugin, std::string_view config_json) {
  rh_policy_instance* instance = nullptr;
  host::clear_plugin_error();
  const auto* iface = plugin.desc->iface.policy;
  const rh_status status = iface->create(iface, plugin.library->host(), str(config_json), &instance);
  if (auto st = call_plugin(who(plugin.info, "create"), status); !st) return st.error();
  if (instance == nullptr) return Error{ErrorCode::plugin_error, who(plugin.info, "create") + " returned RH_OK without an instance"};
  return std::unique_ptr<PolicyInstance>(new PolicyInstance(plugin, instance));
}

Result<std::string> PolicyInstance::evaluate(std::string_view request_json) const {
  return collect(info_, "evaluate", [&](const rh_writer* w) { return iface_->evaluate(instance_, str(request_json), w); });
}

// ---- connector ----------------------------------------------------------------------------

ConnectorInstance::ConnectorInstance(const LoadedPlugin& plugin, rh_connector_instance* instance)
    : info_(plugin.info), library_(plugin.library), iface_(plugin.desc->iface.connector), instance_(instance) {}

ConnectorInstance::~ConnectorInstance() { iface_->destroy(instance_); }

Result<std::unique_ptr<ConnectorInstance>> ConnectorInstance::create(const LoadedPlugin& plugin, std::string_view config_json) {
  rh_connector_instance* instance = nullptr;
  host::clear_plugin_error();
  const auto* iface = plugin.desc->iface.connector;
  const rh_status status = iface->create(iface, plugin.library->host(), str(config_json), &instance);
  if (auto st = call_plugin(who(plugin.info, "create"), status); !st) return st.error();
  if (instance == nullptr) return Error{ErrorCode::plugin_error, who(plugin.info, "create") + " returned RH_OK without an instance"};
  return std::unique_ptr<ConnectorInstance>(new ConnectorInstance(plugin, instance));
}

Result<std::string> ConnectorInstance::describe() const {
  return collect(info_, "describe", [&](const rh_writer* w) { return iface_->describe(instance_, w); });
}

Result<std::string> ConnectorInstance::check(std::string_view request_json) const {
  return collect(info_, "check", [&](const rh_writer* w) { return iface_->check(instance_, str(request_json), w); });
}

Result<std::string> ConnectorInstance::materialize(std::string_view grant_json) const {
  return collect(info_, "materialize", [&](const rh_writer* w) { return iface_->materialize(instance_, str(grant_json), w); });
}

// ---- runtime ------------------------------------------------------------------------------

RuntimeSession::RuntimeSession(const LoadedPlugin& plugin, rh_runtime_session* session)
    : info_(plugin.info), library_(plugin.library), iface_(plugin.desc->iface.runtime), session_(session) {}

RuntimeSession::~RuntimeSession() { iface_->destroy(session_); }

Result<std::unique_ptr<RuntimeSession>> RuntimeSession::create(const LoadedPlugin& plugin, const RuntimeSessionArgs& args,
                                                               rh_run* run) {
  rh_runtime_context ctx{};
  ctx.struct_size = sizeof ctx;
  ctx.host = plugin.library->host();
  ctx.run = run;
  ctx.run_id = str(args.run_id);
  ctx.dispatch_json = str(args.dispatch_json);
  ctx.constraints_json = str(args.constraints_json);
  ctx.config_json = str(args.config_json);
  ctx.resume_id = str(args.resume_id);
  rh_runtime_session* session = nullptr;
  host::clear_plugin_error();
  const auto* iface = plugin.desc->iface.runtime;
  if (auto st = call_plugin(who(plugin.info, "create"), iface->create(iface, &ctx, &session)); !st) return st.error();
  if (session == nullptr) return Error{ErrorCode::plugin_error, who(plugin.info, "create") + " returned RH_OK without a session"};
  return std::unique_ptr<RuntimeSession>(new RuntimeSession(plugin, session));
}

Result<std::string> RuntimeSession::launch() {
  return collect(info_, "launch", [&](const rh_writer* w) { return iface_->launch(session_, w); });
}

Status RuntimeSession::feed(rh_stream stream, std::string_view bytes) {
  host::clear_plugin_error();
  return call_plugin(who(info_, "feed"), iface_->feed(session_, stream, bytes.data(), bytes.size()));
}

Status RuntimeSession::finish(const rh_exit& exit) {
  host::clear_plugin_error();
  return call_plugin(who(info_, "finish"), iface_->finish(session_, &exit));
}

}  // namespace runhost::plugins
