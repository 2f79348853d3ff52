// Runs: creation and idempotency, status and bookkeeping, listing, reopening.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "store_test_util.hpp"
#include "test_paths.hpp"

namespace runhost::store {
namespace {

using runhost::testing::TempDir;
using testing::make_event;
using testing::make_run;
using testing::open_store;
using testing::append_all;

TEST(StoreRuns, CreateThenReadRoundTrips) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  NewRun in = make_run("run_A");
  in.project_id.reset();
  auto created = store->create_run(in);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->run.status, RunStatus::queued);

  auto out = store->run("run_A");
  ASSERT_TRUE(out && *out);
  const RunRow& run = **out;
  EXPECT_EQ(run.id, "run_A");
  EXPECT_EQ(run.tenant_id, "t1");
  EXPECT_EQ(run.workspace_id, "w1");
  EXPECT_FALSE(run.project_id.has_value());
  EXPECT_EQ(run.user_id, "u1");
  EXPECT_EQ(run.device_type, "local");
  EXPECT_EQ(run.device_id, "laptop");
  EXPECT_EQ(run.runtime, "custom");
  EXPECT_EQ(run.prompt, "build it");
  EXPECT_EQ(run.cwd, "app");
  EXPECT_EQ(run.approval_policy, "auto");
  EXPECT_EQ(run.idempotency_key, "key-run_A");
  EXPECT_EQ(run.request_hash, "h1");
  EXPECT_EQ(run.dispatch_json, R"({"prompt":"build it"})");
  EXPECT_EQ(run.created_us, in.created_us);
  EXPECT_EQ(run.updated_us, in.created_us);
  EXPECT_EQ(run.status, RunStatus::queued);
  EXPECT_EQ(run.last_seq, 0);
  EXPECT_FALSE(run.error_code.has_value());
  EXPECT_EQ(run.owner.pid, 0);
  EXPECT_FALSE(run.cancel_requested);

  auto missing = store->run("run_missing");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST(StoreRuns, SameKeySameRequestReturnsTheFirstRun) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A", "t1", "k1", "h1")));
  auto again = store->create_run(make_run("run_B", "t1", "k1", "h1"));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->run.id, "run_A");
  auto runs = store->runs({});
  ASSERT_TRUE(runs);
  EXPECT_EQ(runs->size(), 1u);
  EXPECT_FALSE(store->run("run_B")->has_value());
}

TEST(StoreRuns, SameKeyOtherRequestIsAConflictNamingTheRun) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A", "t1", "k1", "h1")));
  auto other = store->create_run(make_run("run_B", "t1", "k1", "h2"));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::idempotency_conflict);
  EXPECT_EQ(other.error().message, "idempotency key 'k1' was already used by run run_A with a different request");
  EXPECT_EQ(store->runs({})->size(), 1u);
}

TEST(StoreRuns, SameKeyInAnotherTenantIsANewRun) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A", "t1", "k1", "h1")));
  auto other = store->create_run(make_run("run_B", "t2", "k1", "h1"));
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_TRUE(other->created);
  EXPECT_EQ(other->run.id, "run_B");
  EXPECT_EQ(store->runs({})->size(), 2u);
}

struct Race {
  int created = 0;
  int failed = 0;
  std::set<std::string> run_ids;  // what the callers got back
};

// `callers` threads create a run with key k1 at once, each with its own run id, taking turns
// over `stores`.
Race race_one_key(const std::vector<Store*>& stores, int callers) {
  std::mutex mutex;
  Race race;
  std::vector<std::thread> threads;
  for (int i = 0; i < callers; ++i) {
    Store& store = *stores[static_cast<size_t>(i) % stores.size()];
    threads.emplace_back([&, i] {
      auto result = store.create_run(make_run("run_" + std::to_string(i), "t1", "k1", "h1"));
      std::lock_guard lock(mutex);
      if (!result) {
        ++race.failed;
        return;
      }
      race.created += result->created ? 1 : 0;
      race.run_ids.insert(result->run.id);
    });
  }
  for (auto& t : threads) t.join();
  return race;
}

TEST(StoreRuns, ConcurrentCreatesOfOneKeyMakeOneRun) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  const Race race = race_one_key({store.get()}, 8);
  EXPECT_EQ(race.failed, 0);
  EXPECT_EQ(race.created, 1);
  EXPECT_EQ(race.run_ids.size(), 1u) << "every caller gets the same run";
  EXPECT_EQ(store->runs({})->size(), 1u);
}

