// The claude-code adapter beyond what every adapter does (bad_input_test.cpp) and its recorded
// transcripts (golden_test.cpp): the launch (prompt on stdin, constraints as flags, resume,
// config), secrets kept out of events, the typing of failures, partial messages, sub-agents,
// tool-call ids, file paths. Lines here are cut down from real stream-json lines of Claude Code
// 2.1.330 to the members the adapter reads.
#include <gtest/gtest.h>

#include "adapter_harness.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;

constexpr const char* kSession = "5f1e2d3c-0000-4000-8000-00000000abcd";

std::string line(const json& j) { return j.dump() + "\n"; }

json init(const std::string& cwd = "/work/proj") {
  return {{"type", "system"}, {"subtype", "init"}, {"cwd", cwd}, {"session_id", kSession},
          {"tools", {"Bash", "Read"}}, {"model", "claude-sonnet-4-5"}, {"permissionMode", "default"}};
}

// `content`: the blocks, or one block (a braced single object is an object to nlohmann::json).
json assistant(const json& content, const std::string& id = "msg_1", const json& parent = nullptr) {
  const json blocks = content.is_object() ? json::array({content}) : content;
  return {{"type", "assistant"},
          {"message", {{"id", id}, {"type", "message"}, {"role", "assistant"}, {"content", blocks}}},
          {"parent_tool_use_id", parent},
          {"session_id", kSession}};
}

json tool_use(const std::string& id, const std::string& name, const json& input) {
  return {{"type", "tool_use"}, {"id", id}, {"name", name}, {"input", input}};
}

json tool_result(const std::string& id, const json& content, bool is_error, const json& tur = nullptr) {
  json l = {{"type", "user"},
            {"message", {{"role", "user"}, {"content", {{{"type", "tool_result"}, {"tool_use_id", id}, {"content", content}, {"is_error", is_error}}}}}},
            {"parent_tool_use_id", nullptr},
            {"session_id", kSession}};
  if (!tur.is_null()) l["tool_use_result"] = tur;
  return l;
}

json result(const json& extra) {
  json r = {{"type", "result"}, {"subtype", "success"}, {"is_error", false}, {"duration_ms", 1200}, {"num_turns", 2},
            {"result", "done"}, {"session_id", kSession}, {"total_cost_usd", 0.5},
            {"usage", {{"input_tokens", 10}, {"output_tokens", 5}, {"cache_read_input_tokens", 3}, {"cache_creation_input_tokens", 2}}},
            {"modelUsage", json::object()}, {"permission_denials", json::array()}};
  for (const auto& [k, v] : extra.items()) r[k] = v;
  return r;
}

class ClaudeCode : public ::testing::Test {
 protected:
  AdapterHarness harness_{"claude-code"};

  json spec(const AdapterHarness::Options& options, const std::string& prompt = "Do the thing") {
    return harness_.start(AdapterHarness::dispatch(prompt), options).launch_spec();
  }
  json spec() { return spec(AdapterHarness::Options{}); }

  std::vector<RecordedEvent> run(const std::string& stdout_text, const rh_exit& exit = exited(0),
                                 const AdapterHarness::Options& options = {}, const std::string& stderr_text = "") {
    AdapterSession s = harness_.start(AdapterHarness::dispatch(), options);
    s.feed(RH_STREAM_STDOUT, stdout_text);
    if (!stderr_text.empty()) s.feed(RH_STREAM_STDERR, stderr_text);
    auto events = s.finish(exit);
    EXPECT_TRUE(s.run().refusals.empty()) << s.run().refusals.front();
    return events;
  }

};

// It asks through the host (--permission-prompt-tool stdio), in Claude's "default" mode unless
// told otherwise.
const std::vector<std::string> kHeadArgv = {"claude", "-p", "--output-format", "stream-json", "--verbose",
                                            "--input-format", "stream-json", "--permission-prompt-tool", "stdio"};
const std::vector<std::string> kBaseArgv = [] {
  auto argv = kHeadArgv;
  argv.push_back("--permission-mode=default");
  return argv;
}();

// ---- launch -------------------------------------------------------------------------------------

TEST_F(ClaudeCode, LaunchesHeadlessWithThePromptAsOneUserMessageOnStdin) {
  const json s = spec();
  EXPECT_EQ(s["argv"], kBaseArgv);
  EXPECT_EQ(s["env"], json::object());
  EXPECT_EQ(s["keep_stdin_open"], true) << "open for the answers to its permission requests";
  const std::string in = s["stdin"];
  ASSERT_EQ(in.back(), '\n');
  ASSERT_EQ(in.find('\n'), in.size() - 1) << "exactly one line";
  const json message = json::parse(in);
  EXPECT_EQ(message["type"], "user");
  EXPECT_EQ(message["message"], json::parse(R"({"role": "user", "content": "Do the thing"})"));
}

TEST_F(ClaudeCode, ThePromptIsDataWhateverItHolds) {
  for (const std::string& prompt : {std::string("-p --dangerously-skip-permissions"), std::string("--resume=evil"),
                                    std::string("line one\nline two\r\n\ttabbed"), std::string("nul \0 inside", 12),
                                    std::string("\"quotes\" and \\backslashes\\ and \xF0\x9F\x98\x80"),
                                    std::string(2 << 20, 'p')}) {
    const json s = spec({}, prompt);
    EXPECT_EQ(s["argv"], kBaseArgv) << "the prompt is never an argument";
    const std::string in = s["stdin"];
    EXPECT_EQ(in.find('\n'), in.size() - 1) << "still one line";
    EXPECT_EQ(json::parse(in)["message"]["content"], prompt);
  }
}

