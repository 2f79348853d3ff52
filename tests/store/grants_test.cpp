// Connector grants: add, list, revoke, tenant walls, expiry, the grant a connector gets, the
// secret kept in its own table, two processes adding at once, and a version-3 file migrated.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "store/schema.hpp"
#include "store_test_util.hpp"
#include "test_paths.hpp"

namespace runhost::store {
namespace {

using runhost::testing::TempDir;
using testing::make_run;
using testing::open_store;
using testing::RawConnection;

constexpr int64_t kNow = 1'800'000'000'000'000;
constexpr int64_t kHour = 3'600'000'000;

GrantRow make_grant(const std::string& id, int64_t created_us, std::optional<int64_t> expires_us = {},
                    const std::string& tenant = "t1", const std::string& user = "u1",
                    const std::string& connector = "oauth2") {
  GrantRow g;
  g.id = id;
  g.tenant_id = tenant;
  g.user_id = user;
  g.connector = connector;
  g.scopes_json = R"(["repo","read"])";
  g.metadata_json = R"({"account":"ada"})";
  g.created_us = created_us;
  g.expires_us = expires_us;
  return g;
}

std::string secret_of(const std::string& id) { return R"({"access_token":"tok-)" + id + R"("})"; }

void add(Store& store, const GrantRow& g) {
  auto st = store.add_grant(g, secret_of(g.id));
  ASSERT_TRUE(st) << st.error().message;
}

std::vector<std::string> ids(const Result<std::vector<GrantRow>>& rows) {
  EXPECT_TRUE(rows) << rows.error().message;
  std::vector<std::string> out;
  if (rows) {
    for (const auto& r : *rows) out.push_back(r.id);
  }
  return out;
}

GrantFilter at_now() {
  GrantFilter f;
  f.now_us = kNow;
  return f;
}

TEST(StoreGrants, AddListAndRevokeRoundTrip) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  add(*store, make_grant("grt_A", kNow - 2 * kHour));
  add(*store, make_grant("grt_B", kNow - kHour, kNow + kHour));

  auto listed = store->grants(at_now());
  ASSERT_EQ(ids(listed), (std::vector<std::string>{"grt_B", "grt_A"})) << "newest first";
  const GrantRow& b = (*listed)[0];
  EXPECT_EQ(b.tenant_id, "t1");
  EXPECT_EQ(b.user_id, "u1");
  EXPECT_EQ(b.connector, "oauth2");
  EXPECT_EQ(b.scopes_json, R"(["repo","read"])");
  EXPECT_EQ(b.metadata_json, R"({"account":"ada"})");
  EXPECT_EQ(b.created_us, kNow - kHour);
  EXPECT_EQ(b.expires_us, kNow + kHour);
  EXPECT_FALSE(b.revoked_us.has_value());
  EXPECT_FALSE((*listed)[1].expires_us.has_value()) << "no expiry stays none";

  auto revoked = store->revoke_grant("grt_B", std::nullopt);
  ASSERT_TRUE(revoked && *revoked);
  EXPECT_EQ(ids(store->grants(at_now())), std::vector<std::string>{"grt_A"});
  GrantFilter all = at_now();
  all.include_revoked = true;
  auto with_revoked = store->grants(all);
  ASSERT_EQ(ids(with_revoked), (std::vector<std::string>{"grt_B", "grt_A"}));
  ASSERT_TRUE((*with_revoked)[0].revoked_us.has_value());
  const int64_t first_revoked = *(*with_revoked)[0].revoked_us;
  EXPECT_GT(first_revoked, 0);

  RawConnection raw(dir / "runhost.db");
  EXPECT_EQ(raw.text("SELECT count(*) FROM grant_secrets WHERE grant_id = 'grt_B'"), "0") << "revoking deletes the secret";
  EXPECT_EQ(raw.text("SELECT count(*) FROM grant_secrets WHERE grant_id = 'grt_A'"), "1");

