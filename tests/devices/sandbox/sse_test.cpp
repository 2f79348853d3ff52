// The SSE parser against the MIOSA SDK's framing. The table's expectations were produced by the
// SDK's own loops (httpx 0.29 LineDecoder + _http.stream_sse / sandboxes._iter_sse) on the same
// bytes: "no flush" is _iter_sse, "flush" is stream_sse.
#include "devices/sandbox/sse.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace runhost::devices::sandbox {
namespace {

struct Expected {
  std::string type, data;
  std::optional<std::string> id;
};

struct Case {
  const char* name;
  std::vector<std::string> feeds;
  std::vector<Expected> without_flush;
  std::vector<Expected> with_flush;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> table = {
      {"lf", {"event: a\ndata: x\n\n"}, {{"a", "x", std::nullopt}}, {{"a", "x", std::nullopt}}},
      {"crlf", {"event: a\r\ndata: x\r\n\r\n"}, {{"a", "x", std::nullopt}}, {{"a", "x", std::nullopt}}},
      {"cr_only",
       {"data: x\r\rdata: y\r\r"},
       {{"message", "x", std::nullopt}, {"message", "y", std::nullopt}},
       {{"message", "x", std::nullopt}, {"message", "y", std::nullopt}}},
      {"crlf_split_across_feeds",
       {"data: x\r", "\n\r", "\n"},
       {{"message", "x", std::nullopt}},
       {{"message", "x", std::nullopt}}},
      {"multi_data_joined",
       {"data: a\ndata: b\ndata:\n\n"},
       {{"message", "a\nb\n", std::nullopt}},
       {{"message", "a\nb\n", std::nullopt}}},
      {"comments_ignored",
       {": keep-alive\n\n:x\ndata: y\n\n"},
       {{"message", "y", std::nullopt}},
       {{"message", "y", std::nullopt}}},
      {"strip_both_ends",
       {"event:\t stdout \ndata:   x y  \t\n\n"},
       {{"stdout", "x y", std::nullopt}},
       {{"stdout", "x y", std::nullopt}}},
      {"unicode_strip",
       {"data: \xc2"
        "\xa0"
        "x\xe3"
        "\x80"
        "\x80"
        "\n\n"},
       {{"message", "x", std::nullopt}},
       {{"message", "x", std::nullopt}}},
      {"empty_data_dispatches", {"data:\n\n"}, {{"message", "", std::nullopt}}, {{"message", "", std::nullopt}}},
      {"blank_without_data_resets_type",
       {"event: a\nid: 1\n\ndata: x\n\n"},
       {{"message", "x", std::nullopt}},
       {{"message", "x", std::nullopt}}},
      {"id_kept_and_empty",
       {"id: 7\ndata: x\n\nid:\ndata: y\n\n"},
       {{"message", "x", "7"}, {"message", "y", ""}},
       {{"message", "x", "7"}, {"message", "y", ""}}},
      {"empty_event_is_message",
       {"event:\ndata: x\n\n"},
       {{"message", "x", std::nullopt}},
       {{"message", "x", std::nullopt}}},
      {"unknown_fields_ignored",
       {"retry: 10\ndata\nData: z\ndata:x\n\n"},
       {{"message", "x", std::nullopt}},
       {{"message", "x", std::nullopt}}},
      {"no_space_after_colon", {"event:e\ndata:x\n\n"}, {{"e", "x", std::nullopt}}, {{"e", "x", std::nullopt}}},
      {"unterminated_frame", {"data: x\n"}, {}, {{"message", "x", std::nullopt}}},
      {"last_line_without_break", {"data: x"}, {}, {{"message", "x", std::nullopt}}},
      {"trailing_cr_after_lf", {"data: x\n\r"}, {{"message", "x", std::nullopt}}, {{"message", "x", std::nullopt}}},
      {"trailing_cr_only", {"data: x\r"}, {}, {{"message", "x", std::nullopt}}},
      {"other_line_breaks",
       {"data: a\x0b"
        "data: b\x0c"
        "\x0c"
        ""},
       {{"message", "a\nb", std::nullopt}},
       {{"message", "a\nb", std::nullopt}}},
      {"fs_gs_rs_breaks",
       {"data: a\x1c"
        "data: b\x1d"
        "\x1e"
        ""},
       {{"message", "a\nb", std::nullopt}},
       {{"message", "a\nb", std::nullopt}}},
      {"unicode_line_breaks",
       {"data: a\xe2"
        "\x80"
        "\xa8"
        "\xe2"
        "\x80"
        "\xa8"
        "data: b\xc2"
        "\x85"
        "\xe2"
        "\x80"
        "\xa9"
        ""},
       {{"message", "a", std::nullopt}, {"message", "b", std::nullopt}},
       {{"message", "a", std::nullopt}, {"message", "b", std::nullopt}}},
      {"unicode_break_split",
       {"data: a\xe2"
        "\x80"
        "",
        "\xa8"
        "\n"},
       {{"message", "a", std::nullopt}},
       {{"message", "a", std::nullopt}}},
      {"non_break_continuation_bytes",
       {"data: caf\xc3"
        "\xa9"
        " \xc3"
        "\x85"
        "\n\n"},
       {{"message",
         "caf\xc3"
         "\xa9"
         " \xc3"
         "\x85"
         "",
         std::nullopt}},
       {{"message",
         "caf\xc3"
         "\xa9"
         " \xc3"
         "\x85"
         "",
         std::nullopt}}},
      {"unit_separator_is_space_not_break",
       {"data: \x1f"
        "x\x1f"
        "\n\n"},
       {{"message", "x", std::nullopt}},
       {{"message", "x", std::nullopt}}},
      {"last_event_type_wins",
       {"event: a\nevent: b\ndata: x\n\n"},
       {{"b", "x", std::nullopt}},
       {{"b", "x", std::nullopt}}},
      {"exec_stream_shape",
       {"id: 1\nevent: stdout\ndata: {\"line\":\"hi\"}\n\n", "event: exit\ndata: {\"exit_code\":0}\n\n"},
       {{"stdout", "{\"line\":\"hi\"}", "1"}, {"exit", "{\"exit_code\":0}", std::nullopt}},
       {{"stdout", "{\"line\":\"hi\"}", "1"}, {"exit", "{\"exit_code\":0}", std::nullopt}}},
  };
  return table;
}

std::vector<SseEvent> parse(const std::vector<std::string>& feeds, bool flush, bool byte_by_byte) {
  SseParser parser;
  std::vector<SseEvent> out;
  for (const auto& feed : feeds) {
    if (byte_by_byte) {
      for (const char c : feed) EXPECT_TRUE(parser.feed(std::string_view(&c, 1), out).ok());
    } else {
      EXPECT_TRUE(parser.feed(feed, out).ok());
    }
  }
  EXPECT_TRUE(parser.finish(flush, out).ok());
  return out;
}

void expect_events(const std::vector<SseEvent>& got, const std::vector<Expected>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].type, want[i].type) << what << " #" << i;
    EXPECT_EQ(got[i].data, want[i].data) << what << " #" << i;
    EXPECT_EQ(got[i].id, want[i].id) << what << " #" << i;
  }
}