TEST(StoreRuns, TwoStoresOnOneFileRacingOneKeyMakeOneRun) {
  // Two Store objects stand for two processes: separate connections and writer threads.
  TempDir dir;
  auto first = open_store(dir / "runhost.db");
  auto second = open_store(dir / "runhost.db");
  const Race race = race_one_key({first.get(), second.get()}, 16);
  EXPECT_EQ(race.failed, 0);
  EXPECT_EQ(race.created, 1);
  EXPECT_EQ(race.run_ids.size(), 1u);
  EXPECT_EQ(first->runs({})->size(), 1u);
}

TEST(StoreRuns, TerminalStatusIsFinal) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  ASSERT_TRUE(store->set_status("run_A", RunStatus::running));
  auto failed = store->set_status("run_A", RunStatus::failed, "runtime_crashed");
  ASSERT_TRUE(failed) << failed.error().message;
  auto again = store->set_status("run_A", RunStatus::succeeded);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "run run_A is already failed; cannot make it succeeded");
  EXPECT_FALSE(store->set_status("run_A", RunStatus::running));
  auto run = store->run("run_A");
  ASSERT_TRUE(run && *run);
  EXPECT_EQ((*run)->status, RunStatus::failed);
  EXPECT_EQ((*run)->error_code, "runtime_crashed");
  EXPECT_GT((*run)->updated_us, (*run)->created_us);

  auto missing = store->set_status("run_missing", RunStatus::running);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "no run 'run_missing'");
}

TEST(StoreRuns, TheOwnerIsRecordedWithTheRunAndCancelToo) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  NewRun in = make_run("run_A");
  in.owner = {"host_X", 4242, 987654};
  ASSERT_TRUE(store->create_run(in));
  ASSERT_TRUE(store->request_cancel("run_A"));
  auto run = store->run("run_A");
  ASSERT_TRUE(run && *run);
  EXPECT_EQ((*run)->owner.host_id, "host_X");
  EXPECT_EQ((*run)->owner.pid, 4242);
  EXPECT_EQ((*run)->owner.start_time, 987654);
  EXPECT_TRUE((*run)->cancel_requested);

  auto cancel_missing = store->request_cancel("run_missing");
  ASSERT_FALSE(cancel_missing);
  EXPECT_EQ(cancel_missing.error().message, "no run 'run_missing'");

  ASSERT_TRUE(store->create_run(make_run("run_B")));
  ASSERT_TRUE(store->set_status("run_B", RunStatus::succeeded));
  EXPECT_TRUE(store->request_cancel("run_B")) << "nothing to cancel in a finished run";
  EXPECT_FALSE((*store->run("run_B"))->cancel_requested);
}

TEST(StoreRuns, ListsNewestFirstFilteredAndLimited) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  for (int i = 0; i < 6; ++i) {
    NewRun run = make_run("run_" + std::to_string(i), i % 2 == 0 ? "even" : "odd");
    run.created_us = 1000 + i;
    ASSERT_TRUE(store->create_run(run));
  }
  ASSERT_TRUE(store->set_status("run_2", RunStatus::running));
  ASSERT_TRUE(store->set_status("run_4", RunStatus::succeeded));

  auto ids = [](const Result<std::vector<RunRow>>& runs) {
    std::vector<std::string> out;
    for (const auto& run : *runs) out.push_back(run.id);
    return out;
  };
  EXPECT_EQ(ids(store->runs({})), (std::vector<std::string>{"run_5", "run_4", "run_3", "run_2", "run_1", "run_0"}));
  EXPECT_EQ(ids(store->runs({"even", std::nullopt, 100})), (std::vector<std::string>{"run_4", "run_2", "run_0"}));
  EXPECT_EQ(ids(store->runs({std::nullopt, RunStatus::queued, 2})), (std::vector<std::string>{"run_5", "run_3"}));
  EXPECT_EQ(ids(store->runs({"even", RunStatus::running, 100})), (std::vector<std::string>{"run_2"}));
  EXPECT_EQ(ids(store->active_runs()), (std::vector<std::string>{"run_0", "run_1", "run_2", "run_3", "run_5"}));
}

