// A thin RAII layer over the SQLite C API: a connection, its cache of prepared statements, and
// one-shot queries with bound parameters. Values only ever reach SQL as bound parameters.
//
// Thread rules: none of this is thread-safe. The store opens every connection with
// SQLITE_OPEN_NOMUTEX and hands each to one thread at a time (the writer thread owns its own;
// readers lease theirs from a pool).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "runhost/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace runhost::store::sqlite {

// The store's error for a failed SQLite call, one sentence naming the file. Conditions an
// operator must fix (locked, read-only, not a database, corrupt, disk full, I/O) are
// store_unavailable and abort a whole write batch; anything else (a constraint, a misuse) is
// internal and fails only the operation that hit it. `detail` says what was being done.
Error error_for(const std::filesystem::path& path, int rc, std::string_view detail, int busy_timeout_ms);

class Connection;

// One execution of a cached statement. Text is bound without copying (SQLITE_STATIC), so
// bound strings must outlive the query. The destructor resets the statement and clears its
// bindings: a reader's snapshot ends with its query.
class Query {
 public:
  Query(Connection& conn, sqlite3_stmt* stmt) noexcept : conn_(&conn), stmt_(stmt) {}
  Query(Query&& other) noexcept : conn_(other.conn_), stmt_(other.stmt_), bind_error_(other.bind_error_) {
    other.stmt_ = nullptr;
  }
  Query& operator=(Query&&) = delete;
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  ~Query();

  Query& bind(int index, std::string_view text);
  Query& bind(int index, const std::string& text) { return bind(index, std::string_view(text)); }
  Query& bind(int index, int64_t value);
  Query& bind(int index, const std::optional<std::string>& text);  // NULL for nullopt
  // Named apart from bind(): an int argument would be ambiguous between int64_t and double.
  Query& bind_real(int index, double value);

  // true: a row is ready; false: done.
  Result<bool> step();
  // Steps to the end; the statement must not return rows.
  Status run();

  int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  std::optional<std::string> optional_text(int column) const;

 private:
  void keep_first_error(int rc) noexcept;

  Connection* conn_;
  sqlite3_stmt* stmt_;
  int bind_error_ = 0;  // SQLITE_OK
};

class Connection {
 public:
  // Opens `path` with `flags` plus SQLITE_OPEN_NOMUTEX, extended result codes and the busy
  // timeout set.
  static Result<std::unique_ptr<Connection>> open(const std::filesystem::path& path, int flags, int busy_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A query on the statement for `sql`, prepared on first use and cached for the connection's
  // life. `sql` must be a string literal: the cache keys on its address (hashing the text of
  // every statement on every event append costs more than the insert's bookkeeping).
  Result<Query> query(const char* sql);
  // Runs SQL without parameters or results (DDL, BEGIN/COMMIT, pragmas that set); `detail`
  // says what it was for in the error.
  Status exec(const char* sql, std::string_view detail = {});
  // The first column of the first row of a parameterless statement ("PRAGMA user_version").
  Result<int64_t> scalar_int(const char* sql);
  Result<std::string> scalar_text(const char* sql);

  Error error(int rc, std::string_view detail) const;
  bool in_transaction() const noexcept;
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const noexcept;
  bool read_only() const noexcept;
  const std::filesystem::path& path() const noexcept { return path_; }
  sqlite3* handle() const noexcept { return db_; }

 private:
  Connection(sqlite3* db, std::filesystem::path path, int busy_timeout_ms) noexcept
      : db_(db), path_(std::move(path)), busy_timeout_ms_(busy_timeout_ms) {}
  Result<Query> first_row(const char* sql);

  sqlite3* db_;
  std::filesystem::path path_;
  int busy_timeout_ms_;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;
};

}  // namespace runhost::store::sqlite