TEST(SseParser, MatchesTheSdkOnEveryCase) {
  for (const auto& c : cases()) {
    expect_events(parse(c.feeds, false, false), c.without_flush, std::string(c.name) + " (no flush)");
    expect_events(parse(c.feeds, true, false), c.with_flush, std::string(c.name) + " (flush)");
  }
}

TEST(SseParser, SplittingTheInputAnywhereChangesNothing) {
  for (const auto& c : cases()) {
    expect_events(parse(c.feeds, false, true), c.without_flush, std::string(c.name) + " byte by byte (no flush)");
    expect_events(parse(c.feeds, true, true), c.with_flush, std::string(c.name) + " byte by byte (flush)");
  }
}

TEST(SseParser, EventsComeOutAsSoonAsTheirBlankLineArrives) {
  SseParser parser;
  std::vector<SseEvent> out;
  ASSERT_TRUE(parser.feed("data: one\n", out).ok());
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(parser.feed("\r", out).ok());  // a CR ends the blank line without waiting for a LF
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data, "one");
  ASSERT_TRUE(parser.feed("\ndata: two\n\n", out).ok());  // that LF belongs to the CR: no extra line
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].data, "two");
}

TEST(SseParser, AFrameOverTheLimitIsAnErrorAndStaysOne) {
  SseParser parser(64);
  std::vector<SseEvent> out;
  ASSERT_TRUE(parser.feed("data: small\n\n", out).ok());
  ASSERT_EQ(out.size(), 1u);
  const Status st = parser.feed("data: " + std::string(100, 'x'), out);  // no line break yet
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::device_unavailable);
  EXPECT_NE(st.error().message.find("64 bytes"), std::string::npos) << st.error().message;
  EXPECT_FALSE(parser.feed("\n\ndata: fine\n\n", out).ok());
  EXPECT_FALSE(parser.finish(true, out).ok());
  EXPECT_EQ(out.size(), 1u);
}

TEST(SseParser, ManySmallDataLinesCountTowardsTheLimit) {
  SseParser parser(64);
  std::vector<SseEvent> out;
  Status st;
  for (int i = 0; i < 20 && st.ok(); ++i) st = parser.feed("data: 0123456789\n", out);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(out.empty());
}

TEST(SseParser, AnEndlessCommentLineIsBoundedToo) {
  SseParser parser(64);
  std::vector<SseEvent> out;
  Status st;
  for (int i = 0; i < 20 && st.ok(); ++i) st = parser.feed(": keep-alive keep-alive", out);
  EXPECT_FALSE(st.ok());
}

TEST(SseParser, FramesUnderTheLimitPassOneAfterAnother) {
  SseParser parser(64);
  std::vector<SseEvent> out;
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(parser.feed("data: 0123456789012345678901234567890123456789\n\n", out).ok());
  EXPECT_EQ(out.size(), 100u);
}

TEST(StripLikePython, RemovesEveryPythonSpaceAndNothingElse) {
  EXPECT_EQ(strip_like_python(" \t\x0b\x0c\x1c\x1d\x1e\x1fx\r\n "), "x");
  EXPECT_EQ(
      strip_like_python("\xc2\x85\xc2\xa0\xe1\x9a\x80x\xe2\x80\x80\xe2\x80\x8a\xe2\x80\xaf\xe2\x81\x9f\xe3\x80\x80"),
      "x");
  EXPECT_EQ(strip_like_python("\xe2\x80\x8b"
                              "x"),
            "\xe2\x80\x8b"
            "x");  // U+200B is not a space to Python
  EXPECT_EQ(strip_like_python("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(strip_like_python("   "), "");
  EXPECT_EQ(strip_like_python("a b"), "a b");
}

}  // namespace
}  // namespace runhost::devices::sandbox
