// A plugin library, opened and checked: ELF header, dlopen (RTLD_NOW | RTLD_LOCAL, absolute
// path), entry symbol, entry table, descriptors, agreement with its manifest, init(). Each
// step's failure is the refusal reason. Libraries are shared process-wide by canonical path:
// init() runs once per load and deinit() + unload happen when the last reference goes, which
// every object created from the library holds.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <runhost/runhost.h>
#include <boost/dll/shared_library.hpp>

#include "host/host_services.hpp"
#include "plugins/manifest.hpp"
#include "runhost/error.hpp"

namespace runhost::plugins {

// Sizes of the v1 structs up to their last v1 field: the least struct_size the host accepts.
// Frozen: later minors append fields, which older plugins simply do not have.
inline constexpr size_t kEntryV1Size = offsetof(rh_plugin_entry, plugins) + sizeof(void*);
inline constexpr size_t kDescV1Size = offsetof(rh_plugin_desc, get_extension) + sizeof(void*);
inline constexpr size_t kRuntimeV1Size = offsetof(rh_runtime_adapter, destroy) + sizeof(void*);
inline constexpr size_t kPolicyV1Size = offsetof(rh_policy_plugin, destroy) + sizeof(void*);
inline constexpr size_t kConnectorV1Size = offsetof(rh_connector_plugin, destroy) + sizeof(void*);

// Called after each load step with its name and outcome (conformance reports each one).
using StepObserver = std::function<void(std::string_view step, const Status& outcome)>;

class Library {
 public:
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  const rh_plugin_entry& entry() const noexcept { return *entry_; }
  const rh_host* host() const noexcept { return services_.table(); }
  const std::vector<const rh_plugin_desc*>& descriptors() const noexcept { return descriptors_; }

 private:
  friend Result<std::shared_ptr<Library>> acquire_library(const std::filesystem::path&, const std::filesystem::path&,
                                                          const Manifest&, const StepObserver&, bool);
  explicit Library(std::filesystem::path path);

  std::filesystem::path path_;
  host::HostServices services_;
  boost::dll::shared_library dll_;
  const rh_plugin_entry* entry_ = nullptr;
  std::vector<const rh_plugin_desc*> descriptors_;
  bool initialised_ = false;
};

// The manifest's ABI major against the host's, before anything is opened.
Status check_manifest_abi(const Manifest& manifest);

// Opens (or finds already open) the library at `canonical_path` and checks it against
// `manifest`, which describes it under the name it was found by (`found_path`, maybe a symlink). With `fresh` (the
// conformance check, which watches every step) the library must not be loaded in this process already, and is not
// shared with later callers.
Result<std::shared_ptr<Library>> acquire_library(const std::filesystem::path& found_path,
                                                 const std::filesystem::path& canonical_path, const Manifest& manifest,
                                                 const StepObserver& observe = {}, bool fresh = false);

// Checks one descriptor (kind, id, version, interface); `index` names it in messages.
Status check_descriptor(const rh_plugin_desc* desc, size_t index);

std::string describe_kind(rh_plugin_kind kind);

}  // namespace runhost::plugins
