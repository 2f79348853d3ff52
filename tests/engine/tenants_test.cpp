// Tenant walls: every read and steer call of the Host, scoped to an acting tenant, treats another
// tenant's run exactly as a run that does not exist; the unscoped (operator) view sees all.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "test_host.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;

json tenant_dispatch(const std::string& tenant, std::vector<std::string> command, const std::string& key) {
  json d = custom_dispatch(std::move(command), key);
  d["tenantId"] = tenant;
  return d;
}

class Tenants : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = host_->dispatch(tenant_dispatch("globex", {"sh", "-c", "echo b; sleep 30"}, "b-1").dump());
    ASSERT_TRUE(b) << b.error().message;
    foreign_ = b->run.id;
  }
  void TearDown() override { (void)host_->cancel(foreign_); }

  // The error `call` gives for `id`, which must be run_not_found.
  static std::string refusal(const Status& st) {
    EXPECT_FALSE(st);
    if (st) return {};
    EXPECT_EQ(st.error().code, ErrorCode::run_not_found) << st.error().message;
    return st.error().message;
  }

  TestHost host_;
  std::string foreign_;
  const Scope acme_ = Scope::tenant("acme");
};

TEST_F(Tenants, AnotherTenantsRunIsIndistinguishableFromAMissingOne) {
  const std::string unknown = "run_01M000000000000000000000ZZ";
  auto message = [&](const std::string& id) {
    std::vector<std::string> said;
    auto run = host_->run(id, acme_);
    EXPECT_TRUE(run && !*run) << "run(" << id << ") is empty";
    auto events = host_->events(id, 0, 100, acme_);
    said.push_back(refusal(events ? Status{} : Status{events.error()}));
    auto sub = host_->subscribe(id, 0, [](const Event&) { ADD_FAILURE() << "an event was delivered"; }, [](const Status&) {},
                                acme_);
    said.push_back(refusal(sub ? Status{} : Status{sub.error()}));
    said.push_back(refusal(host_->cancel(id, acme_)));
    said.push_back(refusal(host_->resolve_approval(id, "apr_1", true, "", acme_)));
    return said;
  };
  const auto foreign = message(foreign_);
  const auto missing = message(unknown);
  ASSERT_EQ(foreign.size(), missing.size());
  for (size_t i = 0; i < foreign.size(); ++i) {
    EXPECT_EQ(foreign[i], "no run '" + foreign_ + "'");
    EXPECT_EQ(missing[i], "no run '" + unknown + "'");
  }
  // Nothing reached the other tenant's run: it is still running.
  auto still = host_->run(foreign_);
  ASSERT_TRUE(still && *still);
  EXPECT_TRUE((*still)->status == "running" || (*still)->status == "queued") << (*still)->status;
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // a cancel would have ended it by now
  still = host_->run(foreign_);
  EXPECT_EQ((*still)->status, "running");
}

TEST_F(Tenants, AScopedListingNeverShowsAnotherTenantsRuns) {
  auto mine = host_->dispatch(tenant_dispatch("acme", {"true"}, "a-1").dump(), acme_);
  ASSERT_TRUE(mine) << mine.error().message;
  auto listed = host_->runs({}, acme_);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, mine->run.id);
  RunQuery asks_for_other;
  asks_for_other.tenant_id = "globex";
  auto other = host_->runs(asks_for_other, acme_);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty()) << "a scoped query naming another tenant lists nothing";
  auto all = host_->runs({});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 2u) << "the operator sees every tenant";
}

TEST_F(Tenants, AScopedDispatchIsForItsOwnTenantOnly) {
  auto other = host_->dispatch(tenant_dispatch("globex", {"true"}, "x-1").dump(), acme_);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::invalid_dispatch);
  EXPECT_NE(other.error().recovery_json.find(R"("field":"tenantId")"), std::string::npos) << other.error().recovery_json;

  json without = custom_dispatch({"true"}, "x-2");
  without.erase("tenantId");
  auto filled = host_->dispatch(without.dump(), acme_);
  ASSERT_TRUE(filled) << filled.error().message;
  EXPECT_EQ(filled->run.tenant_id, "acme");
  auto unscoped = host_->dispatch(without.dump());
  ASSERT_FALSE(unscoped) << "the operator names the tenant";
  EXPECT_EQ(unscoped.error().code, ErrorCode::invalid_dispatch);
}

TEST_F(Tenants, TheOwnTenantReadsFollowsAndCancelsItsRun) {
  auto mine = host_->dispatch(tenant_dispatch("acme", {"sh", "-c", "echo a; sleep 30"}, "a-2").dump(), acme_);
  ASSERT_TRUE(mine);
  ASSERT_TRUE(host_->cancel(mine->run.id, acme_));
  const auto seen = host_.follow(mine->run.id);
  ASSERT_FALSE(seen.timed_out);
  EXPECT_EQ(seen.events.back().type, "run.cancelled");
  auto events = host_->events(mine->run.id, 0, 100, acme_);
  ASSERT_TRUE(events);
  EXPECT_EQ(events->size(), seen.events.size());
}

}  // namespace
}  // namespace runhost::testing