TEST(StoreRuns, ArtifactsBelongToTheirRun) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  ArtifactRow artifact{"art_1", "run_A", "dist/app.js", "text/javascript", 1234, std::string(64, 'a'), 55, "miosa_exp_1", {}, "https://dl.example/app.js"};
  ASSERT_TRUE(store->add_artifact(artifact));
  auto artifacts = store->artifacts("run_A");
  ASSERT_TRUE(artifacts);
  ASSERT_EQ(artifacts->size(), 1u);
  EXPECT_EQ((*artifacts)[0].id, "art_1");
  EXPECT_EQ((*artifacts)[0].path, "dist/app.js");
  EXPECT_EQ((*artifacts)[0].content_type, "text/javascript");
  EXPECT_EQ((*artifacts)[0].size_bytes, 1234);
  EXPECT_EQ((*artifacts)[0].sha256, std::string(64, 'a'));
  EXPECT_EQ((*artifacts)[0].created_us, 55);
  EXPECT_EQ((*artifacts)[0].device_artifact_id, "miosa_exp_1");
  EXPECT_EQ((*artifacts)[0].preview_url, "") << "unset stays unset";
  EXPECT_EQ((*artifacts)[0].download_url, "https://dl.example/app.js");

  artifact.run_id = "run_missing";
  artifact.id = "art_2";
  auto orphan = store->add_artifact(artifact);
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().message, "no run 'run_missing'");
  artifact.run_id = "run_A";
  artifact.id = "art_1";
  EXPECT_FALSE(store->add_artifact(artifact)) << "artifact ids are unique";
  EXPECT_EQ(store->artifacts("run_A")->size(), 1u);
}

TEST(StoreRuns, TheDeviceARunResolvedToIsTheProjectsCurrentForItsTenantOnly) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  NewRun a = make_run("run_A", "t1", "k1", "h1");
  a.device_type = "sandbox";
  a.device_id = "";
  a.project_id = "proj_1";
  ASSERT_TRUE(store->create_run(a));
  EXPECT_EQ(*store->current_device("t1", "proj_1", "sandbox"), std::nullopt);

  ASSERT_TRUE(store->assign_device({"run_A", "t1", std::string("proj_1"), "sandbox", "sbx_1"}));
  EXPECT_EQ(store->run("run_A")->value().device_id, "sbx_1");
  EXPECT_EQ(*store->current_device("t1", "proj_1", "sandbox"), "sbx_1");
  EXPECT_EQ(*store->current_device("t1", "proj_1", "computer"), std::nullopt);
  EXPECT_EQ(*store->current_device("t2", "proj_1", "sandbox"), std::nullopt) << "another tenant never reads it";

  // A later run moves the project on; another tenant's run naming the same project does not.
  ASSERT_TRUE(store->create_run(make_run("run_B", "t1", "k2", "h2")));
  ASSERT_TRUE(store->assign_device({"run_B", "t1", std::string("proj_1"), "sandbox", "sbx_2"}));
  EXPECT_EQ(*store->current_device("t1", "proj_1", "sandbox"), "sbx_2");
  ASSERT_TRUE(store->create_run(make_run("run_C", "t2", "k3", "h3")));
  ASSERT_TRUE(store->assign_device({"run_C", "t2", std::string("proj_1"), "sandbox", "sbx_evil"}));
  EXPECT_EQ(store->run("run_C")->value().device_id, "sbx_evil") << "the run itself records its device";
  EXPECT_EQ(*store->current_device("t1", "proj_1", "sandbox"), "sbx_2");
  EXPECT_EQ(*store->current_device("t2", "proj_1", "sandbox"), std::nullopt);
}

TEST(StoreRuns, ReopeningKeepsEverything) {
  TempDir dir;
  {
    auto store = open_store(dir / "runhost.db");
    ASSERT_TRUE(store->create_run(make_run("run_A")));
    ASSERT_TRUE(store->set_status("run_A", RunStatus::running));
    for (int seq = 1; seq <= 3; ++seq) store->append(make_event("run_A", seq), nullptr);
    ASSERT_TRUE(store->add_artifact({"art_1", "run_A", "out.txt", "text/plain", 3, std::string(64, 'b'), 1, {}, {}, {}}));
    // No flush: the destructor drains the queue.
  }
  auto store = open_store(dir / "runhost.db");
  auto run = store->run("run_A");
  ASSERT_TRUE(run && *run);
  EXPECT_EQ((*run)->status, RunStatus::running);
  EXPECT_EQ((*run)->last_seq, 3);
  EXPECT_EQ(testing::stored_seqs(*store, "run_A"), (std::vector<int64_t>{1, 2, 3}));
  auto events = store->events("run_A", 0, 10);
  ASSERT_TRUE(events);
  EXPECT_EQ((*events)[1].json, make_event("run_A", 2).json);
  EXPECT_EQ((*events)[1].id, "evt_run_A_2");
  EXPECT_EQ((*events)[1].type, "message.delta");
  EXPECT_EQ((*events)[1].time_us, make_event("run_A", 2).time_us);
  EXPECT_EQ(store->artifacts("run_A")->size(), 1u);
}

