// Connector grants end to end: the oauth2 connector against a token endpoint on loopback,
// through the host's HTTP service. A run naming the connector without a grant fails with
// connector_authorization_missing and the connect URL; a code added as a grant is exchanged;
// the same dispatch retried runs with the token in its environment, and the token is in no
// event and in no table but grant_secrets; an expired or revoked grant asks again; a token
// endpoint that refuses stores nothing.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "test_host.hpp"
#include "token_server.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kClientSecret = "cs-Kq8vZ2-client-secret";
constexpr const char* kToken = "tok-7Hc9Qx2mWv-access";
constexpr const char* kCode = "code-Rj3pLw5";

HostOptions with_oauth2(const TokenServer& server) {
  HostOptions options;
  options.plugin_config["oauth2"] = json{{"authorize_url", server.url("/authorize")},
                                         {"token_url", server.url("/token")},
                                         {"client_id", "runhost-test"},
                                         {"client_secret", kClientSecret},
                                         {"scopes", {"repo", "read"}},
                                         {"env_name", "TOKEN"}}
                                        .dump();
  return options;
}

std::string token_answer(const std::string& token, int expires_in) {
  return json{{"access_token", token}, {"token_type", "bearer"}, {"expires_in", expires_in}, {"scope", "repo read"}}
      .dump();
}

// Every text value of every table but grant_secrets, concatenated, read with SQLite directly.
std::string store_text_outside_secrets(const std::filesystem::path& db) {
  sqlite3* conn = nullptr;
  std::string all;
  if (sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db;
    sqlite3_close_v2(conn);
    return all;
  }
  std::vector<std::string> tables;
  sqlite3_stmt* list = nullptr;
  sqlite3_prepare_v2(conn, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name != 'grant_secrets'", -1, &list,
                     nullptr);
  while (sqlite3_step(list) == SQLITE_ROW) tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(list, 0)));
  sqlite3_finalize(list);
  for (const auto& table : tables) {
    sqlite3_stmt* rows = nullptr;
    sqlite3_prepare_v2(conn, ("SELECT * FROM \"" + table + "\"").c_str(), -1, &rows, nullptr);
    while (sqlite3_step(rows) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(rows); ++c) {
        if (const auto* text = sqlite3_column_text(rows, c)) all += reinterpret_cast<const char*>(text) + std::string("\n");
      }
    }
    sqlite3_finalize(rows);
  }
  sqlite3_close_v2(conn);
  return all;
}

