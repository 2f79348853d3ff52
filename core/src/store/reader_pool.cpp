#include "store/reader_pool.hpp"

#include <sqlite3.h>

namespace runhost::store {
namespace {

// Enough for the threads that read at once on a small host; more are opened when needed and
// closed when returned.
constexpr size_t kMaxIdle = 4;

}  // namespace

Result<std::unique_ptr<sqlite::Connection>> open_reader(const std::filesystem::path& path, int busy_timeout_ms) {
  return sqlite::Connection::open(path, SQLITE_OPEN_READONLY, busy_timeout_ms);
}

ReaderPool::Lease::~Lease() {
  if (conn_) pool_->give_back(std::move(conn_));
}

Result<ReaderPool::Lease> ReaderPool::lease() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(conn));
    }
  }
  auto conn = open_reader(path_, busy_timeout_ms_);
  if (!conn) return std::move(conn).error();
  return Lease(*this, std::move(*conn));
}

void ReaderPool::give_back(std::unique_ptr<sqlite::Connection> conn) {
  {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kMaxIdle) {
      idle_.push_back(std::move(conn));
      return;
    }
  }
  conn.reset();  // one too many: closed outside the lock
}

}  // namespace runhost::store
