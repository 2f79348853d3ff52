// Bad input, for every bundled adapter (parameterised by adapter id; tests/runtimes/adapters/
// <id>.json says what each needs): truncated and interleaved lines, invalid UTF-8, non-JSON lines
// on stdout, a 100 MB line, JSON of the wrong shape, stderr noise, the CLI missing, the CLI
// exiting without a result line, a flood of lines. Each must be kept (runtime.unparsed when it
// cannot be mapped), never crash the adapter, never grow its memory without bound, and leave the
// rest of the transcript mapped exactly as without it.
#include <malloc.h>

#include <cerrno>

#include <gtest/gtest.h>

#include "adapter_harness.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;

bool is_terminal(const std::string& type) {
  return type == "run.completed" || type == "run.failed" || type == "run.cancelled";
}

// The events the runtime's stdout mapped to, without what bad input added (runtime.unparsed,
// stderr output): comparable with a clean run's.
std::vector<json> mapped(const std::vector<RecordedEvent>& events) {
  std::vector<json> out;
  for (const auto& e : golden_events(events)) {
    if (e["type"] == "runtime.unparsed") continue;
    if (e["type"] == "message" && e["payload"].value("stream", "") == "stderr") continue;  // the runtime's own log
    out.push_back(e);
  }
  return out;
}

std::vector<const RecordedEvent*> events_of_type(const std::vector<RecordedEvent>& events, const std::string& type) {
  std::vector<const RecordedEvent*> out;
  for (const auto& e : events) {
    if (e.type == type) out.push_back(&e);
  }
  return out;
}

void expect_one_terminal_last(const std::vector<RecordedEvent>& events) {
  ASSERT_FALSE(events.empty());
  size_t n = 0;
  for (const auto& e : events) n += is_terminal(e.type);
  EXPECT_EQ(n, 1u);
  EXPECT_TRUE(is_terminal(events.back().type)) << events.back().type;
}

size_t heap_in_use() { return mallinfo2().uordblks; }

class AdapterBadInput : public ::testing::TestWithParam<std::string> {
 protected:
  AdapterBadInput() : spec_(adapter_spec(GetParam())), harness_(GetParam()) {
    transcript_ = read_text(spec_.transcript);
    lines_ = split_lines(transcript_);
    options_.config = spec_.config;
  }

  AdapterSession start() { return harness_.start(AdapterHarness::dispatch(), options_); }

  // The clean run: the whole transcript, exit 0.
  std::vector<RecordedEvent> clean() {
    AdapterSession s = start();
    s.feed(RH_STREAM_STDOUT, transcript_);
    return s.finish(exited(0));
  }

  std::string lines_from(size_t first) const {
    std::string text;
    for (size_t i = first; i < lines_.size(); ++i) text += lines_[i] + "\n";
    return text;
  }

  AdapterSpec spec_;
  AdapterHarness harness_;
  AdapterHarness::Options options_;
  std::string transcript_;
  std::vector<std::string> lines_;
};

TEST_P(AdapterBadInput, TheSpecTranscriptEndsWithItsResultLine) {
  // The no-result tests drop the last line: it must be the one that says how the run ended.
  ASSERT_GE(lines_.size(), 3u);
  const auto events = clean();
  EXPECT_TRUE(events_of_type(events, "runtime.unparsed").empty()) << "the spec transcript maps cleanly";
  AdapterSession s = start();
  s.feed(RH_STREAM_STDOUT, lines_from(0).substr(0, transcript_.size() - lines_.back().size() - 1));
  const auto without = s.finish(exited(0));
  if (spec_.expects_result_line) {
    EXPECT_EQ(events.back().type, "run.completed");
    EXPECT_EQ(without.back().type, "run.failed");
  }
}

TEST_P(AdapterBadInput, TruncatedLastLineIsKeptAndTheRunStillEnds) {
  const std::string cut = lines_.back().substr(0, lines_.back().size() / 2);
  AdapterSession s = start();
  s.feed(RH_STREAM_STDOUT, transcript_.substr(0, transcript_.size() - lines_.back().size() - 1));
  s.feed(RH_STREAM_STDOUT, cut);  // no newline: the process died mid-line
  const auto& events = s.finish(exited(0));
  expect_one_terminal_last(events);
  const auto unparsed = events_of_type(events, "runtime.unparsed");
  ASSERT_EQ(unparsed.size(), 1u);
  EXPECT_EQ(unparsed[0]->payload["line"], cut);
  EXPECT_EQ(unparsed[0]->payload["stream"], "stdout");
  EXPECT_FALSE(unparsed[0]->payload["reason"].get<std::string>().empty());
  if (spec_.expects_result_line) {
    EXPECT_EQ(events.back().type, "run.failed");
  }
}