std::string scalar(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* conn = nullptr;
  std::string out;
  sqlite3_stmt* q = nullptr;
  if (sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(conn, sql.c_str(), -1, &q, nullptr) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW &&
      sqlite3_column_text(q, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
  }
  sqlite3_finalize(q);
  sqlite3_close_v2(conn);
  return out;
}

class Grants : public ::testing::Test {
 protected:
  Grants() : host_(with_oauth2(server_)) {}

  // The runtime compares $TOKEN with the expected token (from a file: a secret in argv is
  // refused) and prints it, so an event would show it were it not kept out.
  json dispatch(const std::string& key) {
    json d = custom_dispatch({"sh", "-c", "test \"$TOKEN\" = \"$(cat expected)\" && echo \"ran with $TOKEN\""}, key);
    d["connectors"] = {"oauth2"};
    return d;
  }
  GrantInput code_grant() {
    GrantInput in;
    in.tenant_id = "t1";
    in.user_id = "u1";
    in.connector = "oauth2";
    in.code = kCode;
    in.scopes = {"repo", "read"};
    return in;
  }
  // The run's failure as its run.failed says it.
  static json failure(const Finished& f) {
    EXPECT_FALSE(f.events.empty());
    if (f.events.empty()) return {};
    EXPECT_EQ(f.events.back().type, "run.failed") << f.events.back().json;
    return json::parse(f.events.back().json)["payload"]["error"];
  }
  void expect_connect_again(const Finished& f, const std::string& why) {
    const json e = failure(f);
    EXPECT_EQ(e["code"], "connector_authorization_missing") << e.dump();
    EXPECT_NE(e.value("message", "").find(why), std::string::npos) << e.dump();
    EXPECT_EQ(e["recovery"]["action"], "connect_account") << e.dump();
    EXPECT_EQ(e["recovery"]["connector"], "oauth2");
    EXPECT_EQ(e["recovery"]["connect_url"],
              server_.url("/authorize") + "?response_type=code&client_id=runhost-test&scope=repo%20read&state=t1%3Au1");
    EXPECT_EQ(f.find("run.started"), nullptr) << "nothing runs without a grant";
  }
  size_t stored_grants() { return std::stoul(scalar(host_.dir() / "runhost.db", "SELECT count(*) FROM grants")); }

  TokenServer server_;
  TestHost host_;
};

TEST_F(Grants, AMissingGrantAsksTheUserToConnectAndTheExchangedCodeLetsTheRetryRun) {
  write_file(host_.workspace() / "expected", kToken);
  expect_connect_again(host_.run(dispatch("before-grant")), "not authorised for user u1");

  server_.answer(200, token_answer(kToken, 3600));
  auto grant = host_->add_grant(code_grant());
  ASSERT_TRUE(grant) << grant.error().message;
  EXPECT_EQ(grant->id.rfind("grt_", 0), 0u) << grant->id;
  EXPECT_EQ(grant->tenant_id, "t1");
  EXPECT_EQ(grant->user_id, "u1");
  EXPECT_EQ(grant->scopes, (std::vector<std::string>{"repo", "read"}));
  EXPECT_EQ(grant->state, "active");
  EXPECT_NEAR(static_cast<double>(grant->expires_us - grant->created_us), 3600e6, 1e6);

  // The code and the client's credentials went in the POST body, form-encoded; never the URL.
  const auto requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/token");
  EXPECT_NE(requests[0].headers.find("application/x-www-form-urlencoded"), std::string::npos) << requests[0].headers;
  EXPECT_EQ(requests[0].body, std::string("grant_type=authorization_code&code=") + kCode +
                                  "&client_id=runhost-test&client_secret=" + kClientSecret);

  // The same dispatch, retried under a new key, runs with the token in its environment.
  const auto f = host_.run(dispatch("after-grant"));
  expect_valid_stream(f);
  ASSERT_EQ(f.events.back().type, "run.completed") << f.events.back().json;
  bool printed = false;
  for (const auto& e : f.events) {
    EXPECT_EQ(e.json.find(kToken), std::string::npos) << "an event holds the token: " << e.json;
    EXPECT_EQ(e.json.find(kClientSecret), std::string::npos) << e.json;
    if (e.type == "command.output" && e.json.find("ran with [redacted]") != std::string::npos) printed = true;
  }
  EXPECT_TRUE(printed) << "the runtime had the token (and printed it, redacted)";

  // In the store, the token is in grant_secrets and nowhere else; the code and the client
  // secret are nowhere at all.
  host_.close();
  const auto db = host_.dir() / "runhost.db";
  EXPECT_NE(scalar(db, "SELECT secret_json FROM grant_secrets").find(kToken), std::string::npos);
  const std::string outside = store_text_outside_secrets(db);
  EXPECT_NE(outside.find("ran with [redacted]"), std::string::npos) << "the scan read the events";
  EXPECT_EQ(outside.find(kToken), std::string::npos);
  EXPECT_EQ(outside.find(kCode), std::string::npos);
  EXPECT_EQ(outside.find(kClientSecret), std::string::npos);
}

TEST_F(Grants, ARevokedGrantAndAnExpiredOneAskAgain) {
  write_file(host_.workspace() / "expected", kToken);
  server_.answer(200, token_answer(kToken, 3600));
  auto lasting = host_->add_grant(code_grant());
  ASSERT_TRUE(lasting) << lasting.error().message;
  ASSERT_EQ(host_.run(dispatch("granted")).events.back().type, "run.completed");

  ASSERT_TRUE(host_->revoke_grant(lasting->id));
  expect_connect_again(host_.run(dispatch("revoked")), "not authorised for user u1");
  EXPECT_TRUE(host_->revoke_grant(lasting->id)) << "revoking twice changes nothing";

  server_.answer(200, token_answer(kToken, 3));
  auto brief = host_->add_grant(code_grant());
  ASSERT_TRUE(brief) << brief.error().message;
  ASSERT_EQ(host_.run(dispatch("brief-still-valid")).events.back().type, "run.completed");
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(std::chrono::microseconds(brief->expires_us)) + 100ms);
  expect_connect_again(host_.run(dispatch("expired")), "expired for user u1");

  auto active = host_->grants({});
  ASSERT_TRUE(active);
  EXPECT_TRUE(active->empty()) << "neither a revoked nor an expired grant is listed by default";
  GrantQuery everything;
  everything.include_revoked = everything.include_expired = true;
  auto all = host_->grants(everything);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, brief->id);
  EXPECT_EQ((*all)[0].state, "expired");
  EXPECT_EQ((*all)[1].state, "revoked");
  EXPECT_GT((*all)[1].revoked_us, 0);
}

