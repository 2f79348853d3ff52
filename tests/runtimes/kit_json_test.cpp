// The adapters' kit reads untrusted JSON with its own fast scanner (plugins/runtimes/common/
// kit_json.c). Checked here against nlohmann::json on valid documents and on thousands of
// mutated ones: the kit accepts exactly what a conforming parser accepts, picks the same
// members and decodes the same strings.
#include <random>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

// runhost/lines.h (through the kit's header) uses C casts, which this C++ build warns about.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
#include "adapter_kit.h"
#pragma GCC diagnostic pop

namespace {

using nlohmann::json;

rh_str view(const std::string& s) { return {s.data(), s.size()}; }

const std::vector<std::string> kDocuments = {
    R"({"type":"assistant","message":{"id":"msg_1","content":[{"type":"text","text":"héllo \"there\"\n\u00e9\u20ac"}]}})",
    R"({"a":[1,-2.5e+3,0,true,false,null,{"b":{}},[]],"c":"\\\/\b\f\n\r\t","d":-0.0E-7})",
    R"(  {"nested":[[[[{"x":[1,2,{"y":"z"}]}]]]], "empty":"", "u":"\u0000\u001f"}  )",
    R"([1,2,3])",
    R"("just a string")",
    R"({"long":"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\"quoted\" tail"})",
};

// A pseudo-random edit: delete, duplicate, or replace one byte with a JSON-significant one.
std::string mutate(const std::string& doc, std::mt19937& rng) {
  static const std::string alphabet = "{}[]\":,\\ \t\nnultrefas0123456789-+.eE/bu\x01";
  std::string out = doc;
  const size_t edits = 1 + rng() % 3;
  for (size_t i = 0; i < edits && !out.empty(); ++i) {
    const size_t at = rng() % out.size();
    switch (rng() % 3) {
      case 0: out.erase(at, 1); break;
      case 1: out.insert(at, 1, out[at]); break;
      default: out[at] = alphabet[rng() % alphabet.size()];
    }
  }
  return out;
}

bool kit_accepts(const std::string& text) {
  rh_str value;
  return rhk_json_parse(view(text), &value);
}

TEST(KitJson, AcceptsExactlyWhatAConformingParserAccepts) {
  for (const auto& doc : kDocuments) ASSERT_TRUE(kit_accepts(doc)) << doc;
  EXPECT_TRUE(kit_accepts(R"({"pair":"\ud83d\ude00","lone":"\ud800"})"));
  std::mt19937 rng(4242);
  const std::regex surrogate(R"(\\u[dD][89a-fA-F])");
  size_t accepted = 0, rejected = 0;
  for (int round = 0; round < 20000; ++round) {
    const std::string text = mutate(kDocuments[static_cast<size_t>(round) % kDocuments.size()], rng);
    // nlohmann refuses invalid UTF-8 inside strings; the kit leaves that to rh_json_utf8_valid,
    // which every line passes before it is parsed. Compare on UTF-8 text only.
    if (!rh_json_utf8_valid(text.data(), text.size())) continue;
    // A lone surrogate escape (\ud83d alone) fits JSON's grammar; nlohmann refuses it, the kit
    // (like json.h) reads it as U+FFFD, which JavaScript CLIs can print. Compared elsewhere.
    if (std::regex_search(text, surrogate)) continue;
    bool want = true;
    try {
      const json parsed = json::parse(text);
      (void)parsed;
    } catch (const json::exception& e) {
      // A number beyond double's range fits JSON's grammar; nlohmann refuses it as an overflow.
      if (std::string(e.what()).find("overflow") != std::string::npos) continue;
      want = false;
    }
    ASSERT_EQ(kit_accepts(text), want) << text;
    (want ? accepted : rejected)++;
  }
  EXPECT_GT(accepted, 100u);
  EXPECT_GT(rejected, 1000u);
}

TEST(KitJson, PicksMembersAndDecodesStringsLikeAParser) {
  const std::string doc = kDocuments[0];
  static const char* const names[] = {"type", "message", "absent"};
  rh_str v[3];
  ASSERT_EQ(rhk_json_pick(view(doc), names, 3, v), RH_OK);
  EXPECT_EQ(json::parse(std::string(v[0].data, v[0].len)), "assistant");
  EXPECT_EQ(json::parse(std::string(v[1].data, v[1].len)), json::parse(doc)["message"]);
  EXPECT_EQ(v[2].data, nullptr);

  const std::vector<std::pair<std::string, std::string>> strings = {
      {R"("plain")", ""},
      {R"("esc \" \\ \/ \b \f \n \r \t")", ""},
      {R"("\u00e9\u20ac\ud83d\ude00 pair")", ""},
      {R"("nul \u0000 in")", ""},
      {R"("lone \ud800 surrogate")", "lone \xEF\xBF\xBD surrogate"}};  // nlohmann refuses it; the kit gives U+FFFD
  for (const auto& [s, special] : strings) {
    rh_json_buffer out;
    rh_json_buffer_init(&out);
    ASSERT_EQ(rhk_json_decode(view(s), &out), RH_OK) << s;
    const std::string want = special.empty() ? json::parse(s).get<std::string>() : special;
    EXPECT_EQ(std::string(out.data ? out.data : "", out.len), want) << s;
    rh_json_buffer_free(&out);
  }
}

TEST(KitJson, RefusesNestingBeyondItsDepthInsteadOfRecursingForever) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(kit_accepts(deep));
  const std::string ok = std::string(60, '[') + std::string(60, ']');
  EXPECT_TRUE(kit_accepts(ok));
}

// UTF-8 validity is json.h's (rh_json_utf8_valid), tested in tests/examples/json_test.c.

}  // namespace