TEST_F(ClaudeCode, ConstraintsBecomeTheCliFlags) {
  AdapterHarness::Options o;
  o.constraints = json::parse(R"j({"tools": {"allow": ["Bash(git *)", "Read"], "deny": ["WebFetch"]},
                                   "max_turns": 5, "max_budget_usd": 0.5, "permission_mode": "plan"})j");
  std::vector<std::string> want = kHeadArgv;
  for (const char* a : {"--permission-mode=plan", "--max-turns=5", "--max-budget-usd=0.5", "--disallowedTools", "WebFetch",
                        "--allowedTools", "Bash(git *)", "Read"})
    want.push_back(a);
  EXPECT_EQ(spec(o)["argv"], want);
}

TEST_F(ClaudeCode, ReadOnlyAndNoNetworkDenyTheToolsThatWriteOrFetch) {
  AdapterHarness::Options o;
  o.constraints = json::parse(R"({"read_only": true, "network": "none", "tools": {"deny": ["Task"]}})");
  std::vector<std::string> want = kBaseArgv;
  for (const char* a : {"--disallowedTools", "Task", "Bash", "Write", "Edit", "MultiEdit", "NotebookEdit", "WebFetch", "WebSearch"})
    want.push_back(a);
  EXPECT_EQ(spec(o)["argv"], want);
  o.constraints = json::parse(R"({"network": "loopback"})");
  EXPECT_EQ(spec(o)["argv"].back(), "WebSearch");
  o.constraints = json::parse(R"({"network": "any", "read_only": false})");
  EXPECT_EQ(spec(o)["argv"], kBaseArgv);
}

// The connectors' MCP servers: one --mcp-config argument holding them, before the tool lists.
TEST_F(ClaudeCode, TheConnectorsMcpServersBecomeOneMcpConfigArgument) {
  AdapterHarness::Options o;
  o.mcp_servers = json::parse(R"({"github": {"command": "github-mcp", "args": ["stdio"],
                                              "env": {"GITHUB_TOKEN": "${GITHUB_TOKEN}"}}})");
  o.constraints = json::parse(R"({"tools": {"allow": ["Read"]}})");
  const json argv = spec(o)["argv"];
  std::vector<std::string> want = kBaseArgv;
  want.push_back("--mcp-config");
  want.push_back(json{{"mcpServers", o.mcp_servers}}.dump());
  for (const char* a : {"--allowedTools", "Read"}) want.push_back(a);
  ASSERT_EQ(argv.size(), want.size()) << argv;
  EXPECT_EQ(json::parse(argv[want.size() - 3].get<std::string>()), (json{{"mcpServers", o.mcp_servers}}));
  EXPECT_EQ(argv[want.size() - 4], "--mcp-config");
  o.mcp_servers = json::object();
  EXPECT_EQ(spec(o)["argv"].size(), want.size() - 2) << "no servers, no --mcp-config";
}

TEST_F(ClaudeCode, AnEmptyAllowListLeavesNoTool) {
  AdapterHarness::Options o;
  o.constraints = json::parse(R"({"tools": {"allow": []}})");
  const json argv = spec(o)["argv"];
  ASSERT_GE(argv.size(), 2u);
  EXPECT_EQ(argv[argv.size() - 2], "--tools");
  EXPECT_EQ(argv.back(), "");
}

TEST_F(ClaudeCode, TheTighterLimitWinsAndThePolicysPermissionMode) {
  AdapterHarness::Options o;
  auto has = [&](const std::string& arg) {
    const json argv = spec(o)["argv"];
    return std::find(argv.begin(), argv.end(), arg) != argv.end();
  };
  o.config = json::parse(R"({"max_turns": 10, "max_budget_usd": 1.0, "permission_mode": "acceptEdits"})");
  o.constraints = json::parse(R"({"max_turns": 3, "max_budget_usd": 2.5})");
  EXPECT_TRUE(has("--max-turns=3"));
  EXPECT_TRUE(has("--max-budget-usd=1"));
  EXPECT_TRUE(has("--permission-mode=acceptEdits"));
  o.config = json::parse(R"({"max_turns": 2, "permission_mode": "acceptEdits"})");
  o.constraints = json::parse(R"({"max_turns": 3, "permission_mode": "plan"})");
  EXPECT_TRUE(has("--max-turns=2"));
  EXPECT_TRUE(has("--permission-mode=plan"));
  EXPECT_FALSE(has("--permission-mode=acceptEdits"));
}

TEST_F(ClaudeCode, ResumesASessionByIdAsOneArgument) {
  const auto& desc = *harness_.plugin().desc;
  EXPECT_TRUE(desc.iface.runtime->capabilities & RH_RUNTIME_CAP_RESUME);
  AdapterHarness::Options o;
  o.resume_id = "-looks-like-a-flag";
  std::vector<std::string> want = kBaseArgv;
  want.push_back("--resume=-looks-like-a-flag");
  EXPECT_EQ(spec(o)["argv"], want);
  o.resume_id = std::string("a\0b", 3);
  EXPECT_FALSE(harness_.create(AdapterHarness::dispatch(), o)) << "U+0000 cannot be in an argument";
}

