// The opencode adapter beyond what every adapter does (bad_input_test.cpp) and its recorded
// transcripts (golden_test.cpp): the launch (prompt on stdin, constraints as opencode's own
// permission rules and agent steps, resume, config), file changes against the working directory,
// shell commands, tool-call ids, usage, the typing of every error and the ending opencode never
// prints (exit code plus the last step's reason). Lines here are real lines of opencode 1.18.33,
// cut down to the members the adapter reads, or whole recorded transcripts.
#include <algorithm>

#include <gtest/gtest.h>

#include "adapter_harness.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;

constexpr const char* kSession = "ses_e02070671ffe4ZWQOQqFJnnNpQ";

std::string line(const json& j) {
  return j.dump() + "\n";
}

json part_line(const std::string& type, const json& part) {
  return {{"type", type}, {"timestamp", 1795262317508}, {"sessionID", kSession}, {"part", part}};
}
json step_start() {
  return part_line("step_start", {{"type", "step-start"}});
}
json step_finish(const std::string& reason, const json& tokens = nullptr, double cost = 0) {
  json t = tokens.is_null() ? json{{"total", 120},
                                   {"input", 100},
                                   {"output", 20},
                                   {"reasoning", 0},
                                   {"cache", {{"write", 0}, {"read", 0}}}}
                            : tokens;
  return part_line("step_finish", {{"type", "step-finish"}, {"reason", reason}, {"tokens", t}, {"cost", cost}});
}
json text(const std::string& t) {
  return part_line("text", {{"type", "text"}, {"text", t}});
}
json tool(const std::string& call_id, const std::string& name, const json& state) {
  json part = {{"type", "tool"}, {"tool", name}, {"state", state}};
  if (!call_id.empty()) part["callID"] = call_id;
  return part_line("tool_use", part);
}
json completed(const json& input, const json& output, const json& metadata = json::object()) {
  return {{"status", "completed"},
          {"input", input},
          {"output", output},
          {"metadata", metadata},
          {"time", {{"start", 1000}, {"end", 1250}}}};
}
json failed(const json& input, const std::string& error) {
  return {{"status", "error"}, {"input", input}, {"error", error}, {"time", {{"start", 1000}, {"end", 1010}}}};
}
json error_line(const json& error) {
  return {{"type", "error"}, {"timestamp", 1795262346316}, {"sessionID", kSession}, {"error", error}};
}
json api_error(int status, const std::string& message, bool retryable, const std::string& body = "") {
  json data = {{"message", message}, {"isRetryable", retryable}};
  if (status > 0) data["statusCode"] = status;
  if (!body.empty()) data["responseBody"] = body;
  return error_line({{"name", "APIError"}, {"data", data}});
}

// One whole run: a step with `inner` lines that ends with reason "stop".
std::string stopped(const std::vector<json>& inner) {
  std::string out = line(step_start());
  for (const auto& l : inner) out += line(l);
  return out + line(step_finish("stop"));
}

std::string fixture(const std::string& scenario) {
  return read_text(kRuntimeFixtureDir / "opencode" / (scenario + ".stdout.jsonl"));
}
std::string transcript(const std::string& scenario) {
  return read_text(kTranscriptDir / "opencode" / (scenario + ".stdout.jsonl"));
}

class OpenCode : public ::testing::Test {
 protected:
  AdapterHarness harness_{"opencode"};

  json spec(const AdapterHarness::Options& options, const std::string& prompt = "Do the thing") {
    return harness_.start(AdapterHarness::dispatch(prompt), options).launch_spec();
  }
  json spec() { return spec(AdapterHarness::Options{}); }

  std::string refusal(const AdapterHarness::Options& options) {
    auto s = harness_.create(AdapterHarness::dispatch(), options);
    if (s) return "";
    return s.error().message;
  }

  std::vector<RecordedEvent> run(const std::string& stdout_text, const rh_exit& exit = exited(0),
                                 const AdapterHarness::Options& options = {}, const std::string& stderr_text = "",
                                 const std::string& cwd = "") {
    json d = AdapterHarness::dispatch();
    if (!cwd.empty()) d["cwd"] = cwd;
    AdapterSession s = harness_.start(d, options);
    s.feed(RH_STREAM_STDOUT, stdout_text);
    if (!stderr_text.empty()) s.feed(RH_STREAM_STDERR, stderr_text);
    auto events = s.finish(exit);
    EXPECT_TRUE(s.run().refusals.empty()) << s.run().refusals.front();
    EXPECT_TRUE(s.run().envelope_errors.empty()) << s.run().envelope_errors.front();
    return events;
  }

};

// runhost's approvalPolicy "auto" (the only one opencode run can honour: it cannot ask): --auto.
const std::vector<std::string> kBaseArgv = {"opencode", "run", "--format=json", "--thinking", "--auto"};

// ---- launch -------------------------------------------------------------------------------------

