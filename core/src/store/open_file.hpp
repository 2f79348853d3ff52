// Getting a store file ready to write: its directory, the writer's connection, WAL mode, the
// schema. Every failure is store_unavailable, one sentence naming the path.
#pragma once

#include <filesystem>
#include <memory>

#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace runhost::store {

// Creates each missing level of `dir` with mode 0700 (the store holds prompts and outputs).
Status create_store_directory(const std::filesystem::path& dir);

// Opens the writing connection: checks the file is a database this build can use, switches it
// to WAL, sets synchronous, foreign_keys and busy_timeout, and creates or migrates the schema
// in one write transaction. Nothing existing is modified before the file proved readable as a
// database, and nothing is ever deleted or "repaired".
//
// No PRAGMA quick_check: it reads every page, seconds for a large store at every start.
// Damage in the header or schema shows here; damage deeper in shows as store_unavailable
// ("is corrupt") from the query that reaches it.
Result<std::unique_ptr<sqlite::Connection>> open_writer(const std::filesystem::path& path, const StoreOptions& options);

}  // namespace runhost::store
