// The custom runtime adapter (plugins/runtimes/custom), loaded from the build's plugin directory
// and driven in-process through RuntimeSession, with a run that checks every payload it is
// handed against the event schema and, as the host does (host.h, emit), refuses what does not
// match and keeps the native line as runtime.unparsed instead.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "events/event_types.hpp"
#include "events/schema.hpp"
#include "host/host_services.hpp"
#include "plugins/instances.hpp"
#include "plugins/registry.hpp"
#include "runhost/conformance.hpp"
#include "runhost/plugins.hpp"
#include "test_paths.hpp"

namespace runhost {
namespace {

using nlohmann::json;

struct Event {
  std::string type;
  json payload;
  std::string raw;
  bool by_host = false;  // recorded by the run itself, for an event it refused
};

// A run that keeps what the adapter emits, after checking each payload against the schema. A
// payload that fails is refused with the validator's message as the host's last_error, and its
// line (`raw`, else the payload text) is kept as runtime.unparsed, as the host does.
class RecordingRun final : public rh_run {
 public:
  rh_status emit(const rh_event& e) noexcept override {
    try {
      std::string type(e.type.data, e.type.len);
      const std::string_view text =
          e.payload_json.len ? std::string_view(e.payload_json.data, e.payload_json.len) : "{}";
      const std::string raw = e.raw.len ? std::string(e.raw.data, e.raw.len) : "";
      const std::string_view line = raw.empty() ? text : std::string_view(raw);
      json payload = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (payload.is_discarded()) return refuse("emit: the payload is not valid JSON", line);
      if (auto st = events::validate_payload(type, payload); !st) return refuse(st.error().message, line);
      events.push_back({std::move(type), std::move(payload), raw});
      return RH_OK;
    } catch (...) {
      return RH_ERR_NO_MEMORY;
    }
  }

  std::vector<std::string> types() const {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.type);
    return out;
  }
  const Event& last() const { return events.back(); }
  size_t terminal_count() const {
    size_t n = 0;
    for (const auto& e : events) n += events::is_terminal_event_type(e.type) ? 1 : 0;
    return n;
  }

  std::vector<Event> events;
  std::vector<std::string> refusals;

 private:
  rh_status refuse(std::string why, std::string_view line) {
    host::set_last_error(why);
    json kept{{"stream", "stdout"}, {"line", line}, {"reason", why}};
    events.push_back({"runtime.unparsed", std::move(kept), std::string(line), /*by_host=*/true});
    refusals.push_back(std::move(why));
    return RH_ERR_INVALID_ARGUMENT;
  }
};

rh_exit exited(int code, uint32_t flags = 0) {
  return {sizeof(rh_exit), RH_EXIT_EXITED, code, 0, flags};
}
rh_exit signaled(int sig, uint32_t flags = 0) {
  return {sizeof(rh_exit), RH_EXIT_SIGNALED, 0, sig, flags};
}
rh_exit lost() {
  return {sizeof(rh_exit), RH_EXIT_LOST, 0, 0, 0};
}
rh_exit spawn_failed(int err) {
  return {sizeof(rh_exit), RH_EXIT_SPAWN_FAILED, err, 0, 0};
}

json dispatch(json command = json::array({"make", "all"}), const char* mode = nullptr) {
  json d = {{"tenantId", "t1"},      {"workspaceId", "w1"},      {"userId", "u1"},
            {"deviceType", "local"}, {"deviceId", "laptop"},     {"runtime", "custom"},
            {"prompt", "build it"},  {"approvalPolicy", "auto"}, {"idempotencyKey", "k1"}};
  if (!command.is_null()) d["command"] = std::move(command);
  if (mode) d["outputMode"] = mode;
  return d;
}

json jsonl() {
  return dispatch(json::array({"agent.sh"}), "jsonl");
}

class CustomRuntime : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    PluginSearchPath search;
    search.directories = {testing::kBundledDir};
    search.use_environment = false;
    search.use_bundled = false;
    registry_ = PluginRegistry::load(search);
  }
  static void TearDownTestSuite() { registry_.reset(); }

  const plugins::LoadedPlugin& plugin() const {
    const auto* p = registry_->impl().find(PluginKind::runtime, "custom");
    if (p == nullptr) throw std::runtime_error("custom.so did not load from " + testing::kBundledDir.string());
    return *p;
  }

  Result<std::unique_ptr<plugins::RuntimeSession>> create(const std::string& dispatch_json) {
    plugins::RuntimeSessionArgs args;
    args.run_id = "run_TEST1";
    args.dispatch_json = dispatch_json;
    return plugins::RuntimeSession::create(plugin(), args, &run_);
  }
  Result<std::unique_ptr<plugins::RuntimeSession>> create(const json& d) { return create(d.dump()); }

  template <class Dispatch>
  std::unique_ptr<plugins::RuntimeSession> start(const Dispatch& d) {
    auto s = create(d);
    if (!s) throw std::runtime_error(s.error().message);
    return std::move(*s);
  }

  // A whole session: create, feed each (stream, bytes) in order, finish with `exit`.
  template <class Dispatch>
  const RecordingRun& drive(const Dispatch& d, const std::vector<std::pair<rh_stream, std::string>>& feeds,
                            const rh_exit& exit) {
    auto s = start(d);
    for (const auto& [stream, bytes] : feeds) EXPECT_TRUE(s->feed(stream, bytes));
    EXPECT_TRUE(s->finish(exit));
    return run_;
  }

  static std::shared_ptr<const PluginRegistry> registry_;
  RecordingRun run_;
};

