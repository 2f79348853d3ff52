#include "plugins/instances.hpp"

#include <cstddef>

#include "host/string_writer.hpp"

namespace runhost::plugins {
namespace {

rh_str str(std::string_view s) noexcept {
  return {s.data(), s.size()};
}

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

// Runs a plugin's create(), which hands back an object through `out`, and wraps the object in
// its handle. `call(&object)` makes the call.
template <class Handle, class Object, class Call>
Result<std::unique_ptr<Handle>> create_handle(const LoadedPlugin& plugin, const auto* iface, Call&& call) {
  Object* object = nullptr;
  host::clear_plugin_error();
  if (auto st = call_plugin(who(plugin.info, "create"), call(&object)); !st) return st.error();
  if (object == nullptr)
    return Error{ErrorCode::plugin_error, who(plugin.info, "create") + " returned RH_OK and no object"};
  return std::make_unique<Handle>(plugin, iface, object);
}

}  // namespace

Status call_plugin(std::string_view what, rh_status status) {
  if (status == RH_OK) return {};
  return Error{ErrorCode::plugin_error,
               std::string(what) + " failed (status " + std::to_string(status) + "): " + host::take_plugin_error()};
}

Result<std::unique_ptr<PolicyInstance>> PolicyInstance::create(const LoadedPlugin& plugin,
                                                               std::string_view config_json) {
  const auto* iface = plugin.desc->iface.policy;
  return create_handle<PolicyInstance, rh_policy_instance>(plugin, iface, [&](rh_policy_instance** out) {
    return iface->create(iface, plugin.library->host(), str(config_json), out);
  });
}

Result<std::string> PolicyInstance::evaluate(std::string_view request_json) const {
  return collect(info_, "evaluate",
                 [&](const rh_writer* w) { return iface_->evaluate(object_, str(request_json), w); });
}

Result<std::unique_ptr<ConnectorInstance>> ConnectorInstance::create(const LoadedPlugin& plugin,
                                                                     std::string_view config_json) {
  const auto* iface = plugin.desc->iface.connector;
  return create_handle<ConnectorInstance, rh_connector_instance>(plugin, iface, [&](rh_connector_instance** out) {
    return iface->create(iface, plugin.library->host(), str(config_json), out);
  });
}

Result<std::string> ConnectorInstance::describe() const {
  return collect(info_, "describe", [&](const rh_writer* w) { return iface_->describe(object_, w); });
}

Result<std::string> ConnectorInstance::check(std::string_view request_json) const {
  return collect(info_, "check", [&](const rh_writer* w) { return iface_->check(object_, str(request_json), w); });
}

Result<std::string> ConnectorInstance::materialize(std::string_view grant_json) const {
  return collect(info_, "materialize",
                 [&](const rh_writer* w) { return iface_->materialize(object_, str(grant_json), w); });
}

bool ConnectorInstance::can_exchange() const noexcept {
  return iface_->struct_size >= offsetof(rh_connector_plugin, exchange) + sizeof(iface_->exchange) &&
         iface_->exchange != nullptr;
}

Result<std::string> ConnectorInstance::exchange(std::string_view code, std::string_view request_json) const {
  host::StringWriter out;
  host::clear_plugin_error();
  const rh_status status = iface_->exchange(object_, str(code), str(request_json), out.get());
  if (status == RH_ERR_INVALID_ARGUMENT) {
    return Error{ErrorCode::connector_authorization_missing,
                 who(info_, "exchange") + " refused the authorization code: " + host::take_plugin_error(),
                 R"({"action":"connect_account","connector":")" + info_.id + R"("})"};
  }
  if (auto st = call_plugin(who(info_, "exchange"), status); !st) return st.error();
  return out.take();
}

Result<std::unique_ptr<RuntimeSession>> RuntimeSession::create(const LoadedPlugin& plugin,
                                                               const RuntimeSessionArgs& args, rh_run* run) {
  rh_runtime_context ctx{};
  ctx.struct_size = sizeof ctx;
  ctx.host = plugin.library->host();
  ctx.run = run;
  ctx.run_id = str(args.run_id);
  ctx.dispatch_json = str(args.dispatch_json);
  ctx.constraints_json = str(args.constraints_json);
  ctx.config_json = str(args.config_json);
  ctx.resume_id = str(args.resume_id);
  ctx.cwd = str(args.cwd);
  ctx.mcp_servers_json = str(args.mcp_servers_json);
  const auto* iface = plugin.desc->iface.runtime;
  return create_handle<RuntimeSession, rh_runtime_session>(
      plugin, iface, [&](rh_runtime_session** out) { return iface->create(iface, &ctx, out); });
}

Result<std::string> RuntimeSession::launch() {
  return collect(info_, "launch", [&](const rh_writer* w) { return iface_->launch(object_, w); });
}

Status RuntimeSession::feed(rh_stream stream, std::string_view bytes) {
  host::clear_plugin_error();
  return call_plugin(who(info_, "feed"), iface_->feed(object_, stream, bytes.data(), bytes.size()));
}

Result<std::string> RuntimeSession::respond(std::string_view decision_json) {
  if (!can_respond()) return Error{ErrorCode::plugin_error, "runtime '" + info_.id + "' takes no answers to approvals"};
  return collect(info_, "respond", [&](const rh_writer* w) {
    return iface_->respond(object_, rh_str{decision_json.data(), decision_json.size()}, w);
  });
}

Status RuntimeSession::finish(const rh_exit& exit) {
  host::clear_plugin_error();
  return call_plugin(who(info_, "finish"), iface_->finish(object_, &exit));
}

bool RuntimeSession::can_cancel() const noexcept {
  return iface_->struct_size >= offsetof(rh_runtime_adapter, cancel) + sizeof iface_->cancel && iface_->cancel;
}

void RuntimeSession::cancel() {
  if (can_cancel()) iface_->cancel(object_);
}

}  // namespace runhost::plugins
