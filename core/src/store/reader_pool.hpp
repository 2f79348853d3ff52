// Read connections, leased one per call. In WAL mode a reader sees the last commit and never
// waits for the writer's open batch. Each connection keeps its prepared statements, so the
// pool keeps a few idle ones instead of opening one per read.
//
// Thread rules: lease() from any thread; a lease is used by the thread that holds it.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "store/sqlite.hpp"

namespace runhost::store {

class ReaderPool {
 public:
  ReaderPool(std::filesystem::path path, int busy_timeout_ms) noexcept
      : path_(std::move(path)), busy_timeout_ms_(busy_timeout_ms) {}

  // A connection for the holder's exclusive use; back to the pool when it goes.
  class Lease {
   public:
    Lease(ReaderPool& pool, std::unique_ptr<sqlite::Connection> conn) noexcept : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    sqlite::Connection& operator*() const noexcept { return *conn_; }

   private:
    ReaderPool* pool_;
    std::unique_ptr<sqlite::Connection> conn_;
  };

  Result<Lease> lease();

 private:
  void give_back(std::unique_ptr<sqlite::Connection> conn);

  const std::filesystem::path path_;
  const int busy_timeout_ms_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<sqlite::Connection>> idle_;  // guarded by mutex_
};

// A connection that only reads, as every reader opens it.
Result<std::unique_ptr<sqlite::Connection>> open_reader(const std::filesystem::path& path, int busy_timeout_ms);

}  // namespace runhost::store