std::shared_ptr<const PluginRegistry> CustomRuntime::registry_;

// ---- create() and launch() ------------------------------------------------------------------

TEST_F(CustomRuntime, NeedsACommand) {
  for (const json& bad : {json(), json("make all"), json::array({"make", 1}), json::object()}) {
    auto s = create(dispatch(bad));
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().code, ErrorCode::plugin_error);
    EXPECT_NE(s.error().message.find("failed (status 1): the custom runtime needs \"command\": an array of strings"),
              std::string::npos)
        << s.error().message;
  }
  auto empty = create(dispatch(json::array()));
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("\"command\": an array of strings; it is empty"), std::string::npos);
  auto nul = create(dispatch(json::array({std::string("ma\0ke", 5)})));
  EXPECT_FALSE(nul) << "argv strings end at U+0000";
}

TEST_F(CustomRuntime, RefusesAnUnknownOutputMode) {
  auto s = create(dispatch(json::array({"x"}), "yaml"));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("\"outputMode\" must be \"text\" or \"jsonl\""), std::string::npos)
      << s.error().message;
  auto null_mode = dispatch(json::array({"x"}));
  null_mode["outputMode"] = nullptr;
  EXPECT_TRUE(create(null_mode)) << "null is the default, text";
}

TEST_F(CustomRuntime, LaunchesTheCommandWithThePromptOnStdinAndInTheEnvironment) {
  auto s = start(dispatch(json::array({"python3", "agent.py", "--flag=\"x\""})));
  auto spec = s->launch();
  ASSERT_TRUE(spec) << spec.error().message;
  const json launch = json::parse(*spec);
  EXPECT_EQ(launch, json::parse(R"({"argv": ["python3", "agent.py", "--flag=\"x\""],
                                    "env": {"RUNHOST_PROMPT": "build it", "RUNHOST_RUN_ID": "run_TEST1"},
                                    "stdin": "build it"})"));
}

TEST_F(CustomRuntime, LeavesAPromptOver64KiBOutOfTheEnvironment) {
  for (size_t size : {size_t{64} << 10, (size_t{64} << 10) + 1}) {
    auto d = dispatch();
    d["prompt"] = std::string(size, 'p');
    auto s = start(d);
    const json launch = json::parse(*s->launch());
    EXPECT_EQ(launch["stdin"].get<std::string>().size(), size);
    EXPECT_EQ(launch["env"].contains("RUNHOST_PROMPT"), size <= (size_t{64} << 10)) << size;
    EXPECT_EQ(launch["env"]["RUNHOST_RUN_ID"], "run_TEST1");
  }
  auto d = dispatch();
  d["prompt"] = std::string("a\0b", 3);
  const json launch = json::parse(*start(d)->launch());
  EXPECT_FALSE(launch["env"].contains("RUNHOST_PROMPT")) << "the environment cannot carry U+0000";
  EXPECT_EQ(launch["stdin"], std::string("a\0b", 3));
}

