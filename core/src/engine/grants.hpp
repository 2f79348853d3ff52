// Connector grants on the engine's side: HostImpl's grant calls (add_grant, grants,
// revoke_grant) are in grants.cpp; a run's connect step for one connector (the stored grant,
// checked and materialised by the connector) is in connect_step.cpp.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/envelope.hpp"
#include "plugins/instances.hpp"
#include "runhost/error.hpp"
#include "store/store.hpp"

namespace runhost::engine {

// Every string in a grant's secret material, at any depth, joins util::secrets(): from then on
// nothing this process logs, stores or delivers shows it.
void register_grant_secret(const nlohmann::json& secret);

struct Connected {
  std::optional<Error> error;                             // connector_authorization_missing, plugin_error...
  nlohmann::json env = nlohmann::json::object();          // materialize()'s "env"
  nlohmann::json mcp_servers = nlohmann::json::object();  // materialize()'s "mcp_servers": name -> config
};

// On a worker thread: the run's grant for `connector` (the newest usable one of its tenant and
// user, else the newest expired one, else none), checked, then materialised, with its secret
// only when it is usable: an expired grant's secret is never handed out.
Connected connect_one(const plugins::ConnectorInstance& connector, store::Store& store, const RunIdentity& who);

}  // namespace runhost::engine
