#include "engine/grants.hpp"

#include <algorithm>
#include <thread>

#include "engine/dispatch.hpp"
#include "engine/envelope.hpp"
#include "engine/host_impl.hpp"
#include "events/ids.hpp"
#include "util/secrets.hpp"

namespace runhost::engine {
namespace {

using nlohmann::json;

constexpr int64_t kMicrosPerSecond = 1'000'000;
// A century: longer is "never" in all but name, and keeps the expiry within int64 microseconds.
constexpr int64_t kMaxExpiresInS = 100LL * 365 * 24 * 3600;

Error invalid_grant(std::string_view field, std::string_view problem) {
  return {ErrorCode::invalid_dispatch, "invalid grant: \"" + std::string(field) + "\" " + std::string(problem),
          json{{"action", "fix_dispatch"}, {"field", field}}.dump()};
}

Error no_such_grant(std::string_view id) {
  return invalid_grant("grant_id", "names no grant ('" + std::string(id) + "')");
}

std::string state_of(const store::GrantRow& g, int64_t now) {
  if (g.revoked_us) return "revoked";
  if (g.expires_us && *g.expires_us <= now) return "expired";
  return "active";
}

GrantInfo info_of(const store::GrantRow& g, int64_t now) {
  GrantInfo info;
  info.id = g.id;
  info.tenant_id = g.tenant_id;
  info.user_id = g.user_id;
  info.connector = g.connector;
  const json scopes = json::parse(g.scopes_json, nullptr, false);
  if (scopes.is_array()) {
    for (const auto& s : scopes) {
      if (s.is_string()) info.scopes.push_back(s.get<std::string>());
    }
  }
  info.state = state_of(g, now);
  info.created_us = g.created_us;
  info.expires_us = g.expires_us.value_or(0);
  info.revoked_us = g.revoked_us.value_or(0);
  info.metadata_json = g.metadata_json;
  return info;
}

Status check_id(std::string_view field, const std::string& value) {
  if (value.empty()) return invalid_grant(field, "is required");
  if (value.size() > kMaxIdBytes)
    return invalid_grant(field, "is longer than " + std::to_string(kMaxIdBytes) + " bytes");
  return {};
}

// What a grant is made of, from the caller or from the connector's exchange().
struct Material {
  json secret;
  std::vector<std::string> scopes;
  std::optional<int64_t> expires_in_s;
  json metadata = json::object();
};

// exchange()'s answer: {"secret": {...}, "scopes"?: [...], "expires_in"?: N, "metadata"?: {...}}.
Result<Material> read_exchanged(const std::string& text, const GrantInput& input) {
  const json out = json::parse(text, nullptr, false);
  const std::string who = "connector '" + input.connector + "' exchange() ";
  if (!out.is_object() || !out.contains("secret") || !out["secret"].is_object() || out["secret"].empty()) {
    return Error{ErrorCode::plugin_error, who + "did not answer a JSON object with a non-empty \"secret\" object"};
  }
  Material m{out["secret"], input.scopes, input.expires_in_s};
  register_grant_secret(m.secret);  // at once: nothing below may show it
  if (auto scopes = out.find("scopes"); scopes != out.end()) {
    if (!scopes->is_array()) return Error{ErrorCode::plugin_error, who + "answered \"scopes\" that is not an array"};
    m.scopes.clear();
    for (const auto& s : *scopes) {
      if (!s.is_string()) return Error{ErrorCode::plugin_error, who + "answered a scope that is not a string"};
      m.scopes.push_back(s.get<std::string>());
    }
  }
  if (auto expires = out.find("expires_in"); expires != out.end() && !expires->is_null()) {
    if (!expires->is_number() || expires->get<double>() <= 0) {
      return Error{ErrorCode::plugin_error, who + "answered \"expires_in\" that is not a number of seconds > 0"};
    }
    m.expires_in_s = static_cast<int64_t>(std::min<double>(expires->get<double>(), kMaxExpiresInS));
  }
  if (auto metadata = out.find("metadata"); metadata != out.end() && metadata->is_object()) m.metadata = *metadata;
  return m;
}

}  // namespace

void register_grant_secret(const json& secret) {
  if (secret.is_string()) return util::secrets().add(secret.get<std::string>());
  if (secret.is_structured()) {
    for (const auto& item : secret) register_grant_secret(item);
  }
}

// ---- the Host's grant calls ----------------------------------------------------------------------

Result<GrantInfo> HostImpl::add_grant(const GrantInput& input, const Scope& scope) {
  // An exchange waits for the provider: on the reactor, every run would wait with it.
  if (std::this_thread::get_id() == reactor_.get_id()) {
    return Error{ErrorCode::internal, "add_grant was called on the host's reactor thread (a subscription callback)"};
  }
  std::string tenant = input.tenant_id;
  if (scope.tenant_id) {
    if (tenant.empty()) tenant = *scope.tenant_id;
    if (tenant != *scope.tenant_id) return invalid_grant("tenantId", "names another tenant than the caller's");
  }
  if (auto st = check_id("tenantId", tenant); !st) return std::move(st).error();
  if (auto st = check_id("userId", input.user_id); !st) return std::move(st).error();
  if (auto st = check_id("connector", input.connector); !st) return std::move(st).error();
  const auto* connector = this->connector(input.connector);
  if (connector == nullptr) {
    std::string loaded;
    for (const auto& id : registry_->ids(PluginKind::connector)) loaded += (loaded.empty() ? "" : ", ") + id;
    return invalid_grant("connector", "names no loaded connector ('" + input.connector +
                                          "'); available: " + (loaded.empty() ? "(none loaded)" : loaded));
  }
  if (input.code.has_value() == input.secret_json.has_value()) {
    return invalid_grant("code", input.code
                                     ? "and \"secret\" were both given; give one of them"
                                     : "or \"secret\" is required: an authorization code, or the secret material");
  }
  for (const auto& s : input.scopes) {
    if (s.empty()) return invalid_grant("scopes", "holds an empty scope");
  }
  if (input.expires_in_s && (*input.expires_in_s <= 0 || *input.expires_in_s > kMaxExpiresInS)) {
    return invalid_grant("expiresIn", "must be a number of seconds > 0 and at most a century");
  }
  json metadata = json::object();
  if (!input.metadata_json.empty()) {
    metadata = json::parse(input.metadata_json, nullptr, false);
    if (!metadata.is_object()) return invalid_grant("metadata", "must be a JSON object");
  }

  Material material;
  if (input.secret_json) {
    // Never quoted back: the text is the secret.
    material.secret = json::parse(*input.secret_json, nullptr, false);
    if (!material.secret.is_object() || material.secret.empty()) {
      return invalid_grant("secret", "must be a non-empty JSON object, such as {\"access_token\": \"...\"}");
    }
    register_grant_secret(material.secret);
    material.scopes = input.scopes;
    material.expires_in_s = input.expires_in_s;
  } else {
    if (input.code->empty()) return invalid_grant("code", "is empty");
    if (!connector->can_exchange()) {
      return invalid_grant("code", "cannot be used: connector '" + input.connector +
                                       "' has no exchange(); give the secret material instead");
    }
    const json request{
        {"connector", input.connector}, {"tenantId", tenant}, {"userId", input.user_id}, {"scopes", input.scopes}};
    auto exchanged = connector->exchange(*input.code, request.dump());
    if (!exchanged) {
      Error error = std::move(exchanged).error();
      util::secrets().redact(error.message);  // a plugin's detail may quote its configuration
      return error;
    }
    auto read = read_exchanged(*exchanged, input);
    if (!read) return std::move(read).error();
    material = std::move(*read);
  }
  if (!input.metadata_json.empty()) material.metadata = std::move(metadata);

  store::GrantRow row;
  row.id = events::new_id("grt");
  row.tenant_id = tenant;
  row.user_id = input.user_id;
  row.connector = input.connector;
  row.scopes_json = json(material.scopes).dump();
  row.metadata_json = material.metadata.dump();
  row.created_us = now_us();
  if (material.expires_in_s) row.expires_us = row.created_us + *material.expires_in_s * kMicrosPerSecond;
  if (auto st = store_->add_grant(row, material.secret.dump()); !st) return std::move(st).error();
  return info_of(row, row.created_us);
}

Result<std::vector<GrantInfo>> HostImpl::grants(const GrantQuery& query, const Scope& scope) {
  store::GrantFilter filter;
  filter.tenant_id = query.tenant_id;
  if (scope.tenant_id) {
    if (query.tenant_id && *query.tenant_id != *scope.tenant_id) return std::vector<GrantInfo>{};
    filter.tenant_id = scope.tenant_id;
  }
  filter.user_id = query.user_id;
  filter.connector = query.connector;
  filter.include_revoked = query.include_revoked;
  filter.include_expired = query.include_expired;
  filter.limit = query.limit;
  filter.now_us = now_us();
  auto rows = store_->grants(filter);
  if (!rows) return std::move(rows).error();
  std::vector<GrantInfo> out;
  out.reserve(rows->size());
  for (const auto& r : *rows) out.push_back(info_of(r, filter.now_us));
  return out;
}

Status HostImpl::revoke_grant(std::string_view grant_id, const Scope& scope) {
  if (grant_id.empty() || grant_id.size() > kMaxIdBytes) return no_such_grant(grant_id.substr(0, kMaxIdBytes));
  auto found = store_->revoke_grant(grant_id, scope.tenant_id);
  if (!found) return std::move(found).error();
  if (!*found) return no_such_grant(grant_id);
  return {};
}

}  // namespace runhost::engine