// ---- text mode ------------------------------------------------------------------------------

TEST_F(CustomRuntime, TextModeTurnsLinesIntoCommandOutput) {
  const auto& run =
      drive(dispatch(),
            {{RH_STREAM_STDOUT, "hello\n\nworld\n"}, {RH_STREAM_STDERR, "warn: x\n"}, {RH_STREAM_STDOUT, "no newline"}},
            exited(0));
  EXPECT_TRUE(run.refusals.empty()) << run.refusals.front();
  ASSERT_EQ(run.types(), (std::vector<std::string>{"command.output", "command.output", "command.output",
                                                   "command.output", "command.output", "run.completed"}));
  EXPECT_EQ(run.events[0].payload, json::parse(R"({"stream": "stdout", "text": "hello"})"));
  EXPECT_EQ(run.events[0].raw, "hello");
  EXPECT_EQ(run.events[1].payload["text"], "") << "an empty line is output too";
  EXPECT_EQ(run.events[2].payload["text"], "world");
  EXPECT_EQ(run.events[3].payload, json::parse(R"({"stream": "stderr", "text": "warn: x"})"));
  EXPECT_EQ(run.events[4].payload, json::parse(R"({"stream": "stdout", "text": "no newline"})"))
      << "flushed by finish()";
  EXPECT_EQ(run.last().payload, json::parse(R"({"exit_code": 0})"));
}

