#include "plugins/library.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <tuple>

#include "plugins/elf.hpp"

namespace runhost::plugins {
namespace {

// Serialises every load, init, deinit and unload in the process, as DESIGN.md asks. Recursive:
// dropping the last reference to a Library while acquiring another runs its destructor here.
std::recursive_mutex& load_mutex() {
  static std::recursive_mutex m;
  return m;
}

std::map<std::filesystem::path, std::weak_ptr<Library>>& library_cache() {
  static std::map<std::filesystem::path, std::weak_ptr<Library>> cache;
  return cache;
}

Error refuse(std::string reason) {
  return {ErrorCode::plugin_error, std::move(reason)};
}

std::string version_text(rh_abi_version v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor);
}

// Runs `step`, reports it, and returns its outcome.
Status observed(const StepObserver& observe, std::string_view name, Status outcome) {
  if (observe) observe(name, outcome);
  return outcome;
}

Status check_entry_table(const rh_plugin_entry* entry) {
  if (entry == nullptr) return refuse(std::string(RH_PLUGIN_ENTRY_SYMBOL) + "() returned NULL");
  if (entry->struct_size < kEntryV1Size) {
    return refuse("entry table struct_size is " + std::to_string(entry->struct_size) + "; ABI 1 needs at least " +
                  std::to_string(kEntryV1Size));
  }
  if (entry->abi.major != RH_ABI_VERSION_MAJOR) {
    return refuse("built for ABI " + version_text(entry->abi) + "; this host speaks ABI " +
                  std::to_string(RH_ABI_VERSION_MAJOR) + ".x (up to " +
                  version_text({RH_ABI_VERSION_MAJOR, RH_ABI_VERSION_MINOR}) + ")");
  }
  if (entry->plugin_count == 0 || entry->plugins == nullptr) return refuse("entry table lists no plugins");
  if (entry->plugin_count > 1024)
    return refuse("entry table lists " + std::to_string(entry->plugin_count) + " plugins (at most 1024)");
  return {};
}

// Every required function of an interface, by name.
Status check_interface(const rh_plugin_desc& d, const std::string& who) {
  auto missing = [&](const char* what) { return refuse(who + ": " + what); };
  auto too_small = [&](uint32_t size, size_t need, const char* iface) {
    return refuse(who + ": " + iface + " struct_size is " + std::to_string(size) + "; ABI 1 needs at least " +
                  std::to_string(need));
  };
  if (d.iface.any == nullptr) return missing("interface pointer (iface) is NULL");
  switch (d.kind) {
    case RH_PLUGIN_KIND_RUNTIME: {
      const auto& r = *d.iface.runtime;
      if (r.struct_size < kRuntimeV1Size) return too_small(r.struct_size, kRuntimeV1Size, "rh_runtime_adapter");
      if (!r.create || !r.launch || !r.feed || !r.finish || !r.destroy) {
        return missing("runtime adapter lacks one of create, launch, feed, finish, destroy");
      }
      if ((r.capabilities & RH_RUNTIME_CAP_APPROVALS) && !r.respond) {
        return missing("declares RH_RUNTIME_CAP_APPROVALS but respond is NULL");
      }
      if (r.protocol == RH_PROTOCOL_HTTP) {
        return missing("declares RH_PROTOCOL_HTTP, which is reserved: this host does not implement it");
      }
      if (r.protocol < RH_PROTOCOL_LINES || r.protocol > RH_PROTOCOL_HTTP) {
        return missing(("unknown protocol " + std::to_string(r.protocol)).c_str());
      }
      return {};
    }
    case RH_PLUGIN_KIND_POLICY: {
      const auto& p = *d.iface.policy;
      if (p.struct_size < kPolicyV1Size) return too_small(p.struct_size, kPolicyV1Size, "rh_policy_plugin");
      if (!p.create || !p.evaluate || !p.destroy) return missing("policy lacks one of create, evaluate, destroy");
      return {};
    }
    case RH_PLUGIN_KIND_CONNECTOR: {
      const auto& c = *d.iface.connector;
      if (c.struct_size < kConnectorV1Size) return too_small(c.struct_size, kConnectorV1Size, "rh_connector_plugin");
      if (!c.create || !c.describe || !c.check || !c.materialize || !c.destroy) {
        return missing("connector lacks one of create, describe, check, materialize, destroy");
      }
      return {};
    }
    default:
      return refuse(who + ": unknown kind " + std::to_string(d.kind));
  }
}

Status check_descriptors(const rh_plugin_entry& entry, std::vector<const rh_plugin_desc*>& out) {
  std::set<std::pair<rh_plugin_kind, std::string>> seen;
  for (uint32_t i = 0; i < entry.plugin_count; ++i) {
    const rh_plugin_desc* d = entry.plugins[i];
    if (auto st = check_descriptor(d, i); !st) return st;
    if (!seen.emplace(d->kind, d->id).second) {
      return refuse("duplicate " + describe_kind(d->kind) + " id '" + d->id + "' within the library");
    }
    out.push_back(d);
  }
  return {};
}

// The manifest is what the host reads before it opens a library, so it must say what the
// library is: its file, its plugins, and the ABI its entry table was built against. A minor
// that differs means the manifest is stale (the library was rebuilt against other headers), and
// what it says can no longer be trusted; `runhost plugin check` says what to write.
Status check_agreement(const Manifest& manifest, const std::filesystem::path& path, rh_abi_version built_for,
                       const std::vector<const rh_plugin_desc*>& descs) {
  if (manifest.library != path.filename().string()) {
    return refuse("manifest disagrees with the library: it describes '" + manifest.library + "', not '" +
                  path.filename().string() + "'");
  }
  if (manifest.abi_major != built_for.major || manifest.abi_minor != built_for.minor) {
    return refuse("manifest disagrees with the library: the manifest says ABI " + std::to_string(manifest.abi_major) +
                  "." + std::to_string(manifest.abi_minor) + ", the library's entry table says " +
                  version_text(built_for) + " (write \"abi\": {\"major\": " + std::to_string(built_for.major) +
                  ", \"minor\": " + std::to_string(built_for.minor) + "} in the manifest)");
  }
  using Key = std::tuple<std::string, std::string, std::string>;
  auto text = [](const Key& k) { return std::get<1>(k) + " '" + std::get<0>(k) + "' " + std::get<2>(k); };
  std::set<Key> declared;
  std::set<Key> actual;
  for (const auto& p : manifest.plugins) declared.emplace(p.id, std::string(to_string(p.kind)), p.version);
  for (const auto* d : descs) actual.emplace(d->id, describe_kind(d->kind), d->version);
  for (const auto& k : declared) {
    if (!actual.count(k))
      return refuse("manifest disagrees with the library: the manifest lists " + text(k) +
                    ", the library does not have it");
  }
  for (const auto& k : actual) {
    if (!declared.count(k))
      return refuse("manifest disagrees with the library: the library has " + text(k) +
                    ", the manifest does not list it");
  }
  return {};
}

}  // namespace

