// The event half of a write batch: appends each event inside the writer's transaction after
// checking it continues its run's seq chain (seq == last_seq + 1), and keeps agent_runs.last_seq
// in step in the same transaction. Events are append-only: there is no update or delete here or
// anywhere else.
#pragma once

#include <string>
#include <unordered_map>

#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace runhost::store {

// Runs whose stream is closed in this Store: once an event of a run failed, nothing after it is
// written. Maps run id to the first failure. Owned by the writer thread.
using ClosedRuns = std::unordered_map<std::string, std::string>;

class EventAppender {
 public:
  EventAppender(sqlite::Connection& conn, ClosedRuns& closed) noexcept : conn_(conn), closed_(closed) {}

  // OK, or why the event was refused (a gap, a repeat, no such run, a closed stream, a
  // duplicate id), which also closes the run's stream. A store_unavailable error means the
  // whole transaction is lost. An event with final_status also ends the run (unless it has
  // ended already: a terminal status is final).
  Status append(const EventRow& event);
  // Writes last_seq of every run appended to since the last call. Called before any other
  // operation of the batch reads runs, and before COMMIT.
  Status settle();

 private:
  struct Cursor {
    int64_t last_seq = 0;
    bool dirty = false;
  };
  Status refuse(const EventRow& event, const std::string& reason);

  sqlite::Connection& conn_;
  ClosedRuns& closed_;
  // Runs seen in this transaction; holding the write lock, their last_seq cannot change under us.
  std::unordered_map<std::string, Cursor> cursors_;
};

}  // namespace runhost::store