TEST_F(OpenCode, LaunchesHeadlessWithThePromptVerbatimOnStdin) {
  const json s = spec();
  EXPECT_EQ(s["argv"], kBaseArgv);
  EXPECT_EQ(s["env"], json({{"OPENCODE_DISABLE_AUTOUPDATE", "1"}}));
  EXPECT_EQ(s["stdin"], "Do the thing") << "the text itself: opencode sends stdin as the message";
  EXPECT_EQ(s["keep_stdin_open"], false) << "opencode reads stdin to its end before it starts";
}

TEST_F(OpenCode, ThePromptIsDataWhateverItHolds) {
  // In argv a leading '-' would be an option and a space would get the prompt wrapped in quotes
  // (opencode joins its message words that way); on stdin every byte arrives as it is.
  for (const std::string& prompt :
       {std::string("-m evil/model --auto"), std::string("--session=ses_other"), std::string("two words, \"quoted\""),
        std::string("line one\nline two\r\n\ttabbed"), std::string("nul \0 inside", 12),
        std::string("emoji \xF0\x9F\x98\x80 and \\ backslash"), std::string(2 << 20, 'p')}) {
    const json s = spec({}, prompt);
    EXPECT_EQ(s["argv"], kBaseArgv) << "the prompt is never an argument";
    EXPECT_EQ(s["stdin"], prompt);
  }
}

TEST_F(OpenCode, ConfigKeysBecomeFlagsAndEnvironment) {
  AdapterHarness::Options o;
  o.config = json::parse(R"({"model": "anthropic/claude-sonnet-4-5", "agent": "plan", "variant": "high",
                             "thinking": false, "permission_mode": "auto", "args": ["--pure"],
                             "config_file": "/etc/opencode/runhost.json",
                             "config": {"provider": {"e2e": {"options": {"baseURL": "http://127.0.0.1:9/v1"}}}},
                             "env": {"HOME": "/var/tmp/h", "OPENCODE_DISABLE_AUTOUPDATE": "0"}})");
  o.resume_id = "ses_abc";
  const json s = spec(o);
  EXPECT_EQ(s["argv"], json({"opencode", "run", "--format=json", "--model=anthropic/claude-sonnet-4-5", "--agent=plan",
                             "--variant=high", "--auto", "--session=ses_abc", "--pure"}));
  EXPECT_EQ(s["env"]["OPENCODE_CONFIG"], "/etc/opencode/runhost.json");
  EXPECT_EQ(json::parse(s["env"]["OPENCODE_CONFIG_CONTENT"].get<std::string>()), o.config["config"]);
  EXPECT_EQ(s["env"]["HOME"], "/var/tmp/h");
  EXPECT_EQ(s["env"]["OPENCODE_DISABLE_AUTOUPDATE"], "0") << "the operator's env wins over the adapter's defaults";
  EXPECT_FALSE(s["env"].contains("OPENCODE_PERMISSION")) << "no constraints, no rules";
}

TEST_F(OpenCode, AResumeIdIsOneArgumentWhateverItHolds) {
  AdapterHarness::Options o;
  o.resume_id = "-x --auto";
  const json s = spec(o);
  EXPECT_EQ(s["argv"].back(), "--session=-x --auto");
  EXPECT_EQ(s["argv"].size(), kBaseArgv.size() + 1);
}

TEST_F(OpenCode, ABadConfigIsRefusedNamingTheKey) {
  const std::vector<std::pair<std::string, std::string>> configs = {
      {R"({"model": "no-provider"})", "\"model\""},
      {R"({"model": "-m/x"})", "\"model\""},
      {R"({"model": "two words/x"})", "\"model\""},
      {R"({"agent": "--auto"})", "\"agent\""},
      {R"({"variant": 3})", "\"variant\""},
      {R"({"thinking": "yes"})", "\"thinking\""},
      {R"({"config": "{\"model\": \"x/y\"}"})", "\"config\""},
      {R"({"config_file": ""})", "\"config_file\""},
      {R"({"permission_mode": "bypassPermissions"})", "\"permission_mode\""},
      {R"({"max_turns": 0})", "\"max_turns\""},
      {R"({"max_budget_usd": 1.5})", "max_budget_usd"},
      {R"({"usage_source": "two words"})", "\"usage_source\""},
      {R"({"config_file": "/a.json", "env": {"OPENCODE_CONFIG": "/b.json"}})", "OPENCODE_CONFIG"},
      {R"({"config": {}, "env": {"OPENCODE_CONFIG_CONTENT": "{}"}})", "OPENCODE_CONFIG_CONTENT"}};
  for (const auto& [config, names] : configs) {
    AdapterHarness::Options o;
    o.config = json::parse(config);
    const std::string why = refusal(o);
    ASSERT_FALSE(why.empty()) << config;
    EXPECT_NE(why.find(names), std::string::npos) << why;
  }
}

// ---- constraints ----------------------------------------------------------------------------------

std::string permission_env(const json& spec) {
  return spec["env"].value("OPENCODE_PERMISSION", "");
}

