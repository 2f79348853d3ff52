// The acp adapter (and its hermes preset) without an agent: the JSON-RPC it writes and what each
// answer, notification and request of the agent becomes. The e2e suite drives the real agents
// (gemini --acp, opencode acp, hermes acp); the lines here are cut down from what they sent.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "adapter_harness.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;

std::string line(const json& j) { return j.dump() + "\n"; }
json response(int id, const json& result) { return {{"jsonrpc", "2.0"}, {"id", id}, {"result", result}}; }
json error_response(int id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}
json update(const json& u) {
  return {{"jsonrpc", "2.0"}, {"method", "session/update"}, {"params", {{"sessionId", "s1"}, {"update", u}}}};
}
json request(const json& id, const std::string& method, const json& params) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
}

const json kInitialized = response(1, {{"protocolVersion", 1}, {"agentCapabilities", {{"loadSession", true}}},
                                       {"agentInfo", {{"name", "fake-agent"}, {"version", "1.0"}}}});
const json kOpened = response(2, {{"sessionId", "s1"}});

// What the adapter wrote to the agent, one JSON-RPC message per line.
std::vector<json> written(const AdapterSession& s) {
  std::vector<json> out;
  for (const auto& l : split_lines(s.run().input)) out.push_back(json::parse(l));
  return out;
}

class Acp : public ::testing::Test {
 protected:
  AdapterHarness harness_{"acp"};
  std::filesystem::path dir_ = std::filesystem::temp_directory_path() / ("runhost-acp-test-" + std::to_string(getpid()));

  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  AdapterHarness::Options options(json config = json::object()) {
    AdapterHarness::Options o;
    if (!config.contains("command")) config["command"] = {"fake-agent", "--acp"};
    o.config = config;
    return o;
  }
  AdapterSession start(json config = json::object(), const std::string& prompt = "Do the thing",
                       bool processes = false) {
    json d = AdapterHarness::dispatch(prompt);
    d["cwd"] = dir_.string();
    auto o = options(std::move(config));
    o.processes = processes;
    return harness_.start(d, o);
  }
  // A session through initialize and session/new: the prompt is out.
  AdapterSession prompting(json config = json::object(), bool processes = false) {
    AdapterSession s = start(std::move(config), "Do the thing", processes);
    (void)s.launch_spec();
    s.feed(RH_STREAM_STDOUT, line(kInitialized) + line(kOpened));
    return s;
  }
};

TEST_F(Acp, LaunchesTheCommandWithInitializeOnStdinKeptOpen) {
  AdapterSession s = start();
  const json spec = s.launch_spec();
  EXPECT_EQ(spec["argv"], (json{"fake-agent", "--acp"}));
  EXPECT_EQ(spec["keep_stdin_open"], true);
  const json init = json::parse(spec["stdin"].get<std::string>());
  EXPECT_EQ(init["method"], "initialize");
  EXPECT_EQ(init["id"], 1);
  EXPECT_EQ(init["params"]["protocolVersion"], 1);
  EXPECT_EQ(init["params"]["clientCapabilities"]["fs"]["readTextFile"], false) << "fs is served only when asked";
  EXPECT_EQ(init["params"]["clientCapabilities"]["terminal"], false);
}

TEST_F(Acp, WithoutACommandTheRunFailsRuntimeNotFoundWithTheHint) {
  AdapterHarness::Options o;
  AdapterSession s = harness_.start(AdapterHarness::dispatch(), o);
  EXPECT_EQ(s.launch_spec()["argv"][0], "acp-agent");
  const auto events = s.finish(spawn_failed(ENOENT));
  EXPECT_EQ(events.back().payload["error"]["code"], "runtime_not_found");
  EXPECT_NE(events.back().payload["error"]["recovery"]["hint"].get<std::string>().find("\"command\""), std::string::npos);
}

TEST_F(Acp, OpensASessionInTheRunsDirectoryThenPrompts) {
  AdapterSession s = prompting();
  const auto sent = written(s);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]["method"], "session/new");
  EXPECT_EQ(sent[0]["params"]["cwd"], dir_.string());
  EXPECT_EQ(sent[0]["params"]["mcpServers"], json::array());
  EXPECT_EQ(sent[1]["method"], "session/prompt");
  EXPECT_EQ(sent[1]["params"]["sessionId"], "s1");
  EXPECT_EQ(sent[1]["params"]["prompt"], (json{{{"type", "text"}, {"text", "Do the thing"}}}));
  EXPECT_EQ(of_type(s.run().events, "message").at(0)["text"], "fake-agent 1.0 session s1 started");
}

