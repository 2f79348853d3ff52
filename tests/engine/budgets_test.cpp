// Budgets and quotas (HostOptions::limits, docs/budgets.md), end to end: custom jsonl runs that
// print usage events, real processes, one SQLite file shared by two hosts where it matters.
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "test_host.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;
using std::chrono::steady_clock;

std::string usage_line(const std::string& source, double cost, int64_t input = 100, int64_t output = 20) {
  return json{{"type", "usage"},
              {"payload", {{"source", source}, {"cost_usd", cost}, {"input_tokens", input}, {"output_tokens", output},
                           {"model", "test-model"}}}}
      .dump();
}

// A jsonl run printing `lines`, then doing `then` (a shell command).
json spending(const std::vector<std::string>& lines, const std::string& then, const std::string& key,
              const std::string& user = "u1", const std::string& tenant = "t1") {
  std::string script;
  for (const auto& l : lines) script += "echo '" + l + "'; ";
  script += then;
  json d = custom_dispatch({"sh", "-c", script}, key);
  d["outputMode"] = "jsonl";
  d["userId"] = user;
  d["tenantId"] = tenant;
  return d;
}

json sleeper(const std::string& key, const std::string& user = "u1", const std::string& workspace = "w1") {
  json d = custom_dispatch({"sleep", "30"}, key);
  d["userId"] = user;
  d["workspaceId"] = workspace;
  return d;
}

HostOptions with_limits(const json& limits) {
  HostOptions o;
  o.limits = limits.dump();
  return o;
}

json recovery_of(const Error& e) { return json::parse(e.recovery_json); }

json failure_of(const Finished& f) {
  EXPECT_FALSE(f.events.empty());
  if (f.events.empty()) return json::object();
  EXPECT_EQ(f.events.back().type, "run.failed") << f.events.back().json;
  return json::parse(f.events.back().json)["payload"]["error"];
}

double cost_of(const std::vector<UsageTotal>& totals) {
  double sum = 0;
  for (const auto& t : totals) sum += t.cost_usd;
  return sum;
}

int64_t scalar_int(const std::filesystem::path& db, const char* sql) {
  sqlite3* conn = nullptr;
  sqlite3_stmt* q = nullptr;
  int64_t out = -1;
  if (sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(conn, sql, -1, &q, nullptr) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
    out = sqlite3_column_int64(q, 0);
  }
  sqlite3_finalize(q);
  sqlite3_close_v2(conn);
  return out;
}

TEST(Limits, HostOpenRefusesAnUnknownKeyOrABadValueNamingIt) {
  TempDir dir;
  const std::pair<json, std::string> bad[] = {
      {json{{"budgets", {{"run_usdd", 1}}}}, "budgets.run_usdd"},
      {json{{"quotas", {{"concurrent_per_user", -1}}}}, "quotas.concurrent_per_user"},
      {json{{"quotas", {{"runs_per_user_per_day", 2.5}}}}, "quotas.runs_per_user_per_day"},
      {json{{"budget", json::object()}}, "budget"},
      {json{{"tenants", {{"acme", {{"budgets", {{"user_day_usd", "20"}}}}}}}}, "tenants.acme.budgets.user_day_usd"},
  };
  for (const auto& [limits, key] : bad) {
    HostOptions o;
    o.store = dir / "runhost.db";
    o.workspace_root = dir.path();
    o.limits = limits.dump();
    auto host = Host::open(o);
    ASSERT_FALSE(host) << limits.dump();
    EXPECT_EQ(host.error().code, ErrorCode::invalid_dispatch);
    EXPECT_NE(host.error().message.find(key), std::string::npos) << host.error().message;
  }
}