TEST_F(CustomRuntime, InvalidUtf8BecomesReplacementCharacters) {
  const auto& run = drive(dispatch(), {{RH_STREAM_STDOUT, "ok \xff\xfe cut \xe2\x82\n"}}, exited(0));
  ASSERT_TRUE(run.refusals.empty()) << run.refusals.front();
  EXPECT_EQ(run.events[0].payload["text"], "ok \xEF\xBF\xBD\xEF\xBF\xBD cut \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(run.events[0].raw, "") << "raw crosses the ABI as UTF-8, so a line that is not goes without";
}

// The events `input` gives when fed in one piece, in two pieces split at every byte, and a byte
// at a time, are the same.
void expect_chunking_does_not_matter(const std::function<const RecordingRun&(const std::vector<std::string>&)>& feed,
                                     const std::string& input) {
  const auto whole = feed({input});
  const auto whole_events = whole.events;
  ASSERT_GE(whole_events.size(), 4u);
  for (size_t cut = 0; cut <= input.size(); ++cut) {
    const auto& split = feed({input.substr(0, cut), input.substr(cut)});
    ASSERT_EQ(split.events.size(), whole_events.size()) << "split at " << cut;
    for (size_t i = 0; i < whole_events.size(); ++i) {
      EXPECT_EQ(split.events[i].type, whole_events[i].type) << "split at " << cut;
      EXPECT_EQ(split.events[i].payload, whole_events[i].payload) << "split at " << cut;
      EXPECT_EQ(split.events[i].raw, whole_events[i].raw) << "split at " << cut;
    }
  }
  std::vector<std::string> bytes;
  for (char c : input) bytes.emplace_back(1, c);
  const auto& trickle = feed(bytes);
  ASSERT_EQ(trickle.events.size(), whole_events.size());
  for (size_t i = 0; i < whole_events.size(); ++i) EXPECT_EQ(trickle.events[i].payload, whole_events[i].payload);
}

TEST_F(CustomRuntime, TextModeChunkingAtEveryByteBoundary) {
  const std::string input = "first line\n\xC3\xA9t\xC3\xA9 \xE2\x82\xAC\n\nlast without newline";
  expect_chunking_does_not_matter(
      [&](const std::vector<std::string>& chunks) -> const RecordingRun& {
        run_ = RecordingRun();
        auto s = start(dispatch());
        for (const auto& c : chunks) EXPECT_TRUE(s->feed(RH_STREAM_STDOUT, c));
        EXPECT_TRUE(s->finish(exited(0)));
        return run_;
      },
      input);
}

TEST_F(CustomRuntime, JsonlModeChunkingAtEveryByteBoundary) {
  const std::string input =
      "{\"type\":\"message\",\"payload\":{\"role\":\"assistant\",\"text\":\"h\xC3\xA9llo\"}}\n"
      "not json\n"
      "{\"type\":\"usage\",\"payload\":{\"source\":\"model\",\"input_tokens\":3}}\n"
      "{\"type\":\"run.completed\",\"payload\":{\"result\":\"ok\"}}";
  expect_chunking_does_not_matter(
      [&](const std::vector<std::string>& chunks) -> const RecordingRun& {
        run_ = RecordingRun();
        auto s = start(jsonl());
        for (const auto& c : chunks) EXPECT_TRUE(s->feed(RH_STREAM_STDOUT, c));
        EXPECT_TRUE(s->finish(exited(0)));
        return run_;
      },
      input);
}

long rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Feeds one line of `total` bytes in 64 KiB chunks, then "\nafter\n"; returns the RSS growth.
long feed_flood(plugins::RuntimeSession& s, rh_stream stream, size_t total) {
  const std::string chunk(64 << 10, 'x');
  const long before = rss_bytes();
  long peak = before;
  for (size_t fed = 0; fed < total; fed += chunk.size()) {
    EXPECT_TRUE(s.feed(stream, chunk));
    if ((fed / chunk.size()) % 64 == 0) peak = std::max(peak, rss_bytes());
  }
  EXPECT_TRUE(s.feed(stream, "\nafter\n"));
  return std::max(peak, rss_bytes()) - before;
}

TEST_F(CustomRuntime, AHundredMegabyteLineIsCutAtOneMebibyteInBoundedMemory) {
  constexpr size_t kTotal = size_t{100} << 20;
  constexpr long kBound = 32L << 20;
  {
    auto s = start(dispatch());
    EXPECT_LT(feed_flood(*s, RH_STREAM_STDOUT, kTotal), kBound);
    EXPECT_LT(feed_flood(*s, RH_STREAM_STDERR, kTotal), kBound);
    EXPECT_TRUE(s->finish(exited(0, RH_EXIT_FLAG_OUTPUT_TRUNCATED)));
  }
  ASSERT_TRUE(run_.refusals.empty()) << run_.refusals.front();
  ASSERT_EQ(run_.events.size(), 5u);
  for (size_t i : {0u, 2u}) {
    EXPECT_EQ(run_.events[i].type, "command.output");
    EXPECT_EQ(run_.events[i].payload["text"].get<std::string>().size(), size_t{1} << 20);
    EXPECT_EQ(run_.events[i].payload["truncated"], true);
    EXPECT_EQ(run_.events[i].payload["stream"], i == 0 ? "stdout" : "stderr");
    EXPECT_EQ(run_.events[i + 1].payload["text"], "after") << "the next line is whole again";
    EXPECT_FALSE(run_.events[i + 1].payload.contains("truncated"));
  }
  EXPECT_EQ(run_.last().payload, json::parse(R"({"exit_code": 0, "output_truncated": true})"));

  run_ = RecordingRun();
  {
    auto s = start(jsonl());
    EXPECT_LT(feed_flood(*s, RH_STREAM_STDOUT, kTotal), kBound);
    EXPECT_TRUE(s->finish(exited(0)));
  }
  ASSERT_EQ(run_.types(), (std::vector<std::string>{"runtime.unparsed", "runtime.unparsed", "run.completed"}));
  EXPECT_EQ(run_.events[0].payload["line"].get<std::string>().size(), size_t{1} << 20);
  EXPECT_EQ(run_.events[0].payload["truncated"], true);
  EXPECT_EQ(run_.events[0].payload["stream"], "stdout");
  EXPECT_EQ(run_.events[1].payload["line"], "after");
  EXPECT_EQ(run_.events[1].payload["reason"], "not valid JSON");
}

TEST_F(CustomRuntime, ALineOfExactlyTheLimitIsWhole) {
  const std::string line(size_t{1} << 20, 'y');
  const auto& run = drive(
      dispatch(), {{RH_STREAM_STDOUT, line.substr(0, 1000)}, {RH_STREAM_STDOUT, line.substr(1000) + "\n"}}, exited(0));
  ASSERT_EQ(run.events.size(), 2u);
  EXPECT_EQ(run.events[0].payload["text"].get<std::string>().size(), line.size());
  EXPECT_FALSE(run.events[0].payload.contains("truncated"));
}

// ---- jsonl mode -----------------------------------------------------------------------------

TEST_F(CustomRuntime, JsonlModeEmitsUnifiedEventsWithTheirLineAsRaw) {
  const std::vector<std::string> lines = {
      R"({"type":"message","payload":{"role":"assistant","text":"Working.","delta":false}})",
      R"({"type":"tool.started","payload":{"tool_call_id":"t1","name":"Bash","input":{"command":"ls"},"kind":"command"}})",
      R"({"type":"tool.completed","payload":{"tool_call_id":"t1","status":"success","output":"a\nb"},"extra":"ignored"})",
      R"(  {"payload":{"path":"src/a.c","change":"created"},"type":"file.changed"}  )",
      R"({"type":"usage","payload":{"source":"model","input_tokens":10,"output_tokens":2,"cost_usd":0.01}})",
  };
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  const auto& run = drive(jsonl(), {{RH_STREAM_STDOUT, out}, {RH_STREAM_STDERR, "debug: on stderr\n"}}, exited(0));
  ASSERT_TRUE(run.refusals.empty()) << run.refusals.front();
  ASSERT_EQ(run.types(), (std::vector<std::string>{"message", "tool.started", "tool.completed", "file.changed", "usage",
                                                   "command.output", "run.completed"}));
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(run.events[i].raw, lines[i]);
    EXPECT_EQ(run.events[i].payload, json::parse(lines[i])["payload"]);
  }
  EXPECT_EQ(run.events[5].payload, json::parse(R"({"stream": "stderr", "text": "debug: on stderr"})"));
}