TEST_F(Acp, AModeIsSetBeforeThePrompt) {
  AdapterSession s = prompting({{"mode", "auto"}});
  auto sent = written(s);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1]["method"], "session/set_mode");
  EXPECT_EQ(sent[1]["params"]["modeId"], "auto");
  s.feed(RH_STREAM_STDOUT, line(response(3, nullptr)));
  EXPECT_EQ(written(s).back()["method"], "session/prompt");
}

TEST_F(Acp, AnAgentOfAnotherProtocolVersionIsRefusedClearly) {
  AdapterSession s = start();
  (void)s.launch_spec();
  s.feed(RH_STREAM_STDOUT, line(response(1, {{"protocolVersion", 2}})));
  EXPECT_TRUE(s.run().input_closed) << "nothing more is said to it";
  const auto events = s.finish(exited(0));
  EXPECT_EQ(events.back().type, "run.failed");
  EXPECT_NE(events.back().payload["error"]["message"].get<std::string>().find("version 1 only"), std::string::npos);
}

TEST_F(Acp, TheUpdatesBecomeEventsAndEndTurnCompletesWithTheLastText) {
  AdapterSession s = prompting();
  s.feed(RH_STREAM_STDOUT,
         line(update({{"sessionUpdate", "agent_message_chunk"}, {"content", {{"type", "text"}, {"text", "Let me "}}}})) +
             line(update({{"sessionUpdate", "agent_thought_chunk"}, {"content", {{"type", "text"}, {"text", "hmm"}}}})) +
             line(update({{"sessionUpdate", "tool_call"}, {"toolCallId", "t1"}, {"title", "ls"}, {"kind", "execute"},
                          {"status", "in_progress"}, {"rawInput", {{"command", "ls"}}}})) +
             line(update({{"sessionUpdate", "tool_call_update"}, {"toolCallId", "t1"}, {"status", "completed"},
                          {"content", {{{"type", "content"}, {"content", {{"type", "text"}, {"text", "a\nb"}}}}}}})) +
             line(update({{"sessionUpdate", "tool_call"}, {"toolCallId", "t2"}, {"title", "write x"}, {"kind", "edit"},
                          {"status", "completed"},
                          {"content", {{{"type", "diff"}, {"path", (dir_ / "x.txt").string()}, {"oldText", nullptr},
                                        {"newText", "hi"}}}}})) +
             line(update({{"sessionUpdate", "plan"}, {"entries", {{{"content", "step"}, {"status", "pending"}}}}})) +
             line(update({{"sessionUpdate", "usage_update"}, {"used", 10}, {"size", 100},
                          {"cost", {{"amount", 0.5}, {"currency", "USD"}}}})) +
             line(update({{"sessionUpdate", "usage_update"}, {"used", 20}, {"size", 100},
                          {"cost", {{"amount", 0.75}, {"currency", "USD"}}}})) +
             line(update({{"sessionUpdate", "agent_message_chunk"}, {"content", {{"type", "text"}, {"text", "Done."}}}})) +
             line(update({{"sessionUpdate", "teleport"}})) +
             line(response(4, {{"stopReason", "end_turn"}, {"usage", {{"inputTokens", 200}, {"outputTokens", 40}}}})));
  EXPECT_TRUE(s.run().input_closed) << "the prompt answered: stdin closes and the agent exits";
  const auto events = s.finish(exited(0));
  const auto messages = of_type(events, "message");
  EXPECT_EQ(messages[1], (json{{"role", "assistant"}, {"text", "Let me "}, {"delta", true}}));
  EXPECT_EQ(of_type(events, "reasoning").at(0)["text"], "hmm");
  const auto started = of_type(events, "tool.started");
  ASSERT_EQ(started.size(), 3u);
  EXPECT_EQ(started[0]["kind"], "command");
  EXPECT_EQ(started[1]["kind"], "file");
  EXPECT_EQ(started[2]["name"], "plan");
  const auto output = of_type(events, "command.output");
  ASSERT_EQ(output.size(), 2u);
  EXPECT_EQ(output[0]["tool_call_id"], "t1");
  EXPECT_EQ(of_type(events, "file.changed").at(0), (json{{"path", "x.txt"}, {"change", "created"}, {"source_runtime", true}}));
  const auto usage = of_type(events, "usage");
  ASSERT_EQ(usage.size(), 3u);
  EXPECT_EQ(usage[0]["cost_usd"], 0.5);
  EXPECT_EQ(usage[1]["cost_usd"], 0.25) << "ACP's cost is the session's total: each event is the increase";
  EXPECT_EQ(usage[2]["input_tokens"], 200);
  EXPECT_EQ(of_type(events, "runtime.unparsed").size(), 1u);
  EXPECT_EQ(events.back().type, "run.completed");
  EXPECT_EQ(events.back().payload["result"], "Done.") << "the text after the last tool call";
  EXPECT_EQ(events.back().payload["session_id"], "s1");
}

