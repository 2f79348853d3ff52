#include "store_test_util.hpp"

#include <sqlite3.h>

#include <mutex>
#include <stdexcept>

namespace runhost::store::testing {

NewRun make_run(const std::string& id, const std::string& tenant, const std::string& key,
                const std::string& request_hash) {
  NewRun run;
  run.id = id;
  run.tenant_id = tenant;
  run.workspace_id = "w1";
  run.project_id = "p1";
  run.user_id = "u1";
  run.device_type = "local";
  run.device_id = "laptop";
  run.runtime = "custom";
  run.prompt = "build it";
  run.cwd = "app";
  run.approval_policy = "auto";
  run.idempotency_key = key.empty() ? "key-" + id : key;
  run.request_hash = request_hash;
  run.dispatch_json = R"({"prompt":"build it"})";
  run.created_us = 1'700'000'000'000'000;
  return run;
}

EventRow make_event(const std::string& run_id, int64_t seq) {
  EventRow event;
  event.run_id = run_id;
  event.seq = seq;
  event.id = "evt_" + run_id + "_" + std::to_string(seq);
  event.type = "message.delta";
  event.time_us = 1'700'000'000'000'000 + seq;
  event.json = R"({"id":")" + event.id + R"(","seq":)" + std::to_string(seq) + R"(,"type":"message.delta"})";
  return event;
}

std::unique_ptr<Store> open_store(const std::filesystem::path& path, const StoreOptions& options) {
  auto store = Store::open(path, options);
  if (!store) throw std::runtime_error("Store::open failed: " + store.error().message);
  return std::move(*store);
}

std::vector<Status> append_all(Store& store, const std::vector<EventRow>& events) {
  std::mutex mutex;
  std::vector<Status> statuses;
  for (const auto& event : events) {
    store.append(event, [&](const Status& st) {
      std::lock_guard lock(mutex);
      statuses.push_back(st);
    });
  }
  if (auto st = store.flush(); !st) throw std::runtime_error("flush failed: " + st.error().message);
  std::lock_guard lock(mutex);
  return statuses;
}

std::vector<int64_t> stored_seqs(Store& store, const std::string& run_id) {
  auto events = store.events(run_id, 0, 1'000'000);
  if (!events) throw std::runtime_error("events failed: " + events.error().message);
  std::vector<int64_t> seqs;
  for (const auto& event : *events) seqs.push_back(event.seq);
  return seqs;
}

RawConnection::RawConnection(const std::filesystem::path& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    throw std::runtime_error("cannot open " + path.string() + ": " + sqlite3_errmsg(db_));
  }
}

RawConnection::~RawConnection() {
  sqlite3_close_v2(db_);
}

void RawConnection::exec(const std::string& sql) {
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
  }
}

std::string RawConnection::text(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
  }
  std::string out;
  if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  return out;
}

}  // namespace runhost::store::testing