  // Revoking again changes nothing; an unknown id is not found.
  auto again = store->revoke_grant("grt_B", std::nullopt);
  ASSERT_TRUE(again && *again);
  EXPECT_EQ(raw.text("SELECT revoked_at FROM grants WHERE id = 'grt_B'"), std::to_string(first_revoked));
  auto unknown = store->revoke_grant("grt_nope", std::nullopt);
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(*unknown);
}

TEST(StoreGrants, TenantsUsersAndConnectorsFilter) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  add(*store, make_grant("grt_T1", kNow - 3, {}, "t1", "u1", "oauth2"));
  add(*store, make_grant("grt_T2", kNow - 2, {}, "t2", "u1", "oauth2"));
  add(*store, make_grant("grt_U2", kNow - 1, {}, "t1", "u2", "github"));

  GrantFilter t1 = at_now();
  t1.tenant_id = "t1";
  EXPECT_EQ(ids(store->grants(t1)), (std::vector<std::string>{"grt_U2", "grt_T1"}));
  GrantFilter u1 = t1;
  u1.user_id = "u1";
  EXPECT_EQ(ids(store->grants(u1)), std::vector<std::string>{"grt_T1"});
  GrantFilter github = at_now();
  github.connector = "github";
  EXPECT_EQ(ids(store->grants(github)), std::vector<std::string>{"grt_U2"});
  GrantFilter limited = at_now();
  limited.limit = 1;
  EXPECT_EQ(ids(store->grants(limited)), std::vector<std::string>{"grt_U2"});

  // A tenant cannot revoke another's grant: not found, and the grant stays active.
  auto walled = store->revoke_grant("grt_T2", std::string("t1"));
  ASSERT_TRUE(walled);
  EXPECT_FALSE(*walled);
  GrantFilter t2 = at_now();
  t2.tenant_id = "t2";
  EXPECT_EQ(ids(store->grants(t2)), std::vector<std::string>{"grt_T2"});
  auto own = store->revoke_grant("grt_T2", std::string("t2"));
  ASSERT_TRUE(own && *own);
  EXPECT_TRUE(ids(store->grants(t2)).empty());
}

TEST(StoreGrants, ExpiredGrantsAreListedOnlyWhenAsked) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  add(*store, make_grant("grt_old", kNow - 2 * kHour, kNow - kHour));
  add(*store, make_grant("grt_edge", kNow - kHour, kNow));  // expires at this very moment: expired
  add(*store, make_grant("grt_live", kNow - 3 * kHour, kNow + 1));
  EXPECT_EQ(ids(store->grants(at_now())), std::vector<std::string>{"grt_live"});
  GrantFilter all = at_now();
  all.include_expired = true;
  EXPECT_EQ(ids(store->grants(all)), (std::vector<std::string>{"grt_edge", "grt_old", "grt_live"}));
}

TEST(StoreGrants, TheGrantForARunIsTheNewestUsableElseTheNewestExpired) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  auto none = store->grant_for("t1", "u1", "oauth2", kNow);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  add(*store, make_grant("grt_usable_old", kNow - 3 * kHour));
  add(*store, make_grant("grt_usable_new", kNow - 2 * kHour, kNow + kHour));
  add(*store, make_grant("grt_expired_newest", kNow - kHour, kNow - 1));
  add(*store, make_grant("grt_other_user", kNow, {}, "t1", "u2"));
  add(*store, make_grant("grt_other_tenant", kNow, {}, "t2", "u1"));
  add(*store, make_grant("grt_other_connector", kNow, {}, "t1", "u1", "github"));

  auto got = store->grant_for("t1", "u1", "oauth2", kNow);
  ASSERT_TRUE(got && *got) << "a usable grant beats a newer expired one";
  EXPECT_EQ((*got)->grant.id, "grt_usable_new");
  EXPECT_EQ((*got)->secret_json, secret_of("grt_usable_new"));

  ASSERT_TRUE(store->revoke_grant("grt_usable_new", std::nullopt));
  got = store->grant_for("t1", "u1", "oauth2", kNow);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->grant.id, "grt_usable_old") << "a revoked grant is never handed out";

  ASSERT_TRUE(store->revoke_grant("grt_usable_old", std::nullopt));
  got = store->grant_for("t1", "u1", "oauth2", kNow);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->grant.id, "grt_expired_newest") << "no usable grant: the newest expired, so check() says expired";
  EXPECT_EQ((*got)->secret_json, "") << "an expired grant comes without its secret";

  ASSERT_TRUE(store->revoke_grant("grt_expired_newest", std::nullopt));
  got = store->grant_for("t1", "u1", "oauth2", kNow);
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());
}