TEST_F(OpenCode, DeniedToolsBecomeOpencodePermissionRules) {
  AdapterHarness::Options o;
  o.constraints = json::parse(R"({"tools": {"deny": ["bash", "write", "apply_patch", "mymcp_*"]}})");
  // write and apply_patch ask for the "edit" permission; opencode takes "*" as a wildcard.
  EXPECT_EQ(permission_env(spec(o)), R"({"bash":"deny","edit":"deny","mymcp_*":"deny"})");
}

TEST_F(OpenCode, AnAllowListDeniesEverythingElseAndDenyStillWins) {
  AdapterHarness::Options o;
  o.constraints = json::parse(R"({"tools": {"allow": ["read", "grep", "write"], "deny": ["grep"]}})");
  // The order is the point: opencode's last matching rule wins, in the order names first appear.
  EXPECT_EQ(permission_env(spec(o)),
            R"({"*":"deny","glob":"deny","grep":"deny","list":"deny","bash":"deny","task":"deny",)"
            R"("external_directory":"deny","todowrite":"deny","question":"deny","webfetch":"deny","websearch":"deny",)"
            R"("lsp":"deny","doom_loop":"deny","skill":"deny","read":"allow","edit":"allow"})");
  o.constraints = json::parse(R"({"tools": {"allow": []}})");
  const json rules = json::parse(permission_env(spec(o)));
  EXPECT_EQ(rules["*"], "deny");
  for (const auto& [name, action] : rules.items()) EXPECT_EQ(action, "deny") << name;
}

TEST_F(OpenCode, ReadOnlyAndNetworkDenyWhatWritesAndWhatFetches) {
  AdapterHarness::Options o;
  o.constraints = json::parse(R"({"read_only": true, "network": "none"})");
  EXPECT_EQ(permission_env(spec(o)), R"({"edit":"deny","bash":"deny","webfetch":"deny","websearch":"deny"})");
  o.constraints = json::parse(R"({"read_only": true, "tools": {"allow": ["bash", "read"]}})");
  const json rules = json::parse(permission_env(spec(o)));
  EXPECT_EQ(rules["bash"], "deny") << "read_only beats the allow list";
  EXPECT_EQ(rules["read"], "allow");
  o.constraints = json::parse(R"({"network": "loopback"})");
  EXPECT_EQ(permission_env(spec(o)), R"({"webfetch":"deny","websearch":"deny"})");
}

TEST_F(OpenCode, ConstraintsOpencodeCannotEnforceAreRefused) {
  AdapterHarness::Options o;
  o.constraints = json::parse(R"({"max_budget_usd": 2})");
  EXPECT_NE(refusal(o).find("max_budget_usd"), std::string::npos) << "no spending limit in opencode";
  o.constraints = json::parse(R"({"tools": {"deny": [""]}})");
  EXPECT_NE(refusal(o).find("tools.deny"), std::string::npos);
  o.constraints = json::parse(R"({"permission_mode": "yolo"})");
  EXPECT_NE(refusal(o).find("permission_mode"), std::string::npos);
  o.constraints = json::parse(R"({"tools": {"deny": ["bash"]}})");
  o.config = json::parse(R"({"env": {"OPENCODE_PERMISSION": "{\"bash\":\"allow\"}"}})");
  EXPECT_NE(refusal(o).find("OPENCODE_PERMISSION"), std::string::npos) << "the operator cannot override the policy";
  o.constraints = json::object();
  EXPECT_EQ(spec(o)["env"]["OPENCODE_PERMISSION"], "{\"bash\":\"allow\"}")
      << "without constraints it is the operator's";
}

TEST_F(OpenCode, ThePolicysPermissionModeBeatsTheConfigs) {
  AdapterHarness::Options o;
  o.config = json::parse(R"({"permission_mode": "auto"})");
  o.constraints = json::parse(R"({"permission_mode": "default"})");
  EXPECT_EQ(spec(o)["argv"], (std::vector<std::string>{"opencode", "run", "--format=json", "--thinking"}));
  o.config = json::object();
  o.constraints = json::parse(R"({"permission_mode": "auto"})");
  EXPECT_EQ(spec(o)["argv"].back(), "--auto");
}

TEST_F(OpenCode, MaxTurnsBecomesTheRunningAgentsSteps) {
  AdapterHarness::Options o;
  o.constraints = json::parse(R"({"max_turns": 3})");
  o.config = json::parse(R"({"max_turns": 5})");
  json s = spec(o);
  EXPECT_NE(std::find(s["argv"].begin(), s["argv"].end(), "--agent=build"), s["argv"].end())
      << "the agent the limit is set on is named";
  EXPECT_EQ(s["env"]["OPENCODE_CONFIG_CONTENT"], R"({"agent":{"build":{"steps":4}}})")
      << "the smaller limit, plus the step opencode uses to make the model stop";
  o.config = json::parse(R"({"agent": "coder", "max_turns": 2,
                             "config": {"model": "x/y", "agent": {"coder": {"steps": 99, "prompt": "p"}, "other": {"steps": 1}}}})");
  s = spec(o);
  EXPECT_NE(std::find(s["argv"].begin(), s["argv"].end(), "--agent=coder"), s["argv"].end());
  EXPECT_EQ(s["env"]["OPENCODE_CONFIG_CONTENT"],
            R"({"model":"x/y","agent":{"other":{"steps":1},"coder":{"prompt":"p","steps":3}}})");
  o.config = json::parse(R"({"env": {"OPENCODE_CONFIG_CONTENT": "{}"}})");
  EXPECT_NE(refusal(o).find("OPENCODE_CONFIG_CONTENT"), std::string::npos);
}

