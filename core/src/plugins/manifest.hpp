// The manifest beside each plugin library (<stem>.runhost.json), read and checked before the
// library is opened. Format (docs/abi.md, "The manifest"):
//   {"manifest": 1, "library": "<stem>.so", "abi": {"major": 1, "minor": 0},
//    "plugins": [{"id": "...", "kind": "runtime|policy|connector", "version": "...",
//                 "config": {...}}]}
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "runhost/error.hpp"
#include "runhost/plugins.hpp"

namespace runhost::plugins {

inline constexpr std::string_view kManifestSuffix = ".runhost.json";

struct ManifestPlugin {
  std::string id;
  PluginKind kind = PluginKind::runtime;
  std::string version;
  std::string config_json = "{}";  // the default configuration, serialised
};

struct Manifest {
  std::filesystem::path path;
  std::string library;  // file name of the library it describes
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  std::vector<ManifestPlugin> plugins;
};

// The manifest path for a library: dir/<stem>.so -> dir/<stem>.runhost.json.
std::filesystem::path manifest_path_for(const std::filesystem::path& library);

// Reads and validates a manifest. Errors name the file and the field.
Result<Manifest> read_manifest(const std::filesystem::path& path);

// Parses manifest text (for tests and for read_manifest).
Result<Manifest> parse_manifest(std::string_view text, const std::filesystem::path& path);

// True for ids of the form [a-z0-9][a-z0-9._-]{0,63}.
bool valid_plugin_id(std::string_view id) noexcept;

}  // namespace runhost::plugins