TEST_F(Acp, StopReasonsAndErrorsAreTyped) {
  const std::vector<std::pair<json, std::string>> cases = {
      {response(4, {{"stopReason", "max_turn_requests"}}), "turn_limit"},
      {response(4, {{"stopReason", "max_tokens"}}), "context_limit"},
      {response(4, {{"stopReason", "refusal"}}), "runtime_error"},
      {error_response(4, 429, "slow down"), "rate_limited"},
      {error_response(4, -32603, "Internal error: rate limit reached"), "rate_limited"},
      {error_response(4, -32000, "Authentication required"), "auth_failed"},
      {error_response(4, -32603, "Query closed before response received"), "runtime_error"},
      // codex-acp 0.16: the model API's failure only in the error's data.
      {json::parse(R"({"jsonrpc":"2.0","id":4,"error":{"code":-32603,"message":"Internal error",
                        "data":{"message":"exceeded retry limit, last status: 429 Too Many Requests"}}})"),
       "rate_limited"},
      {json::parse(R"({"jsonrpc":"2.0","id":4,"error":{"code":-32603,"message":"Internal error","data":"disk full"}})"),
       "runtime_error"},
  };
  for (const auto& [answer, code] : cases) {
    AdapterSession s = prompting();
    s.feed(RH_STREAM_STDOUT, line(answer));
    const auto events = s.finish(exited(0));
    EXPECT_EQ(events.back().type, "run.failed") << answer.dump();
    EXPECT_EQ(events.back().payload["error"]["code"], code) << answer.dump();
    if (answer.contains("error") && answer["error"].contains("data")) {
      const std::string message = events.back().payload["error"]["message"];
      EXPECT_NE(message.find(answer["error"]["data"].is_string() ? "disk full" : "429 Too Many"), std::string::npos)
          << "the data's detail is in the message: " << message;
    }
  }
}

TEST_F(Acp, APermissionRequestGoesToTheHostAndTheAnswerPicksAnOffer) {
  const json options = {{{"optionId", "yes"}, {"name", "Allow"}, {"kind", "allow_once"}},
                        {{"optionId", "always"}, {"name", "Always"}, {"kind", "allow_always"}},
                        {{"optionId", "no"}, {"name", "Reject"}, {"kind", "reject_once"}}};
  for (const bool allow : {true, false}) {
    AdapterSession s = prompting();
    s.feed(RH_STREAM_STDOUT,
           line(request(7, "session/request_permission",
                        {{"sessionId", "s1"},
                         {"toolCall", {{"toolCallId", "t9"}, {"title", "Write x.txt"}, {"kind", "edit"}}},
                         {"options", options}})));
    const auto asks = of_type(s.run().events, "approval.required");
    ASSERT_EQ(asks.size(), 1u);
    EXPECT_EQ(asks[0]["tool_call_id"], "t9") << "the id the call gets when the agent reports it";
    EXPECT_EQ(asks[0]["action"]["kind"], "file");
    // The adapter's request id is the JSON-RPC id's text: "7" for the number 7.
    auto answer = s.respond({{"request_id", "7"}, {"approval_id", "apr_1"},
                             {"decision", allow ? "allow" : "deny"}, {"scope", "once"}, {"source", "human"}});
    ASSERT_TRUE(answer) << answer.error().message;
    const json reply = json::parse(*answer);
    EXPECT_EQ(reply["id"], 7);
    EXPECT_EQ(reply["result"]["outcome"], (json{{"outcome", "selected"}, {"optionId", allow ? "yes" : "no"}}));
  }
}

