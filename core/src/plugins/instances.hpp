// RAII handles for objects created by plugins: a policy instance, a connector instance, a
// runtime session. Each keeps its library loaded, turns rh_status + set_error() into
// Result<T>, and destroys the plugin object exactly once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "plugins/registry.hpp"
#include "runhost/error.hpp"

namespace runhost::plugins {

// A failed plugin call becomes a plugin_error naming `what` and the plugin's own detail
// (clear the thread's detail with host::clear_plugin_error() before the call).
Status call_plugin(std::string_view what, rh_status status);

// What every handle holds: the plugin's identity, a reference that keeps its library mapped,
// its interface, and the object it created (destroyed with the handle).
template <class Iface, class Object>
class PluginObject {
 public:
  PluginObject(const PluginObject&) = delete;
  PluginObject& operator=(const PluginObject&) = delete;
  const PluginInfo& info() const noexcept { return info_; }

  // Takes ownership of `object`, which `plugin` created.
  PluginObject(const LoadedPlugin& plugin, const Iface* iface, Object* object)
      : info_(plugin.info), library_(plugin.library), iface_(iface), object_(object) {}

 protected:
  ~PluginObject() { iface_->destroy(object_); }

  PluginInfo info_;
  std::shared_ptr<Library> library_;
  const Iface* iface_;
  Object* object_;
};

class PolicyInstance : public PluginObject<rh_policy_plugin, rh_policy_instance> {
 public:
  static Result<std::unique_ptr<PolicyInstance>> create(const LoadedPlugin& plugin, std::string_view config_json);
  // The decision text, as the plugin wrote it (the caller validates it).
  Result<std::string> evaluate(std::string_view request_json) const;

  using PluginObject::PluginObject;
};

class ConnectorInstance : public PluginObject<rh_connector_plugin, rh_connector_instance> {
 public:
  static Result<std::unique_ptr<ConnectorInstance>> create(const LoadedPlugin& plugin, std::string_view config_json);
  Result<std::string> describe() const;
  Result<std::string> check(std::string_view request_json) const;
  Result<std::string> materialize(std::string_view grant_json) const;
  // Whether the plugin has exchange() (ABI 1.2: read only when its struct_size covers it).
  bool can_exchange() const noexcept;
  // The grant material exchange() made of an authorization code. The provider refusing the
  // code (RH_ERR_INVALID_ARGUMENT) is connector_authorization_missing; any other failure,
  // plugin_error. Call only when can_exchange().
  Result<std::string> exchange(std::string_view code, std::string_view request_json) const;

  using PluginObject::PluginObject;
};

struct RuntimeSessionArgs {
  std::string run_id;
  std::string dispatch_json;
  std::string constraints_json = "{}";
  std::string config_json = "{}";
  std::string resume_id;
  std::string cwd;                      // absolute, on the device
  std::string mcp_servers_json = "{}";  // the run's MCP servers, from its connectors
};

class RuntimeSession : public PluginObject<rh_runtime_adapter, rh_runtime_session> {
 public:
  // `run` receives the session's events and must outlive the session.
  static Result<std::unique_ptr<RuntimeSession>> create(const LoadedPlugin& plugin, const RuntimeSessionArgs& args,
                                                        rh_run* run);
  Result<std::string> launch();
  Status feed(rh_stream stream, std::string_view bytes);
  // Whether the adapter takes answers to the approvals it asks (RH_RUNTIME_CAP_APPROVALS).
  bool can_respond() const noexcept { return (iface_->capabilities & RH_RUNTIME_CAP_APPROVALS) && iface_->respond; }
  // Hands the adapter an answer; the bytes it wants written to the runtime's stdin (maybe none).
  Result<std::string> respond(std::string_view decision_json);
  Status finish(const rh_exit& exit);
  // Whether the adapter can ask its runtime to stop on its own (rh_runtime_adapter.cancel, 1.2).
  bool can_cancel() const noexcept;
  void cancel();

  using PluginObject::PluginObject;
};

}  // namespace runhost::plugins