TEST_F(ClaudeCode, TheOperatorsConfigSetsProgramEnvironmentAndArguments) {
  AdapterHarness::Options o;
  o.config = json::parse(R"({"executable": "/opt/claude/bin/claude",
                             "env": {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "ANTHROPIC_API_KEY": {"value": "sk-ant-xyz-123456", "secret": true}},
                             "args": ["--mcp-config", "/etc/mcp.json"], "model": "claude-sonnet-4-5", "partial_messages": true})");
  o.constraints = json::parse(R"({"tools": {"allow": ["Read"]}})");
  const json s = spec(o);
  std::vector<std::string> want = {"/opt/claude/bin/claude", "-p", "--output-format", "stream-json", "--verbose", "--input-format",
                                   "stream-json", "--include-partial-messages", "--model=claude-sonnet-4-5",
                                   "--permission-prompt-tool", "stdio", "--permission-mode=default", "--mcp-config",
                                   "/etc/mcp.json", "--allowedTools", "Read"};
  EXPECT_EQ(s["argv"], want);
  EXPECT_EQ(s["env"], json::parse(R"({"ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "ANTHROPIC_API_KEY": "sk-ant-xyz-123456"})"));
}

TEST_F(ClaudeCode, ABadConfigOrConstraintIsRefusedNamingTheKeyButNeverTheValue) {
  const std::vector<std::pair<std::string, std::string>> configs = {
      {R"({"env": {"ANTHROPIC_API_KEY": 123456789}})", "ANTHROPIC_API_KEY"},
      {R"({"env": {"ANTHROPIC_API_KEY": {"value": "sk-secret-value", "secret": "yes"}}})", "ANTHROPIC_API_KEY"},
      {R"({"env": {"BAD NAME": "sk-secret-value"}})", "\"env\""},
      {R"({"env": ["sk-secret-value"]})", "\"env\""},
      {R"({"executable": ""})", "\"executable\""},
      {R"({"args": ["ok", 1]})", "\"args\""},
      {R"({"max_line_bytes": 10})", "\"max_line_bytes\""},
      {R"({"model": "two words"})", "\"model\""},
      {R"({"permission_mode": "rm -rf"})", "\"permission_mode\""},
      {R"({"max_turns": 0})", "\"max_turns\""},
      {R"({"partial_messages": "yes"})", "\"partial_messages\""},
      {R"([1, 2])", "config"}};
  for (const auto& [config, names] : configs) {
    AdapterHarness::Options o;
    o.config = json::parse(config);
    auto s = harness_.create(AdapterHarness::dispatch(), o);
    ASSERT_FALSE(s) << config;
    EXPECT_NE(s.error().message.find(names), std::string::npos) << s.error().message;
    EXPECT_EQ(s.error().message.find("sk-secret-value"), std::string::npos) << s.error().message;
  }
  const std::vector<std::pair<std::string, std::string>> constraints = {
      {R"({"tools": {"deny": ["-rf"]}})", "tools.deny"},
      {R"({"tools": {"allow": "Bash"}})", "tools.allow"},
      {R"({"tools": ["Bash"]})", "\"tools\""},
      {R"({"network": "sometimes"})", "\"network\""},
      {R"({"read_only": "yes"})", "\"read_only\""},
      {R"({"max_budget_usd": -1})", "\"max_budget_usd\""},
      {R"({"permission_mode": "bypass permissions"})", "\"permission_mode\""}};
  for (const auto& [constraint, names] : constraints) {
    AdapterHarness::Options o;
    o.constraints = json::parse(constraint);
    auto s = harness_.create(AdapterHarness::dispatch(), o);
    ASSERT_FALSE(s) << constraint << ": a constraint the adapter cannot apply fails closed";
    EXPECT_NE(s.error().message.find(names), std::string::npos) << s.error().message;
  }
}

// ---- secrets ------------------------------------------------------------------------------------

TEST_F(ClaudeCode, SecretEnvValuesFromTheConfigNeverLeaveInAnEvent) {
  const std::string key = "sk-ant-api03-SECRETSECRET", flagged = "hunter2-but-longer", url = "http://127.0.0.1:4141";
  AdapterHarness::Options o;
  o.config = {{"env", {{"ANTHROPIC_API_KEY", key}, {"MY_VALUE", {{"value", flagged}, {"secret", true}}}, {"ANTHROPIC_BASE_URL", url}}}};
  const std::string out =
      line(init()) + line(assistant({{{"type", "text"}, {"text", "your key is " + key}}})) +
      line(assistant({tool_use("toolu_1", "Bash", {{"command", "env"}})})) +
      line(tool_result("toolu_1", "ANTHROPIC_API_KEY=" + key + "\nMY_VALUE=" + flagged + "\nANTHROPIC_BASE_URL=" + url, false,
                       {{"stdout", "ANTHROPIC_API_KEY=" + key + "\nMY_VALUE=" + flagged + "\nANTHROPIC_BASE_URL=" + url}, {"stderr", ""}})) +
      line(result({{"result", "done with " + key}}));
  const auto events = run(out, exited(0), o, "stderr says " + flagged + "\n");
  bool redacted = false;
  for (const auto& e : events) {
    const std::string text = e.payload.dump();
    EXPECT_EQ(text.find(key), std::string::npos) << e.type << ": " << text;
    EXPECT_EQ(text.find(flagged), std::string::npos) << e.type << ": " << text;
    EXPECT_EQ(e.raw.find(key), std::string::npos) << e.type;
    EXPECT_EQ(e.raw.find(flagged), std::string::npos) << e.type;
    redacted = redacted || text.find("[redacted]") != std::string::npos;
  }
  EXPECT_TRUE(redacted);
  const auto output = of_type(events, "command.output");
  ASSERT_EQ(output.size(), 3u);
  EXPECT_EQ(of_type(events, "message").back()["text"], "stderr says [redacted]") << "the CLI's own stderr, a system message";
  EXPECT_EQ(output[0]["text"], "ANTHROPIC_API_KEY=[redacted]");
  EXPECT_EQ(output[2]["text"], "ANTHROPIC_BASE_URL=" + url) << "a value not marked secret, with no secret-looking name, stays";
  // The same in a failure message quoting stderr.
  const auto failed = run(line(init()), exited(1), o, "fatal: bad key " + key + "\n");
  EXPECT_EQ(failed.back().payload.dump().find(key), std::string::npos) << failed.back().payload.dump();
}