TEST_F(Acp, ADenyWithNoRejectOfferIsCancelledNeverAnAllow) {
  AdapterSession s = prompting();
  s.feed(RH_STREAM_STDOUT, line(request("p-1", "session/request_permission",
                                        {{"sessionId", "s1"},
                                         {"toolCall", {{"toolCallId", "t1"}}},
                                         {"options", {{{"optionId", "ok"}, {"kind", "allow_once"}}}}})));
  auto answer = s.respond({{"request_id", "\"p-1\""}, {"approval_id", "apr_1"}, {"decision", "deny"},
                           {"scope", "once"}, {"source", "deadline"}});
  ASSERT_TRUE(answer) << answer.error().message;
  const json reply = json::parse(*answer);
  EXPECT_EQ(reply["id"], "p-1");
  EXPECT_EQ(reply["result"]["outcome"], (json{{"outcome", "cancelled"}}));
}

TEST_F(Acp, FilesAreServedInsideTheRunsDirectoryOnlyWhenAsked) {
  std::ofstream(dir_ / "notes.txt") << "one\ntwo\nthree\n";
  AdapterSession s = prompting({{"fs", true}});
  s.feed(RH_STREAM_STDOUT,
         line(request(10, "fs/read_text_file", {{"sessionId", "s1"}, {"path", (dir_ / "notes.txt").string()}, {"line", 2}, {"limit", 1}})) +
             line(request(11, "fs/read_text_file", {{"sessionId", "s1"}, {"path", "/etc/passwd"}})) +
             line(request(12, "fs/read_text_file", {{"sessionId", "s1"}, {"path", (dir_ / "missing.txt").string()}})) +
             line(request(13, "fs/write_text_file", {{"sessionId", "s1"}, {"path", (dir_ / "new.txt").string()}, {"content", "made"}})) +
             line(request(14, "fs/write_text_file", {{"sessionId", "s1"}, {"path", (dir_ / ".." / "escape.txt").string()}, {"content", "x"}})) +
             line(request(15, "terminal/create", {{"sessionId", "s1"}, {"command", "ls"}})));
  std::ofstream(dir_ / "tail.txt") << "a\nb";  // no newline at the end
  s.feed(RH_STREAM_STDOUT, line(request(16, "fs/read_text_file", {{"sessionId", "s1"}, {"path", (dir_ / "tail.txt").string()}})));
  const auto sent = written(s);
  ASSERT_EQ(sent.size(), 9u);
  EXPECT_EQ(sent[8]["result"]["content"], "a\nb") << "the whole file, its last line without a newline too";
  EXPECT_EQ(sent[2]["result"]["content"], "two\n");
  EXPECT_EQ(sent[3]["error"]["code"], -32602) << "outside the run's directory";
  EXPECT_EQ(sent[4]["error"]["code"], -32002) << "ACP's resource not found";
  EXPECT_EQ(sent[5]["result"], nullptr);
  EXPECT_EQ(sent[6]["error"]["code"], -32602);
  EXPECT_EQ(sent[7]["error"]["code"], -32601) << "terminal/... is not served";
  EXPECT_EQ(read_text(dir_ / "new.txt"), "made");
  EXPECT_FALSE(std::filesystem::exists(dir_.parent_path() / "escape.txt"));
  EXPECT_EQ(of_type(s.run().events, "file.changed").at(0)["path"], "new.txt");
}

TEST_F(Acp, TerminalsAreOfferedOnlyWhereTheDeviceCanRunThemAndNotWhenTurnedOff) {
  auto offered = [&](json config, bool processes) {
    AdapterSession s = start(std::move(config), "Do the thing", processes);
    const json init = json::parse(split_lines(s.launch_spec()["stdin"].get<std::string>()).at(0));
    return init["params"]["clientCapabilities"]["terminal"].get<bool>();
  };
  EXPECT_TRUE(offered(json::object(), true));
  EXPECT_FALSE(offered(json::object(), false)) << "a device that cannot start processes";
  EXPECT_FALSE(offered({{"terminal", false}}, true));
  json d = AdapterHarness::dispatch();
  EXPECT_FALSE(harness_.create(d, options({{"terminal", "yes"}}))) << "not a boolean";
}