// A run whose usage goes past run_usd is stopped at once with budget_exceeded, naming the
// source, what it spent and the limit; what the runtime says while it is stopped (its own
// run.failed) does not overtake it.
TEST(Budgets, ARunPastItsBudgetIsStoppedWithBudgetExceeded) {
  TestHost host(with_limits({{"budgets", {{"run_usd", 1.0}}}}));
  const json own_failure{{"type", "run.failed"},
                         {"payload", {{"error", {{"code", "runtime_error"}, {"message", "mine"}, {"retryable", false}}}}}};
  const auto started = steady_clock::now();
  const auto f = host.run(spending({usage_line("anthropic", 0.6), usage_line("openai", 0.1), usage_line("anthropic", 0.6),
                                    own_failure.dump()},
                                   "sleep 30", "over-run"));
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(20)) << "the run was not stopped";
  expect_valid_stream(f);
  const json error = failure_of(f);
  EXPECT_EQ(error["code"], "budget_exceeded") << error.dump();
  EXPECT_EQ(error["recovery"]["action"], "raise_budget");
  EXPECT_EQ(error["recovery"]["usage_source"], "anthropic") << "the source that spent the most";
  EXPECT_EQ(error["recovery"]["limit"], "run_usd");
  const std::string message = error["message"];
  EXPECT_NE(message.find("$1.30"), std::string::npos) << message;
  EXPECT_NE(message.find("$1.00"), std::string::npos) << message;

  auto spent = host->usage(UsageQuery{{}, {}, {}, host.last_run_id, 0, 0});
  ASSERT_TRUE(spent) << spent.error().message;
  EXPECT_NEAR(cost_of(*spent), 1.3, 1e-9);
  ASSERT_FALSE(spent->empty());
  EXPECT_EQ(spent->front().source, "anthropic");
  EXPECT_EQ(spent->front().events, 2);
  EXPECT_EQ(spent->front().input_tokens, 200);
}

// The ledger holds exactly the usage events the store holds: each row is written in its event's
// transaction, keyed by the event's run and seq.
TEST(Budgets, EveryUsageEventHasItsLedgerRow) {
  TestHost host;
  const auto f = host.run(spending({usage_line("anthropic", 0.25), usage_line("openai", 0.5, 7, 3)}, "true", "ledger"));
  ASSERT_EQ(f.events.back().type, "run.completed") << f.events.back().json;
  const auto db = host.dir() / "runhost.db";
  EXPECT_EQ(scalar_int(db, "SELECT count(*) FROM agent_run_events WHERE type = 'usage'"), 2);
  EXPECT_EQ(scalar_int(db, "SELECT count(*) FROM usage_ledger l JOIN agent_run_events e ON e.run_id = l.run_id AND "
                           "e.seq = l.seq AND e.type = 'usage' AND l.user_id = 'u1' AND l.tenant_id = 't1'"),
            2);
  EXPECT_EQ(scalar_int(db, "SELECT sum(input_tokens) FROM usage_ledger"), 107);
}

