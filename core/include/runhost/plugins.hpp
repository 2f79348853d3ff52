// runhost/plugins.hpp — finding, loading and listing plugin libraries.
//
// A PluginRegistry is the set of plugins one Host uses: every library found on the search path
// whose manifest, architecture, entry table and descriptors check out, registered by kind and
// id, plus one refusal (path and reason) for everything that did not. Loading never throws and
// never stops at a bad plugin.
//
//   runhost::PluginSearchPath search;
//   search.directories.push_back("/opt/vendor/plugins");
//   auto registry = runhost::PluginRegistry::load(search);
//   for (const auto& p : registry->plugins()) std::cout << p.id << "\n";
//   for (const auto& r : registry->refusals()) std::cerr << r.path << ": " << r.reason << "\n";
//
// Thread rules: load() may be called from any thread (library loads are serialised process-
// wide); a loaded registry is immutable and safe to share. Libraries are shared between
// registries in one process and unloaded only when nothing created from them is alive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runhost {

enum class PluginKind : uint32_t { runtime = 1, policy = 2, connector = 3 };

std::string_view to_string(PluginKind kind) noexcept;
std::optional<PluginKind> plugin_kind_from_string(std::string_view name) noexcept;

struct PluginInfo {
  std::string id;
  PluginKind kind = PluginKind::runtime;
  std::string version;
  std::string name;
  std::string vendor;
  std::string description;
  std::filesystem::path library;  // absolute, canonical
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
};

struct PluginRefusal {
  std::filesystem::path path;  // the library, manifest or directory refused
  std::string reason;          // one line
};

// Where plugins are looked for, in order; the first library to claim a (kind, id) wins.
struct PluginSearchPath {
  std::vector<std::filesystem::path> directories;  // the host's own configuration
  bool use_environment = true;                     // RUNHOST_PLUGIN_PATH, ':'-separated
  bool use_bundled = true;                         // <dir of the runhost binary>/../lib/runhost/plugins

  // The directories in effect, after the environment and the bundled directory are added.
  std::vector<std::filesystem::path> resolve() const;
};

// The bundled plugin directory: <directory of the module holding the runhost core>/../lib/runhost/plugins.
std::filesystem::path bundled_plugin_dir();

namespace plugins {
struct Impl;
}

class PluginRegistry {
 public:
  static std::shared_ptr<const PluginRegistry> load(const PluginSearchPath& search);

  // Loaded plugins, in search order.
  const std::vector<PluginInfo>& plugins() const noexcept;
  // Everything refused, in search order.
  const std::vector<PluginRefusal>& refusals() const noexcept;
  // The directories searched.
  const std::vector<std::filesystem::path>& directories() const noexcept;

  const PluginInfo* find(PluginKind kind, std::string_view id) const noexcept;
  // Ids of the loaded plugins of one kind, sorted: for "unknown runtime; available: ..." errors.
  std::vector<std::string> ids(PluginKind kind) const;

  const plugins::Impl& impl() const noexcept { return *impl_; }  // for the core's internals

  explicit PluginRegistry(std::unique_ptr<plugins::Impl> impl);
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

 private:
  std::unique_ptr<plugins::Impl> impl_;
};

}  // namespace runhost