TEST_F(OpenCode, ARunThatNeededMoreStepsThanMaxTurnsHitTheTurnLimit) {
  // Recorded with the agent's steps at 2 (max_turns 1): opencode ran a third step anyway.
  AdapterHarness::Options o;
  for (int limit : {1, 2}) {
    o.config = {{"max_turns", limit}};
    const auto events = run(transcript("max_turns"), exited(0), o);
    ASSERT_EQ(events.back().type, "run.failed") << limit;
    const json& error = events.back().payload["error"];
    EXPECT_EQ(error["code"], "turn_limit");
    EXPECT_EQ(error["cause"], "turn_limit");
    EXPECT_EQ(error["recovery"]["usage_source"], "turns");
    EXPECT_EQ(events.back().payload["num_turns"], 3);
    EXPECT_EQ(events.back().payload["session_id"], "ses_e01f70466ffePOAJEdnAf4dq3L") << "resume to carry on";
  }
  o.config = {{"max_turns", 3}};
  EXPECT_EQ(run(transcript("max_turns"), exited(0), o).back().type, "run.completed");
}

// ---- mapping --------------------------------------------------------------------------------------

TEST_F(OpenCode, FileChangesAreRelativeToTheDispatchCwd) {
  auto changes = [&](const std::string& out, const std::string& cwd) {
    return of_type(run(out, exited(0), {}, "", cwd), "file.changed");
  };
  EXPECT_EQ(changes(fixture("write_file"), "/var/tmp/runhost-e2e/opencode/write_file/work"),
            std::vector<json>({json::parse(
                R"({"path": "hello.txt", "change": "created", "size_bytes": 31, "source_runtime": true})")}));
  EXPECT_EQ(
      changes(fixture("edit_file"), "/var/tmp/runhost-e2e/opencode/edit_file/work"),
      std::vector<json>({json::parse(R"({"path": "config.ini", "change": "modified", "source_runtime": true})")}));
  EXPECT_TRUE(changes(fixture("tool_error"), "/var/tmp/runhost-e2e/opencode/tool_error/work").empty())
      << "a failed edit changed nothing";
  EXPECT_TRUE(changes(fixture("write_file"), "/somewhere/else").empty())
      << "outside the working directory: the device's watcher has it";
  EXPECT_TRUE(changes(fixture("write_file"), "").empty()) << "an absolute path needs the working directory";
  const auto patched = changes(transcript("apply_patch"), "/var/tmp/runhost-opencode-transcripts/apply_patch/work");
  EXPECT_EQ(
      patched,
      std::vector<json>(
          {json::parse(R"({"path": "added.txt", "change": "created", "source_runtime": true})"),
           json::parse(R"({"path": "config.ini", "change": "modified", "source_runtime": true})"),
           json::parse(R"({"path": "old.txt", "change": "deleted", "source_runtime": true})"),
           json::parse(R"({"path": "moved/b.txt", "change": "renamed", "from": "a.txt", "source_runtime": true})")}));
  const auto edits = changes(transcript("bash_exit_code"), "/var/tmp/runhost-opencode-transcripts/bash_exit_code/work");
  ASSERT_EQ(edits.size(), 4u);
  EXPECT_EQ(edits[1], json::parse(R"({"path": "notes/hello.txt", "change": "modified", "source_runtime": true})"))
      << "the absolute path of the edit, made relative";
}

TEST_F(OpenCode, AShellCommandGivesItsOutputAndExitCode) {
  const auto events =
      run(stopped({tool("call_1", "bash",
                        completed({{"command", "make"}}, "out\nerr\n",
                                  {{"output", "out\nerr\n"}, {"exit", 2}, {"truncated", false}})),
                   tool("call_2", "bash",
                        completed({{"command", "true"}}, "(no output)", {{"output", "(no output)"}, {"exit", 0}})),
                   tool("call_3", "bash",
                        completed({{"command", "sleep 999"}},
                                  "(no output)\n\n<shell_metadata>\nshell tool terminated command after exceeding "
                                  "timeout 120000 ms.</shell_metadata>",
                                  {{"output", "partial"}, {"exit", nullptr}}))}));
  const auto out = of_type(events, "command.output");
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0], json::parse(R"({"stream": "stdout", "text": "out", "tool_call_id": "call_1"})"));
  EXPECT_EQ(out[1], json::parse(R"({"stream": "stdout", "text": "err", "tool_call_id": "call_1", "exit_code": 2})"))
      << "stderr is merged into stdout by opencode; the exit code goes on the last line";
  EXPECT_EQ(out[2], json::parse(R"({"stream": "stdout", "text": "", "tool_call_id": "call_2", "exit_code": 0})"))
      << "\"(no output)\" is opencode's stand-in for nothing";
  EXPECT_EQ(out[3], json::parse(R"({"stream": "stdout", "text": "partial", "tool_call_id": "call_3"})"))
      << "killed: no exit code";
  const auto done = of_type(events, "tool.completed");
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0]["status"], "error");
  EXPECT_EQ(done[0]["error"], "the command exited with code 2");
  EXPECT_EQ(done[0]["output"], "out\nerr\n");
  EXPECT_EQ(done[0]["duration_ms"], 250);
  EXPECT_EQ(done[1]["status"], "success");
  EXPECT_EQ(done[2]["status"], "success") << "opencode reports the timeout in the output, not as a failure";
  EXPECT_EQ(
      of_type(events, "tool.started")[0],
      json::parse(R"({"tool_call_id": "call_1", "name": "bash", "kind": "command", "input": {"command": "make"}})"));
}

