// Events: group-committed appends, the per-run seq chain, paging.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

#include "store_test_util.hpp"
#include "test_paths.hpp"

namespace runhost::store {
namespace {

using runhost::testing::TempDir;
using testing::append_all;
using testing::make_event;
using testing::make_run;
using testing::open_store;
using testing::stored_seqs;

std::vector<int64_t> one_to(int64_t n) {
  std::vector<int64_t> seqs(static_cast<size_t>(n));
  std::iota(seqs.begin(), seqs.end(), 1);
  return seqs;
}

TEST(StoreEvents, TenThousandAppendsFromFourThreadsAreDurableGapFreeAndInOrder) {
  TempDir dir;
  constexpr int kRuns = 4;
  constexpr int kPerRun = 2500;
  std::mutex mutex;
  std::map<std::string, std::vector<int64_t>> reported;
  int failures = 0;
  {
    auto store = open_store(dir / "runhost.db");
    for (int r = 0; r < kRuns; ++r) ASSERT_TRUE(store->create_run(make_run("run_" + std::to_string(r))));
    std::vector<std::thread> threads;
    threads.reserve(kRuns);
    for (int r = 0; r < kRuns; ++r) {
      threads.emplace_back([&, r] {
        const std::string run_id = "run_" + std::to_string(r);
        for (int seq = 1; seq <= kPerRun; ++seq) {
          store->append(make_event(run_id, seq), [&, run_id, seq](const Status& st) {
            std::lock_guard lock(mutex);
            if (!st) ++failures;
            reported[run_id].push_back(seq);
          });
        }
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_TRUE(store->flush());
    std::lock_guard lock(mutex);
    EXPECT_EQ(failures, 0);
    for (int r = 0; r < kRuns; ++r) {
      EXPECT_EQ(reported["run_" + std::to_string(r)], one_to(kPerRun)) << "callbacks in append order per run";
    }
  }
  auto reopened = open_store(dir / "runhost.db");
  for (int r = 0; r < kRuns; ++r) {
    const std::string run_id = "run_" + std::to_string(r);
    EXPECT_EQ(stored_seqs(*reopened, run_id), one_to(kPerRun));
    EXPECT_EQ((*reopened->run(run_id))->last_seq, kPerRun);
  }
}

TEST(StoreEvents, AGapOrARepeatIsRefusedAndNothingAfterItIsWritten) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  for (const char* id : {"run_gap", "run_repeat", "run_fine"}) ASSERT_TRUE(store->create_run(make_run(id)));
  // One batch, the runs interleaved.
  const std::vector<EventRow> events = {
      make_event("run_gap", 1), make_event("run_repeat", 1), make_event("run_fine", 1),
      make_event("run_gap", 2), make_event("run_repeat", 2), make_event("run_fine", 2),
      make_event("run_gap", 4), make_event("run_repeat", 2), make_event("run_fine", 3),
      make_event("run_gap", 3), make_event("run_repeat", 3), make_event("run_fine", 4),
  };
  auto statuses = append_all(*store, events);
  ASSERT_EQ(statuses.size(), events.size());
  for (size_t i : {0, 1, 2, 3, 4, 5, 8, 11})
    EXPECT_TRUE(statuses[i]) << "event " << i << ": " << statuses[i].error().message;
  ASSERT_FALSE(statuses[6]);
  EXPECT_EQ(statuses[6].error().code, ErrorCode::internal);
  EXPECT_EQ(statuses[6].error().message, "event seq 4 for run run_gap: expected 3");
  ASSERT_FALSE(statuses[7]);
  EXPECT_EQ(statuses[7].error().message, "event seq 2 for run run_repeat: expected 3");
  ASSERT_FALSE(statuses[9]) << "seq 3 would fit, but it comes after a failed event of its run";
  EXPECT_NE(statuses[9].error().message.find("an earlier event of the run failed"), std::string::npos)
      << statuses[9].error().message;
  ASSERT_FALSE(statuses[10]);

  EXPECT_EQ(stored_seqs(*store, "run_gap"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(stored_seqs(*store, "run_repeat"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(stored_seqs(*store, "run_fine"), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ((*store->run("run_gap"))->last_seq, 2);
  EXPECT_EQ((*store->run("run_fine"))->last_seq, 4);
  auto repeated = store->events("run_repeat", 1, 1);
  ASSERT_TRUE(repeated);
  EXPECT_EQ((*repeated)[0].json, make_event("run_repeat", 2).json) << "the first seq 2 stays as written";

  // Later batches too: the stream of a run with a failed event stays closed.
  auto later = append_all(*store, {make_event("run_gap", 3), make_event("run_fine", 5)});
  EXPECT_FALSE(later[0]);
  EXPECT_TRUE(later[1]);
  EXPECT_EQ(stored_seqs(*store, "run_gap"), (std::vector<int64_t>{1, 2}));
}

TEST(StoreEvents, ALockHeldPastTheBusyTimeoutFailsACallButEventsWaitForIt) {
  // Another process holds the write lock past busy_timeout: a caller blocked on a write is told
  // (it may retry), while queued events wait and are written, in order, once the lock is free.
  TempDir dir;
  auto store = open_store(dir / "runhost.db", {true, 100, 2000});
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  ASSERT_TRUE(append_all(*store, {make_event("run_A", 1)})[0]);
  testing::RawConnection holder(dir / "runhost.db");
  holder.exec("BEGIN IMMEDIATE");

  std::vector<Status> statuses;
  std::mutex m;
  for (int seq : {2, 3}) {
    store->append(make_event("run_A", seq), [&](const Status& st) {
      std::lock_guard lock(m);
      statuses.push_back(st);
    });
  }
  auto status = store->set_status("run_A", RunStatus::running);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::store_unavailable);
  EXPECT_NE(status.error().message.find("is locked by another process"), std::string::npos) << status.error().message;
  {
    std::lock_guard lock(m);
    EXPECT_TRUE(statuses.empty()) << "the events wait";
  }
  holder.exec("ROLLBACK");

  ASSERT_TRUE(store->flush());
  ASSERT_EQ(statuses.size(), 2u);
  for (const auto& st : statuses) EXPECT_TRUE(st) << st.error().message;
  EXPECT_EQ(stored_seqs(*store, "run_A"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(store->set_status("run_A", RunStatus::running)) << "other writes work again";
}

TEST(StoreEvents, ANewRunIsCreatedAheadOfOtherRunsQueuedEvents) {
  // A dispatch must not wait behind every event other runs have queued: with five batches of
  // run_A's events waiting for the write lock, run_B's row is written after at most the batch
  // the writer holds, not after all five.
  TempDir dir;
  auto store = open_store(dir / "runhost.db", {false, 5000, 0});
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  testing::RawConnection holder(dir / "runhost.db");
  holder.exec("BEGIN IMMEDIATE");
  constexpr int kEvents = 5000;
  std::atomic<int> durable{0};
  for (int seq = 1; seq <= kEvents; ++seq) {
    store->append(make_event("run_A", seq), [&](const Status& st) {
      EXPECT_TRUE(st) << st.error().message;
      ++durable;
    });
  }
  std::atomic<int> durable_when_created{-1};
  std::thread dispatcher([&] {
    ASSERT_TRUE(store->create_run(make_run("run_B", "t1", "key_B")));
    durable_when_created = durable.load();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the dispatcher's row is queued
  EXPECT_EQ(durable.load(), 0) << "nothing commits while the lock is held";
  holder.exec("ROLLBACK");
  dispatcher.join();
  ASSERT_TRUE(store->flush());
  EXPECT_GE(durable_when_created.load(), 0);
  EXPECT_LT(durable_when_created.load(), kEvents) << "the new run waited for every queued event";
  EXPECT_EQ(durable.load(), kEvents);
  EXPECT_EQ(stored_seqs(*store, "run_A"), one_to(kEvents)) << "the events keep their order";
}

TEST(StoreEvents, AnEventForAnUnknownRunIsRefused) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  auto statuses = append_all(*store, {make_event("run_nowhere", 1)});
  ASSERT_FALSE(statuses[0]);
  EXPECT_EQ(statuses[0].error().message, "event seq 1 for run run_nowhere: no such run");
}

TEST(StoreEvents, ADuplicateEventIdIsRefused) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  ASSERT_TRUE(store->create_run(make_run("run_B")));
  EventRow copy = make_event("run_B", 1);
  copy.id = make_event("run_A", 1).id;
  auto statuses = append_all(*store, {make_event("run_A", 1), copy, make_event("run_A", 2)});
  EXPECT_TRUE(statuses[0]);
  ASSERT_FALSE(statuses[1]);
  EXPECT_NE(statuses[1].error().message.find("UNIQUE constraint failed: agent_run_events.id"), std::string::npos)
      << statuses[1].error().message;
  EXPECT_TRUE(statuses[2]) << "another run's refusal does not touch run_A";
  EXPECT_EQ(stored_seqs(*store, "run_B"), std::vector<int64_t>{});
  EXPECT_EQ((*store->run("run_B"))->last_seq, 0);
}

TEST(StoreEvents, PagesFromAnySeq) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  std::vector<EventRow> events;
  for (int seq = 1; seq <= 250; ++seq) events.push_back(make_event("run_A", seq));
  for (const auto& st : append_all(*store, events)) ASSERT_TRUE(st);

  int64_t after = 0;
  std::vector<size_t> pages;
  std::vector<int64_t> seen;
  for (;;) {
    auto page = store->events("run_A", after, 100);
    ASSERT_TRUE(page);
    if (page->empty()) break;
    pages.push_back(page->size());
    for (const auto& event : *page) seen.push_back(event.seq);
    after = page->back().seq;
  }
  EXPECT_EQ(pages, (std::vector<size_t>{100, 100, 50}));
  EXPECT_EQ(seen, one_to(250));
  EXPECT_EQ(store->events("run_A", 249, 100)->size(), 1u);
  EXPECT_EQ(store->events("run_A", 0, 0)->size(), 0u);
  EXPECT_TRUE(store->events("run_other", 0, 100)->empty());
}

TEST(StoreEvents, StatusChangesAreOrderedWithAppends) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db", {true, 5000, 50'000});  // a long window: one batch
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  for (int seq = 1; seq <= 5; ++seq) store->append(make_event("run_A", seq), nullptr);
  // set_status returns once committed; the appends queued before it are in that commit.
  ASSERT_TRUE(store->set_status("run_A", RunStatus::succeeded));
  EXPECT_EQ(stored_seqs(*store, "run_A"), one_to(5));
}

TEST(StoreEvents, AWriteFromACallbackIsRefusedNotDeadlocked) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  std::optional<Status> inner;
  store->append(make_event("run_A", 1), [&](const Status&) { inner = store->flush(); });
  ASSERT_TRUE(store->flush());
  ASSERT_TRUE(inner.has_value());
  ASSERT_FALSE(*inner);
  EXPECT_NE(inner->error().message.find("would deadlock"), std::string::npos);
}

TEST(StoreEvents, ReadsDoNotWaitForAnOpenWriteTransaction) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  testing::RawConnection other(dir / "runhost.db");
  other.exec("BEGIN IMMEDIATE");
  other.exec("UPDATE agent_runs SET status = 'running'");
  const auto start = std::chrono::steady_clock::now();
  auto run = store->run("run_A");
  auto events = store->events("run_A", 0, 10);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(run && *run) << (run ? "" : run.error().message);
  EXPECT_EQ((*run)->status, RunStatus::queued) << "the last commit, not the open transaction";
  ASSERT_TRUE(events);
  EXPECT_LT(waited, std::chrono::milliseconds(500));
  other.exec("ROLLBACK");
}

}  // namespace
}  // namespace runhost::store