TEST_P(AdapterBadInput, ALastLineWithoutItsNewlineStillCounts) {
  ASSERT_EQ(transcript_.back(), '\n');
  AdapterSession s = start();
  s.feed_chunked(RH_STREAM_STDOUT, transcript_.substr(0, transcript_.size() - 1), 3);
  EXPECT_EQ(golden_events(s.finish(exited(0))), golden_events(clean())) << "finish() flushes the last line";
}

TEST_P(AdapterBadInput, InterleavedLinesAreKeptAndTheRestIsMapped) {
  // Two writers raced: line 1's first half, then line 2 whole, then the rest of line 1.
  ASSERT_GE(lines_.size(), 3u);
  const std::string& a = lines_[1];
  const std::string& b = lines_[2];
  const std::string first = a.substr(0, a.size() / 2) + b, second = a.substr(a.size() / 2);
  AdapterSession s = start();
  s.feed(RH_STREAM_STDOUT, lines_[0] + "\n");
  s.feed_chunked(RH_STREAM_STDOUT, first + "\n" + second + "\n", 5);
  s.feed(RH_STREAM_STDOUT, lines_from(3));
  const auto& events = s.finish(exited(0));
  expect_one_terminal_last(events);
  const auto unparsed = events_of_type(events, "runtime.unparsed");
  ASSERT_EQ(unparsed.size(), 2u);
  EXPECT_EQ(unparsed[0]->payload["line"], first);
  EXPECT_EQ(unparsed[1]->payload["line"], second);
  EXPECT_EQ(events.back().type, clean().back().type) << "the lines after the damage still end the run";
}

TEST_P(AdapterBadInput, InvalidUtf8IsKeptWithReplacementCharacters) {
  const std::string bad = "{\"type\":\"x\",\"text\":\"ok \xff\xfe cut \xe2\x82\"}";
  AdapterSession s = start();
  s.feed(RH_STREAM_STDOUT, lines_[0] + "\n");
  s.feed_chunked(RH_STREAM_STDOUT, bad + "\n", 1);  // split inside the bad sequences too
  s.feed(RH_STREAM_STDOUT, lines_from(1));
  const auto& events = s.finish(exited(0));
  const auto unparsed = events_of_type(events, "runtime.unparsed");
  ASSERT_EQ(unparsed.size(), 1u);
  EXPECT_EQ(unparsed[0]->payload["line"], "{\"type\":\"x\",\"text\":\"ok \xEF\xBF\xBD\xEF\xBF\xBD cut \xEF\xBF\xBD\xEF\xBF\xBD\"}");
  EXPECT_EQ(unparsed[0]->raw, "") << "raw crosses the ABI as UTF-8, so a line that is not goes without";
  EXPECT_EQ(mapped(events), mapped(clean()));
}

TEST_P(AdapterBadInput, NonJsonLinesOnStdoutAreKeptVerbatim) {
  const std::vector<std::string> noise = {"Welcome to the CLI v9.9 (banner)", "WARNING: something is deprecated",
                                          "{not json at all", "   ", "", "\x1b[31mred\x1b[0m text"};
  AdapterSession s = start();
  for (const auto& line : noise) s.feed(RH_STREAM_STDOUT, line + "\n");
  s.feed(RH_STREAM_STDOUT, lines_[0] + "\n");
  for (const auto& line : noise) s.feed(RH_STREAM_STDOUT, line + "\r\n");
  s.feed(RH_STREAM_STDOUT, lines_from(1));
  const auto& events = s.finish(exited(0));
  const auto unparsed = events_of_type(events, "runtime.unparsed");
  ASSERT_EQ(unparsed.size(), 8u) << "blank lines are nothing; the other four, twice";
  EXPECT_EQ(unparsed[0]->payload["line"], noise[0]);
  EXPECT_EQ(unparsed[0]->raw, noise[0]);
  EXPECT_EQ(unparsed[3]->payload["line"], noise[5]);
  for (const auto* u : unparsed) EXPECT_FALSE(u->payload["reason"].get<std::string>().empty());
  EXPECT_EQ(mapped(events), mapped(clean()));
}

