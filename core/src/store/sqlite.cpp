#include "store/sqlite.hpp"

#include <sqlite3.h>

#include <cassert>
#include <cstring>
#include <system_error>

namespace runhost::store::sqlite {

Query::~Query() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Query& Query::bind(int index, std::string_view text) {
  // A null pointer would bind NULL; an empty view is an empty string.
  const char* data = text.data() != nullptr ? text.data() : "";
  keep_first_error(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8));
  return *this;
}

Query& Query::bind(int index, int64_t value) {
  keep_first_error(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Query& Query::bind_real(int index, double value) {
  keep_first_error(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Query& Query::bind(int index, const std::optional<std::string>& text) {
  if (text) return bind(index, std::string_view(*text));
  keep_first_error(sqlite3_bind_null(stmt_, index));
  return *this;
}

void Query::keep_first_error(int rc) noexcept {
  if (bind_error_ == SQLITE_OK) bind_error_ = rc;
}

Result<bool> Query::step() {
  // A value that could not be bound (too big) fails the query rather than going in as NULL.
  if (bind_error_ != SQLITE_OK) return conn_->error(bind_error_, "binding a parameter");
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->error(rc, {});
}

Status Query::run() {
  for (;;) {
    auto row = step();
    if (!row) return std::move(row).error();
    if (!*row) return {};
  }
}

int64_t Query::int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Query::real(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string Query::text(int column) const {
  const auto* data = sqlite3_column_text(stmt_, column);
  const auto size = static_cast<size_t>(sqlite3_column_bytes(stmt_, column));
  return data == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(data), size);
}

std::optional<std::string> Query::optional_text(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return text(column);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::filesystem::path& path, int flags,
                                                     int busy_timeout_ms) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const int system_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
    sqlite3_close_v2(db);
    const std::string why = system_errno != 0 ? std::generic_category().message(system_errno) : sqlite3_errstr(rc);
    return error_for(path, rc, why, busy_timeout_ms);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return std::unique_ptr<Connection>(new Connection(db, path, busy_timeout_ms));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Result<Query> Connection::query(const char* sql) {
  if (auto found = statements_.find(sql); found != statements_.end()) {
    assert(std::strcmp(sqlite3_sql(found->second), sql) == 0 && "Connection::query needs a string literal");
    return Query(*this, found->second);
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return error(rc, "preparing " + std::string(sql));
  statements_.emplace(sql, stmt);
  return Query(*this, stmt);
}

Status Connection::exec(const char* sql, std::string_view detail) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(rc, detail);
  return {};
}

Result<Query> Connection::first_row(const char* sql) {
  auto q = query(sql);
  if (!q) return q;
  auto row = q->step();
  if (!row) return std::move(row).error();
  if (!*row) return error(SQLITE_MISMATCH, std::string(sql) + " returned no row");
  return q;
}

Result<int64_t> Connection::scalar_int(const char* sql) {
  auto q = first_row(sql);
  if (!q) return std::move(q).error();
  return q->int64(0);
}

Result<std::string> Connection::scalar_text(const char* sql) {
  auto q = first_row(sql);
  if (!q) return std::move(q).error();
  return q->text(0);
}

Error Connection::error(int rc, std::string_view detail) const {
  std::string what(detail);
  const char* message = sqlite3_errmsg(db_);
  if (message != nullptr && (sqlite3_errcode(db_) & 0xff) == (rc & 0xff)) {
    what += std::string(what.empty() ? "" : ": ") + message;
  }
  return error_for(path_, rc, what, busy_timeout_ms_);
}

bool Connection::in_transaction() const noexcept {
  return sqlite3_get_autocommit(db_) == 0;
}

int64_t Connection::changes() const noexcept {
  return sqlite3_changes64(db_);
}

bool Connection::read_only() const noexcept {
  return sqlite3_db_readonly(db_, "main") == 1;
}

}  // namespace runhost::store::sqlite