// Once a user's day budget is spent, the next dispatch for that user is refused before any run
// exists, naming what was spent, the limit and the source; another user is not.
TEST(Budgets, ADispatchAfterTheUserDayBudgetIsSpentIsRefused) {
  TestHost host(with_limits({{"budgets", {{"user_day_usd", 1.0}}}}));
  const auto first = host.run(spending({usage_line("anthropic", 0.75), usage_line("anthropic", 0.5)}, "true", "day-1"));
  EXPECT_EQ(failure_of(first)["code"], "budget_exceeded") << "the run went past the day's budget while it ran";
  const auto runs_before = host->runs({});
  ASSERT_TRUE(runs_before);

  auto refused = host->dispatch(spending({}, "true", "day-2").dump());
  ASSERT_FALSE(refused) << "a dispatch past the user's daily budget was accepted";
  EXPECT_EQ(refused.error().code, ErrorCode::budget_exceeded);
  EXPECT_NE(refused.error().message.find("user u1"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("$1.25"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("$1.00 daily budget"), std::string::npos) << refused.error().message;
  EXPECT_EQ(recovery_of(refused.error())["action"], "raise_budget");
  EXPECT_EQ(recovery_of(refused.error())["usage_source"], "anthropic");
  EXPECT_EQ(host->runs({})->size(), runs_before->size()) << "a refused dispatch leaves no run";

  const auto other = host.run(spending({usage_line("anthropic", 0.5)}, "true", "day-3", "u2"));
  EXPECT_EQ(other.events.back().type, "run.completed") << other.events.back().json;
}

// The tenant's month counts every user's spend.
TEST(Budgets, TheTenantMonthBudgetCountsEveryUser) {
  TestHost host(with_limits({{"budgets", {{"tenant_month_usd", 2.0}}}}));
  (void)host.run(spending({usage_line("anthropic", 1.5)}, "true", "m-1", "u1"));
  (void)host.run(spending({usage_line("openai", 1.0)}, "true", "m-2", "u2"));
  auto refused = host->dispatch(spending({}, "true", "m-3", "u3").dump());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::budget_exceeded);
  EXPECT_NE(refused.error().message.find("tenant t1"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("monthly"), std::string::npos) << refused.error().message;
  // Another tenant has its own month.
  EXPECT_TRUE(host->dispatch(spending({}, "true", "m-4", "u1", "t2").dump()));
}

// N runs queued or running: the N+1th is refused with when to retry; once one ends, a new one is
// accepted. Another user has room of their own.
TEST(Quotas, ConcurrentRunsPerUserAreBounded) {
  TestHost host(with_limits({{"quotas", {{"concurrent_per_user", 2}}}}));
  auto a = host->dispatch(sleeper("c-1").dump());
  auto b = host->dispatch(sleeper("c-2").dump());
  ASSERT_TRUE(a && b);
  auto refused = host->dispatch(sleeper("c-3").dump());
  ASSERT_FALSE(refused) << "a third concurrent run was accepted";
  EXPECT_EQ(refused.error().code, ErrorCode::quota_exceeded);
  EXPECT_NE(refused.error().message.find("concurrent_per_user"), std::string::npos) << refused.error().message;
  const json recovery = recovery_of(refused.error());
  EXPECT_EQ(recovery["action"], "request_quota");
  EXPECT_EQ(recovery["retry_after_ms"], 5000);
  EXPECT_EQ(recovery["usage_source"], "runs");
  EXPECT_TRUE(host->dispatch(sleeper("c-4", "u2").dump())) << "u2 has a quota of its own";

  ASSERT_TRUE(host->cancel(a->run.id));
  const auto ended = host.follow(a->run.id);
  ASSERT_EQ(ended.events.back().type, "run.cancelled");
  auto again = host->dispatch(sleeper("c-5").dump());
  EXPECT_TRUE(again) << "a slot was freed: " << (again ? "" : again.error().message);
  // The replay of an existing run is never refused: it starts nothing.
  auto replay = host->dispatch(sleeper("c-2").dump());
  ASSERT_TRUE(replay) << replay.error().message;
  EXPECT_FALSE(replay->created);
}

TEST(Quotas, ConcurrentRunsPerWorkspaceAndTenantOverrides) {
  TestHost host(with_limits({{"quotas", {{"concurrent_per_workspace", 1}}},
                             {"tenants", {{"t2", {{"quotas", {{"concurrent_per_workspace", nullptr}}}}}}}}));
  ASSERT_TRUE(host->dispatch(sleeper("w-1", "u1", "w1").dump()));
  auto refused = host->dispatch(sleeper("w-2", "u2", "w1").dump());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("workspace w1"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(host->dispatch(sleeper("w-3", "u2", "w2").dump()));
  json t2 = sleeper("w-4", "u1", "w1");
  t2["tenantId"] = "t2";
  ASSERT_TRUE(host->dispatch(t2.dump()));
  t2["idempotencyKey"] = "w-5";
  EXPECT_TRUE(host->dispatch(t2.dump())) << "tenant t2 lifted the workspace limit";
}

// Runs created in the window count whether they are still running or not; the refusal says
// when the window frees a slot (the oldest run leaves it).
TEST(Quotas, RunsPerUserPerDayAreBounded) {
  TestHost host(with_limits({{"quotas", {{"runs_per_user_per_day", 2}}}}));
  (void)host.run(custom_dispatch({"true"}, "p-1"));
  (void)host.run(custom_dispatch({"true"}, "p-2"));
  auto refused = host->dispatch(custom_dispatch({"true"}, "p-3").dump());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::quota_exceeded);
  const int64_t retry = recovery_of(refused.error())["retry_after_ms"];
  EXPECT_GT(retry, 23LL * 3600 * 1000) << "the oldest run leaves the 24-hour window in almost a day";
  EXPECT_LE(retry, 24LL * 3600 * 1000);
  json other = custom_dispatch({"true"}, "p-4");
  other["userId"] = "u2";
  EXPECT_TRUE(host->dispatch(other.dump()));
}

// Two hosts on one store are two processes to SQLite (each its own writer connection): each
// counts the other's runs and spend, and of two dispatches racing for the last slot exactly one
// gets it.
TEST(Quotas, TwoHostsOnOneStoreShareTheirLimits) {
  const json limits{{"quotas", {{"concurrent_per_tenant", 1}}}, {"budgets", {{"user_day_usd", 1.0}}}};
  TestHost first(with_limits(limits));
  HostOptions o = with_limits(limits);
  o.store = first.dir() / "runhost.db";
  o.workspace_root = first.workspace();
  TestHost second(o);

  // Spend on the first, refused on the second.
  (void)first.run(spending({usage_line("anthropic", 1.5)}, "true", "s-1"));
  auto refused = second->dispatch(spending({}, "true", "s-2").dump());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::budget_exceeded) << refused.error().message;

  // Racing for the tenant's one slot (user u2 has budget left).
  std::atomic<int> accepted{0};
  std::vector<std::string> ids(2);
  std::thread a([&] {
    if (auto r = first->dispatch(sleeper("race-a", "u2").dump())) ids[0] = r->run.id, ++accepted;
  });
  std::thread b([&] {
    if (auto r = second->dispatch(sleeper("race-b", "u2").dump())) ids[1] = r->run.id, ++accepted;
  });
  a.join();
  b.join();
  EXPECT_EQ(accepted.load(), 1) << "the tenant's one concurrent slot went to " << accepted.load() << " runs";
  for (const auto& id : ids) {
    if (id.empty()) continue;
    (void)first->cancel(id);
    (void)first.follow(id);
  }
}

TEST(Usage, IsWalledByTenant) {
  TestHost host;
  (void)host.run(spending({usage_line("anthropic", 0.5)}, "true", "u-1", "u1", "acme"));
  (void)host.run(spending({usage_line("openai", 2.0)}, "true", "u-2", "u1", "globex"));
  auto acme = host->usage({}, Scope::tenant("acme"));
  ASSERT_TRUE(acme);
  ASSERT_EQ(acme->size(), 1u);
  EXPECT_EQ(acme->front().source, "anthropic");
  UsageQuery other;
  other.tenant_id = "globex";
  EXPECT_TRUE(host->usage(other, Scope::tenant("acme"))->empty()) << "another tenant's spend was visible";
  other.tenant_id.reset();
  other.run_id = host.last_run_id;  // globex's run
  EXPECT_TRUE(host->usage(other, Scope::tenant("acme"))->empty()) << "another tenant's run's spend was visible";
  auto all = host->usage({});
  ASSERT_TRUE(all);
  EXPECT_NEAR(cost_of(*all), 2.5, 1e-9);
  EXPECT_EQ(all->front().source, "openai") << "most spent first";
  UsageQuery later;
  later.since_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch() + std::chrono::hours(1))
                       .count();
  EXPECT_TRUE(host->usage(later)->empty());
}

