#include "plugins/manifest.hpp"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace runhost::plugins {
namespace {

using nlohmann::json;

Error manifest_error(const std::filesystem::path& path, const std::string& what) {
  return {ErrorCode::plugin_error, "manifest " + path.filename().string() + ": " + what};
}

}  // namespace

bool valid_plugin_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 64) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(id.front())) return false;
  for (char c : id) {
    if (!lower_or_digit(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

std::filesystem::path manifest_path_for(const std::filesystem::path& library) {
  auto p = library;
  p.replace_extension();
  return p.string() + std::string(kManifestSuffix);
}

Result<Manifest> parse_manifest(std::string_view text, const std::filesystem::path& path) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    // Parse again with exceptions for the position and reason; the fast path stays cheap.
    try {
      json reparsed = json::parse(text);
      (void)reparsed;
    } catch (const json::parse_error& e) {
      return manifest_error(path, std::string("invalid JSON (") + e.what() + ")");
    }
    return manifest_error(path, "invalid JSON");
  }
  if (!doc.is_object()) return manifest_error(path, "must be a JSON object");

  Manifest m;
  m.path = path;
  auto field = [&](const json& obj, const char* name, const char* where) -> Result<const json*> {
    auto it = obj.find(name);
    if (it == obj.end()) return manifest_error(path, std::string("missing field '") + where + name + "'");
    return &*it;
  };

  auto version = field(doc, "manifest", "");
  if (!version) return version.error();
  if (!(*version)->is_number_integer() || (*version)->get<int64_t>() != 1) {
    return manifest_error(path, "'manifest' must be 1 (the only manifest format this host reads)");
  }

  auto library = field(doc, "library", "");
  if (!library) return library.error();
  if (!(*library)->is_string() || (*library)->get<std::string>().empty()) {
    return manifest_error(path, "'library' must be a non-empty string");
  }
  m.library = (*library)->get<std::string>();

  auto abi = field(doc, "abi", "");
  if (!abi) return abi.error();
  if (!(*abi)->is_object()) return manifest_error(path, "'abi' must be an object {\"major\", \"minor\"}");
  for (auto [name, out] : {std::pair{"major", &m.abi_major}, std::pair{"minor", &m.abi_minor}}) {
    auto v = field(**abi, name, "abi.");
    if (!v) return v.error();
    if (!(*v)->is_number_unsigned())
      return manifest_error(path, std::string("'abi.") + name + "' must be a non-negative integer");
    *out = (*v)->get<uint32_t>();
  }

  auto list = field(doc, "plugins", "");
  if (!list) return list.error();
  if (!(*list)->is_array() || (*list)->empty()) return manifest_error(path, "'plugins' must be a non-empty array");
  for (size_t i = 0; i < (*list)->size(); ++i) {
    const json& entry = (**list)[i];
    const std::string where = "plugins[" + std::to_string(i) + "].";
    if (!entry.is_object())
      return manifest_error(path, "'" + where.substr(0, where.size() - 1) + "' must be an object");
    ManifestPlugin p;
    for (auto [name, out] : {std::pair{"id", &p.id}, std::pair{"version", &p.version}}) {
      auto v = field(entry, name, where.c_str());
      if (!v) return v.error();
      if (!(*v)->is_string() || (*v)->get<std::string>().empty()) {
        return manifest_error(path, "'" + where + name + "' must be a non-empty string");
      }
      *out = (*v)->get<std::string>();
    }
    if (!valid_plugin_id(p.id)) {
      return manifest_error(path,
                            "'" + where + "id' is \"" + p.id + "\"; ids are [a-z0-9][a-z0-9._-]*, at most 64 bytes");
    }
    auto kind = field(entry, "kind", where.c_str());
    if (!kind) return kind.error();
    auto parsed = (*kind)->is_string() ? plugin_kind_from_string((*kind)->get<std::string>()) : std::nullopt;
    if (!parsed) return manifest_error(path, "'" + where + "kind' must be \"runtime\", \"policy\" or \"connector\"");
    p.kind = *parsed;
    if (auto config = entry.find("config"); config != entry.end()) {
      if (!config->is_object()) return manifest_error(path, "'" + where + "config' must be an object");
      p.config_json = config->dump();
    }
    m.plugins.push_back(std::move(p));
  }
  return m;
}

Result<Manifest> read_manifest(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Error{ErrorCode::plugin_error, "no manifest (expected " + path.filename().string() + " beside the library)"};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return manifest_error(path, "cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_manifest(text.str(), path);
}

}  // namespace runhost::plugins