TEST_F(OpenCode, ToolCallIdsAreStableAndEveryCallStartsOnce) {
  const auto events = run(stopped({tool("", "read", completed({{"filePath", "a"}}, "x")),
                                   tool("call bad id", "glob", completed({{"pattern", "*"}}, "y")),
                                   tool("call_r", "task", {{"status", "running"}, {"input", {{"prompt", "p"}}}}),
                                   tool("call_r", "task", completed({{"prompt", "p"}}, "done"))}));
  const auto started = of_type(events, "tool.started");
  const auto done = of_type(events, "tool.completed");
  ASSERT_EQ(started.size(), 3u) << "a running state then its completion: one call";
  ASSERT_EQ(done.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(started[i]["tool_call_id"], done[i]["tool_call_id"]);
  EXPECT_EQ(started[0]["tool_call_id"], "call_1") << "no callID: a generated one";
  EXPECT_EQ(started[1]["tool_call_id"], "call_2") << "an id with a space is not used as it is";
  EXPECT_EQ(started[2]["tool_call_id"], "call_r");
  EXPECT_EQ(started[2]["kind"], "tool");
}

TEST_F(OpenCode, ACallOpencodeCouldNotMakeFailsUnderTheNameTheModelUsed) {
  const auto events = run(transcript("tool_denied"));
  const auto started = of_type(events, "tool.started");
  const auto done = of_type(events, "tool.completed");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0]["name"], "bash");
  EXPECT_FALSE(started[0].contains("input")) << "opencode's \"invalid\" tool keeps only the name and why";
  EXPECT_EQ(done[0]["status"], "error");
  EXPECT_NE(done[0]["error"].get<std::string>().find("unavailable tool 'bash'"), std::string::npos);
  EXPECT_EQ(events.back().type, "run.completed") << "the model carried on without it";
}

