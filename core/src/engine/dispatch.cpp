#include "engine/dispatch.hpp"

#include <set>

#include <nlohmann/json.hpp>

#include "util/json_depth.hpp"
#include "util/sha256.hpp"

namespace runhost::engine {
namespace {

using nlohmann::json;

const std::set<std::string> kKnownFields = {"tenantId",   "workspaceId", "projectId",      "userId",
                                            "deviceType", "deviceId",    "runtime",        "prompt",
                                            "cwd",        "connectors",  "approvalPolicy", "idempotencyKey",
                                            "command",    "outputMode",  "timeoutSeconds", "resumeSessionId"};

bool has_control_chars(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// Reads an identifier-like string field: present (unless optional), a string, 1..256 bytes,
// no control characters.
Result<std::optional<std::string>> id_field(const json& doc, const char* name, bool required) {
  auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) {
    if (required) return invalid_field(name, "is required");
    return std::optional<std::string>{};
  }
  if (!it->is_string()) return invalid_field(name, "must be a string");
  auto value = it->get<std::string>();
  if (value.empty()) return invalid_field(name, "must not be empty");
  if (value.size() > kMaxIdBytes) return invalid_field(name, "is longer than 256 bytes");
  if (has_control_chars(value)) return invalid_field(name, "contains control characters");
  return std::optional<std::string>{std::move(value)};
}

Result<std::string> one_of(const json& doc, const char* name, std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return invalid_field(name, "is required (one of: " + list + ")");
  if (it->is_string()) {
    for (const char* a : allowed) {
      if (it->get<std::string>() == a) return std::string(a);
    }
  }
  return invalid_field(name, "must be one of: " + list + " (got " +
                                 it->dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 64) + ")");
}

Result<std::vector<std::string>> string_list(const json& doc, const char* name, bool unique) {
  std::vector<std::string> out;
  auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return out;
  if (!it->is_array()) return invalid_field(name, "must be an array of strings");
  std::set<std::string> seen;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& v = (*it)[i];
    const std::string at = std::string(name) + "[" + std::to_string(i) + "]";
    if (!v.is_string() || v.get<std::string>().empty()) return invalid_field(at, "must be a non-empty string");
    if (unique && !seen.insert(v.get<std::string>()).second)
      return invalid_field(at, "repeats \"" + v.get<std::string>() + "\"");
    if (v.get<std::string>().find('\0') != std::string::npos) return invalid_field(at, "contains a NUL byte");
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

Error invalid_field(std::string_view field, std::string_view problem) {
  json recovery{{"action", "fix_dispatch"}, {"field", field}};
  return {ErrorCode::invalid_dispatch, "invalid dispatch: \"" + std::string(field) + "\" " + std::string(problem),
          recovery.dump()};
}

Result<Dispatch> parse_dispatch(std::string_view text, const std::optional<std::string>& acting_tenant) {
  if (!util::json_depth_within(text)) {
    return Error{ErrorCode::invalid_dispatch,
                 "invalid dispatch: JSON nested deeper than " + std::to_string(util::kMaxJsonDepth) +
                     " levels (a dispatch needs 2)",
                 R"({"action":"fix_dispatch"})"};
  }
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Error{ErrorCode::invalid_dispatch, "invalid dispatch: not valid JSON", R"({"action":"fix_dispatch"})"};
  }
  if (!doc.is_object()) {
    return Error{ErrorCode::invalid_dispatch, "invalid dispatch: must be a JSON object",
                 R"({"action":"fix_dispatch"})"};
  }
  for (const auto& [key, value] : doc.items()) {
    if (!kKnownFields.count(key))
      return invalid_field(key, "is not a field of DevicePromptDispatch (fields are camelCase, e.g. tenantId)");
  }

  if (acting_tenant) {
    auto tenant = doc.find("tenantId");
    if (tenant == doc.end() || tenant->is_null()) {
      doc["tenantId"] = *acting_tenant;
    } else if (!tenant->is_string() || tenant->get_ref<const std::string&>() != *acting_tenant) {
      return invalid_field(
          "tenantId",
          "names another tenant than the one acting (a tenant-scoped host dispatches for its own tenant only)");
    }
  }

  Dispatch d;
  struct Required {
    const char* name;
    std::string* out;
  };
  for (auto [name, out] :
       {Required{"tenantId", &d.tenant_id}, Required{"workspaceId", &d.workspace_id}, Required{"userId", &d.user_id},
        Required{"runtime", &d.runtime}, Required{"idempotencyKey", &d.idempotency_key}}) {
    auto v = id_field(doc, name, true);
    if (!v) return v.error();
    *out = std::move(**v);
  }
  auto project = id_field(doc, "projectId", false);
  if (!project) return project.error();
  d.project_id = std::move(*project);

  auto device_type = one_of(doc, "deviceType", {"local", "sandbox", "computer"});
  if (!device_type) return device_type.error();
  d.device_type = std::move(*device_type);
  // A sandbox or computer may be left to the device to find or create (idempotently, from the
  // dispatch's key); a local run names its machine.
  auto device_id = id_field(doc, "deviceId", d.device_type == "local");
  if (!device_id) return device_id.error();
  d.device_id = device_id->value_or("");
  auto approval = one_of(doc, "approvalPolicy", {"auto", "confirm-risky", "manual"});
  if (!approval) return approval.error();
  d.approval_policy = std::move(*approval);

  auto prompt = doc.find("prompt");
  if (prompt == doc.end() || prompt->is_null()) return invalid_field("prompt", "is required");
  if (!prompt->is_string()) return invalid_field("prompt", "must be a string");
  d.prompt = prompt->get<std::string>();
  if (d.prompt.size() > kMaxPromptBytes) return invalid_field("prompt", "is longer than 1 MiB");

  if (auto cwd = doc.find("cwd"); cwd != doc.end() && !cwd->is_null()) {
    if (!cwd->is_string()) return invalid_field("cwd", "must be a string");
    const auto value = cwd->get<std::string>();
    if (value.find('\0') != std::string::npos || has_control_chars(value))
      return invalid_field("cwd", "contains control characters");
    if (value.size() > 4096) return invalid_field("cwd", "is longer than 4096 bytes");
    d.cwd = value;
  }

  auto connectors = string_list(doc, "connectors", /*unique=*/true);
  if (!connectors) return connectors.error();
  d.connectors = std::move(*connectors);
  auto command = string_list(doc, "command", /*unique=*/false);
  if (!command) return command.error();
  d.command = std::move(*command);
  if (doc.contains("command") && !doc["command"].is_null() && d.command.empty()) {
    return invalid_field("command", "must not be empty");
  }
  if (doc.contains("outputMode") && !doc["outputMode"].is_null()) {
    auto mode = one_of(doc, "outputMode", {"text", "jsonl"});
    if (!mode) return mode.error();
    d.output_mode = std::move(*mode);
  }
  if (auto t = doc.find("timeoutSeconds"); t != doc.end() && !t->is_null()) {
    if (!t->is_number_integer() || t->get<int64_t>() <= 0 || t->get<int64_t>() > 7 * 24 * 3600) {
      return invalid_field("timeoutSeconds", "must be a whole number of seconds from 1 to 604800");
    }
    d.timeout_seconds = t->get<int64_t>();
  }
  if (auto r = doc.find("resumeSessionId"); r != doc.end() && !r->is_null()) {
    if (!r->is_string() || r->get<std::string>().empty())
      return invalid_field("resumeSessionId", "must be a non-empty string");
    const auto value = r->get<std::string>();
    if (value.size() > 512) return invalid_field("resumeSessionId", "is longer than 512 bytes");
    if (value.find('\0') != std::string::npos || has_control_chars(value)) {
      return invalid_field("resumeSessionId", "contains control characters");
    }
    d.resume_session_id = value;
  }

  // Canonical form: only known fields, nulls dropped, keys sorted (nlohmann's object is a map).
  json canonical = json::object();
  for (const auto& [key, value] : doc.items()) {
    if (!value.is_null()) canonical[key] = value;
  }
  d.canonical_json = canonical.dump(-1, ' ', false, json::error_handler_t::strict);
  d.request_hash = util::sha256_hex(d.canonical_json);
  return d;
}

}  // namespace runhost::engine
