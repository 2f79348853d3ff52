// The pi adapter beyond what every adapter does (bad_input_test.cpp) and its recorded transcripts
// (golden_test.cpp): the launch (prompt on stdin, options as separate arguments, the policy's
// tools as pi's allowlist, what pi cannot honour refused), and the ending pi never tells with its
// exit code (always 0): a failed model call, pi's retries giving up or succeeding, no agent_end.
// Transcripts come from the real pi 0.73.1 (tests/fixtures/runtimes/pi/, tests/e2e/record.py);
// the lines written here are cut down from those.
#include <gtest/gtest.h>

#include "adapter_harness.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;

std::string line(const json& j) { return j.dump() + "\n"; }

json assistant_end(const std::string& text, const std::string& stop = "stop", const std::string& error = "") {
  json m = {{"role", "assistant"},
            {"content", json::array({{{"type", "text"}, {"text", text}}})},
            {"stopReason", stop},
            {"model", "m1"},
            {"usage", {{"input", 10}, {"output", 5}, {"cacheRead", 2}, {"cost", {{"total", 0.25}}}}}};
  if (!error.empty()) {
    m["errorMessage"] = error;
    m["usage"] = {{"input", 0}, {"output", 0}};
  }
  return {{"type", "message_end"}, {"message", m}};
}

const json kSession = {{"type", "session"}, {"version", 3}, {"id", "01a24000-b5da-73d5-94ed-119d015c5afd"}, {"cwd", "/w"}};
const json kAgentEnd = {{"type", "agent_end"}, {"messages", json::array()}};

std::vector<std::string> strings(const json& array) {
  std::vector<std::string> out;
  for (const auto& v : array) out.push_back(v.get<std::string>());
  return out;
}

class Pi : public ::testing::Test {
 protected:
  AdapterHarness harness_{"pi"};

  json spec(const AdapterHarness::Options& options, const std::string& prompt = "Do the thing") {
    return harness_.start(AdapterHarness::dispatch(prompt), options).launch_spec();
  }
  std::vector<std::string> argv(const AdapterHarness::Options& options) { return strings(spec(options)["argv"]); }

  std::string refusal(const AdapterHarness::Options& options) {
    auto s = harness_.create(AdapterHarness::dispatch(), options);
    return s ? std::string() : s.error().message;
  }

  std::vector<RecordedEvent> run(const std::string& stdout_text, const rh_exit& exit = exited(0)) {
    AdapterSession s = harness_.start(AdapterHarness::dispatch(), AdapterHarness::Options{});
    s.feed(RH_STREAM_STDOUT, stdout_text);
    auto events = s.finish(exit);
    EXPECT_TRUE(s.run().refusals.empty()) << s.run().refusals.front();
    return events;
  }
};

// ---- Launch ------------------------------------------------------------------------------------

TEST_F(Pi, ThePromptGoesOnStdinAndNeverIntoArgv) {
  const std::string prompt = std::string("--tools bash\n-p starts with a dash\n") + '\0' + " and a NUL";
  const json s = spec(AdapterHarness::Options{}, prompt);
  EXPECT_EQ(strings(s["argv"]), (std::vector<std::string>{"pi", "--mode", "json", "-p", "--offline"}));
  EXPECT_EQ(s["stdin"], prompt) << "pi reads the prompt from stdin when it is not a terminal";
  EXPECT_EQ(s["keep_stdin_open"], false);
}

TEST_F(Pi, OptionsAreSeparateArgumentsBecausePiIgnoresFlagEqualsValue) {
  AdapterHarness::Options o;
  o.config = {{"provider", "loopback"}, {"model", "fake-model"}, {"thinking", "low"}, {"offline", false},
              {"args", {"--no-context-files"}}};
  o.resume_id = "01a24000-b5da-73d5-94ed-119d015c5afd";
  EXPECT_EQ(argv(o), (std::vector<std::string>{"pi", "--mode", "json", "-p", "--provider", "loopback", "--model",
                                               "fake-model", "--thinking", "low", "--session",
                                               "01a24000-b5da-73d5-94ed-119d015c5afd", "--no-context-files"}));
}

