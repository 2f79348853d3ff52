// runhost grants add / list / revoke as an operator uses them: a token from stdin, a code
// exchanged at the configured token endpoint, tenant walls, and a run in another process that
// gets the grant. Every command logs at trace level, and no output shows a secret.
#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "test_paths.hpp"
#include "token_server.hpp"

namespace runhost {
namespace {

using nlohmann::json;
using testing::run_command;

constexpr const char* kToken = "tok-cli-Zt4Wq9e";
constexpr const char* kClientSecret = "cs-cli-Mv2Lp8r";

class CliGrants : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(dir_ / "ws"); }
  // runhost SUB... --store S --workspace-root W REST..., logging at trace, stdin from `input`.
  testing::CommandResult runhost(std::vector<std::string> args, const std::string& input = "/dev/null") {
    std::vector<std::string> argv{"/bin/sh", "-c", "in=$1; shift; RUNHOST_LOG=trace exec \"$@\" < \"$in\"", "sh", input,
                                  testing::kCli.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    // Before a custom runtime's "--", whose argv the rest is.
    auto at = std::find(argv.begin() + 6, argv.end(), "--");
    argv.insert(at, {"--store", (dir_ / "runhost.db").string(), "--workspace-root", (dir_ / "ws").string()});
    auto r = run_command(argv);
    for (const char* secret : {kToken, kClientSecret}) {
      EXPECT_EQ(r.out.find(secret), std::string::npos) << "a secret in the output or a log line of:\n" << r.out;
    }
    return r;
  }
  json grants(std::vector<std::string> args) {
    args.insert(args.begin(), {"grants", "list", "--json"});
    const auto r = runhost(args);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    return json::parse(r.out.substr(r.out.find('[')), nullptr, false);
  }
  std::string input(const std::string& name, const std::string& text) {
    testing::write_file(dir_ / name, text);
    return (dir_ / name).string();
  }
  testing::TempDir dir_;
};

TEST_F(CliGrants, ATokenFromStdinIsGrantedListedUsedByARunAndRevoked) {
  const auto added = runhost({"grants", "add", "--tenant", "acme", "--user", "ada", "--connector", "oauth2",
                              "--token-stdin", "--scopes", "repo,read", "--expires-in", "600", "--json"},
                             input("token.txt", std::string(kToken) + "\n"));
  ASSERT_EQ(added.exit_code, 0) << added.out;
  const json grant = json::parse(added.out.substr(added.out.find('{')));
  const std::string id = grant["id"];
  EXPECT_EQ(grant["tenant_id"], "acme");
  EXPECT_EQ(grant["user_id"], "ada");
  EXPECT_EQ(grant["scopes"], json({"repo", "read"}));
  EXPECT_EQ(grant["state"], "active");
  EXPECT_NEAR(grant["expires_us"].get<double>() - grant["created_us"].get<double>(), 600e6, 1);

  EXPECT_EQ(grants({"--tenant", "acme"}).size(), 1u);
  EXPECT_EQ(grants({}).size(), 1u) << "the operator sees every tenant's";
  EXPECT_TRUE(grants({"--tenant", "globex"}).empty()) << "another tenant sees nothing";
  EXPECT_TRUE(grants({"--tenant", "acme", "--user", "bob"}).empty());
  const auto table = runhost({"grants", "list"});
  EXPECT_NE(table.out.find(id + " acme         ada          oauth2       active"), std::string::npos) << table.out;

  // A run in another process gets the token in its environment; its output shows it redacted.
  testing::write_file(dir_ / "ws" / "expected", kToken);
  const std::vector<std::string> run{"run", "--json", "--tenant", "acme", "--user", "ada", "--connector", "oauth2",
                                     "--", "sh", "-c", "test \"$OAUTH2_TOKEN\" = \"$(cat expected)\" && echo \"got $OAUTH2_TOKEN\""};
  const auto ran = runhost(run);
  EXPECT_EQ(ran.exit_code, 0) << ran.out;
  EXPECT_NE(ran.out.find("got [redacted]"), std::string::npos) << ran.out;

  const auto walled = runhost({"grants", "revoke", id, "--tenant", "globex"});
  EXPECT_EQ(walled.exit_code, 1) << walled.out;
  EXPECT_NE(walled.out.find("names no grant ('" + id + "')"), std::string::npos) << walled.out;
  EXPECT_EQ(grants({}).size(), 1u) << "another tenant's revoke changed nothing";

  const auto revoked = runhost({"grants", "revoke", id, "--tenant", "acme"});
  EXPECT_EQ(revoked.exit_code, 0) << revoked.out;
  EXPECT_TRUE(grants({}).empty());
  const json all = grants({"--all"});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0]["state"], "revoked");
  const auto refused = runhost(run);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("\"connector_authorization_missing\""), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("https://oauth2.invalid/authorize?response_type=code"), std::string::npos) << refused.out;
}