TEST_F(Acp, ATerminalRunsInTheDeviceAndItsLinesAreTheToolCallsCommandOutput) {
  AdapterSession s = prompting(json::object(), true);
  auto& run = s.mutable_run();
  s.feed(RH_STREAM_STDOUT,
         line(request(20, "terminal/create", {{"sessionId", "s1"}, {"command", "npm"}, {"args", {"test", "--ci"}},
                                              {"env", {{{"name", "CI"}, {"value", "1"}}}}, {"cwd", "web"},
                                              {"outputByteLimit", 12}})) +
             line(request(21, "terminal/create", {{"sessionId", "s1"}, {"command", "npm run build && ls | wc -l"}})) +
             line(request(22, "terminal/create", {{"sessionId", "s1"}, {"command", "make"}})) +
             R"({"jsonrpc":"2.0","id":25,"method":"terminal/create","params":{"sessionId":"s1","command":"ls","args":[ ]}})" "\n");
  ASSERT_EQ(run.processes.size(), 4u);
  EXPECT_EQ(run.processes[3].spec["argv"], (json{"ls"})) << "an empty args array, spaced";
  EXPECT_EQ(run.processes[0].spec, (json{{"argv", {"npm", "test", "--ci"}}, {"env", {{"CI", "1"}}}, {"cwd", "web"}}));
  EXPECT_EQ(run.processes[1].spec["argv"], (json{"/bin/sh", "-c", "npm run build && ls | wc -l"}))
      << "a whole command line runs in a shell";
  EXPECT_EQ(run.processes[2].spec["argv"], (json{"make"}));
  auto sent = written(s);
  EXPECT_EQ(sent.at(2)["result"], (json{{"terminalId", "term-1"}}));
  EXPECT_EQ(sent.at(4)["result"], (json{{"terminalId", "term-3"}}));

  // The agent's tool call names the terminal: its output is that call's.
  s.feed(RH_STREAM_STDOUT, line(update({{"sessionUpdate", "tool_call"}, {"toolCallId", "call-1"}, {"title", "npm test"},
                                        {"kind", "execute"}, {"status", "in_progress"},
                                        {"content", {{{"type", "terminal"}, {"terminalId", "term-1"}}}}})));
  run.processes[0].output(RH_STREAM_STDOUT, "PASS a.test\nPA");
  run.processes[0].output(RH_STREAM_STDERR, "warn: slow\n");
  run.processes[0].output(RH_STREAM_STDOUT, "SS b.test\ntail");
  s.feed(RH_STREAM_STDOUT, line(request(23, "terminal/wait_for_exit", {{"sessionId", "s1"}, {"terminalId", "term-1"}})));
  EXPECT_EQ(written(s).size(), sent.size()) << "answered only when it exits";
  run.processes[0].exit(exited(3));
  s.feed(RH_STREAM_STDOUT, line(request(24, "terminal/output", {{"sessionId", "s1"}, {"terminalId", "term-1"}})));
  sent = written(s);
  EXPECT_EQ(sent.at(sent.size() - 2)["id"], 23);
  EXPECT_EQ(sent.at(sent.size() - 2)["result"], (json{{"exitCode", 3}, {"signal", nullptr}}));
  EXPECT_EQ(sent.back()["result"],
            (json{{"output", " b.test\ntail"}, {"truncated", true}, {"exitStatus", {{"exitCode", 3}, {"signal", nullptr}}}}))
      << "the last outputByteLimit bytes";

  const auto out = of_type(s.run().events, "command.output");
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], (json{{"stream", "stdout"}, {"text", "PASS a.test"}, {"tool_call_id", "call-1"}}));
  EXPECT_EQ(out[1]["stream"], "stderr");
  EXPECT_EQ(out[2]["text"], "PASS b.test");
  EXPECT_EQ(out[3], (json{{"stream", "stdout"}, {"text", "tail"}, {"tool_call_id", "call-1"}, {"exit_code", 3}}))
      << "the exit code on the last line";
}