TEST_F(CustomRuntime, JsonlModeKeepsLinesItCannotMapAsUnparsed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{not json", "not valid JSON"},
      {R"({"type":"message","payload":{}} trailing)", "not valid JSON"},
      {"[1,2]", "not a JSON object"},
      {"\"message\"", "not a JSON object"},
      {R"({"payload":{}})", "no \"type\" string"},
      {R"({"type":7,"payload":{}})", "no \"type\" string"},
      {R"({"type":"tool.exploded","payload":{}})", "not a unified event type: \"tool.exploded\""},
      {R"({"type":"message\u0000","payload":{}})", "not a unified event type: \"message\\u0000\""},
      {R"({"type":"message"})", "no \"payload\" object"},
      {R"({"type":"message","payload":"hi"})", "no \"payload\" object"},
      {R"({"type":"run.started","payload":{"cwd":"/","argv":[]}})",
       "run.started is the host's to report, not the command's"},
      {R"({"type":"run.cancelled","payload":{}})", "run.cancelled is the host's to report, not the command's"},
      {"{\"type\":\"message\",\"payload\":{\"role\":\"user\",\"text\":\"\xff\"}}", "not valid UTF-8"},
  };
  std::string out;
  for (const auto& [line, reason] : cases) out += line + "\n";
  const auto& run = drive(jsonl(), {{RH_STREAM_STDOUT, out + "\n   \n"}}, exited(0));
  ASSERT_TRUE(run.refusals.empty()) << run.refusals.front();
  ASSERT_EQ(run.events.size(), cases.size() + 1) << "blank lines are skipped";
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(run.events[i].type, "runtime.unparsed") << cases[i].first;
    EXPECT_EQ(run.events[i].payload["stream"], "stdout");
    EXPECT_EQ(run.events[i].payload["reason"], cases[i].second) << cases[i].first;
    EXPECT_FALSE(run.events[i].payload.contains("truncated"));
  }
  EXPECT_EQ(run.events[0].payload["line"], "{not json");
  EXPECT_EQ(run.events[0].raw, "{not json");
  EXPECT_EQ(run.events[cases.size() - 1].payload["line"],
            "{\"type\":\"message\",\"payload\":{\"role\":\"user\",\"text\":\"\xEF\xBF\xBD\"}}");
}

