// util::Redactor and secrets_in_config: a secret never survives in any spelling the host can
// foresee, and redacting a JSON document leaves a JSON document.
#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "util/secrets.hpp"

namespace runhost::util {
namespace {

using nlohmann::json;

std::string redacted(const Redactor& r, std::string text) {
  r.redact(text);
  return text;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

TEST(Redactor, AnEmptyRegistryChangesNothing) {
  Redactor r;
  EXPECT_TRUE(r.empty());
  std::string text = R"({"text":"sk-live-0123456789"})";
  EXPECT_FALSE(r.redact(text));
  EXPECT_EQ(text, R"({"text":"sk-live-0123456789"})");
}

TEST(Redactor, IgnoresValuesTooShortToBeSecrets) {
  Redactor r;
  r.add("");
  r.add("abc");
  EXPECT_TRUE(r.empty());
  r.add("abcd");
  EXPECT_EQ(r.size(), 1u);
  r.add("abcd");
  EXPECT_EQ(r.size(), 1u) << "a repeat is one secret";
}

TEST(Redactor, ReplacesTheRawSecretEverywhereInPlainText) {
  Redactor r;
  r.add("sk-live-0123456789");
  std::string text = "token=sk-live-0123456789; again sk-live-0123456789\n";
  EXPECT_TRUE(r.redact(text));
  EXPECT_EQ(text, "token=[redacted]; again [redacted]\n");
  std::string other = "sk-live-012345678 is not it";
  EXPECT_FALSE(r.redact(other));
}

TEST(Redactor, FindsSecretsWithQuotesAndBackslashesInsideJson) {
  const std::string secret = R"(pa"ss\wo rd%1)";
  Redactor r;
  r.add(secret);
  for (bool ascii : {false, true}) {
    std::string text = json{{"text", "before " + secret + " after"}, {"n", 1}}.dump(-1, ' ', ascii);
    ASSERT_FALSE(contains(text, secret)) << "the raw form is not what a JSON document holds";
    EXPECT_TRUE(r.redact(text));
    const json back = json::parse(text);
    EXPECT_EQ(back["text"], "before [redacted] after");
    EXPECT_EQ(back["n"], 1);
  }
}

TEST(Redactor, FindsControlCharactersInEveryEscapeStyle) {
  const std::string secret = "line1\nline2\ttab\x01\x1f";
  Redactor r;
  r.add(secret);
  // nlohmann writes \u0001 in lower case; other encoders in upper case.
  const std::vector<std::string> texts = {json{{"t", secret}}.dump(), R"({"t":"line1\nline2\ttab\u0001\u001F"})",
                                          "raw " + secret + " raw"};
  for (const std::string& text : texts) {
    const std::string out = redacted(r, text);
    EXPECT_TRUE(contains(out, "[redacted]")) << text;
    EXPECT_FALSE(contains(out, "line1")) << out;
  }
}

TEST(Redactor, FindsNonAsciiSecretsRawAndEscaped) {
  const std::string secret = "clé-secrète-€-\xF0\x9F\x98\x80";  // é, è, €, U+1F600 (a surrogate pair)
  Redactor r;
  r.add(secret);
  const std::string ascii = json{{"t", secret}}.dump(-1, ' ', true);
  ASSERT_TRUE(contains(ascii, "\\ud83d\\ude00")) << ascii;
  EXPECT_EQ(json::parse(redacted(r, ascii))["t"], "[redacted]");
  EXPECT_EQ(json::parse(redacted(r, json{{"t", secret}}.dump()))["t"], "[redacted]");
  // Python's json.dumps, PHP's json_encode (\/), Go's encoding/json (\u0026).
  Redactor go;
  go.add("a&b/c<d>");
  EXPECT_EQ(redacted(go, R"({"t":"a\u0026b/c\u003cd\u003e"})"), R"({"t":"[redacted]"})");
  EXPECT_EQ(redacted(go, R"({"t":"a&b\/c<d>"})"), R"({"t":"[redacted]"})");
}

TEST(Redactor, FindsPercentEncodedSecrets) {
  const std::string secret = "a b/c%d+é!";
  Redactor r;
  r.add(secret);
  for (const std::string& url : std::vector<std::string>{
           "https://api.example/x?t=a%20b%2Fc%25d%2B%C3%A9%21&y=1",  // RFC 3986, upper case
           "https://api.example/x?t=a%20b%2fc%25d%2b%c3%a9%21&y=1",  // lower case
           "https://api.example/x?t=a+b%2Fc%25d%2B%C3%A9%21&y=1",    // a form: space as +
           "https://api.example/x?t=a%20b%2Fc%25d%2B%C3%A9!&y=1",    // encodeURIComponent
           "https://api.example/x?t=a%20b/c%25d%2B%C3%A9%21&y=1",    // Python's quote()
       }) {
    EXPECT_EQ(redacted(r, url), "https://api.example/x?t=[redacted]&y=1") << url;
  }
}

TEST(Redactor, FindsASecretInJsonInsideAJsonString) {
  const std::string secret = R"(tok"en\1234)";
  Redactor r;
  r.add(secret);
  const std::string inner = json{{"token", secret}}.dump();
  std::string outer = json{{"raw", inner}}.dump();
  EXPECT_TRUE(r.redact(outer));
  EXPECT_EQ(json::parse(json::parse(outer)["raw"].get<std::string>())["token"], "[redacted]");
}

TEST(Redactor, OverlappingAndNestedSecretsLeaveNothingShown) {
  Redactor r;
  r.add("abcdefgh");
  r.add("efghijkl");
  r.add("token-1234");
  r.add("secret-token-1234");
  EXPECT_EQ(redacted(r, "xx abcdefghijkl yy"), "xx [redacted] yy");
  EXPECT_EQ(redacted(r, "xx efghijklabcdefgh yy"), "xx [redacted] yy") << "adjacent ones merge";
  EXPECT_EQ(redacted(r, "a secret-token-1234 b token-1234 c"), "a [redacted] b [redacted] c");
}

TEST(Redactor, KeepsJsonValidWhereAMatchWouldCutAnEscapeOrAToken) {
  {  // a raw secret that ends in a backslash meets an escaped quote: the whole escape goes
    Redactor r;
    r.add(R"(key\)");
    const std::string out = redacted(r, json{{"t", "key\"x"}}.dump());
    EXPECT_EQ(json::parse(out)["t"], "[redacted]x") << out;
  }
  {  // half a surrogate pair is refused by parsers: the pair goes
    Redactor r;
    r.add(R"(\ud83d)");
    const std::string out = redacted(r, json{{"t", "x\xF0\x9F\x98\x80y"}}.dump(-1, ' ', true));
    EXPECT_EQ(json::parse(out)["t"], "x[redacted]y") << out;
  }
  {  // a secret that is a number, alone or inside a longer one, or spans structure
    Redactor r;
    r.add("48392175");
    r.add(R"(ab","c)");
    const json out = json::parse(redacted(r, R"({"pid":48392175,"big":148392175,"s":"x48392175y","k":"ab","c":true})"));
    EXPECT_EQ(out["pid"], "[redacted]");
    EXPECT_EQ(out["big"], "[redacted]");
    EXPECT_EQ(out["s"], "x[redacted]y");
    EXPECT_FALSE(contains(out.dump(), "48392175"));
  }
  {  // text that is not JSON is replaced byte for byte
    Redactor r;
    r.add(R"(ab","c)");
    EXPECT_EQ(redacted(r, R"(not json: "ab","c")"), R"(not json: "[redacted]")");
  }
}

TEST(Redactor, RandomSecretsInRandomDocumentsLeaveValidJsonWithoutThem) {
  std::mt19937 rng(20240611);
  const std::vector<std::string> chars = {"a", "b", "X", "Z", "0", "9", "\"", "\\", "/", "%", "+", " ",
                                          "&", "<", "\n", "\t", "\x01", "é", "€", "\xF0\x9F\x98\x80"};
  auto random_text = [&](size_t len) {
    std::string s;
    for (size_t i = 0; i < len; ++i) s += chars[rng() % chars.size()];
    return s;
  };
  for (int round = 0; round < 300; ++round) {
    const std::string secret = random_text(2 + rng() % 8);
    if (secret.size() < Redactor::kMinSecretBytes) continue;
    Redactor r;
    r.add(secret);
    const std::string escaped = json(secret).dump().substr(1, json(secret).dump().size() - 2);
    const json doc = {{"a", random_text(5) + secret + random_text(5)},
                      {secret, {random_text(3), secret, 12345}},
                      {"raw", json{{"inner", secret}}.dump()}};
    for (bool ascii : {false, true}) {
      std::string text = doc.dump(-1, ' ', ascii);
      EXPECT_TRUE(r.redact(text)) << text;
      const json back = json::parse(text, nullptr, false);
      ASSERT_FALSE(back.is_discarded()) << "secret " << json(secret).dump() << " left " << text;
      EXPECT_FALSE(contains(back["a"].get<std::string>(), secret)) << text;
      EXPECT_FALSE(back.contains(secret)) << text;
      EXPECT_FALSE(contains(back.dump(), escaped)) << text;
      const std::string inner = back["raw"].get<std::string>();
      EXPECT_FALSE(contains(inner, secret) || contains(inner, escaped)) << text;
    }
  }
}

TEST(Redactor, AddsAndRedactsFromManyThreadsAtOnce) {
  Redactor r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string secret = "secret-" + std::to_string(t) + "-" + std::to_string(i);
        r.add(secret);
        std::string text = "[" + secret + "]";
        EXPECT_TRUE(r.redact(text));
        EXPECT_EQ(text, "[[redacted]]");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(r.size(), 800u);
}

TEST(Secrets, TheProcessRegistryIsOne) { EXPECT_EQ(&secrets(), &secrets()); }

TEST(SecretsInConfig, TakesValuesUnderKeysNamedLikeSecretsAndMarkedOnes) {
  const json config = {
      {"api_key", "sk-1234567"},
      {"apiKey", "camel-secret"},
      {"model", "gpt-5-large"},
      {"env", {{"GITHUB_TOKEN", "ghp_abcdef"}, {"PGPASSWORD", "hunter22"}, {"HOME", "/home/me"}, {"PWD", "/work"}}},
      {"service", {{"credentials", {"aaaa1111", {{"nested", "bbbb2222"}}}}}},
      {"header", {{"secret", true}, {"value", "explicit-1"}}},
      {"x-session-id", "sess-0099"},
      {"author", "Alice Smith"},
      {"monkey", "banana-split"},
      {"keybindings", "emacs-mode"},
      {"token_short", "abc"},
      {"password_number", 12345},
      {"client_secret", {{"secret", false}, {"value", "not-a-secret"}}},
  };
  const auto found = secrets_in_config(config.dump());
  EXPECT_EQ(std::set<std::string>(found.begin(), found.end()),
            (std::set<std::string>{"sk-1234567", "camel-secret", "ghp_abcdef", "hunter22", "aaaa1111", "bbbb2222",
                                   "explicit-1", "sess-0099"}));
}

TEST(SecretsInConfig, NothingFromConfigsWithoutSecretsOrNotJson) {
  EXPECT_TRUE(secrets_in_config(R"({"patterns":["git push*"],"executable":"/usr/bin/claude"})").empty());
  EXPECT_TRUE(secrets_in_config("{not json").empty());
  EXPECT_TRUE(secrets_in_config("").empty());
  EXPECT_EQ(secrets_in_config(R"([{"secret":true,"value":["one-1","two-2"]}])"),
            (std::vector<std::string>{"one-1", "two-2"}));
}

TEST(SecretsInConfig, KeyNames) {
  for (const char* yes : {"api_key", "apiKey", "APIKEY", "x-api-key", "OPENAI_API_KEY", "private_key", "privateKey",
                          "Authorization", "auth", "access_token", "refreshToken", "PGPASSWORD", "passwd", "cookie",
                          "set-cookie", "session", "credentials", "client_secret", "bearer"}) {
    EXPECT_TRUE(named_like_secret(yes)) << yes;
  }
  for (const char* no : {"model", "author", "monkey", "keybindings", "keyboard", "HOME", "PWD", "executable",
                         "patterns", "approval_mode"}) {
    EXPECT_FALSE(named_like_secret(no)) << no;
  }
}

}  // namespace
}  // namespace runhost::util