TEST_F(Acp, LinesWrittenBeforeTheToolCallNamesTheTerminalAreHeldForIt) {
  AdapterSession s = prompting(json::object(), true);
  auto& run = s.mutable_run();
  s.feed(RH_STREAM_STDOUT, line(request(40, "terminal/create", {{"sessionId", "s1"}, {"command", "date"}})) +
                               line(request(41, "terminal/create", {{"sessionId", "s1"}, {"command", "true"}})));
  run.processes.at(0).output(RH_STREAM_STDOUT, "early\n");  // the race: before the agent's tool_call
  run.processes.at(0).exit(exited(0));
  run.processes.at(1).output(RH_STREAM_STDOUT, "never named\n");
  EXPECT_TRUE(of_type(s.run().events, "command.output").empty()) << "held until the tool call names the terminal";
  s.feed(RH_STREAM_STDOUT, line(update({{"sessionUpdate", "tool_call"}, {"toolCallId", "call-7"}, {"title", "date"},
                                        {"kind", "execute"}, {"content", {{{"type", "terminal"}, {"terminalId", "term-1"}}}}})));
  auto out = of_type(s.run().events, "command.output");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], (json{{"stream", "stdout"}, {"text", "early"}, {"tool_call_id", "call-7"}}));
  EXPECT_EQ(out[1]["exit_code"], 0);
  s.feed(RH_STREAM_STDOUT, line(response(4, {{"stopReason", "end_turn"}})));
  out = of_type(s.run().events, "command.output");
  ASSERT_EQ(out.size(), 3u) << "the turn is over: what no tool call named goes out without one";
  EXPECT_EQ(out[2], (json{{"stream", "stdout"}, {"text", "never named"}}));
}

TEST_F(Acp, ATerminalIsKilledReleasedAndRefusedClearly) {
  AdapterSession s = prompting(json::object(), true);
  auto& run = s.mutable_run();
  s.feed(RH_STREAM_STDOUT, line(request(30, "terminal/create", {{"sessionId", "s1"}, {"command", "sleep"}, {"args", {"60"}}})));
  s.feed(RH_STREAM_STDOUT, line(request(31, "terminal/kill", {{"sessionId", "s1"}, {"terminalId", "term-1"}})));
  EXPECT_EQ(run.processes.at(0).kills, 1);
  run.processes[0].exit(signaled(15, RH_EXIT_FLAG_CANCELLED));
  s.feed(RH_STREAM_STDOUT, line(request(32, "terminal/wait_for_exit", {{"sessionId", "s1"}, {"terminalId", "term-1"}})) +
                               line(request(33, "terminal/release", {{"sessionId", "s1"}, {"terminalId", "term-1"}})) +
                               line(request(34, "terminal/output", {{"sessionId", "s1"}, {"terminalId", "term-1"}})) +
                               line(request(35, "terminal/output", {{"sessionId", "s1"}, {"terminalId", "bogus"}})));
  run.refuse_start = RH_ERR_NOT_FOUND;
  run.refusal = "runtime_not_found: 'nope' is not on PATH";
  s.feed(RH_STREAM_STDOUT, line(request(36, "terminal/create", {{"sessionId", "s1"}, {"command", "nope"}})) +
                               line(request(37, "terminal/create", {{"sessionId", "s1"}, {"command", ""}})) +
                               line(request(38, "terminal/create", {{"sessionId", "s1"}, {"command", "ls"}, {"args", {1}}})));
  const auto sent = written(s);
  ASSERT_GE(sent.size(), 10u);
  const auto answer = [&](int id) {
    for (const auto& m : sent) {
      if (m.contains("id") && m["id"] == id && !m.contains("method")) return m;
    }
    return json();
  };
  EXPECT_EQ(answer(31)["result"], json::object());
  EXPECT_EQ(answer(32)["result"], (json{{"exitCode", nullptr}, {"signal", "SIGTERM"}}));
  EXPECT_EQ(answer(33)["result"], json::object());
  EXPECT_EQ(answer(34)["error"]["code"], -32602) << "released: gone";
  EXPECT_EQ(answer(35)["error"]["code"], -32602);
  EXPECT_EQ(answer(36)["error"]["code"], -32602);
  EXPECT_NE(answer(36)["error"]["message"].get<std::string>().find("not on PATH"), std::string::npos);
  EXPECT_EQ(answer(37)["error"]["code"], -32602);
  EXPECT_EQ(answer(38)["error"]["code"], -32602);
  EXPECT_EQ(run.processes.size(), 1u);
  const auto out = of_type(s.run().events, "command.output");
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["exit_code"], 128 + 15);
}