TEST_F(CustomRuntime, JsonlModeLeavesEventsTheHostRefusesToTheHostOnce) {
  // The host keeps a refused event's line as runtime.unparsed itself, from `raw`: the adapter
  // must hand it the line, and must not report it a second time.
  const std::string line = R"({"type":"message","payload":{"role":"assistant","text":5}})";
  const std::string surrogate = R"({"type":"message","payload":{"role":"assistant","text":"\ud800"}})";
  auto s = start(jsonl());
  EXPECT_TRUE(s->feed(RH_STREAM_STDOUT, line + "\n" + surrogate + "\n")) << "the lines are dealt with";
  EXPECT_TRUE(s->finish(exited(0)));
  ASSERT_EQ(run_.refusals.size(), 2u);
  EXPECT_EQ(run_.refusals[0], "payload/text: expected string, got integer");
  EXPECT_EQ(run_.refusals[1], "emit: the payload is not valid JSON") << "a lone surrogate escape";
  ASSERT_EQ(run_.types(), (std::vector<std::string>{"runtime.unparsed", "runtime.unparsed", "run.completed"}));
  EXPECT_TRUE(run_.events[0].by_host && run_.events[1].by_host) << "one runtime.unparsed per line, the host's";
  EXPECT_EQ(run_.events[0].payload["line"], line);
  EXPECT_EQ(run_.events[1].payload["line"], surrogate);
}

TEST_F(CustomRuntime, JsonlModeHoldsTheCommandsOwnRunFailedToTheEnd) {
  const std::string failed =
      R"({"type":"run.failed","payload":{"error":{"code":"budget_exceeded","message":"spent $5","retryable":false,)"
      R"("recovery":{"action":"raise_budget","usage_source":"anthropic"}}}})";
  const auto& run = drive(jsonl(),
                          {{RH_STREAM_STDOUT, R"({"type":"message","payload":{"role":"assistant","text":"a"}})"
                                              "\n" +
                                                  failed + "\n"},
                           {RH_STREAM_STDOUT, R"({"type":"message","payload":{"role":"assistant","text":"b"}})"
                                              "\n"}},
                          exited(3));
  ASSERT_TRUE(run.refusals.empty()) << run.refusals.front();
  ASSERT_EQ(run.types(), (std::vector<std::string>{"message", "message", "run.failed"}));
  EXPECT_EQ(run.last().payload, json::parse(failed)["payload"]) << "the command's own failure, not runtime_error";
  EXPECT_EQ(run.last().raw, failed);
}

TEST_F(CustomRuntime, JsonlModeTheLastDeclaredTerminalEventWins) {
  const std::string completed = R"({"type":"run.completed","payload":{"result":"first"}})";
  const std::string failed =
      R"({"type":"run.failed","payload":{"error":{"code":"runtime_error","message":"m","retryable":false}}})";
  const auto& run = drive(jsonl(), {{RH_STREAM_STDOUT, completed + "\n" + failed + "\n"}}, exited(0));
  ASSERT_EQ(run.types(), (std::vector<std::string>{"runtime.unparsed", "run.failed"}));
  EXPECT_EQ(run.events[0].payload["line"], completed);
  EXPECT_EQ(run.events[0].payload["reason"], "replaced by a later run.completed or run.failed line");
  EXPECT_EQ(run.last().payload["error"]["code"], "runtime_error");
}

TEST_F(CustomRuntime, JsonlModeCancellationAndTimeoutBeatTheDeclaredEnding) {
  const std::string completed = R"({"type":"run.completed","payload":{"result":"done"}})";
  {
    const auto& run = drive(jsonl(), {{RH_STREAM_STDOUT, completed + "\n"}}, signaled(SIGKILL, RH_EXIT_FLAG_CANCELLED));
    ASSERT_EQ(run.types(), (std::vector<std::string>{"runtime.unparsed", "run.cancelled"}));
    EXPECT_EQ(run.events[0].payload["line"], completed);
  }
  run_ = RecordingRun();
  const auto& run = drive(jsonl(), {{RH_STREAM_STDOUT, completed}}, signaled(SIGKILL, RH_EXIT_FLAG_TIMED_OUT));
  ASSERT_EQ(run.types(), (std::vector<std::string>{"runtime.unparsed", "run.failed"}))
      << "a partial last line is flushed too";
  EXPECT_EQ(run.last().payload["error"]["code"], "timeout");
}