TEST(StoreRuns, DataVersionChangesWhenAnyConnectionCommits) {
  TempDir dir;
  auto follower = open_store(dir / "runhost.db");
  auto writer = open_store(dir / "runhost.db");
  auto before = follower->data_version();
  ASSERT_TRUE(before);
  EXPECT_EQ(*follower->data_version(), *before) << "no commit, no change";
  ASSERT_TRUE(writer->create_run(make_run("run_A")));
  auto after = follower->data_version();
  ASSERT_TRUE(after);
  EXPECT_NE(*after, *before) << "another store's commit";
  ASSERT_TRUE(follower->set_status("run_A", RunStatus::running));
  EXPECT_NE(*follower->data_version(), *after) << "the store's own writer is another connection too";
}


// ---- finish_orphan: a dead owner's run ended exactly once -------------------------------------

EventRow orphan_terminal(const RunRow& run) {
  EventRow e;
  e.run_id = run.id;
  e.id = "evt_" + run.id + "_" + std::to_string(run.last_seq + 1);
  e.type = "run.failed";
  e.time_us = 1;
  e.json = R"({"type":"run.failed"})";
  e.final_status = RunStatus::failed;
  e.error_code = "device_lost";
  return e;
}

TEST(StoreRuns, AnOrphanIsEndedAfterItsLastEventAndOnlyOnce) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  NewRun in = make_run("run_A");
  in.owner = {"host_dead", 1, 1};
  ASSERT_TRUE(store->create_run(in));
  for (auto& st : append_all(*store, {make_event("run_A", 1), make_event("run_A", 2), make_event("run_A", 3)})) ASSERT_TRUE(st);

  auto first = store->finish_orphan("run_A", in.owner, orphan_terminal);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(*first);
  auto again = store->finish_orphan("run_A", in.owner, orphan_terminal);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(*again) << "ended already: nothing written twice";

  auto run = store->run("run_A");
  EXPECT_EQ((*run)->status, RunStatus::failed);
  EXPECT_EQ((*run)->error_code, "device_lost");
  EXPECT_EQ((*run)->last_seq, 4);
  auto events = store->events("run_A", 0, 100);
  ASSERT_EQ(events->size(), 4u);
  EXPECT_EQ(events->back().seq, 4);
  EXPECT_EQ(events->back().type, "run.failed");
}

TEST(StoreRuns, AnOrphanOfAnotherOwnerOrAFinishedRunIsLeftAlone) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  NewRun in = make_run("run_A");
  in.owner = {"host_alive", 1, 1};
  ASSERT_TRUE(store->create_run(in));
  auto wrong_owner = store->finish_orphan("run_A", {"host_other", 1, 1}, orphan_terminal);
  ASSERT_TRUE(wrong_owner);
  EXPECT_FALSE(*wrong_owner);
  EXPECT_EQ((*store->run("run_A"))->status, RunStatus::queued);

  ASSERT_TRUE(store->set_status("run_A", RunStatus::succeeded));
  auto finished = store->finish_orphan("run_A", in.owner, orphan_terminal);
  ASSERT_TRUE(finished);
  EXPECT_FALSE(*finished);
  EXPECT_EQ((*store->run("run_A"))->status, RunStatus::succeeded);
}

TEST(StoreRuns, ManyStoresEndingOneOrphanAtOnceEndItExactlyOnce) {
  TempDir dir;
  const auto path = dir / "runhost.db";
  {
    auto store = open_store(path);
    NewRun in = make_run("run_A");
    in.owner = {"host_dead", 1, 1};
    ASSERT_TRUE(store->create_run(in));
    for (auto& st : append_all(*store, {make_event("run_A", 1), make_event("run_A", 2)})) ASSERT_TRUE(st);
  }
  constexpr int kStores = 8;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kStores; ++i) stores.push_back(open_store(path));
  std::atomic<int> ended{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (auto& store : stores) {
    threads.emplace_back([&, s = store.get()] {
      auto r = s->finish_orphan("run_A", {"host_dead", 1, 1}, orphan_terminal);
      if (!r) {
        ++failed;
      } else if (*r) {
        ++ended;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(ended.load(), 1);
  auto events = stores[0]->events("run_A", 0, 100);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ(events->back().type, "run.failed");
}

}  // namespace
}  // namespace runhost::store