// ---- failures -----------------------------------------------------------------------------------

TEST_F(ClaudeCode, EveryWayAResultFailsHasItsOwnTypedError) {
  struct Case {
    json result;
    std::string error_class;  // the assistant line's "error", or ""
    std::string code, cause;
    bool retryable;
    std::string action;
  };
  const std::vector<Case> cases = {
      {{{"is_error", true}, {"api_error_status", 401}, {"result", "Invalid API key"}}, "authentication_failed", "auth_failed", "auth_failed", false, "retry"},
      {{{"is_error", true}, {"api_error_status", 429}}, "rate_limit", "rate_limited", "rate_limited", true, "request_quota"},
      {{{"is_error", true}, {"api_error_status", 529}}, "server_error", "model_unavailable", "model_unavailable", true, "retry"},
      {{{"is_error", true}, {"api_error_status", 400}}, "billing_error", "budget_exceeded", "billing", false, "raise_budget"},
      {{{"is_error", true}, {"api_error_status", 404}}, "model_not_found", "model_api_error", "model_request_rejected", false, "retry"},
      {{{"is_error", true}, {"api_error_type", "permission_error"}}, "", "auth_failed", "auth_failed", false, "retry"},
      {{{"is_error", true}, {"api_error_type", "rate_limit_error"}}, "", "rate_limited", "rate_limited", true, "request_quota"},
      {{{"is_error", true}, {"api_error_status", 503}}, "", "model_unavailable", "model_unavailable", true, "retry"},
      {{{"is_error", true}, {"api_error_status", 403}}, "", "auth_failed", "auth_failed", false, "retry"},
      {{{"is_error", true}, {"api_error_status", 400}, {"result", "Prompt is too long"}}, "invalid_request", "context_limit", "context_limit", false, "retry"},
      {{{"is_error", true}}, "", "model_api_error", "model_api_error", false, "retry"},
      {{{"subtype", "error_max_turns"}, {"is_error", true}, {"errors", {"Reached maximum number of turns (3)"}}}, "", "turn_limit", "turn_limit", false, "raise_budget"},
      {{{"subtype", "error_max_budget_usd"}, {"is_error", true}, {"errors", {"Reached maximum budget ($1)"}}}, "", "budget_exceeded", "budget_limit", false, "raise_budget"},
      {{{"subtype", "error_during_execution"}, {"is_error", true}, {"errors", {"boom", "bang"}}, {"result", nullptr}}, "", "runtime_error", "runtime_error", false, "retry"},
      {{{"subtype", "error_max_structured_output_retries"}, {"is_error", true}}, "", "runtime_error", "runtime_error", false, "retry"},
      {{{"subtype", "error_from_the_future"}, {"is_error", true}, {"result", nullptr}}, "", "runtime_error", "runtime_error", false, "retry"},
  };
  for (const auto& c : cases) {
    std::string out = line(init());
    if (!c.error_class.empty()) {
      json a = assistant({{{"type", "text"}, {"text", "API Error"}}});
      a["error"] = c.error_class;
      out += line(a);
    }
    json r = result(c.result);
    if (!c.result.contains("result")) r.erase("result");
    out += line(r);
    const auto events = run(out, exited(1));
    ASSERT_EQ(events.back().type, "run.failed") << r.dump();
    const json& p = events.back().payload;
    EXPECT_EQ(p["error"]["code"], c.code) << r.dump();
    EXPECT_EQ(p["error"]["cause"], c.cause) << r.dump();
    EXPECT_EQ(p["error"]["retryable"], c.retryable) << r.dump();
    EXPECT_EQ(p["error"]["recovery"]["action"], c.action) << r.dump();
    if (c.action == "raise_budget") {
      EXPECT_TRUE(p["error"]["recovery"].contains("usage_source")) << r.dump();
    }
    EXPECT_EQ(p["exit_code"], 1);
    EXPECT_EQ(p["session_id"], kSession) << "a failed run can be resumed too";
    EXPECT_FALSE(p["error"]["message"].get<std::string>().empty());
  }
  // The errors are the message when there is no result text.
  const auto events = run(line(result({{"subtype", "error_during_execution"}, {"is_error", true}, {"errors", {"boom", "bang"}}, {"result", nullptr}})), exited(1));
  EXPECT_EQ(events.back().payload["error"]["message"], "Claude Code: boom; bang");
}

