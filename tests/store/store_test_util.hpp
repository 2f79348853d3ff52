// Helpers shared by the store suites: rows to write, and a store opened or the test fails.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace runhost::store::testing {

NewRun make_run(const std::string& id, const std::string& tenant = "t1", const std::string& key = "",
                const std::string& request_hash = "h1");
EventRow make_event(const std::string& run_id, int64_t seq);

// Store::open, throwing the error's message when it fails (GoogleTest reports it).
std::unique_ptr<Store> open_store(const std::filesystem::path& path, const StoreOptions& options = {});

// Appends each event, flushes, and returns each on_durable status in callback order.
std::vector<Status> append_all(Store& store, const std::vector<EventRow>& events);

// The seqs of all the run's events, read back from the store.
std::vector<int64_t> stored_seqs(Store& store, const std::string& run_id);

}  // namespace runhost::store::testing

struct sqlite3;

namespace runhost::store::testing {

// A plain SQLite connection to a store file, to do what another process might (hold a lock,
// write behind the store's back) and to look at what the store did. Throws on errors.
class RawConnection {
 public:
  explicit RawConnection(const std::filesystem::path& path);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  void exec(const std::string& sql);
  std::string text(const std::string& sql);  // the first column of the first row

 private:
  ::sqlite3* db_ = nullptr;
};

}  // namespace runhost::store::testing
