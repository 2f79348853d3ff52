#include "plugins/registry.hpp"

#include <cstdlib>
#include <set>

#include <boost/dll/runtime_symbol_info.hpp>

#include "host/host_services.hpp"
#include "plugins/discovery.hpp"
#include "plugins/manifest.hpp"

namespace runhost {

std::string_view to_string(PluginKind kind) noexcept {
  switch (kind) {
    case PluginKind::runtime:
      return "runtime";
    case PluginKind::policy:
      return "policy";
    case PluginKind::connector:
      return "connector";
  }
  return "unknown";
}

std::optional<PluginKind> plugin_kind_from_string(std::string_view name) noexcept {
  if (name == "runtime") return PluginKind::runtime;
  if (name == "policy") return PluginKind::policy;
  if (name == "connector") return PluginKind::connector;
  return std::nullopt;
}

std::filesystem::path bundled_plugin_dir() {
  boost::dll::fs::error_code ec;
  auto module = boost::dll::this_line_location(ec);
  if (ec) return {};
  // dladdr() names the main executable as it was invoked (argv[0], maybe relative); the
  // kernel's /proc/self/exe does not depend on the working directory.
  if (module.is_relative()) module = boost::dll::program_location(ec);
  if (ec) return {};
  return (module.parent_path() / ".." / "lib" / "runhost" / "plugins").lexically_normal();
}

std::vector<std::filesystem::path> PluginSearchPath::resolve() const {
  std::vector<std::filesystem::path> out = directories;
  if (use_environment) {
    if (const char* env = std::getenv("RUNHOST_PLUGIN_PATH")) {
      std::string_view rest(env);
      while (!rest.empty()) {
        const size_t colon = rest.find(':');
        const auto part = rest.substr(0, colon);
        if (!part.empty()) out.emplace_back(std::string(part));
        if (colon == std::string_view::npos) break;
        rest.remove_prefix(colon + 1);
      }
    }
  }
  if (use_bundled) {
    if (auto dir = bundled_plugin_dir(); !dir.empty()) out.push_back(std::move(dir));
  }
  for (auto& dir : out) {
    dir = std::filesystem::absolute(dir).lexically_normal();
    if (!dir.has_filename() && dir.has_parent_path() && dir != dir.root_path())
      dir = dir.parent_path();  // "a/b/" -> "a/b"
  }
  return out;
}

namespace plugins {

const LoadedPlugin* Impl::find(PluginKind kind, std::string_view id) const noexcept {
  for (const auto& p : loaded) {
    if (p.info.kind == kind && p.info.id == id) return &p;
  }
  return nullptr;
}

PluginInfo describe(const Library& library, const rh_plugin_desc& desc) {
  auto text = [](const char* s) { return s ? std::string(s) : std::string(); };
  PluginInfo info;
  info.id = desc.id;
  info.kind = static_cast<PluginKind>(desc.kind);
  info.version = text(desc.version);
  info.name = text(desc.name);
  info.vendor = text(desc.vendor);
  info.description = text(desc.description);
  info.library = library.path();
  info.abi_major = library.entry().abi.major;
  info.abi_minor = library.entry().abi.minor;
  return info;
}

namespace {

// Loads one candidate into `impl`, or records why not.
void load_candidate(const Candidate& candidate, Impl& impl) {
  auto refuse = [&](std::string reason) { impl.refusals.push_back({candidate.path, std::move(reason)}); };
  auto manifest = read_manifest(manifest_path_for(candidate.path));
  if (!manifest) return refuse(manifest.error().message);
  if (auto st = check_manifest_abi(*manifest); !st) return refuse(st.error().message);
  auto library = acquire_library(candidate.path, candidate.canonical, *manifest);
  if (!library) return refuse(library.error().message);

  for (const rh_plugin_desc* desc : (*library)->descriptors()) {
    const auto kind = static_cast<PluginKind>(desc->kind);
    if (const auto* other = impl.find(kind, desc->id)) {
      return refuse("duplicate " + std::string(to_string(kind)) + " id '" + desc->id + "': already loaded from " +
                    other->info.library.string());
    }
  }
  for (const rh_plugin_desc* desc : (*library)->descriptors()) {
    LoadedPlugin p;
    p.info = describe(**library, *desc);
    p.library = *library;
    p.desc = desc;
    for (const auto& m : manifest->plugins) {
      if (m.id == p.info.id && m.kind == p.info.kind) p.config_json = m.config_json;
    }
    impl.infos.push_back(p.info);
    impl.loaded.push_back(std::move(p));
  }
}

}  // namespace
}  // namespace plugins

std::shared_ptr<const PluginRegistry> PluginRegistry::load(const PluginSearchPath& search) {
  auto impl = std::make_unique<plugins::Impl>();
  const auto bundled = search.use_bundled ? bundled_plugin_dir() : std::filesystem::path{};
  std::set<std::filesystem::path> seen_dirs;
  std::set<std::filesystem::path> seen_libraries;
  std::string reported;
  for (const auto& dir : search.resolve()) {
    if (!seen_dirs.insert(dir).second) continue;
    impl->directories.push_back(dir);
    reported += (reported.empty() ? "" : ":") + dir.string();
    const bool missing_ok = dir == bundled && std::find(search.directories.begin(), search.directories.end(), dir) ==
                                                  search.directories.end();
    for (const auto& candidate : plugins::scan_directory(dir, missing_ok, impl->refusals)) {
      if (!seen_libraries.insert(candidate.canonical).second) continue;  // same library, another name
      plugins::load_candidate(candidate, *impl);
    }
  }
  host::set_reported_plugin_dirs(std::move(reported));
  return std::make_shared<const PluginRegistry>(std::move(impl));
}

PluginRegistry::PluginRegistry(std::unique_ptr<plugins::Impl> impl) : impl_(std::move(impl)) {}
PluginRegistry::~PluginRegistry() = default;

const std::vector<PluginInfo>& PluginRegistry::plugins() const noexcept {
  return impl_->infos;
}
const std::vector<PluginRefusal>& PluginRegistry::refusals() const noexcept {
  return impl_->refusals;
}
const std::vector<std::filesystem::path>& PluginRegistry::directories() const noexcept {
  return impl_->directories;
}

const PluginInfo* PluginRegistry::find(PluginKind kind, std::string_view id) const noexcept {
  const auto* p = impl_->find(kind, id);
  return p ? &p->info : nullptr;
}

std::vector<std::string> PluginRegistry::ids(PluginKind kind) const {
  std::vector<std::string> out;
  for (const auto& p : impl_->infos) {
    if (p.kind == kind) out.push_back(p.id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace runhost