TEST_F(ClaudeCode, AnApiErrorMessageIsTheCliSpeakingNotTheModel) {
  json a = assistant({{{"type", "text"}, {"text", "API Error: 500"}}});
  a["error"] = "server_error";
  const auto events = run(line(init()) + line(a) + line(result({{"is_error", true}, {"api_error_status", 500}})), exited(1));
  const auto messages = of_type(events, "message");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1]["role"], "system");
}

// ---- mapping ------------------------------------------------------------------------------------

TEST_F(ClaudeCode, ASuccessfulResultCompletesWithUsageAndTheSessionId) {
  json r = result({{"modelUsage",
                    {{"claude-sonnet-4-5", {{"inputTokens", 100}, {"outputTokens", 50}, {"cacheReadInputTokens", 40}, {"cacheCreationInputTokens", 10}, {"costUSD", 0.25}}},
                     {"claude-haiku-4-5", {{"inputTokens", 7}, {"outputTokens", 3}, {"cacheReadInputTokens", 0}, {"cacheCreationInputTokens", 0}, {"costUSD", 0.001}}}}}});
  const auto events = run(line(init()) + line(r));
  const auto usage = of_type(events, "usage");
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage[0], json::parse(R"({"source": "anthropic", "model": "claude-haiku-4-5", "input_tokens": 7, "output_tokens": 3,
                                      "cached_input_tokens": 0, "cost_usd": 0.001})"));
  EXPECT_EQ(usage[1], json::parse(R"({"source": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 150, "output_tokens": 50,
                                      "cached_input_tokens": 40, "cost_usd": 0.25})"));
  EXPECT_EQ(events.back().type, "run.completed");
  EXPECT_EQ(events.back().payload, json::parse(std::string(R"({"exit_code": 0, "result": "done", "duration_ms": 1200, "num_turns": 2, "session_id": ")") +
                                               kSession + "\"}"));
  // Without modelUsage: one usage from the totals, with the model init named.
  const auto totals = of_type(run(line(init()) + line(result({}))), "usage");
  ASSERT_EQ(totals.size(), 1u);
  EXPECT_EQ(totals[0], json::parse(R"({"source": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 15, "output_tokens": 5,
                                       "cached_input_tokens": 3, "cost_usd": 0.5})"));
}

TEST_F(ClaudeCode, EveryTerminalEventCarriesTheSessionId) {
  const std::string partial = line(init()) + line(assistant({{{"type", "text"}, {"text", "working"}}}));
  for (const rh_exit& exit : {signaled(15, RH_EXIT_FLAG_CANCELLED), exited(0), exited(2), signaled(9)}) {
    const auto events = run(partial, exit);
    EXPECT_EQ(events.back().payload["session_id"], kSession) << events.back().type;
  }
}

TEST_F(ClaudeCode, PartialMessagesStreamAsDeltasAndAreNotRepeatedWhole) {
  auto ev = [](const json& event) {
    return line({{"type", "stream_event"}, {"event", event}, {"session_id", kSession}, {"parent_tool_use_id", nullptr}});
  };
  const std::string out =
      line(init()) + ev({{"type", "message_start"}, {"message", {{"id", "msg_1"}, {"role", "assistant"}, {"content", json::array()}}}}) +
      ev({{"type", "content_block_start"}, {"index", 0}, {"content_block", {{"type", "thinking"}, {"thinking", ""}}}}) +
      ev({{"type", "content_block_delta"}, {"index", 0}, {"delta", {{"type", "thinking_delta"}, {"thinking", "Let me "}}}}) +
      ev({{"type", "content_block_delta"}, {"index", 0}, {"delta", {{"type", "thinking_delta"}, {"thinking", "think."}}}}) +
      ev({{"type", "content_block_delta"}, {"index", 0}, {"delta", {{"type", "signature_delta"}, {"signature", "c2ln"}}}}) +
      line(assistant({{{"type", "thinking"}, {"thinking", "Let me think."}}})) +
      ev({{"type", "content_block_stop"}, {"index", 0}}) +
      ev({{"type", "content_block_start"}, {"index", 1}, {"content_block", {{"type", "text"}, {"text", ""}}}}) +
      ev({{"type", "content_block_delta"}, {"index", 1}, {"delta", {{"type", "text_delta"}, {"text", "Hel"}}}}) +
      ev({{"type", "content_block_delta"}, {"index", 1}, {"delta", {{"type", "text_delta"}, {"text", "lo"}}}}) +
      line(assistant({{{"type", "text"}, {"text", "Hello"}}})) + ev({{"type", "content_block_stop"}, {"index", 1}}) +
      ev({{"type", "message_delta"}, {"delta", {{"stop_reason", "end_turn"}}}}) + ev({{"type", "message_stop"}}) +
      line(assistant({{{"type", "text"}, {"text", "Not streamed"}}}, "msg_2")) + line(result({}));
  const auto events = run(out);
  std::vector<json> stream;
  for (const auto& e : events) {
    if (e.type == "message" && e.payload["role"] != "system") stream.push_back(e.payload);
    if (e.type == "reasoning") stream.push_back(e.payload);
  }
  EXPECT_EQ(stream, (std::vector<json>{json::parse(R"({"text": "Let me "})"), json::parse(R"({"text": "think.", "delta": true})"),
                                       json::parse(R"({"role": "assistant", "text": "Hel"})"),
                                       json::parse(R"({"role": "assistant", "text": "lo", "delta": true})"),
                                       json::parse(R"({"role": "assistant", "text": "Not streamed"})")}));
  EXPECT_TRUE(of_type(events, "runtime.unparsed").empty());
}