TEST_F(CliGrants, ACodeIsExchangedAtTheConfiguredTokenEndpoint) {
  testing::TokenServer server;
  const auto config = input("oauth2.json", json{{"authorize_url", server.url("/authorize")},
                                                {"token_url", server.url("/token")},
                                                {"client_id", "cli-client"},
                                                {"client_secret", kClientSecret}}
                                               .dump());
  server.answer(400, R"({"error":"invalid_grant"})");
  const std::vector<std::string> add{"grants", "add", "--connector", "oauth2", "--code", "code-1", "--user", "ada",
                                     "--plugin-config", "oauth2=@" + config};
  const auto refused = runhost(add);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("the token endpoint refused the code (HTTP 400, invalid_grant)"), std::string::npos)
      << refused.out;
  EXPECT_TRUE(grants({"--all"}).empty()) << "a refused code stores nothing";

  server.answer(200, json{{"access_token", kToken}, {"expires_in", 60}}.dump());
  const auto added = runhost(add);
  EXPECT_EQ(added.exit_code, 0) << added.out;
  EXPECT_NE(added.out.find("connector oauth2 for user ada of tenant local, scopes (none), expires"), std::string::npos)
      << added.out;
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].target, "/token");
  EXPECT_EQ(requests[1].body, std::string("grant_type=authorization_code&code=code-1&client_id=cli-client&client_secret=") +
                                  kClientSecret);
}

TEST_F(CliGrants, UsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
    int exit_code = 2;
  };
  const std::vector<Case> cases = {
      {{"grants"}, "usage: runhost grants add"},
      {{"grants", "frobnicate"}, "unknown subcommand 'frobnicate' (add, list, revoke)"},
      {{"grants", "add", "--token-stdin"}, "grants add needs --connector C"},
      {{"grants", "add", "--connector", "oauth2"}, "one of --code CODE (the connector exchanges it) or --token-stdin"},
      {{"grants", "add", "--connector", "oauth2", "--code", "c", "--token-stdin"}, "one of --code CODE"},
      {{"grants", "add", "--connector", "oauth2", "--code", "c", "--expires-in", "0"}, "--expires-in takes whole seconds > 0"},
      {{"grants", "add", "--connector", "oauth2", "--token-stdin", "--plugin-config", "oauth2=@-"},
       "stdin is read by --token-stdin already"},
      {{"grants", "add", "--connector", "oauth2", "--token-stdin"}, "--token-stdin: stdin is empty"},
      {{"grants", "add", "--connector", "nope", "--code", "c"}, "\"connector\" names no loaded connector ('nope')"},
      {{"grants", "add", "--connector", "static-grant", "--code", "c"}, "connector 'static-grant' has no exchange()"},
      {{"grants", "revoke"}, "usage: runhost grants revoke GRANT_ID"},
      {{"grants", "revoke", "grt_nope"}, "names no grant ('grt_nope')", 1},
  };
  for (const auto& c : cases) {
    const auto r = runhost(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.says << "\n" << r.out;
  }
  // Bad JSON on stdin is refused without repeating it.
  const auto bad = runhost({"grants", "add", "--connector", "oauth2", "--token-stdin"},
                           input("bad.json", R"({"access_token": "tok-cli-Zt4Wq9e)"));
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("not a JSON object"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace runhost
