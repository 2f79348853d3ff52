// The grant tables' SQL (schema version 4): grants, and grant_secrets beside them. Only
// select_grant_for() reads a secret, for the connector a run is about to use.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace runhost::store {

// Inside the writer's transaction: the grant and its secret, both or neither.
Status insert_grant(sqlite::Connection& conn, const GrantRow& grant, std::string_view secret_json);
// Inside the writer's transaction; see Store::revoke_grant.
Result<bool> mark_grant_revoked(sqlite::Connection& conn, std::string_view grant_id,
                                const std::optional<std::string>& tenant_id, int64_t now_us);

Result<std::vector<GrantRow>> select_grants(sqlite::Connection& conn, const GrantFilter& filter);
Result<std::optional<GrantInUse>> select_grant_for(sqlite::Connection& conn, std::string_view tenant_id,
                                                   std::string_view user_id, std::string_view connector,
                                                   int64_t now_us);

}  // namespace runhost::store