TEST_F(ClaudeCode, ASubAgentsEventsNameTheirParentCall) {
  const std::string out = line(init()) +
                          line(assistant({tool_use("toolu_task", "Task", {{"prompt", "look around"}})})) +
                          line(assistant({{{"type", "text"}, {"text", "sub-agent here"}}}, "msg_s", "toolu_task")) +
                          line(assistant({tool_use("toolu_sub", "Read", {{"file_path", "/work/proj/a"}})}, "msg_s", "toolu_task")) +
                          line(tool_result("toolu_task", "the sub-agent's answer", false)) + line(result({}));
  const auto events = run(out);
  const auto messages = of_type(events, "message");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1], json::parse(R"({"role": "assistant", "text": "sub-agent here", "parent_tool_call_id": "toolu_task"})"));
  const auto started = of_type(events, "tool.started");
  ASSERT_EQ(started.size(), 2u);
  EXPECT_FALSE(started[0].contains("parent_tool_call_id"));
  EXPECT_EQ(started[1]["parent_tool_call_id"], "toolu_task");
  EXPECT_FALSE(events.back().payload.contains("parent_tool_call_id"));
}

TEST_F(ClaudeCode, ToolCallIdsAreStableAndUnique) {
  const std::string out = line(init()) + line(assistant({tool_use("id with spaces", "Read", {{"file_path", "x"}})})) +
                          line(assistant({tool_use("toolu_dup", "Read", {{"file_path", "1"}})})) +
                          line(assistant({tool_use("toolu_dup", "Read", {{"file_path", "2"}})})) +
                          line(tool_result("id with spaces", "x's text", false)) + line(tool_result("toolu_dup", "2's text", false)) +
                          line(tool_result("toolu_unknown", "orphan", true)) + line(result({}));
  const auto events = run(out);
  const auto started = of_type(events, "tool.started");
  const auto completed = of_type(events, "tool.completed");
  ASSERT_EQ(started.size(), 3u);
  ASSERT_EQ(completed.size(), 3u);
  EXPECT_EQ(started[0]["tool_call_id"], "call_1") << "an id that is not an id gets one";
  EXPECT_EQ(completed[0]["tool_call_id"], "call_1");
  EXPECT_EQ(started[1]["tool_call_id"], "toolu_dup");
  EXPECT_NE(started[2]["tool_call_id"], "toolu_dup") << "a reused id is a new call";
  EXPECT_EQ(completed[1]["tool_call_id"], started[2]["tool_call_id"]);
  EXPECT_EQ(completed[2], json::parse(R"({"tool_call_id": "toolu_unknown", "status": "error", "error": "orphan"})"));
}

TEST_F(ClaudeCode, TheToolTableIsBounded) {
  std::string out = line(init());
  const int n = 5000;
  for (int i = 0; i < n; ++i) out += line(assistant({tool_use("toolu_" + std::to_string(i), "Read", {{"file_path", "f"}})}));
  out += line(tool_result("toolu_0", "first", false)) + line(tool_result("toolu_" + std::to_string(n - 1), "last", false));
  const auto completed = of_type(run(out + line(result({}))), "tool.completed");
  ASSERT_EQ(completed.size(), 2u);
  EXPECT_FALSE(completed[0].contains("name")) << "the oldest open call was forgotten to make room";
  EXPECT_EQ(completed[0]["tool_call_id"], "toolu_0");
  EXPECT_EQ(completed[1]["name"], "Read");
}

TEST_F(ClaudeCode, FileEditsAreRelativeToTheRuntimesWorkingDirectory) {
  auto write = [](const std::string& id, const std::string& path) {
    return line(assistant({tool_use(id, "Write", {{"file_path", path}, {"content", "héllo\n"}})})) +
           line(tool_result(id, "ok", false, {{"type", "create"}, {"filePath", path}}));
  };
  const std::string out = line(init("/work/proj/")) + write("t1", "/work/proj/a/b.txt") + write("t2", "/work/projX/c.txt") +
                          write("t3", "/work/proj/../etc/passwd") + write("t4", "src/rel.c") + write("t5", "/work/proj") +
                          line(assistant({tool_use("t6", "NotebookEdit", {{"notebook_path", "/work/proj/n.ipynb"}, {"new_source", "x"}})})) +
                          line(tool_result("t6", "ok", false)) +
                          line(assistant({tool_use("t7", "MultiEdit", {{"file_path", "/work/proj/m.py"}, {"edits", json::array()}})})) +
                          line(tool_result("t7", "failed", true)) +
                          line(assistant({tool_use("t8", "Write", {{"file_path", "/work/proj/u.txt"}, {"content", ""}})})) +
                          line(tool_result("t8", "ok", false, {{"type", "update"}})) + line(result({}));
  const auto changed = of_type(run(out), "file.changed");
  ASSERT_EQ(changed.size(), 4u);
  EXPECT_EQ(changed[0], json::parse(R"({"path": "a/b.txt", "change": "created", "size_bytes": 7, "source_runtime": true})"));
  EXPECT_EQ(changed[1]["path"], "src/rel.c");
  EXPECT_EQ(changed[2], json::parse(R"({"path": "n.ipynb", "change": "modified", "source_runtime": true})"));
  EXPECT_EQ(changed[3], json::parse(R"({"path": "u.txt", "change": "modified", "size_bytes": 0, "source_runtime": true})"));
  // Without an init line, the dispatch's cwd says where paths are relative to.
  json d = AdapterHarness::dispatch();
  d["cwd"] = "/srv/ws";
  AdapterSession s = harness_.start(d);
  s.feed(RH_STREAM_STDOUT, write("t1", "/srv/ws/x.txt") + line(result({})));
  const auto& events = s.finish(exited(0));
  EXPECT_EQ(of_type(events, "file.changed").at(0)["path"], "x.txt");
}

