#include "plugins/discovery.hpp"

#include <algorithm>

#include "plugins/manifest.hpp"

namespace runhost::plugins {
namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<Candidate> scan_directory(const std::filesystem::path& dir, bool missing_ok,
                                      std::vector<PluginRefusal>& refusals) {
  namespace fs = std::filesystem;
  std::vector<Candidate> found;
  std::error_code ec;
  const auto status = fs::status(dir, ec);
  if (ec || !fs::exists(status)) {
    if (!missing_ok) {
      refusals.push_back({dir, ec && ec != std::errc::no_such_file_or_directory
                                   ? "cannot read plugin directory: " + ec.message()
                                   : "plugin directory does not exist"});
    }
    return found;
  }
  if (!fs::is_directory(status)) {
    refusals.push_back({dir, "plugin path is not a directory"});
    return found;
  }

  std::vector<fs::path> names;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    refusals.push_back({dir, "cannot read plugin directory: " + ec.message()});
    return found;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    names.push_back(it->path());
  }
  if (ec) refusals.push_back({dir, "cannot read plugin directory completely: " + ec.message()});
  std::sort(names.begin(), names.end());

  for (const auto& path : names) {
    const std::string name = path.filename().string();
    if (ends_with(name, kManifestSuffix)) {
      const auto stem = name.substr(0, name.size() - kManifestSuffix.size());
      if (!fs::exists(fs::symlink_status(dir / (stem + ".so"), ec))) {
        refusals.push_back({path, "manifest without a library: " + stem + ".so is not beside it"});
      }
      continue;
    }
    if (!ends_with(name, ".so")) continue;
    std::error_code resolve_ec;
    auto canonical = fs::canonical(path, resolve_ec);
    if (resolve_ec) {
      const bool loop = resolve_ec == std::errc::too_many_symbolic_link_levels;
      refusals.push_back(
          {path, loop ? "cannot resolve path: symlink loop" : "cannot resolve path: " + resolve_ec.message()});
      continue;
    }
    if (!fs::is_regular_file(canonical, resolve_ec)) {
      refusals.push_back({path, "not a regular file"});
      continue;
    }
    found.push_back({path, std::move(canonical)});
  }
  return found;
}

}  // namespace runhost::plugins