// The secret is in grant_secrets and nowhere else: no other table's text holds it.
TEST(StoreGrants, TheSecretLivesOnlyInItsOwnTable) {
  TempDir dir;
  auto store = open_store(dir / "runhost.db");
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  add(*store, make_grant("grt_A", kNow));
  ASSERT_TRUE(store->flush());
  RawConnection raw(dir / "runhost.db");
  const std::string token = "tok-grt_A";
  EXPECT_EQ(raw.text("SELECT count(*) FROM grant_secrets WHERE secret_json LIKE '%" + token + "%'"), "1");
  EXPECT_EQ(raw.text("SELECT count(*) FROM grants WHERE scopes_json || metadata_json || id || tenant_id || user_id || "
                     "connector LIKE '%" + token + "%'"),
            "0");
  const auto listed = store->grants(at_now());
  ASSERT_TRUE(listed && listed->size() == 1);
  for (const auto& row : *listed) {
    EXPECT_EQ((row.scopes_json + row.metadata_json).find(token), std::string::npos);
  }
}

// Two processes add grants to one new store at once: every grant is kept, none twice.
TEST(StoreGrants, TwoProcessesAddingAtOnceKeepEveryGrant) {
  TempDir dir;
  const auto path = dir / "runhost.db";
  constexpr int kEach = 40;
  std::vector<pid_t> children;
  for (int p = 0; p < 2; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int failures = 0;
      try {
        auto store = open_store(path);
        for (int i = 0; i < kEach; ++i) {
          const std::string id = "grt_" + std::to_string(p) + "_" + std::to_string(i);
          if (!store->add_grant(make_grant(id, kNow + i, {}, "t1", "u" + std::to_string(p)), secret_of(id))) ++failures;
        }
      } catch (...) {
        failures = 1;
      }
      _exit(failures == 0 ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a child failed to add its grants";
  }
  auto store = open_store(path);
  GrantFilter all = at_now();
  all.limit = 1000;
  EXPECT_EQ(ids(store->grants(all)).size(), 2u * kEach);
  RawConnection raw(path);
  EXPECT_EQ(raw.text("SELECT count(*) FROM grant_secrets"), std::to_string(2 * kEach));
}

// A file at schema version 3 (what runhost wrote before grants): opened, it gains the grant
// tables and keeps its runs.
TEST(StoreGrants, AVersionThreeStoreIsMigratedAndKeepsItsRuns) {
  TempDir dir;
  const auto path = dir / "runhost.db";
  {
    auto store = open_store(path);
    ASSERT_TRUE(store->create_run(make_run("run_old")));
  }
  {
    // Exactly what version 3 had: versions 1-3 are unchanged, versions 4 to 6 only add these.
    RawConnection raw(path);
    raw.exec("ALTER TABLE projects DROP COLUMN tenant_id; ALTER TABLE projects DROP COLUMN updated_at; "
             "DROP TABLE usage_ledger; DROP INDEX agent_runs_by_user; DROP INDEX agent_runs_live; "
             "DROP TABLE grant_secrets; DROP TABLE grants; PRAGMA user_version = 3;");
    EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'grant%'"), "0");
  }
  auto store = open_store(path);
  RawConnection raw(path);
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(latest_schema_version()));
  EXPECT_GE(latest_schema_version(), 4);
  auto run = store->run("run_old");
  ASSERT_TRUE(run && *run) << "the version-3 run is still there";
  add(*store, make_grant("grt_new", kNow));
  EXPECT_EQ(ids(store->grants(at_now())), std::vector<std::string>{"grt_new"});
}

}  // namespace
}  // namespace runhost::store