TEST_P(AdapterBadInput, AHundredMegabyteLineIsCutAndMemoryStaysBounded) {
  const std::string chunk(64 << 10, 'x');
  const size_t total = size_t{100} << 20;
  AdapterSession s = start();
  s.feed(RH_STREAM_STDOUT, lines_[0] + "\n{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"");
  const size_t before = heap_in_use();
  size_t peak = before;
  for (size_t fed = 0; fed < total; fed += chunk.size()) {
    s.feed(RH_STREAM_STDOUT, chunk);
    peak = std::max(peak, heap_in_use());
  }
  s.feed(RH_STREAM_STDOUT, "\"}]}}\n");
  s.feed(RH_STREAM_STDOUT, lines_from(1));
  const auto& events = s.finish(exited(0));
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(peak - before, size_t{48} << 20) << "a 100 MB line must not be held whole";
#endif
  const auto unparsed = events_of_type(events, "runtime.unparsed");
  ASSERT_EQ(unparsed.size(), 1u);
  EXPECT_EQ(unparsed[0]->payload.value("truncated", false), true);
  EXPECT_LE(unparsed[0]->payload["line"].get<std::string>().size(), size_t{1} << 20);
  EXPECT_EQ(mapped(events), mapped(clean())) << "the lines after it map as usual";
}

TEST_P(AdapterBadInput, JsonOfTheWrongShapeIsKeptWithAReason) {
  ASSERT_FALSE(spec_.wrong_shape_lines.empty());
  for (const auto& bad : spec_.wrong_shape_lines) {
    AdapterSession s = start();
    s.feed(RH_STREAM_STDOUT, lines_[0] + "\n" + bad + "\n" + lines_from(1));
    const auto& events = s.finish(exited(0));
    const auto unparsed = events_of_type(events, "runtime.unparsed");
    ASSERT_EQ(unparsed.size(), 1u) << bad;
    EXPECT_EQ(unparsed[0]->payload["line"], bad);
    EXPECT_FALSE(unparsed[0]->payload["reason"].get<std::string>().empty()) << bad;
    EXPECT_EQ(mapped(events), mapped(clean())) << bad;
    expect_one_terminal_last(events);
  }
}

TEST_P(AdapterBadInput, StderrNoiseNeverDisturbsStdout) {
  const std::vector<std::string> noise = {"(node:1234) Warning: something", "\xff\xfe binary junk",
                                          std::string(3 << 20, 'e'), "Error: a partial"};
  AdapterSession s = start();
  size_t n = 0;
  for (size_t i = 0; i < lines_.size(); ++i) {
    const std::string& line = lines_[i];
    s.feed(RH_STREAM_STDOUT, line.substr(0, line.size() / 2));
    s.feed(RH_STREAM_STDERR, noise[i % noise.size()].substr(0, 10));  // partial stderr lines too
    s.feed(RH_STREAM_STDOUT, line.substr(line.size() / 2) + "\n");
    s.feed(RH_STREAM_STDERR, noise[i % noise.size()].substr(10) + "\n");
    ++n;
  }
  const auto& events = s.finish(exited(0));
  EXPECT_EQ(mapped(events), mapped(clean()));
  size_t stderr_events = 0;
  for (const auto& e : events) {
    if (e.payload.value("stream", "") == "stderr") {
      ++stderr_events;
      EXPECT_LE(e.payload.value("text", e.payload.value("line", std::string())).size(), size_t{1} << 20);
    }
  }
  EXPECT_EQ(stderr_events, n) << "each stderr line is kept, once";
}

TEST_P(AdapterBadInput, AMissingCliIsRuntimeNotFoundSayingHowToInstallIt) {
  for (const bool configured : {false, true}) {
    AdapterHarness::Options options = options_;
    if (configured) options.config["executable"] = "/opt/nowhere/bin/" + spec_.program;
    AdapterSession s = harness_.start(AdapterHarness::dispatch(), options);
    const json spec = s.launch_spec();
    EXPECT_EQ(spec["argv"][0], configured ? "/opt/nowhere/bin/" + spec_.program : spec_.program);
    const auto& events = s.finish(spawn_failed(ENOENT));
    ASSERT_EQ(events.size(), 1u);
    ASSERT_EQ(events[0].type, "run.failed");
    const json& error = events[0].payload["error"];
    EXPECT_EQ(error["code"], "runtime_not_found");
    EXPECT_EQ(error["retryable"], false);
    EXPECT_EQ(error["recovery"]["action"], "install_runtime");
    EXPECT_NE(error["recovery"]["hint"].get<std::string>().find(spec_.install_hint_contains), std::string::npos)
        << error["recovery"]["hint"];
    EXPECT_NE(error["message"].get<std::string>().find(spec["argv"][0].get<std::string>()), std::string::npos)
        << error["message"];
  }
}

TEST_P(AdapterBadInput, ExitingWithoutAResultLineIsATypedFailure) {
  if (!spec_.expects_result_line) GTEST_SKIP() << spec_.id << " has no result line";
  const std::string without = transcript_.substr(0, transcript_.size() - lines_.back().size() - 1);
  {
    AdapterSession s = start();
    s.feed(RH_STREAM_STDOUT, without);
    const auto& events = s.finish(exited(0));
    expect_one_terminal_last(events);
    const json& p = events.back().payload;
    ASSERT_EQ(events.back().type, "run.failed");
    EXPECT_EQ(p["error"]["code"], "runtime_error");
    EXPECT_EQ(p["error"]["cause"], "no_result");
    EXPECT_EQ(p["error"]["retryable"], true);
    EXPECT_EQ(p["exit_code"], 0);
  }
  {
    AdapterSession s = start();
    s.feed(RH_STREAM_STDOUT, without);
    s.feed(RH_STREAM_STDERR, "Error: something broke inside the CLI\n");
    const auto& events = s.finish(exited(1));
    const json& p = events.back().payload;
    ASSERT_EQ(events.back().type, "run.failed");
    EXPECT_EQ(p["error"]["code"], "runtime_error");
    EXPECT_EQ(p["exit_code"], 1);
    EXPECT_NE(p["error"]["message"].get<std::string>().find("something broke inside the CLI"), std::string::npos)
        << "the last stderr line says why";
  }
  {
    AdapterSession s = start();
    s.feed(RH_STREAM_STDOUT, without);
    const auto& events = s.finish(signaled(9));
    EXPECT_EQ(events.back().payload["error"]["code"], "runtime_crashed");
    EXPECT_EQ(events.back().payload["signal"], 9);
  }
}

TEST_P(AdapterBadInput, AFloodOfUnknownLinesIsKeptLineByLine) {
  std::string flood;
  const size_t n = 20000;
  for (size_t i = 0; i < n; ++i) flood += "{\"type\":\"never-seen-" + std::to_string(i % 7) + "\"}\n";
  AdapterSession s = start();
  s.feed_random(RH_STREAM_STDOUT, flood, 1 << 16, 7);
  const auto& events = s.finish(exited(0));
  EXPECT_EQ(events_of_type(events, "runtime.unparsed").size(), n);
  expect_one_terminal_last(events);
}

TEST_P(AdapterBadInput, CancellationAndTimeoutWinOverTheResult) {
  {
    AdapterSession s = start();
    s.feed(RH_STREAM_STDOUT, transcript_);
    const auto& events = s.finish(signaled(15, RH_EXIT_FLAG_CANCELLED));
    EXPECT_EQ(events.back().type, "run.cancelled");
    expect_one_terminal_last(events);
  }
  {
    AdapterSession s = start();
    s.feed(RH_STREAM_STDOUT, transcript_.substr(0, transcript_.size() / 2));
    const auto& events = s.finish(signaled(9, RH_EXIT_FLAG_TIMED_OUT | RH_EXIT_FLAG_OUTPUT_TRUNCATED));
    EXPECT_EQ(events.back().type, "run.failed");
    EXPECT_EQ(events.back().payload["error"]["code"], "timeout");
    EXPECT_EQ(events.back().payload["error"]["retryable"], true);
    EXPECT_EQ(events.back().payload["output_truncated"], true);
  }
}

INSTANTIATE_TEST_SUITE_P(Adapters, AdapterBadInput, ::testing::ValuesIn(adapter_ids()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace runhost::testing
