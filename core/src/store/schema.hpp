// The store's schema, versioned by PRAGMA user_version: one migration per version, applied in
// order inside the caller's write transaction. Later versions add a migration; they never edit
// an earlier one, since files in the field are already at it.
#pragma once

#include "store/sqlite.hpp"

namespace runhost::store {

// The version this build writes.
int latest_schema_version() noexcept;

// Reads only: refuses a file this build cannot use, a newer schema version or somebody else's
// database (tables, but no schema version), before anything writes to it.
Status check_schema(sqlite::Connection& conn);

// Brings the file to latest_schema_version(). The caller holds a write transaction (BEGIN
// IMMEDIATE), so two processes opening one new file do not both migrate it. A file at a newer
// version than this build knows is refused (store_unavailable), never downgraded.
Status migrate(sqlite::Connection& conn);

}  // namespace runhost::store