TEST_F(OpenCode, UsageCountsWhatTheModelReadAndWrote) {
  AdapterHarness::Options o;
  o.config = json::parse(R"({"model": "anthropic/claude-sonnet-4-5"})");
  const auto events = run(
      line(step_start()) +
          line(step_finish(
              "stop", {{"input", 200}, {"output", 30}, {"reasoning", 10}, {"cache", {{"read", 1000}, {"write", 50}}}},
              0.0015)),
      exited(0), o);
  EXPECT_EQ(of_type(events, "usage"),
            std::vector<json>({json::parse(R"({"source": "anthropic", "model": "anthropic/claude-sonnet-4-5",
      "input_tokens": 1250, "cached_input_tokens": 1000, "output_tokens": 40, "cost_usd": 0.0015})")}));
  o.config = json::parse(R"({"usage_source": "bedrock"})");
  const auto zero = run(line(step_start()) + line(step_finish("stop", {{"input", 0}, {"output", 0}}, 0)), exited(0), o);
  EXPECT_TRUE(of_type(zero, "usage").empty()) << "nothing spent, nothing said";
  const auto sourced = run(stopped({}), exited(0), o);
  EXPECT_EQ(of_type(sourced, "usage").at(0)["source"], "bedrock");
}

TEST_F(OpenCode, TextIsTheResultOfTheLastStepAndReasoningIsReasoning) {
  const auto events = run(transcript("reasoning"));
  EXPECT_EQ(of_type(events, "reasoning"),
            std::vector<json>({json::parse(R"({"text": "The user wants a greeting. Keep it short."})")}));
  EXPECT_EQ(events.back().payload["result"], "Hello there!");
  // A last step without text has no result, even after earlier text.
  const auto quiet = run(stopped({text("earlier")}) + line(step_start()) + line(step_finish("stop")));
  EXPECT_FALSE(quiet.back().payload.contains("result"));
  EXPECT_EQ(quiet.back().payload["num_turns"], 2);
}

TEST_F(OpenCode, SecretsFromTheConfigNeverReachAnEvent) {
  AdapterHarness::Options o;
  o.config = json::parse(R"({"env": {"OPENAI_API_KEY": "sk-live-secret-123"}})");
  const auto events = run(stopped({text("your key is sk-live-secret-123")}), exited(0), o);
  const auto messages = of_type(events, "message");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["text"], "your key is [redacted]");
  for (const auto& e : events) EXPECT_EQ(e.raw.find("sk-live-secret-123"), std::string::npos) << e.type;
}

// ---- failures -------------------------------------------------------------------------------------

struct Expected {
  std::string code, cause;
  bool retryable;
};

TEST_F(OpenCode, EveryErrorIsTyped) {
  AdapterHarness::Options o;
  o.config = json::parse(R"({"model": "openai/gpt-5"})");
  const std::vector<std::pair<json, Expected>> cases = {
      {api_error(401, "Incorrect API key provided", false), {"auth_failed", "auth_failed", false}},
      {api_error(403, "forbidden", false), {"auth_failed", "auth_failed", false}},
      {api_error(429, "slow down", true), {"rate_limited", "rate_limited", true}},
      {api_error(429, "You exceeded your current quota", false, R"({"error":{"code":"insufficient_quota"}})"),
       {"budget_exceeded", "billing", false}},
      {api_error(402, "payment required", false), {"budget_exceeded", "billing", false}},
      {api_error(500, "boom", true), {"model_unavailable", "model_unavailable", true}},
      {api_error(529, "overloaded", true), {"model_unavailable", "model_unavailable", true}},
      {api_error(400, "bad request", false), {"model_api_error", "model_request_rejected", false}},
      {api_error(404, "model not found", false), {"model_api_error", "model_request_rejected", false}},
      {api_error(400, "too long", false, R"({"error":{"code":"context_length_exceeded"}})"),
       {"context_limit", "context_limit", false}},
      {api_error(0, "Cannot connect to API: ECONNREFUSED", true), {"model_unavailable", "model_unavailable", true}},
      {api_error(0, "something odd", false), {"model_api_error", "model_api_error", false}},
      {error_line({{"name", "ProviderAuthError"}, {"data", {{"providerID", "anthropic"}, {"message", "no key"}}}}),
       {"auth_failed", "auth_failed", false}},
      {error_line({{"name", "ContextOverflowError"}, {"data", {{"message", "too big"}}}}),
       {"context_limit", "context_limit", false}},
      {error_line({{"name", "ContentFilterError"}, {"data", {{"message", "blocked"}}}}),
       {"model_api_error", "content_filter", false}},
      {error_line({{"name", "MessageOutputLengthError"}, {"data", json::object()}}),
       {"runtime_error", "output_limit", false}},
      {error_line({{"name", "MessageAbortedError"}, {"data", {{"message", "aborted"}}}}),
       {"runtime_error", "aborted", true}},
      {error_line({{"name", "UnknownError"}, {"data", {{"message", "Unexpected server error."}}}}),
       {"runtime_error", "runtime_error", false}},
      {error_line({{"name", "ConfigJsonError"}, {"data", {{"path", "/x"}}}}),
       {"runtime_error", "runtime_error", false}}};
  for (const auto& [l, want] : cases) {
    const auto events = run(line(step_start()) + line(l), exited(1), o);
    ASSERT_EQ(events.back().type, "run.failed") << l.dump();
    const json& p = events.back().payload;
    EXPECT_EQ(p["error"]["code"], want.code) << l.dump();
    EXPECT_EQ(p["error"]["cause"], want.cause) << l.dump();
    EXPECT_EQ(p["error"]["retryable"], want.retryable) << l.dump();
    EXPECT_EQ(p["exit_code"], 1);
    EXPECT_EQ(p["session_id"], kSession);
    if (p["error"]["recovery"]["action"] == "request_quota" || p["error"]["recovery"]["action"] == "raise_budget") {
      EXPECT_EQ(p["error"]["recovery"]["usage_source"], "openai") << "the provider of the configured model";
    }
    if (l["error"]["name"] == "APIError" && l["error"]["data"].contains("statusCode")) {
      EXPECT_EQ(p["api_status"], l["error"]["data"]["statusCode"]) << l.dump();
    }
    // Said when it happened, too.
    const auto said = of_type(events, "message");
    ASSERT_EQ(said.size(), 1u) << l.dump();
    EXPECT_EQ(said[0]["role"], "system");
  }
  const auto auth = run(
      line(error_line({{"name", "ProviderAuthError"}, {"data", {{"providerID", "anthropic"}, {"message", "no key"}}}})),
      exited(1));
  EXPECT_EQ(auth.back().payload["error"]["message"],
            "OpenCode: the model provider anthropic refused the credentials: no key");
}

TEST_F(OpenCode, TheFirstErrorIsTheFailureAndLaterOnesAreSaid) {
  const auto events = run(line(api_error(500, "first", true)) + line(api_error(401, "second", false)), exited(1));
  EXPECT_EQ(events.back().payload["error"]["cause"], "model_unavailable");
  EXPECT_EQ(events.back().payload["error"]["message"], "OpenCode: model API error (HTTP 500): first");
  const auto said = of_type(events, "message");
  ASSERT_EQ(said.size(), 2u);
  EXPECT_EQ(said[1]["text"], "model API error (HTTP 401): second");
}

TEST_F(OpenCode, AnErrorWinsOverTheExitButNotOverACancellation) {
  const std::string out = stopped({text("done")}) + line(api_error(429, "late", true));
  EXPECT_EQ(run(out, exited(0)).back().payload["error"]["cause"], "rate_limited");
  const auto signalled = run(out, signaled(9));
  EXPECT_EQ(signalled.back().payload["error"]["cause"], "rate_limited");
  EXPECT_EQ(signalled.back().payload["signal"], 9);
  EXPECT_EQ(run(out, signaled(15, RH_EXIT_FLAG_CANCELLED)).back().type, "run.cancelled");
}

TEST_F(OpenCode, TheEndingComesFromTheExitAndTheLastStepsReason) {
  auto ending = [&](const std::string& out, const rh_exit& exit = exited(0), const std::string& err = "") {
    const auto events = run(out, exit, {}, err);
    return std::make_pair(events.back().type, events.back().payload);
  };
  // stop: done.
  EXPECT_EQ(ending(stopped({text("ok")})).first, "run.completed");
  // length: the reply was cut.
  auto [type, p] = ending(line(step_start()) + line(text("half an ans")) + line(step_finish("length")));
  EXPECT_EQ(type, "run.failed");
  EXPECT_EQ(p["error"]["cause"], "output_limit");
  EXPECT_EQ(p["exit_code"], 0);
  // tool-calls, then nothing: no final answer (retryable), unless a permission stopped it.
  std::tie(type, p) = ending(line(step_start()) + line(tool("c1", "read", completed({{"filePath", "a"}}, "x"))) +
                             line(step_finish("tool-calls")));
  EXPECT_EQ(p["error"]["cause"], "no_result");
  EXPECT_EQ(p["error"]["retryable"], true);
  std::tie(type, p) = ending(line(step_start()) +
                             line(tool("c1", "bash",
                                       failed({{"command", "rm -rf /"}},
                                              "The user has specified a rule which prevents you from using this "
                                              "specific tool call. Here are some of the relevant rules [...]"))) +
                             line(step_finish("tool-calls")));
  EXPECT_EQ(p["error"]["code"], "policy_denied");
  EXPECT_EQ(p["error"]["recovery"]["action"], "review_policy");
  // A rejection opencode explains on stderr names what it rejected.
  const auto rejected = run(transcript("permission_rejected"), exited(0), {},
                            read_text(kTranscriptDir / "opencode" / "permission_rejected.stderr.txt"));
  EXPECT_EQ(rejected.back().payload["error"]["message"],
            "OpenCode: a permission was rejected (nobody to ask): external_directory (/var/tmp/*)");
  // error reason without an error line.
  std::tie(type, p) = ending(line(step_start()) + line(step_finish("error")));
  EXPECT_EQ(p["error"]["cause"], "model_api_error");
  // A step that never finished, or none at all: no result.
  std::tie(type, p) = ending(line(step_start()) + line(text("mid")));
  EXPECT_EQ(p["error"]["cause"], "no_result");
  std::tie(type, p) = ending("");
  EXPECT_EQ(p["error"]["cause"], "no_result");
  // A non-zero exit without an error line: the last stderr line says why.
  std::tie(type, p) = ending(stopped({text("ok")}), exited(1), "Error: Unexpected error, check log file\n");
  EXPECT_EQ(p["error"]["code"], "runtime_error");
  EXPECT_NE(p["error"]["message"].get<std::string>().find("Unexpected error, check log file"), std::string::npos);
  EXPECT_EQ(p["exit_code"], 1);
}

TEST_F(OpenCode, ResumingASessionThatIsNotThereIsSessionNotFound) {
  AdapterHarness::Options o;
  o.resume_id = "ses_000000000000000000000000ff";
  AdapterSession s = harness_.start(AdapterHarness::dispatch(), o);
  EXPECT_EQ(s.launch_spec()["argv"].back(), "--session=ses_000000000000000000000000ff");
  s.feed(RH_STREAM_STDERR, read_text(kTranscriptDir / "opencode" / "resume_missing.stderr.txt"));
  const auto& events = s.finish(exited(1));
  const json& p = events.back().payload;
  EXPECT_EQ(p["error"]["cause"], "session_not_found");
  EXPECT_EQ(p["error"]["recovery"]["action"], "fix_dispatch");
  EXPECT_EQ(p["error"]["message"],
            "OpenCode: no session ses_000000000000000000000000ff to resume (opencode: Session not found)");
  EXPECT_FALSE(p.contains("session_id")) << "nothing to resume is offered";
}

TEST_F(OpenCode, TheSessionIdComesFromTheLinesForTheNextResume) {
  const auto events = run(transcript("resume"));
  EXPECT_EQ(events.back().payload["session_id"], "ses_e01f5eeadffe2m29wxMMFzYUyB");
  const auto failed_run = run(fixture("http_500_then_429"), exited(1));
  EXPECT_EQ(failed_run.back().payload["session_id"], "ses_e0206afe7ffef1k6pBQyNOFU0Y")
      << "a failed run can be resumed too";
}

// ---- bad input particular to opencode ---------------------------------------------------------------

TEST_F(OpenCode, OddShapesInsideKnownLinesAreMappedAsFarAsTheyGo) {
  // Members of the wrong type inside lines the adapter knows: nothing crashes, nothing is made up.
  const auto events = run(
      stopped(
          {tool("c1", "bash", completed({{"command", "x"}}, 42, {{"output", 7}, {"exit", "three"}})),
           tool("c2", "write", completed("not an object", "ok", {{"exists", "maybe"}})),
           tool("c3", "apply_patch", completed({{"patchText", "p"}}, "ok", {{"files", {1, "two", {{"type", "add"}}}}})),
           tool("c4", "edit", failed({{"filePath", "a.txt"}}, "")),
           part_line("step_finish", {{"type", "step-finish"},
                                     {"reason", "tool-calls"},
                                     {"tokens", {{"input", "many"}, {"output", -5}}},
                                     {"cost", "free"}}),
           error_line({{"name", "APIError"}, {"data", "not an object"}})}),
      exited(1));
  const auto done = of_type(events, "tool.completed");
  ASSERT_EQ(done.size(), 4u);
  EXPECT_EQ(done[0]["output"], 42) << "an output that is not text is passed on as it is";
  EXPECT_EQ(of_type(events, "command.output"), std::vector<json>()) << "no text, no exit code: nothing to say";
  EXPECT_TRUE(of_type(events, "file.changed").empty()) << "no path anywhere";
  EXPECT_EQ(done[3]["error"], "the tool failed") << "an empty error still says the call failed";
  const auto usage = of_type(events, "usage");
  ASSERT_EQ(usage.size(), 1u) << "only the step that said what it spent";
  EXPECT_EQ(events.back().payload["error"]["cause"], "model_api_error");
  EXPECT_EQ(events.back().payload["error"]["message"], "OpenCode: model API error: (no message)");
}

TEST_F(OpenCode, AHugeCommandOutputIsCutPerLineAndMemoryStaysBounded) {
  // One tool_use line of 6 MB (under the 8 MiB line limit): a 5 MB line of output, then a short one.
  const std::string big(5 << 20, 'o');
  const auto events = run(stopped(
      {tool("c1", "bash", completed({{"command", "yes"}}, "cut", {{"output", big + "\ntail\n"}, {"exit", 0}}))}));
  const auto out = of_type(events, "command.output");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["text"].get<std::string>().size(), size_t{1} << 20);
  EXPECT_EQ(out[0]["truncated"], true);
  EXPECT_EQ(out[1]["text"], "tail");
  EXPECT_EQ(out[1]["exit_code"], 0);
}