TEST_F(Pi, ThePolicysToolRulesBecomePisAllowlist) {
  AdapterHarness::Options o;
  o.constraints = {{"read_only", true}};
  auto a = argv(o);
  EXPECT_EQ(std::vector<std::string>(a.end() - 2, a.end()), (std::vector<std::string>{"--tools", "read"}));
  o.constraints = {{"tools", {{"deny", {"bash"}}}}};
  a = argv(o);
  EXPECT_EQ(std::vector<std::string>(a.end() - 2, a.end()), (std::vector<std::string>{"--tools", "read,edit,write"}));
  o.constraints = {{"tools", {{"allow", {"read", "grep", "WebFetch"}}}}};
  a = argv(o);
  EXPECT_EQ(std::vector<std::string>(a.end() - 2, a.end()), (std::vector<std::string>{"--tools", "read,grep"}));
  o.constraints = {{"tools", {{"allow", json::array()}}}};
  EXPECT_EQ(argv(o).back(), "--no-tools");
  o.constraints = {{"tools", {{"deny", {"WebFetch"}}}}};
  EXPECT_EQ(argv(o).back(), "--offline") << "a rule about a tool pi does not have changes nothing";
}

TEST_F(Pi, WhatPiCannotHonourIsRefusedNotIgnored) {
  AdapterHarness::Options o;
  o.constraints = {{"max_turns", 3}};
  EXPECT_NE(refusal(o).find("max_turns"), std::string::npos);
  o.constraints = {{"max_budget_usd", 1.5}};
  EXPECT_NE(refusal(o).find("max_budget_usd"), std::string::npos);
  o.constraints = {{"permission_mode", "plan"}};
  EXPECT_NE(refusal(o).find("permission_mode"), std::string::npos);
  o.constraints = json::object();
  for (const json& bad : {json{{"model", "--help"}}, json{{"provider", "a b"}}, json{{"thinking", "max"}},
                          json{{"offline", "yes"}}}) {
    o.config = bad;
    EXPECT_FALSE(refusal(o).empty()) << bad.dump();
  }
}

// ---- The ending ------------------------------------------------------------------------------------

TEST_F(Pi, AgentEndCompletesWithTheLastAssistantText) {
  const auto events = run(line(kSession) + line(assistant_end("first")) + line(assistant_end("the answer")) +
                          line(kAgentEnd));
  EXPECT_EQ(events.back().type, "run.completed");
  EXPECT_EQ(events.back().payload["result"], "the answer");
  EXPECT_EQ(events.back().payload["session_id"], "01a24000-b5da-73d5-94ed-119d015c5afd");
  const auto usage = of_type(events, "usage");
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage[0], (json{{"source", "pi"}, {"model", "m1"}, {"input_tokens", 10}, {"output_tokens", 5},
                            {"cached_input_tokens", 2}, {"cost_usd", 0.25}}));
}

TEST_F(Pi, AFailedModelCallFailsTheRunTypedFromItsMessageThoughPiExitsZero) {
  const struct {
    const char* message;
    const char* code;
    bool retryable;
  } cases[] = {{"Connection error.", "model_unavailable", true},
               {"401 invalid api key", "auth_failed", false},
               {"429 slow down", "rate_limited", true},
               {"503 overloaded", "model_unavailable", true},
               {"something odd", "model_api_error", false}};
  for (const auto& c : cases) {
    const auto events = run(line(kSession) + line(assistant_end("", "error", c.message)) + line(kAgentEnd));
    ASSERT_EQ(events.back().type, "run.failed") << c.message;
    EXPECT_EQ(events.back().payload["error"]["code"], c.code) << c.message;
    EXPECT_EQ(events.back().payload["error"]["retryable"], c.retryable) << c.message;
    EXPECT_NE(events.back().payload["error"]["message"].get<std::string>().find(c.message), std::string::npos);
    EXPECT_TRUE(of_type(events, "usage").empty()) << "a failed call used nothing";
  }
}