std::string describe_kind(rh_plugin_kind kind) {
  switch (kind) {
    case RH_PLUGIN_KIND_RUNTIME:
      return "runtime";
    case RH_PLUGIN_KIND_POLICY:
      return "policy";
    case RH_PLUGIN_KIND_CONNECTOR:
      return "connector";
    default:
      return "kind " + std::to_string(kind);
  }
}

Status check_descriptor(const rh_plugin_desc* d, size_t index) {
  const std::string at = "plugin #" + std::to_string(index);
  if (d == nullptr) return refuse(at + ": descriptor pointer is NULL");
  if (d->struct_size < kDescV1Size) {
    return refuse(at + ": descriptor struct_size is " + std::to_string(d->struct_size) + "; ABI 1 needs at least " +
                  std::to_string(kDescV1Size));
  }
  if (d->kind < RH_PLUGIN_KIND_RUNTIME || d->kind > RH_PLUGIN_KIND_CONNECTOR) {
    return refuse(at + ": unknown kind " + std::to_string(d->kind) +
                  " (this host knows 1 runtime, 2 policy, 3 connector)");
  }
  if (d->id == nullptr) return refuse(at + ": id is NULL");
  const std::string id(d->id, strnlen(d->id, 65));
  if (!valid_plugin_id(id)) {
    return refuse(at + ": invalid id '" + id.substr(0, 64) + "' (ids are [a-z0-9][a-z0-9._-]*, at most 64 bytes)");
  }
  const std::string who = describe_kind(d->kind) + " '" + id + "'";
  if (d->version == nullptr || d->version[0] == '\0') return refuse(who + ": version is missing");
  return check_interface(*d, who);
}