TEST_F(OpenCode, CallsThatNeverFinishCannotGrowTheTable) {
  // A running state for 5,000 calls that never complete: the oldest are forgotten, the run ends.
  std::string out = line(step_start());
  for (int i = 0; i < 5000; ++i)
    out += line(tool("run_" + std::to_string(i), "task", {{"status", "running"}, {"input", json::object()}}));
  out += line(tool("run_4999", "task", completed(json::object(), "done"))) + line(step_finish("stop"));
  const auto events = run(out);
  EXPECT_EQ(of_type(events, "tool.started").size(), 5000u);
  const auto done = of_type(events, "tool.completed");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0]["tool_call_id"], "run_4999");
  EXPECT_EQ(events.back().type, "run.completed");
}

TEST_F(OpenCode, ALastLineCutByTheExitStillDecidesTheEnding) {
  // Both streams end without a newline: the step_finish still counts, the stderr line still names
  // the rejected permission.
  const std::string finish = line(step_finish("tool-calls"));
  AdapterSession s = harness_.start(AdapterHarness::dispatch());
  s.feed(RH_STREAM_STDOUT,
         line(step_start()) +
             line(tool("c1", "write",
                       failed({{"filePath", "/x"}}, "The user rejected permission to use this specific tool call."))));
  s.feed(RH_STREAM_STDOUT, finish.substr(0, finish.size() - 1));
  s.feed(RH_STREAM_STDERR, "! permission requested: external_directory (/x); auto-rejecting");
  const auto& events = s.finish(exited(0));
  EXPECT_EQ(events.back().payload["error"]["code"], "policy_denied");
  EXPECT_EQ(events.back().payload["error"]["message"],
            "OpenCode: a permission was rejected (nobody to ask): external_directory (/x)");
  EXPECT_TRUE(of_type(events, "command.output").empty());
  EXPECT_EQ(of_type(events, "message").back()["stream"], "stderr") << "the stderr line is kept too, as a system message";
}

}  // namespace
}  // namespace runhost::testing
