#include "engine/grants.hpp"

namespace runhost::engine {
namespace {

using nlohmann::json;

// The "grant" member of the check request: never the secret. "expired" is the host's
// judgement, so that a connector need not read clocks to say so.
json grant_for_check(const store::GrantInUse& grant) {
  const auto& g = grant.grant;
  const json scopes = json::parse(g.scopes_json, nullptr, false);
  const json metadata = json::parse(g.metadata_json, nullptr, false);
  return {{"id", g.id},
          {"scopes", scopes.is_array() ? scopes : json::array()},
          {"created_at", format_time(g.created_us)},
          {"expires_at", g.expires_us ? json(format_time(*g.expires_us)) : json(nullptr)},
          {"expired", grant.secret_json.empty()},
          {"metadata", metadata.is_object() ? metadata : json::object()}};
}

// The same with "secret", for materialize; its strings join the redaction set first.
Result<json> grant_for_materialize(const store::GrantInUse& grant) {
  json secret = json::parse(grant.secret_json, nullptr, false);
  if (!secret.is_object()) {
    return Error{ErrorCode::internal, "grant " + grant.grant.id + " has no readable secret material in the store"};
  }
  register_grant_secret(secret);
  json out = grant_for_check(grant);
  out["secret"] = std::move(secret);
  return out;
}

Connected failed(Error error) {
  Connected out;
  out.error = std::move(error);
  return out;
}

}  // namespace

Connected connect_one(const plugins::ConnectorInstance& connector, store::Store& store, const RunIdentity& who) {
  const std::string& id = connector.info().id;
  auto stored = store.grant_for(who.tenant_id, who.user_id, id, now_us());
  if (!stored) return failed(std::move(stored).error());
  const bool usable = *stored && !(*stored)->secret_json.empty();
  json request{{"connector", id},
               {"tenantId", who.tenant_id},
               {"workspaceId", who.workspace_id},
               {"userId", who.user_id},
               {"grant", *stored ? grant_for_check(**stored) : json(nullptr)}};
  auto checked = connector.check(request.dump());
  if (!checked) return failed(Error{ErrorCode::plugin_error, checked.error().message});
  const json answer = json::parse(*checked, nullptr, false);
  const std::string state = answer.is_object() ? answer.value("state", std::string()) : std::string();
  if (state == "missing" || state == "expired") {
    const std::string url = answer.value("connect_url", std::string());
    if (url.empty()) {  // without a URL the user has nowhere to go: the connector is at fault
      return failed(
          Error{ErrorCode::plugin_error, "connector '" + id + "' answered " + state + " without a connect_url"});
    }
    return failed(Error{
        ErrorCode::connector_authorization_missing,
        "connector '" + id + "' is " + (state == "missing" ? "not authorised" : "expired") + " for user " + who.user_id,
        json{{"action", "connect_account"}, {"connector", id}, {"connect_url", url}}.dump()});
  }
  if (state != "granted") {
    return failed(Error{ErrorCode::plugin_error, "connector '" + id + "' answered check() with no valid state"});
  }
  // Only a usable grant's secret is handed out: a connector that grants on other grounds (its
  // own credentials, as static-grant does) materialises without it.
  if (usable) {
    auto grant = grant_for_materialize(**stored);
    if (!grant) return failed(std::move(grant).error());
    request["grant"] = std::move(*grant);
  }
  auto material = connector.materialize(request.dump());
  if (!material) return failed(Error{ErrorCode::plugin_error, material.error().message});
  const json m = json::parse(*material, nullptr, false);
  if (!m.is_object()) {
    return failed(Error{ErrorCode::plugin_error, "connector '" + id + "' materialize() did not answer a JSON object"});
  }
  Connected out;
  out.env = m.value("env", json::object());
  if (auto servers = m.find("mcp_servers"); servers != m.end() && !servers->is_null()) {
    if (!servers->is_object()) {
      return failed(
          Error{ErrorCode::plugin_error, "connector '" + id + "' materialize(): \"mcp_servers\" is not an object"});
    }
    for (const auto& [name, config] : servers->items()) {
      if (!config.is_object()) {
        return failed(Error{ErrorCode::plugin_error,
                            "connector '" + id + "' materialize(): MCP server '" + name + "' is not an object"});
      }
    }
    out.mcp_servers = *servers;
  }
  return out;
}

}  // namespace runhost::engine