TEST_F(Acp, ACancelIsSessionCancelAndAnswersOpenPermissionRequestsCancelled) {
  AdapterSession s = prompting();
  ASSERT_TRUE(s.can_cancel());
  s.feed(RH_STREAM_STDOUT, line(request(9, "session/request_permission",
                                        {{"sessionId", "s1"},
                                         {"toolCall", {{"toolCallId", "t1"}}},
                                         {"options", {{{"optionId", "ok"}, {"kind", "allow_once"}}}}})));
  const size_t before = written(s).size();
  s.cancel();
  const auto sent = written(s);
  ASSERT_EQ(sent.size(), before + 2);
  EXPECT_EQ(sent[before], (json{{"jsonrpc", "2.0"}, {"id", 9}, {"result", {{"outcome", {{"outcome", "cancelled"}}}}}}));
  EXPECT_EQ(sent[before + 1], (json{{"jsonrpc", "2.0"}, {"method", "session/cancel"}, {"params", {{"sessionId", "s1"}}}}));
  EXPECT_FALSE(s.run().input_closed) << "the agent still answers the prompt";
  s.feed(RH_STREAM_STDOUT, line(response(4, {{"stopReason", "cancelled"}})));
  EXPECT_TRUE(s.run().input_closed);
  const auto events = s.finish(exited(0, RH_EXIT_FLAG_CANCELLED));
  EXPECT_EQ(events.back().type, "run.cancelled");
}

TEST_F(Acp, ACancelBeforeThePromptEndsTheConversation) {
  AdapterSession s = start();
  (void)s.launch_spec();
  s.cancel();  // initialize not answered yet: nothing to cancel but the conversation
  EXPECT_TRUE(s.run().input_closed);
  EXPECT_EQ(s.finish(exited(0, RH_EXIT_FLAG_CANCELLED)).back().type, "run.cancelled");
}

TEST_F(Acp, AWarningSentAsAMessageChunkIsASystemMessageNotTheAnswer) {
  AdapterSession s = prompting();
  const std::string warning =
      "Model metadata for `gpt-nope` not found. Defaulting to fallback metadata; this can degrade performance and "
      "cause issues.";  // codex-acp 0.16, as the first chunk of its message
  s.feed(RH_STREAM_STDOUT,
         line(update({{"sessionUpdate", "agent_message_chunk"}, {"content", {{"type", "text"}, {"text", warning}}}})) +
             line(update({{"sessionUpdate", "agent_message_chunk"}, {"content", {{"type", "text"}, {"text", "Hello."}}}})) +
             line(response(4, {{"stopReason", "end_turn"}})));
  const auto events = s.finish(exited(0));
  const auto messages = of_type(events, "message");
  ASSERT_GE(messages.size(), 2u);
  EXPECT_EQ(messages[messages.size() - 2], (json{{"role", "system"}, {"text", warning}}));
  EXPECT_EQ(messages.back()["role"], "assistant");
  EXPECT_EQ(events.back().payload["result"], "Hello.");
}

TEST_F(Acp, TheAgentsStderrIsASystemMessageNotCommandOutput) {
  AdapterSession s = prompting();
  s.feed(RH_STREAM_STDERR, "Ripgrep is not available. Falling back to GrepTool.\n");
  const auto events = s.finish(exited(1));
  EXPECT_TRUE(of_type(events, "command.output").empty());
  EXPECT_EQ(of_type(events, "message").back()["text"], "Ripgrep is not available. Falling back to GrepTool.");
  EXPECT_EQ(events.back().payload["error"]["cause"], "no_result");
}

TEST(HermesPreset, RunsHermesAcpAndTypesAFailureItReportsAsItsAnswer) {
  AdapterHarness harness("hermes");
  json d = AdapterHarness::dispatch();
  d["cwd"] = std::filesystem::temp_directory_path().string();
  AdapterSession s = harness.start(d, AdapterHarness::Options{});
  EXPECT_EQ(s.launch_spec()["argv"], (json{"hermes", "acp"}));
  s.feed(RH_STREAM_STDOUT,
         line(kInitialized) + line(kOpened) +
             line(update({{"sessionUpdate", "agent_message_chunk"},
                          {"content", {{"type", "text"}, {"text", "API call failed after 3 retries: HTTP 429: slow down"}}}})) +
             line(response(4, {{"stopReason", "end_turn"}})));
  const auto events = s.finish(exited(0));
  EXPECT_EQ(events.back().type, "run.failed");
  EXPECT_EQ(events.back().payload["error"]["code"], "rate_limited");
}

}  // namespace
}  // namespace runhost::testing