TEST_F(CustomRuntime, JsonlModeADeclaredEndingTheHostRefusesFallsBackToTheExit) {
  const std::string bad =
      R"({"type":"run.failed","payload":{"error":{"code":"exploded","message":"m","retryable":true}}})";
  const auto& run = drive(jsonl(), {{RH_STREAM_STDOUT, bad + "\n"}}, exited(2));
  ASSERT_EQ(run.refusals.size(), 1u);
  ASSERT_EQ(run.types(), (std::vector<std::string>{"runtime.unparsed", "run.failed"}));
  EXPECT_TRUE(run.events[0].by_host);
  EXPECT_EQ(run.events[0].payload["line"], bad);
  EXPECT_EQ(run.last().payload["error"]["code"], "runtime_error");
  EXPECT_EQ(run.last().payload["exit_code"], 2);
}

TEST_F(CustomRuntime, JsonlModeMarksADeclaredEndingWhoseOutputWasTruncated) {
  for (const std::string payload : {"{}", "{ \t }", R"({"result":"r"})"}) {
    run_ = RecordingRun();
    const std::string line = R"({"type":"run.completed","payload":)" + payload + "}";
    const auto& run = drive(jsonl(), {{RH_STREAM_STDOUT, line + "\n"}}, exited(0, RH_EXIT_FLAG_OUTPUT_TRUNCATED));
    ASSERT_TRUE(run.refusals.empty()) << payload << ": " << run.refusals.front();
    ASSERT_EQ(run.types(), std::vector<std::string>{"run.completed"});
    json expected = json::parse(payload);
    expected["output_truncated"] = true;
    EXPECT_EQ(run.last().payload, expected) << payload;
  }
}

// ---- finish() -------------------------------------------------------------------------------

TEST_F(CustomRuntime, FinishReportsEveryWayTheCommandCanEnd) {
  struct Case {
    const char* name;
    rh_exit exit;
    const char* type;
    json payload;
  };
  const std::vector<Case> cases = {
      {"exit 0", exited(0), "run.completed", json::parse(R"({"exit_code": 0})")},
      {"exit 3", exited(3), "run.failed",
       json::parse(
           R"({"error": {"code": "runtime_error", "message": "custom: \"make\" exited with code 3", "retryable": false,
                       "recovery": {"action": "retry"}}, "exit_code": 3})")},
      {"signal", signaled(SIGSEGV), "run.failed",
       json::parse(
           R"({"error": {"code": "runtime_crashed", "message": "custom: \"make\" was killed by signal 11", "retryable": true,
                       "recovery": {"action": "retry"}}, "signal": 11})")},
      {"lost", lost(), "run.failed",
       json::parse(
           R"({"error": {"code": "device_lost", "message": "custom: the device lost track of \"make\"", "retryable": true,
                       "recovery": {"action": "resume_device"}}})")},
      {"spawn failed", spawn_failed(ENOENT), "run.failed",
       json::parse(
           R"json({"error": {"code": "runtime_not_found", "message": "custom: could not start \"make\": not found (is it installed, and on PATH?)",
                       "retryable": false, "recovery": {"action": "install_runtime",
                       "hint": "install make on the device (or put it on PATH), or fix \"command\" in the dispatch"}}})json")},
      {"spawn failed, odd errno", spawn_failed(12345), "run.failed",
       json::parse(
           R"({"error": {"code": "runtime_not_found", "message": "custom: could not start \"make\": errno 12345",
                       "retryable": false, "recovery": {"action": "install_runtime",
                       "hint": "install make on the device (or put it on PATH), or fix \"command\" in the dispatch"}}})")},
      {"cancelled", signaled(SIGTERM, RH_EXIT_FLAG_CANCELLED), "run.cancelled",
       json::parse(R"({"reason": "cancelled"})")},
      {"cancelled after exiting 0", exited(0, RH_EXIT_FLAG_CANCELLED), "run.cancelled",
       json::parse(R"({"reason": "cancelled"})")},
      {"timed out", signaled(SIGKILL, RH_EXIT_FLAG_TIMED_OUT), "run.failed",
       json::parse(R"({"error": {"code": "timeout", "message": "custom: \"make\" ran out of time", "retryable": true,
                       "recovery": {"action": "retry"}}})")},
      {"cancelled and timed out", signaled(SIGKILL, RH_EXIT_FLAG_TIMED_OUT | RH_EXIT_FLAG_CANCELLED), "run.cancelled",
       json::parse(R"({"reason": "cancelled"})")},
      {"truncated, exit 0", exited(0, RH_EXIT_FLAG_OUTPUT_TRUNCATED), "run.completed",
       json::parse(R"({"exit_code": 0, "output_truncated": true})")},
      {"truncated, exit 1", exited(1, RH_EXIT_FLAG_OUTPUT_TRUNCATED), "run.failed",
       json::parse(
           R"({"error": {"code": "runtime_error", "message": "custom: \"make\" exited with code 1", "retryable": false,
                       "recovery": {"action": "retry"}}, "exit_code": 1, "output_truncated": true})")},
      {"truncated, cancelled", exited(0, RH_EXIT_FLAG_OUTPUT_TRUNCATED | RH_EXIT_FLAG_CANCELLED), "run.cancelled",
       json::parse(R"({"reason": "cancelled", "output_truncated": true})")},
  };
  for (const auto& c : cases) {
    run_ = RecordingRun();
    for (const json& d : {dispatch(), dispatch(json::array({"make", "all"}), "jsonl")}) {
      run_ = RecordingRun();
      const auto& run = drive(d, {}, c.exit);
      ASSERT_TRUE(run.refusals.empty()) << c.name << ": " << run.refusals.front();
      ASSERT_EQ(run.events.size(), 1u) << c.name;
      EXPECT_EQ(run.last().type, c.type) << c.name;
      EXPECT_EQ(run.last().payload, c.payload) << c.name;
    }
  }
}