// The runtime's own spending cap is what the budgets leave: claude-code, run as a stand-in that
// records its argv, gets --max-budget-usd with the user's day budget less what was spent.
TEST(Budgets, AClaudeCodeRunGetsWhatIsLeftAsItsOwnCap) {
  TempDir bin;
  const auto argv_file = bin / "argv.txt";
  const auto fake = bin / "fake-claude";
  write_argv_recorder(fake, argv_file, R"({"type":"result","subtype":"success","is_error":false,"result":"ok"})");
  HostOptions options = with_limits({{"budgets", {{"run_usd", 5.0}, {"user_day_usd", 20.0}}}});
  options.plugin_config["claude-code"] = json{{"executable", fake.string()}}.dump();
  TestHost host(options);
  // 17.5 spent by four runs today: 2.5 left of the day, less than the run's 5.
  for (int i = 0; i < 4; ++i) {
    const auto f = host.run(spending({usage_line("anthropic", 4.375)}, "true", "pre-" + std::to_string(i)));
    ASSERT_EQ(f.events.back().type, "run.completed") << f.events.back().json;
  }
  json d = custom_dispatch({}, "claude");
  d["runtime"] = "claude-code";
  d["command"] = nullptr;  // not the custom runtime's
  EXPECT_EQ(host.run(d).types().back(), "run.completed");
  const std::string argv = read_file(argv_file);
  EXPECT_NE(argv.find("--max-budget-usd=2.5\n"), std::string::npos) << argv;

  // Without budgets, no cap.
  HostOptions unlimited;
  unlimited.plugin_config = options.plugin_config;
  TestHost free_host(unlimited);
  (void)free_host.run(d);
  EXPECT_EQ(read_file(argv_file).find("--max-budget-usd"), std::string::npos) << read_file(argv_file);
}

}  // namespace
}  // namespace runhost::testing
