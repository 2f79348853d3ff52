// confine_cwd: a run's working directory, resolved and held inside the workspace root.
#include <algorithm>
#include <system_error>

#include "devices/local/invalid_cwd.hpp"
#include "devices/local/local_device.hpp"

namespace runhost::devices::local {
namespace {

namespace fs = std::filesystem;

// Component-wise, so that /work/rootx is not taken to be inside /work/root.
bool inside(const fs::path& path, const fs::path& root) {
  return std::mismatch(root.begin(), root.end(), path.begin(), path.end()).first == root.end();
}

}  // namespace

Error invalid_cwd(const std::string& problem) {
  return {ErrorCode::invalid_dispatch, "invalid dispatch: \"cwd\" " + problem,
          R"({"action":"fix_dispatch","field":"cwd"})"};
}

Result<fs::path> confine_cwd(const fs::path& root, std::string_view requested) {
  std::error_code ec;
  const fs::path canonical_root = fs::canonical(root, ec);
  if (ec || !fs::is_directory(canonical_root, ec)) {
    return Error{ErrorCode::internal, "the workspace root " + root.string() + " is not an existing directory"};
  }
  if (requested.find('\0') != std::string_view::npos) return invalid_cwd("contains a NUL byte");

  const fs::path asked(requested);
  const fs::path candidate = asked.empty() ? canonical_root : asked.is_absolute() ? asked : canonical_root / asked;
  const fs::path resolved = fs::canonical(candidate, ec);
  if (ec) {
    // Say "outside" rather than "missing" when the path could not be inside anyway.
    const fs::path best = fs::weakly_canonical(candidate, ec);
    if (!ec && !inside(best, canonical_root)) {
      return invalid_cwd("resolves outside the workspace root " + canonical_root.string());
    }
    return invalid_cwd("does not exist: " + std::string(requested));
  }
  if (!inside(resolved, canonical_root)) {
    return invalid_cwd("resolves outside the workspace root " + canonical_root.string());
  }
  if (!fs::is_directory(resolved, ec)) return invalid_cwd("is not a directory: " + std::string(requested));
  return resolved;
}

}  // namespace runhost::devices::local