TEST_F(ClaudeCode, BashOutputKnowsItsExitCodeOnlyWhenTheCliSaysIt) {
  auto bash = [](const std::string& id, const json& content, bool is_error, const json& tur) {
    return line(assistant({tool_use(id, "Bash", {{"command", "x"}})})) + line(tool_result(id, content, is_error, tur));
  };
  const std::string out =
      line(init()) +
      bash("b1", "", false, {{"stdout", ""}, {"stderr", ""}, {"interrupted", false}}) +
      bash("b2", "out", false, {{"stdout", "out"}, {"stderr", "warn\n"}, {"interrupted", false}}) +
      bash("b3", "No matches", false, {{"stdout", ""}, {"stderr", ""}, {"interrupted", false}, {"returnCodeInterpretation", "No matches found"}}) +
      bash("b4", "partial", false, {{"stdout", "partial"}, {"stderr", ""}, {"interrupted", true}}) +
      bash("b5", "Error: Exit code -1\nboom", true, "Error: Exit code -1\nboom") +
      bash("b6", "Permission to use Bash has been denied.", true, "Error: Permission to use Bash has been denied.") +
      bash("b7", {{{"type", "text"}, {"text", "one"}}, {{"type", "text"}, {"text", "two"}}}, false, nullptr) + line(result({}));
  const auto events = run(out);
  std::map<std::string, std::vector<json>> by_call;
  for (const auto& p : of_type(events, "command.output")) by_call[p["tool_call_id"]].push_back(p);
  EXPECT_EQ(by_call["b1"], (std::vector<json>{json::parse(R"({"stream": "stdout", "text": "", "tool_call_id": "b1", "exit_code": 0})")}));
  EXPECT_EQ(by_call["b2"], (std::vector<json>{json::parse(R"({"stream": "stdout", "text": "out", "tool_call_id": "b2"})"),
                                              json::parse(R"({"stream": "stderr", "text": "warn", "tool_call_id": "b2", "exit_code": 0})")}));
  EXPECT_TRUE(by_call["b3"].empty()) << "an interpreted non-zero exit has no output and no known code";
  ASSERT_EQ(by_call["b4"].size(), 1u);
  EXPECT_FALSE(by_call["b4"][0].contains("exit_code")) << "interrupted";
  EXPECT_EQ(by_call["b5"], (std::vector<json>{json::parse(R"({"stream": "stdout", "text": "boom", "tool_call_id": "b5", "exit_code": -1})")}));
  EXPECT_TRUE(by_call["b6"].empty()) << "a denied command printed nothing";
  EXPECT_EQ(by_call["b7"].size(), 2u) << "text blocks, one line each";
  const auto completed = of_type(events, "tool.completed");
  ASSERT_EQ(completed.size(), 7u);
  EXPECT_EQ(completed[5]["error"], "Permission to use Bash has been denied.");
  EXPECT_EQ(completed[6]["output"], "one\ntwo");
}

TEST_F(ClaudeCode, LinesItKnowsButCannotMapAreKeptAsUnparsed) {
  const std::string out =
      line(init()) + line({{"type", "keep_alive"}}) + line({{"type", "tool_progress"}, {"tool_use_id", "x"}, {"elapsed_time_seconds", 3}}) +
      line({{"type", "control_request"}, {"request_id", "r1"}, {"request", {{"subtype", "hook_callback"}, {"callback_id", "h"}}}}) +
      line({{"type", "system"}, {"subtype", "api_retry"}, {"attempt", 1}, {"max_retries", 3}, {"retry_delay_ms", 500}, {"error_status", 529}, {"error", "overloaded"}}) +
      line({{"type", "system"}, {"subtype", "compact_boundary"}, {"compact_metadata", {{"trigger", "auto"}, {"pre_tokens", 150000}}}}) +
      line({{"type", "system"}, {"subtype", "notification"}, {"key", "k"}, {"text", "heads up"}, {"priority", "low"}}) +
      line({{"type", "system"}, {"subtype", "hook_started"}}) + line({{"type", "rate_limit_event"}, {"rate_limit_info", json::object()}}) +
      line(result({}));
  const auto events = run(out);
  const auto unparsed = of_type(events, "runtime.unparsed");
  ASSERT_EQ(unparsed.size(), 3u);
  EXPECT_EQ(unparsed[0]["reason"], "a control request runhost does not handle (answered with an error): \"hook_callback\"");
  EXPECT_EQ(unparsed[1]["reason"], "system subtype not mapped: \"hook_started\"");
  EXPECT_EQ(unparsed[2]["reason"], "line type not mapped: \"rate_limit_event\"");
  const auto messages = of_type(events, "message");
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[1]["text"], "model API request failed (overloaded, HTTP 529); retry 1 of 3 in 500 ms");
  EXPECT_EQ(messages[2]["text"], "conversation compacted (auto, 150000 tokens before)");
  EXPECT_EQ(messages[3], json::parse(R"({"role": "system", "text": "heads up"})"));
}

