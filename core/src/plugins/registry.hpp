// Internals of PluginRegistry: what the engine needs to create sessions and instances.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "plugins/library.hpp"
#include "runhost/plugins.hpp"

namespace runhost::plugins {

struct LoadedPlugin {
  PluginInfo info;
  std::shared_ptr<Library> library;  // keeps the library loaded while this plugin is referenced
  const rh_plugin_desc* desc = nullptr;
  std::string config_json = "{}";  // the manifest's default configuration
};

struct Impl {
  std::vector<std::filesystem::path> directories;
  std::vector<LoadedPlugin> loaded;
  std::vector<PluginInfo> infos;
  std::vector<PluginRefusal> refusals;

  const LoadedPlugin* find(PluginKind kind, std::string_view id) const noexcept;
};

// Builds the PluginInfo for a descriptor of a loaded library.
PluginInfo describe(const Library& library, const rh_plugin_desc& desc);

}  // namespace runhost::plugins