TEST_F(CustomRuntime, FinishFlushesPartialLinesBeforeTheOneTerminalEvent) {
  const auto& run = drive(dispatch(), {{RH_STREAM_STDOUT, "out"}, {RH_STREAM_STDERR, "err"}}, exited(1));
  ASSERT_EQ(run.types(), (std::vector<std::string>{"command.output", "command.output", "run.failed"}));
  EXPECT_EQ(run.events[0].payload["stream"], "stdout");
  EXPECT_EQ(run.events[1].payload["stream"], "stderr");
  EXPECT_EQ(run.terminal_count(), 1u);
}

TEST_F(CustomRuntime, NamesAnArgv0ThatNeedsEscaping) {
  // Written by hand: the dispatch carries a byte that is not UTF-8, which nlohmann will not dump.
  std::string text = dispatch(json::array({"ARGV0"})).dump();
  text.replace(text.find("ARGV0"), 5, "my \\\"tool\\\"\\n\xff");
  const auto& run = drive(text, {}, spawn_failed(EACCES));
  ASSERT_TRUE(run.refusals.empty()) << run.refusals.front();
  EXPECT_EQ(run.last().payload["error"]["message"],
            "custom: could not start \"my \"tool\"\n\xEF\xBF\xBD\": permission denied");
}

// ---- runhost plugin check -------------------------------------------------------------------

TEST(CustomRuntimeConformance, PassesThePluginCheck) {
  const auto report = check_plugin_isolated(testing::kBundledDir / "custom.so");
  std::vector<std::string> failures;
  for (const auto& c : report.checks) {
    if (!c.passed) failures.push_back(c.name + ": " + c.detail);
  }
  // Until the check's sample dispatch carries a "command", create() is the one thing that fails.
  const std::string create_error =
      "runtime 'custom': runtime 'custom' create() failed (status 1): the custom runtime needs \"command\": an array "
      "of strings";
  if (!failures.empty()) {
    EXPECT_EQ(failures, std::vector<std::string>{create_error});
  }
  EXPECT_FALSE(report.checks.empty());
}

}  // namespace
}  // namespace runhost