// ---- live approvals ------------------------------------------------------------------------------

// Claude Code 2.1.330 asks with a control_request (tests/runtimes/transcripts/claude-code/control):
// the adapter hands it to the host as approval.required about the tool call it names.
json can_use_tool(const std::string& request_id, const std::string& tool_use_id, const std::string& tool, const json& input) {
  return {{"type", "control_request"},
          {"request_id", request_id},
          {"request", {{"subtype", "can_use_tool"}, {"tool_name", tool}, {"display_name", tool}, {"input", input},
                       {"description", "Write greet.txt"}, {"permission_suggestions", json::array()},
                       {"tool_use_id", tool_use_id}}}};
}

TEST_F(ClaudeCode, APermissionRequestBecomesApprovalRequiredAboutItsToolCall) {
  AdapterSession s = harness_.start(AdapterHarness::dispatch());
  const json input{{"command", "echo hi > greet.txt"}, {"description", "Write greet.txt"}};
  s.feed(RH_STREAM_STDOUT, line(init()) + line(assistant(tool_use("toolu_e2e_0000", "Bash", input))) +
                               line(can_use_tool("77b83b12-822d", "toolu_e2e_0000", "Bash", input)) +
                               line(can_use_tool("r-2", "toolu_unknown", "Write", {{"file_path", "/w/notes.txt"}, {"content", "x\ny"}})));
  const auto asks = of_type(s.run().events, "approval.required");
  ASSERT_EQ(asks.size(), 2u);
  EXPECT_EQ(asks[0], json::parse(R"({"approval_id": "77b83b12-822d", "tool_call_id": "toolu_e2e_0000",
      "action": {"kind": "command", "name": "Bash", "input": {"command": "echo hi > greet.txt", "description": "Write greet.txt"},
                 "summary": "Bash: echo hi > greet.txt"}})"));
  EXPECT_FALSE(asks[1].contains("tool_call_id")) << "a call it never reported has no tool.started to point at";
  EXPECT_EQ(asks[1]["action"]["kind"], "file");
  EXPECT_EQ(asks[1]["action"]["summary"], "Write: /w/notes.txt");
  EXPECT_TRUE(s.run().input.empty()) << "nothing is answered before the host decides";
  EXPECT_TRUE(s.run().refusals.empty());
}

TEST_F(ClaudeCode, AnswersAreControlResponsesOnStdin) {
  AdapterSession s = harness_.start(AdapterHarness::dispatch());
  auto allow = s.respond({{"request_id", "77b83b12"}, {"approval_id", "apr_1"}, {"decision", "allow"}, {"scope", "once"},
                          {"source", "human"}, {"reason", "fine"}});
  ASSERT_TRUE(allow) << allow.error().message;
  ASSERT_EQ(allow->back(), '\n');
  EXPECT_EQ(json::parse(*allow), json::parse(R"({"type": "control_response", "response": {"subtype": "success",
      "request_id": "77b83b12", "response": {"behavior": "allow"}}})"));
  auto deny = s.respond({{"request_id", "r\"2"}, {"decision", "deny"}, {"reason", "denied by ada: not \"now\""}});
  ASSERT_TRUE(deny) << deny.error().message;
  EXPECT_EQ(json::parse(*deny), json::parse(R"({"type": "control_response", "response": {"subtype": "success",
      "request_id": "r\"2", "response": {"behavior": "deny", "message": "denied by ada: not \"now\""}}})"));
  auto bare = s.respond({{"request_id", "r3"}, {"decision", "deny"}});
  ASSERT_TRUE(bare);
  EXPECT_EQ(json::parse(*bare)["response"]["response"]["message"], "The operator declined this action.");
  for (const json& bad : {json{{"decision", "allow"}}, json{{"request_id", 7}, {"decision", "allow"}},
                          json{{"request_id", "r"}, {"decision", "maybe"}}}) {
    auto refused = s.respond(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_NE(refused.error().message.find("respond()"), std::string::npos) << refused.error().message;
  }
}

TEST_F(ClaudeCode, StdinClosesAfterTheResultSoTheCliExits) {
  AdapterSession s = harness_.start(AdapterHarness::dispatch());
  s.feed(RH_STREAM_STDOUT, line(init()) + line(assistant(json{{"type", "text"}, {"text", "hi"}})));
  EXPECT_FALSE(s.run().input_closed);
  s.feed(RH_STREAM_STDOUT, line(result({})));
  EXPECT_TRUE(s.run().input_closed);
  const auto& events = s.finish(exited(0));
  EXPECT_EQ(events.back().type, "run.completed");
}

TEST_F(ClaudeCode, AControlRequestItCannotAnswerIsAnsweredWithAnError) {
  AdapterSession s = harness_.start(AdapterHarness::dispatch());
  s.feed(RH_STREAM_STDOUT, line({{"type", "control_request"}, {"request_id", "h-1"}, {"request", {{"subtype", "mcp_message"}}}}));
  EXPECT_EQ(json::parse(s.run().input), json::parse(R"({"type": "control_response", "response": {"subtype": "error",
      "request_id": "h-1", "error": "runhost does not handle this control request"}})"));
  EXPECT_EQ(of_type(s.run().events, "runtime.unparsed").size(), 1u);
}

}  // namespace
}  // namespace runhost::testing