Status check_manifest_abi(const Manifest& manifest) {
  if (manifest.abi_major != RH_ABI_VERSION_MAJOR) {
    return refuse("manifest says ABI " + std::to_string(manifest.abi_major) + "." + std::to_string(manifest.abi_minor) +
                  "; this host speaks ABI " + std::to_string(RH_ABI_VERSION_MAJOR) + ".x");
  }
  return {};
}

Library::Library(std::filesystem::path path) : path_(std::move(path)), services_(path_.filename().string()) {}

Library::~Library() {
  std::lock_guard lock(load_mutex());
  if (initialised_ && entry_->deinit != nullptr) entry_->deinit();
  dll_.unload();
}

Result<std::shared_ptr<Library>> acquire_library(const std::filesystem::path& found_path,
                                                 const std::filesystem::path& canonical_path, const Manifest& manifest,
                                                 const StepObserver& observe, bool fresh) {
  std::lock_guard lock(load_mutex());
  auto& cache = library_cache();
  if (auto it = cache.find(canonical_path); it != cache.end()) {
    if (auto existing = it->second.lock()) {
      if (fresh) return refuse("already loaded in this process; check it from a process of its own");
      if (auto st = check_agreement(manifest, found_path, existing->entry().abi, existing->descriptors()); !st)
        return st.error();
      return existing;
    }
  }

  if (auto elf = check_elf_for_this_host(canonical_path);
      !observed(observe, "ELF header", elf ? Status{} : Status{elf.error()})) {
    return elf.error();
  }

  std::shared_ptr<Library> lib(new Library(canonical_path));
  boost::dll::fs::error_code ec;
  dlerror();  // clear any stale message so the one we read is this load's
  lib->dll_.load(canonical_path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec) {
    const char* why = dlerror();
    return observed(observe, "dlopen", refuse(std::string("cannot load: ") + (why ? why : ec.message()))).error();
  }
  (void)observed(observe, "dlopen", {});

  if (!lib->dll_.has(RH_PLUGIN_ENTRY_SYMBOL)) {
    return observed(observe, "entry symbol",
                    refuse(std::string("no entry symbol ") + RH_PLUGIN_ENTRY_SYMBOL +
                           " (define it with RH_EXPORT and build with -fvisibility=hidden)"))
        .error();
  }
  (void)observed(observe, "entry symbol", {});
  const auto entry_fn = lib->dll_.get<const rh_plugin_entry*()>(RH_PLUGIN_ENTRY_SYMBOL);
  lib->entry_ = entry_fn();
  if (auto st = observed(observe, "entry table", check_entry_table(lib->entry_)); !st) return st.error();
  if (auto st = observed(observe, "descriptors", check_descriptors(*lib->entry_, lib->descriptors_)); !st)
    return st.error();
  if (auto st = observed(observe, "manifest agreement",
                         check_agreement(manifest, found_path, lib->entry_->abi, lib->descriptors_));
      !st) {
    return st.error();
  }

  if (lib->entry_->init != nullptr) {
    host::clear_plugin_error();
    const rh_status status = lib->entry_->init(lib->host(), canonical_path.c_str());
    if (status != RH_OK) {
      return observed(observe, "init",
                      refuse("init() failed (status " + std::to_string(status) + "): " + host::take_plugin_error()))
          .error();
    }
  }
  lib->initialised_ = true;
  (void)observed(observe, "init", {});
  if (!fresh) cache[canonical_path] = lib;
  return lib;
}

}  // namespace runhost::plugins
