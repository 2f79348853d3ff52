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

// Calls a plugin function with the thread's error detail cleared; a failure becomes a
// plugin_error naming `what` and the plugin's own detail.
Status call_plugin(std::string_view what, rh_status status);

class PolicyInstance {
 public:
  static Result<std::unique_ptr<PolicyInstance>> create(const LoadedPlugin& plugin, std::string_view config_json);
  ~PolicyInstance();
  // The decision text, as the plugin wrote it (the caller validates it).
  Result<std::string> evaluate(std::string_view request_json) const;
  const PluginInfo& info() const noexcept { return info_; }

 private:
  PolicyInstance(const LoadedPlugin& plugin, rh_policy_instance* instance);
  PluginInfo info_;
  std::shared_ptr<Library> library_;
  const rh_policy_plugin* iface_;
  rh_policy_instance* instance_;
};

class ConnectorInstance {
 public:
  static Result<std::unique_ptr<ConnectorInstance>> create(const LoadedPlugin& plugin, std::string_view config_json);
  ~ConnectorInstance();
  Result<std::string> describe() const;
  Result<std::string> check(std::string_view request_json) const;
  Result<std::string> materialize(std::string_view grant_json) const;
  const PluginInfo& info() const noexcept { return info_; }

 private:
  ConnectorInstance(const LoadedPlugin& plugin, rh_connector_instance* instance);
  PluginInfo info_;
  std::shared_ptr<Library> library_;
  const rh_connector_plugin* iface_;
  rh_connector_instance* instance_;
};

struct RuntimeSessionArgs {
  std::string run_id;
  std::string dispatch_json;
  std::string constraints_json = "{}";
  std::string config_json = "{}";
  std::string resume_id;
};

class RuntimeSession {
 public:
  // `run` receives the session's events and must outlive the session.
  static Result<std::unique_ptr<RuntimeSession>> create(const LoadedPlugin& plugin, const RuntimeSessionArgs& args,
                                                        rh_run* run);
  ~RuntimeSession();
  Result<std::string> launch();
  Status feed(rh_stream stream, std::string_view bytes);
  Status finish(const rh_exit& exit);
  const PluginInfo& info() const noexcept { return info_; }

 private:
  RuntimeSession(const LoadedPlugin& plugin, rh_runtime_session* session);
  PluginInfo info_;
  std::shared_ptr<Library> library_;
  const rh_runtime_adapter* iface_;
  rh_runtime_session* session_;
};

}  // namespace runhost::plugins