TEST_F(Pi, RetriesAreSystemMessagesAndTheLastOneDecides) {
  const json retry = {{"type", "auto_retry_start"}, {"attempt", 1}, {"maxAttempts", 3}, {"delayMs", 2000},
                      {"errorMessage", "500 boom"}};
  const std::string failed_once = line(kSession) + line(assistant_end("", "error", "500 boom")) + line(kAgentEnd) +
                                  line(retry);
  // Gave up: the final error.
  auto events = run(failed_once + line(assistant_end("", "error", "429 slow down")) + line(kAgentEnd) +
                    line({{"type", "auto_retry_end"}, {"success", false}, {"attempt", 3}, {"finalError", "429 slow down"}}));
  EXPECT_EQ(events.back().payload["error"]["code"], "rate_limited");
  const auto notes = of_type(events, "message");
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[1]["role"], "system");
  EXPECT_EQ(notes[1]["text"], "Pi retries (attempt 1 of 3, in 2000 ms) after: 500 boom");
  // Recovered: the answer after the retry.
  events = run(failed_once + line(assistant_end("recovered")) + line(kAgentEnd) +
               line({{"type", "auto_retry_end"}, {"success", true}, {"attempt", 1}}));
  EXPECT_EQ(events.back().type, "run.completed");
  EXPECT_EQ(events.back().payload["result"], "recovered");
}

TEST_F(Pi, ExitingWithoutAgentEndIsNoResult) {
  const auto events = run(line(kSession) + line(assistant_end("half way")));
  EXPECT_EQ(events.back().type, "run.failed");
  EXPECT_EQ(events.back().payload["error"]["cause"], "no_result");
}

TEST_F(Pi, ABashResultSplitsPisExitLineIntoTheExitCode) {
  const json start = {{"type", "tool_execution_start"}, {"toolCallId", "c1"}, {"toolName", "bash"}, {"args", {{"command", "false"}}}};
  const json end = {{"type", "tool_execution_end"}, {"toolCallId", "c1"}, {"toolName", "bash"}, {"isError", true},
                    {"result", {{"content", {{{"type", "text"}, {"text", "out\nerr\n\n\nCommand exited with code 3"}}}}}}};
  const auto events = run(line(kSession) + line(start) + line(end) + line(assistant_end("done")) + line(kAgentEnd));
  const auto output = of_type(events, "command.output");
  ASSERT_EQ(output.size(), 2u);
  EXPECT_EQ(output[0]["text"], "out");
  EXPECT_EQ(output[1]["text"], "err");
  EXPECT_EQ(output[1]["exit_code"], 3);
  const auto done = of_type(events, "tool.completed");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]["status"], "error");
  EXPECT_EQ(done[0]["error"], "the command exited with code 3");
  EXPECT_EQ(of_type(events, "tool.started")[0]["kind"], "command");
}

TEST_F(Pi, AWriteOfAFileTheRunHadReadIsAModification) {
  const auto tool = [](const std::string& id, const std::string& name, const json& args) {
    return line({{"type", "tool_execution_start"}, {"toolCallId", id}, {"toolName", name}, {"args", args}}) +
           line({{"type", "tool_execution_end"}, {"toolCallId", id}, {"toolName", name}, {"isError", false},
                 {"result", {{"content", {{{"type", "text"}, {"text", "ok"}}}}}}});
  };
  const auto events = run(line(kSession) + tool("c1", "read", {{"path", "/w/a.txt"}}) +
                          tool("c2", "write", {{"path", "/w/a.txt"}, {"content", "x"}}) +
                          tool("c3", "write", {{"path", "/w/b.txt"}, {"content", "yy"}}) + line(kAgentEnd));
  const auto changed = of_type(events, "file.changed");
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_EQ(changed[0]["path"], "a.txt");
  EXPECT_EQ(changed[0]["change"], "modified");
  EXPECT_EQ(changed[1]["path"], "b.txt");
  EXPECT_EQ(changed[1]["change"], "created");
  EXPECT_EQ(changed[1]["size_bytes"], 2);
}

}  // namespace
}  // namespace runhost::testing
