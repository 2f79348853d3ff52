// The usage ledger (schema version 5) and the caps a new run is checked against in its INSERT.
#include <gtest/gtest.h>

#include "store/schema.hpp"
#include "store_test_util.hpp"
#include "test_paths.hpp"

namespace runhost::store::testing {
namespace {

using runhost::testing::TempDir;

EventRow usage_event(const std::string& run_id, int64_t seq, const std::string& source, double cost, int64_t at_us) {
  EventRow e = make_event(run_id, seq);
  e.type = "usage";
  e.time_us = at_us;
  e.usage = UsageEntry{source, std::nullopt, cost, 10, 5, 0};
  return e;
}

TEST(StoreUsage, TheLedgerIsWrittenWithItsEventAndAddedUpPerSource) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  NewRun a = make_run("run_A");
  a.user_id = "ada";
  ASSERT_TRUE(store->create_run(a));
  ASSERT_TRUE(store->create_run(make_run("run_B", "t2")));
  auto st = append_all(*store, {usage_event("run_A", 1, "anthropic", 0.5, 1000), usage_event("run_A", 2, "openai", 2.0, 2000),
                                usage_event("run_A", 3, "anthropic", 0.25, 3000), usage_event("run_B", 1, "anthropic", 9, 1000),
                                usage_event("run_A", 9, "anthropic", 100, 4000)});  // a gap: refused, and its ledger row too
  ASSERT_TRUE(st[0] && st[1] && st[2] && st[3]);
  EXPECT_GE(latest_schema_version(), 5);
  EXPECT_FALSE(st[4]);

  UsageFilter f;
  f.tenant_id = "t1";
  auto totals = store->usage(f);
  ASSERT_TRUE(totals);
  ASSERT_EQ(totals->size(), 2u);
  EXPECT_EQ((*totals)[0].source, "openai") << "most spent first";
  EXPECT_DOUBLE_EQ((*totals)[1].cost_usd, 0.75);
  EXPECT_EQ((*totals)[1].events, 2);
  EXPECT_EQ((*totals)[1].input_tokens, 20);
  f.user_id = "ada";
  f.since_us = 2500;
  totals = store->usage(f);
  ASSERT_EQ(totals->size(), 1u);
  EXPECT_DOUBLE_EQ(totals->front().cost_usd, 0.25);
  UsageFilter except;
  except.tenant_id = "t1";
  except.except_run_id = "run_A";
  EXPECT_TRUE(store->usage(except)->empty());
}

TEST(StoreUsage, ACapReachedRefusesTheRunAndWritesNothing) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A", "t1", "k1")));
  append_all(*store, {usage_event("run_A", 1, "anthropic", 1.5, 1000)});
  const std::vector<RunCap> live{RunCap{RunCap::Kind::live_runs, RunCap::Of::tenant, 1, 0}};
  auto refused = store->create_run(make_run("run_B", "t1", "k2"), live);
  ASSERT_TRUE(refused) << refused.error().message;
  ASSERT_TRUE(refused->refused);
  EXPECT_FALSE(refused->created);
  EXPECT_EQ(refused->refused->used, 1);
  EXPECT_FALSE(*store->run("run_B")) << "nothing is written for a refused run";
  // A replay of the run holding the key is never refused.
  auto replay = store->create_run(make_run("run_A2", "t1", "k1"), live);
  ASSERT_TRUE(replay);
  EXPECT_FALSE(replay->refused);
  EXPECT_EQ(replay->run.id, "run_A");

  const std::vector<RunCap> spend{RunCap{RunCap::Kind::usd_since, RunCap::Of::user, 1.0, 0}};
  auto over = store->create_run(make_run("run_C", "t1", "k3"), spend);
  ASSERT_TRUE(over && over->refused);
  EXPECT_DOUBLE_EQ(over->refused->used, 1.5);
  EXPECT_EQ(over->refused->top_source, "anthropic");
  auto other_tenant = store->create_run(make_run("run_D", "t2", "k3"), spend);
  ASSERT_TRUE(other_tenant);
  EXPECT_TRUE(other_tenant->created) << "another tenant's spend is its own";
}

}  // namespace
}  // namespace runhost::store::testing