TEST_F(Grants, ATokenEndpointThatRefusesStoresNothing) {
  server_.answer(400, R"({"error":"invalid_grant","error_description":"the code was used"})");
  auto refused = host_->add_grant(code_grant());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::connector_authorization_missing) << refused.error().message;
  EXPECT_NE(refused.error().message.find("HTTP 400, invalid_grant"), std::string::npos) << refused.error().message;
  EXPECT_EQ(json::parse(refused.error().recovery_json)["action"], "connect_account");

  server_.answer(500, "{}");
  auto failed = host_->add_grant(code_grant());
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::plugin_error) << failed.error().message;
  EXPECT_NE(failed.error().message.find("HTTP 500"), std::string::npos) << failed.error().message;

  server_.answer(200, R"({"token_type":"bearer"})");  // no access_token
  auto empty = host_->add_grant(code_grant());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::plugin_error) << empty.error().message;

  EXPECT_EQ(server_.requests().size(), 3u) << "each was asked";
  for (const auto* e : {&refused.error(), &failed.error(), &empty.error()}) {
    EXPECT_EQ(e->message.find(kCode), std::string::npos) << e->message;
    EXPECT_EQ(e->message.find(kClientSecret), std::string::npos) << e->message;
  }
  EXPECT_EQ(stored_grants(), 0u);
  EXPECT_EQ(scalar(host_.dir() / "runhost.db", "SELECT count(*) FROM grant_secrets"), "0");
}

TEST_F(Grants, AGrantIsWalledToItsTenant) {
  server_.answer(200, token_answer(kToken, 3600));
  auto grant = host_->add_grant(code_grant());
  ASSERT_TRUE(grant) << grant.error().message;
  const Scope globex = Scope::tenant("globex");
  auto listed = host_->grants({}, globex);
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty());
  GrantQuery named;
  named.tenant_id = "t1";
  listed = host_->grants(named, globex);
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->empty()) << "naming another tenant lists nothing";
  auto walled = host_->revoke_grant(grant->id, globex);
  ASSERT_FALSE(walled);
  EXPECT_EQ(walled.error().code, ErrorCode::invalid_dispatch);
  auto unknown = host_->revoke_grant("grt_01M000000000000000000000ZZ", globex);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(walled.error().message, "invalid grant: \"grant_id\" names no grant ('" + grant->id + "')");
  EXPECT_EQ(unknown.error().message, "invalid grant: \"grant_id\" names no grant ('grt_01M000000000000000000000ZZ')");
  listed = host_->grants({}, Scope::tenant("t1"));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u) << "the other tenant's revoke did nothing";

  // A scoped caller adds for its own tenant only; without tenantId it gets the scope's.
  GrantInput other = code_grant();
  auto refused = host_->add_grant(other, globex);
  ASSERT_FALSE(refused);
  EXPECT_EQ(json::parse(refused.error().recovery_json)["field"], "tenantId");
  other.tenant_id.clear();
  auto own = host_->add_grant(other, globex);
  ASSERT_TRUE(own) << own.error().message;
  EXPECT_EQ(own->tenant_id, "globex");
}

TEST_F(Grants, AnInvalidGrantNamesTheFieldAndNeverRepeatsASecret) {
  struct Case {
    std::function<void(GrantInput&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](GrantInput& g) { g.user_id.clear(); }, "userId"},
      {[](GrantInput& g) { g.connector = "nope"; }, "connector"},
      {[](GrantInput& g) { g.code.reset(); }, "code"},
      {[](GrantInput& g) { g.secret_json = R"({"access_token":"x"})"; }, "code"},
      {[](GrantInput& g) { g.code = ""; }, "code"},
      {[](GrantInput& g) { g.connector = "static-grant"; }, "code"},  // it has no exchange()
      {[](GrantInput& g) { g.code.reset(), g.secret_json = "not-json-sekrit-value"; }, "secret"},
      {[](GrantInput& g) { g.code.reset(), g.secret_json = "{}"; }, "secret"},
      {[](GrantInput& g) { g.expires_in_s = 0; }, "expiresIn"},
      {[](GrantInput& g) { g.scopes = {""}; }, "scopes"},
      {[](GrantInput& g) { g.metadata_json = "[1]"; }, "metadata"},
  };
  for (const auto& c : cases) {
    GrantInput in = code_grant();
    c.change(in);
    auto r = host_->add_grant(in);
    ASSERT_FALSE(r) << c.field;
    EXPECT_EQ(r.error().code, ErrorCode::invalid_dispatch) << r.error().message;
    EXPECT_EQ(json::parse(r.error().recovery_json)["field"], c.field) << r.error().message;
    EXPECT_EQ(r.error().message.find("sekrit"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(server_.requests().empty()) << "an invalid grant never reaches the provider";
  EXPECT_EQ(stored_grants(), 0u);

  // The secret material given directly: stored as given, with the scopes and expiry given.
  GrantInput direct = code_grant();
  direct.code.reset();
  direct.secret_json = json{{"access_token", kToken}}.dump();
  direct.expires_in_s = 60;
  direct.metadata_json = R"({"account":"ada"})";
  auto stored = host_->add_grant(direct);
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->expires_us - stored->created_us, 60'000'000);
  EXPECT_EQ(stored->metadata_json, R"({"account":"ada"})");
  EXPECT_TRUE(server_.requests().empty());
  write_file(host_.workspace() / "expected", kToken);
  EXPECT_EQ(host_.run(dispatch("direct")).events.back().type, "run.completed");
}

}  // namespace
}  // namespace runhost::testing
