// SQLite result codes as the store's errors: one sentence naming the file and what went wrong.
#include <sqlite3.h>

#include "store/sqlite.hpp"

namespace runhost::store::sqlite {

Error error_for(const std::filesystem::path& path, int rc, std::string_view detail, int busy_timeout_ms) {
  const std::string store = "store " + path.string();
  const std::string during = detail.empty() ? std::string() : " (" + std::string(detail) + ")";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return {ErrorCode::store_unavailable, store + " is locked by another process: still locked after " +
                                                std::to_string(busy_timeout_ms) + " ms" + during};
    case SQLITE_READONLY:
      return {ErrorCode::store_unavailable, store + " is read-only" + during};
    case SQLITE_NOTADB:
      return {ErrorCode::store_unavailable, store + " is not a SQLite database" + during};
    case SQLITE_CORRUPT:
      return {ErrorCode::store_unavailable, store + " is corrupt" + during};
    case SQLITE_FULL:
      return {ErrorCode::store_unavailable, store + " cannot grow: the disk is full" + during};
    case SQLITE_IOERR:
      return {ErrorCode::store_unavailable, store + " had an I/O error" + during};
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return {ErrorCode::store_unavailable, "cannot open " + store + during};
    case SQLITE_NOMEM:
      return {ErrorCode::store_unavailable, store + " ran out of memory" + during};
    default:
      return {ErrorCode::internal, store + ": " + sqlite3_errstr(rc) + during};
  }
}

}  // namespace runhost::store::sqlite
