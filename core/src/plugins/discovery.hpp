// Finding candidate plugin libraries in the search directories.
#pragma once

#include <filesystem>
#include <vector>

#include "runhost/plugins.hpp"

namespace runhost::plugins {

struct Candidate {
  std::filesystem::path path;       // as found in the directory
  std::filesystem::path canonical;  // symlinks resolved, absolute
};

// Lists <dir>/*.so (symlinks followed) in name order. Unreadable or missing directories,
// unresolvable paths (symlink loops) and manifests without a library become refusals.
// `missing_ok` directories that do not exist are skipped silently (the bundled directory).
std::vector<Candidate> scan_directory(const std::filesystem::path& dir, bool missing_ok,
                                      std::vector<PluginRefusal>& refusals);

}  // namespace runhost::plugins
