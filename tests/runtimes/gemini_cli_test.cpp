// The gemini-cli adapter beyond what every adapter does (bad_input_test.cpp) and its recorded
// transcripts (golden_test.cpp): the launch (prompt on stdin, resume, config, constraints as
// --approval-mode and --allowed-tools, and the constraints it must refuse), the typing of failures
// from result lines and exit codes, file changes relative to the work dir, what the shell tool's
// display says about exit codes, message streaks, usage. Transcripts come from the real Gemini CLI
// 0.61.0 (tests/fixtures/runtimes/gemini-cli/ and tests/runtimes/transcripts/gemini-cli/,
// record_gemini.py); lines written here are cut down from the shapes those show, or from the
// CLI's bundle (nonInteractiveCli, shell tool) for what the model server cannot make it print.
#include <algorithm>

#include <gtest/gtest.h>

#include "adapter_harness.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;

constexpr const char* kSession = "6e55da4e-b905-4f32-b701-67b7e3e519f7";

std::string line(const json& j) {
  return j.dump() + "\n";
}

json init(const std::string& model = "gemini-2.5-pro") {
  return {{"type", "init"}, {"timestamp", "2026-11-21T11:49:38.067Z"}, {"session_id", kSession}, {"model", model}};
}
json user(const std::string& text) {
  return {{"type", "message"}, {"role", "user"}, {"content", text}};
}
json piece(const std::string& text) {
  return {{"type", "message"}, {"role", "assistant"}, {"content", text}, {"delta", true}};
}
json tool_use(const std::string& id, const std::string& name, const json& params) {
  return {{"type", "tool_use"}, {"tool_name", name}, {"tool_id", id}, {"parameters", params}};
}
json tool_ok(const std::string& id, const json& output = nullptr) {
  json j = {{"type", "tool_result"}, {"tool_id", id}, {"status", "success"}};
  if (!output.is_null()) j["output"] = output;
  return j;
}
json tool_failed(const std::string& id, const std::string& type, const std::string& message) {
  return {{"type", "tool_result"},
          {"tool_id", id},
          {"status", "error"},
          {"output", message},
          {"error", {{"type", type}, {"message", message}}}};
}
json error_line(const std::string& severity, const std::string& message) {
  return {{"type", "error"}, {"severity", severity}, {"message", message}};
}
json stats(int64_t in = 100, int64_t out = 7, int64_t cached = 20) {
  const int64_t total = in + out + (in > 0 ? 3 : 0);  // thinking tokens count in the total only
  return {{"total_tokens", total},
          {"input_tokens", in},
          {"output_tokens", out},
          {"cached", cached},
          {"input", in - cached},
          {"duration_ms", 250},
          {"tool_calls", 0},
          {"models",
           {{"gemini-2.5-pro",
             {{"total_tokens", total},
              {"input_tokens", in},
              {"output_tokens", out},
              {"cached", cached},
              {"input", in - cached}}}}}};
}
json result_ok() {
  return {{"type", "result"}, {"status", "success"}, {"stats", stats()}};
}
json result_error(const std::string& type, const std::string& message) {
  return {{"type", "result"},
          {"status", "error"},
          {"error", {{"type", type}, {"message", message}}},
          {"stats", stats(0, 0, 0)}};
}

Transcript transcript(const std::string& name) { return load_transcript("gemini-cli", name); }


std::vector<std::string> strings(const json& array) {
  std::vector<std::string> out;
  for (const auto& v : array) out.push_back(v.get<std::string>());
  return out;
}

std::vector<std::string> with_prefix(const std::vector<std::string>& list, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& a : list) {
    if (a.rfind(prefix, 0) == 0) out.push_back(a.substr(prefix.size()));
  }
  return out;
}

class Gemini : public ::testing::Test {
 protected:
  AdapterHarness harness_{"gemini-cli"};

  json spec(const AdapterHarness::Options& options, const std::string& prompt = "Do the thing") {
    return harness_.start(AdapterHarness::dispatch(prompt), options).launch_spec();
  }
  std::vector<std::string> argv(const AdapterHarness::Options& options) { return strings(spec(options)["argv"]); }

  // The create() failure for these options, or "" when it succeeds.
  std::string refusal(const AdapterHarness::Options& options, const std::string& prompt = "Do the thing") {
    auto s = harness_.create(AdapterHarness::dispatch(prompt), options);
    return s ? std::string() : s.error().message;
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

  static AdapterHarness::Options config(const json& c) {
    AdapterHarness::Options o;
    o.config = c;
    return o;
  }
  static AdapterHarness::Options constraints(const json& c, const json& conf = json::object()) {
    AdapterHarness::Options o;
    o.constraints = c;
    o.config = conf;
    return o;
  }
};

// ---- Launch ------------------------------------------------------------------------------------

TEST_F(Gemini, ThePromptGoesOnStdinAndNeverIntoArgv) {
  const std::string prompt = std::string("-x starts with a dash\n--approval-mode=yolo\n") + '\0' + " and a NUL";
  const json s = spec(AdapterHarness::Options{}, prompt);
  EXPECT_EQ(strings(s["argv"]),
            (std::vector<std::string>{"gemini", "--output-format", "stream-json", "--skip-trust", "--approval-mode=yolo"}))
      << "headless Gemini CLI cannot ask: runhost's policies judge what it does (approvalPolicy auto)";
  EXPECT_EQ(s["stdin"], prompt) << "a piped stdin is the prompt when stdout is not a terminal";
  EXPECT_EQ(s["keep_stdin_open"], false) << "Gemini CLI reads stdin to its end before it starts";
}

TEST_F(Gemini, ThePromptAsTheRealCliEchoedItFromStdin) {
  // Recorded with the prompt on stdin exactly as the adapter sends it: the CLI's echo is the prompt.
  const Transcript t = transcript("prompt_on_stdin");
  const auto users = of_type(run(t.out), "message");
  ASSERT_GE(users.size(), 2u);
  EXPECT_EQ(users[1]["role"], "user");
  EXPECT_EQ(users[1]["text"], t.meta["stdin"]);
  EXPECT_EQ(std::find(t.meta["argv"].begin(), t.meta["argv"].end(), t.meta["stdin"]), t.meta["argv"].end());
}

TEST_F(Gemini, APromptOverEightMebibytesIsRefused) {
  EXPECT_NE(refusal({}, std::string((8u << 20) + 1, 'p')).find("8 MiB"), std::string::npos);
  EXPECT_EQ(refusal({}, std::string(8u << 20, 'p')), "");
}

TEST_F(Gemini, ConfigChoosesModelApprovalModeTrustAndExecutable) {
  const auto a = argv(config({{"model", "gemini-2.5-flash"},
                              {"approval_mode", "auto_edit"},
                              {"trust_workspace", false},
                              {"executable", "/opt/gemini/bin/gemini"},
                              {"args", {"--debug"}}}));
  EXPECT_EQ(a, (std::vector<std::string>{"/opt/gemini/bin/gemini", "--output-format", "stream-json", "--debug",
                                         "--approval-mode=auto_edit", "--model=gemini-2.5-flash"}));
}

TEST_F(Gemini, BadConfigIsRefusedNamingTheKey) {
  EXPECT_NE(refusal(config({{"approval_mode", "sometimes"}})).find("approval_mode"), std::string::npos);
  EXPECT_NE(refusal(config({{"model", "two words"}})).find("model"), std::string::npos);
  EXPECT_NE(refusal(config({{"trust_workspace", "yes"}})).find("trust_workspace"), std::string::npos);
}

TEST_F(Gemini, ResumeNamesTheSessionJoinedToItsOption) {
  AdapterHarness::Options o;
  o.resume_id = kSession;
  const auto a = argv(o);
  EXPECT_EQ(with_prefix(a, "--resume="), (std::vector<std::string>{kSession}));
}

TEST_F(Gemini, AResumeIdThatIsNotASessionIdIsRefused) {
  for (const std::string& id : std::vector<std::string>{"5", "--list-sessions", "a b", "../x", std::string(129, 'a')}) {
    AdapterHarness::Options o;
    o.resume_id = id;
    EXPECT_NE(refusal(o).find("resume id"), std::string::npos) << id;
  }
}

// ---- Constraints -------------------------------------------------------------------------------

TEST_F(Gemini, ReadOnlyIsPlanModeWhateverElseAsks) {
  const auto a = argv(
      constraints({{"read_only", true}, {"permission_mode", "yolo"}, {"tools", {{"allow", {"run_shell_command"}}}}},
                  {{"approval_mode", "yolo"}}));
  EXPECT_EQ(with_prefix(a, "--approval-mode="), (std::vector<std::string>{"plan"}));
  EXPECT_TRUE(with_prefix(a, "--allowed-tools=").empty()) << "plan mode would let an allowed tool write";
}

TEST_F(Gemini, ThePolicysPermissionModeBeatsTheOperators) {
  EXPECT_EQ(
      with_prefix(argv(constraints({{"permission_mode", "default"}}, {{"approval_mode", "yolo"}})), "--approval-mode="),
      (std::vector<std::string>{"default"}));
  EXPECT_NE(refusal(constraints({{"permission_mode", "acceptEdits"}})).find("permission_mode"), std::string::npos);
}

TEST_F(Gemini, AnAllowListTurnsYoloDownToDefaultAndNamesOnlyTheAllowedTools) {
  const auto a = argv(constraints(
      {{"tools", {{"allow", {"run_shell_command(git)", "write_file", "web_fetch"}}, {"deny", {"write_file"}}}},
       {"network", "none"}},
      {{"approval_mode", "yolo"}}));
  EXPECT_EQ(with_prefix(a, "--approval-mode="), (std::vector<std::string>{"default"}));
  EXPECT_EQ(with_prefix(a, "--allowed-tools="), (std::vector<std::string>{"run_shell_command(git)"}));
}

TEST_F(Gemini, ADenyListKeepsWhatYoloWouldAllowButTheDeniedTools) {
  const auto a = argv(constraints({{"tools", {{"deny", {"run_shell_command", "mcp_github_create_issue"}}}}},
                                  {{"approval_mode", "yolo"}}));
  EXPECT_EQ(with_prefix(a, "--approval-mode="), (std::vector<std::string>{"default"}));
  const auto allowed = with_prefix(a, "--allowed-tools=");
  EXPECT_EQ(std::count(allowed.begin(), allowed.end(), "run_shell_command"), 0);
  EXPECT_EQ(std::count(allowed.begin(), allowed.end(), "write_file"), 1);
  EXPECT_EQ(std::count(allowed.begin(), allowed.end(), "replace"), 1);
  EXPECT_EQ(std::count(allowed.begin(), allowed.end(), "web_fetch"), 1);
}

TEST_F(Gemini, NoNetworkTakesWebFetchAwayFromAutoEdit) {
  const auto a = argv(constraints({{"network", "loopback"}}, {{"approval_mode", "auto_edit"}}));
  EXPECT_EQ(with_prefix(a, "--approval-mode="), (std::vector<std::string>{"default"}));
  EXPECT_EQ(with_prefix(a, "--allowed-tools="), (std::vector<std::string>{"write_file", "replace"}));
}

TEST_F(Gemini, DefaultModeAlreadyLeavesOutEveryToolThatWouldAsk) {
  const auto a = argv(constraints({{"tools", {{"deny", {"run_shell_command"}}}}, {"network", "none"}}, {{"approval_mode", "default"}}));
  EXPECT_EQ(with_prefix(a, "--approval-mode="), (std::vector<std::string>{"default"}));
  EXPECT_TRUE(with_prefix(a, "--allowed-tools=").empty());
}

TEST_F(Gemini, WhatGeminiCliCannotBeMadeToRespectRefusesTheRun) {
  EXPECT_NE(refusal(constraints({{"tools", {{"deny", {"read_file"}}}}})).find("read_file"), std::string::npos);
  EXPECT_NE(refusal(constraints({{"tools", {{"deny", {"*"}}}}})).find("tools.deny"), std::string::npos);
  EXPECT_NE(refusal(constraints({{"max_turns", 5}})).find("max_turns"), std::string::npos);
  EXPECT_NE(refusal(constraints({{"max_budget_usd", 1.5}})).find("max_budget_usd"), std::string::npos);
  EXPECT_NE(refusal(constraints({{"tools", {{"allow", {"run_shell_command(git log, git status)"}}}}})).find("comma"),
            std::string::npos);
}

TEST_F(Gemini, DenyingPartOfAToolTakesTheWholeTool) {
  const auto a = argv(
      constraints({{"tools", {{"allow", {"run_shell_command", "write_file"}}, {"deny", {"run_shell_command(rm)"}}}}},
                  {{"approval_mode", "yolo"}}));
  EXPECT_EQ(with_prefix(a, "--allowed-tools="), (std::vector<std::string>{"write_file"}))
      << "Gemini CLI's flags can allow part of a tool but not deny part of one";
}

// ---- Mapping -----------------------------------------------------------------------------------

TEST_F(Gemini, FileEditsAreReportedRelativeToTheWorkDir) {
  // Recorded with absolute paths: in its own work dir, the two edits inside it are file changes;
  // the write outside it failed (and would not be reported anyway).
  const Transcript t = transcript("prompt_on_stdin");
  const auto files = of_type(run(t.out, exited(0), {}, "", t.meta["cwd"].get<std::string>()), "file.changed");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0],
            (json{{"path", "notes/hello.txt"}, {"change", "created"}, {"size_bytes", 3}, {"source_runtime", true}}));
  EXPECT_EQ(files[1], (json{{"path", "notes/hello.txt"}, {"change", "modified"}, {"source_runtime", true}}));
}

TEST_F(Gemini, AReplaceOfNothingCreatesAndPlanModeWritesAreNotWorkDirChanges) {
  const std::string out =
      line(init()) +
      line(tool_use("r1", "replace", {{"file_path", "new.md"}, {"old_string", ""}, {"new_string", "x"}})) +
      line(tool_ok("r1")) + line(tool_use("w1", "write_file", {{"file_path", "/elsewhere/a.txt"}, {"content", "x"}})) +
      line(tool_ok("w1")) + line(result_ok());
  const auto files = of_type(run(out, exited(0), {}, "", "/work/app"), "file.changed");
  ASSERT_EQ(files.size(), 1u) << "a path outside the work dir is the device watcher's to report";
  EXPECT_EQ(files[0]["change"], "created");
  EXPECT_EQ(files[0]["path"], "new.md");
  EXPECT_TRUE(
      of_type(run(out, exited(0), config({{"approval_mode", "plan"}}), "", "/work/app"), "file.changed").empty())
      << "plan mode resolves a relative path under its plans directory";
}

TEST_F(Gemini, AWriteCreatesUnlessThisRunAlreadyReadOrWroteTheFile) {
  // The stream never says which: a file the run has seen exists, any other is taken to be new.
  const std::string out =
      line(init()) + line(tool_use("r1", "read_file", {{"file_path", "/work/app/old.txt"}})) + line(tool_ok("r1", "")) +
      line(tool_use("w1", "write_file", {{"file_path", "old.txt"}, {"content", "x"}})) + line(tool_ok("w1")) +
      line(tool_use("w2", "write_file", {{"file_path", "./new.txt"}, {"content", "yy"}})) + line(tool_ok("w2")) +
      line(tool_use("w3", "write_file", {{"file_path", "/work/app/new.txt"}, {"content", "zzz"}})) +
      line(tool_ok("w3")) + line(tool_use("r2", "read_file", {{"file_path", "gone.txt"}})) +
      line(tool_failed("r2", "file_not_found", "File not found")) +
      line(tool_use("w4", "write_file", {{"file_path", "gone.txt"}, {"content", ""}})) + line(tool_ok("w4")) +
      line(result_ok());
  std::vector<json> changes;
  for (const auto& f : of_type(run(out, exited(0), {}, "", "/work/app"), "file.changed"))
    changes.push_back({f["path"], f["change"]});
  EXPECT_EQ(changes,
            (std::vector<json>{
                {"old.txt", "modified"}, {"new.txt", "created"}, {"new.txt", "modified"}, {"gone.txt", "created"}}));
}

TEST_F(Gemini, TheShellDisplaySaysTheExitCodeOnlyWhenTheCommandPrintedNothing) {
  const json cmd = {{"command", "x"}};
  const std::string out =
      line(init()) + line(tool_use("s1", "run_shell_command", cmd)) +
      line(tool_ok("s1", "Command exited with code: 3")) + line(tool_use("s2", "run_shell_command", cmd)) +
      line(tool_ok("s2", "")) + line(tool_use("s3", "run_shell_command", cmd)) + line(tool_ok("s3", "out\r\nerr\n")) +
      line(tool_use("s4", "run_shell_command", cmd)) + line(tool_ok("s4", "Command terminated by signal: SIGTERM")) +
      line(tool_use("s5", "run_shell_command", cmd)) +
      line(tool_failed("s5", "policy_violation", "Tool execution denied by policy.")) +
      line(tool_use("s6", "run_shell_command", cmd)) + line(tool_ok("s6")) + line(result_ok());
  const auto outputs = of_type(run(out), "command.output");
  ASSERT_EQ(outputs.size(), 4u);
  EXPECT_EQ(outputs[0], (json{{"stream", "stdout"}, {"text", ""}, {"tool_call_id", "s1"}, {"exit_code", 3}}));
  EXPECT_EQ(outputs[1], (json{{"stream", "stdout"}, {"text", ""}, {"tool_call_id", "s2"}, {"exit_code", 0}}))
      << "an empty display is only ever a command that printed nothing and exited 0";
  EXPECT_EQ(outputs[2], (json{{"stream", "stdout"}, {"text", "out"}, {"tool_call_id", "s3"}}));
  EXPECT_EQ(outputs[3], (json{{"stream", "stdout"}, {"text", "err"}, {"tool_call_id", "s3"}}));
}

TEST_F(Gemini, ToolResultsCarryTheCliErrorTypeAndAnUnknownIdStillCompletes) {
  const std::string out = line(init()) + line(tool_use("t1", "mcp_github_list", json::object())) +
                          line(tool_failed("t1", "policy_violation", "denied")) + line(tool_ok("never-started", "x")) +
                          line(result_ok());
  const auto events = run(out);
  const auto started = of_type(events, "tool.started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0]["kind"], "mcp");
  const auto done = of_type(events, "tool.completed");
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0], (json{{"tool_call_id", "t1"},
                           {"name", "mcp_github_list"},
                           {"status", "error"},
                           {"error", "denied"},
                           {"error_type", "policy_violation"}}));
  EXPECT_EQ(done[1], (json{{"tool_call_id", "never-started"}, {"status", "success"}, {"output", "x"}}));
}

TEST_F(Gemini, EveryRunOfAssistantPiecesIsOneMessageAndTheLastIsTheResult) {
  json whole = {{"type", "message"}, {"role", "assistant"}, {"content", "Whole."}};
  const std::string out = line(init()) + line(user("Hi")) + line(piece("A")) + line(piece("B")) +
                          line(tool_use("t1", "glob", {{"pattern", "*"}})) + line(tool_ok("t1", "Found 0 files")) +
                          line(whole) + line(piece("C")) +
                          line(error_line("warning", "Loop detected, stopping execution")) + line(piece("D")) +
                          line(piece("E")) + line(result_ok());
  const auto events = run(out);
  std::vector<json> texts;
  for (const auto& m : of_type(events, "message")) {
    if (m["role"] == "assistant") texts.push_back({m["text"], m.value("delta", false)});
  }
  EXPECT_EQ(texts,
            (std::vector<json>{{"A", false}, {"B", true}, {"Whole.", false}, {"C", false}, {"D", false}, {"E", true}}));
  EXPECT_EQ(events.back().type, "run.completed") << "a warning never ends the run";
  EXPECT_EQ(events.back().payload["result"], "DE");
  EXPECT_EQ(events.back().payload["duration_ms"], 250);
  EXPECT_EQ(events.back().payload["session_id"], kSession);
}

TEST_F(Gemini, ErrorLinesAreSystemMessagesWithTheirSeverity) {
  const auto events =
      run(line(init()) + line(error_line("warning", "Agent execution blocked: hook")) + line(result_ok()));
  const auto messages = of_type(events, "message");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1],
            (json{{"role", "system"}, {"text", "Agent execution blocked: hook"}, {"severity", "warning"}}));
}

TEST_F(Gemini, ALongReplyIsCutForTheResultOnly) {
  const std::string big((1u << 20) + 100, 'r');
  const auto events = run(line(init()) + line(piece(big)) + line(piece("tail")) + line(result_ok()));
  const auto messages = of_type(events, "message");
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[1]["text"], big) << "the message itself is whole";
  EXPECT_EQ(events.back().payload["result"].get<std::string>().size(), size_t{1} << 20);
  EXPECT_EQ(events.back().payload["result_truncated"], true);
}

TEST_F(Gemini, UsageIsPerModelAndNothingSpentIsNoUsage) {
  json two = result_ok();
  two["stats"]["models"]["gemini-2.5-flash"] = {
      {"total_tokens", 12}, {"input_tokens", 10}, {"output_tokens", 2}, {"cached", 0}, {"input", 10}};
  const auto usage = of_type(run(line(init()) + line(two)), "usage");
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage[0]["model"], "gemini-2.5-flash");  // in the order of stats.models
  EXPECT_EQ(usage[1], (json{{"source", "google"},
                            {"model", "gemini-2.5-pro"},
                            {"input_tokens", 100},
                            {"output_tokens", 7},
                            {"cached_input_tokens", 20},
                            {"total_tokens", 110}}));

  json totals = result_ok();
  totals["stats"].erase("models");
  const auto fallback = of_type(run(line(init("gemini-2.5-flash")) + line(totals)), "usage");
  ASSERT_EQ(fallback.size(), 1u);
  EXPECT_EQ(fallback[0]["model"], "gemini-2.5-flash") << "without per-model stats, the model init named";

  EXPECT_TRUE(of_type(run(line(init()) + line(result_error("unknown", "[API Error: x]"))), "usage").empty());
}

TEST_F(Gemini, AResultLineWithoutItsNewlineStillEndsTheRun) {
  std::string out = line(init()) + line(piece("Done.")) + line(result_ok());
  out.pop_back();
  AdapterSession s = harness_.start();
  s.feed_chunked(RH_STREAM_STDOUT, out, 3);
  const auto& events = s.finish(exited(0));
  EXPECT_EQ(events.back().type, "run.completed");
  EXPECT_EQ(events.back().payload["result"], "Done.");
}

// ---- Failures ----------------------------------------------------------------------------------

struct Failure {
  std::string code, cause;
  bool retryable;
};

Failure failure_of(const std::vector<RecordedEvent>& events) {
  EXPECT_EQ(events.back().type, "run.failed");
  const json& e = events.back().payload["error"];
  return {e["code"].get<std::string>(), e.value("cause", ""), e["retryable"].get<bool>()};
}

bool operator==(const Failure& a, const Failure& b) {
  return a.code == b.code && a.cause == b.cause && a.retryable == b.retryable;
}
std::ostream& operator<<(std::ostream& os, const Failure& f) {
  return os << f.code << "/" << f.cause << "/" << f.retryable;
}

TEST_F(Gemini, ResultErrorsAreTypedByTheirClassOrTheApiErrorTheyQuote) {
  const std::vector<std::tuple<std::string, std::string, int, Failure>> cases = {
      {"FatalTurnLimitedError",
       "Reached max session turns for this session.",
       53,
       {"turn_limit", "turn_limit", false}},
      {"FatalAuthenticationError",
       "Authentication consent could not be obtained.",
       41,
       {"auth_failed", "auth_failed", false}},
      {"FatalCancellationError", "Operation cancelled.", 130, {"cancelled", "runtime_cancelled", false}},
      {"FatalToolExecutionError",
       "Error executing tool write_file: No space left",
       54,
       {"runtime_error", "tool_failed", false}},
      {"no_space_left", "Error executing tool write_file: No space left", 54, {"runtime_error", "tool_failed", false}},
      {"FatalConfigError", "Invalid telemetry configuration.", 52, {"runtime_error", "config", false}},
      {"unknown",
       "[API Error: {\"error\":{\"code\":403,\"message\":\"denied\",\"status\":\"PERMISSION_DENIED\"}}]",
       147,
       {"auth_failed", "auth_failed", false}},
      {"unknown", "[API Error: quota (Status: RESOURCE_EXHAUSTED)]", 1, {"rate_limited", "rate_limited", true}},
      {"unknown",
       "[API Error: The input token count (2000000) exceeds the maximum number of tokens allowed (1048576). (Status: "
       "INVALID_ARGUMENT)]",
       1,
       {"context_limit", "context_limit", false}},
      {"unknown",
       "[API Error: overloaded]",
       247,
       {"model_unavailable", "model_unavailable", true}},  // the exit code is the HTTP status
      {"unknown", "[API Error: forbidden]", 147, {"auth_failed", "auth_failed", false}},
      {"unknown", "[API Error: something odd]", 1, {"model_api_error", "model_api_error", false}},
      {"SomethingElse", "it broke", 1, {"runtime_error", "runtime_error", false}},
  };
  for (const auto& [type, message, code, want] : cases) {
    const auto events = run(line(init()) + line(result_error(type, message)), exited(code));
    EXPECT_EQ(failure_of(events), want) << type << ": " << message;
    EXPECT_NE(events.back().payload["error"]["message"].get<std::string>().find(message), std::string::npos);
    EXPECT_EQ(events.back().payload["exit_code"], code);
    EXPECT_EQ(events.back().payload["session_id"], kSession);
  }
}

TEST_F(Gemini, AnErrorResultWithoutAnErrorTakesTheLastErrorLine) {
  json bare = {{"type", "result"}, {"status", "error"}, {"stats", stats(0, 0, 0)}};
  auto events = run(line(init()) + line(error_line("error", "Maximum session turns exceeded")) + line(bare));
  EXPECT_EQ(failure_of(events), (Failure{"turn_limit", "turn_limit", false}));
  events = run(line(init()) + line(error_line("error", "Model stream ended with an invalid chunk.")) +
               line(error_line("warning", "a later warning")) + line(bare));
  EXPECT_EQ(failure_of(events), (Failure{"model_api_error", "model_api_error", false}));
  EXPECT_EQ(events.back().payload["error"]["message"], "Gemini CLI: Model stream ended with an invalid chunk.");
}

TEST_F(Gemini, ExitCodesWithoutAResultLineAreTypedFailures) {
  const std::vector<std::tuple<int, std::string, Failure>> cases = {
      {41,
       "When using Gemini API, you must specify the GEMINI_API_KEY environment variable.",
       {"auth_failed", "auth_failed", false}},
      {42, "No input provided via stdin.", {"runtime_error", "invalid_input", false}},
      {42, "Error resuming session: Invalid session identifier \"x\".", {"session_not_found", "session_not_found", false}},
      {44, "Sandbox image not found", {"runtime_error", "sandbox", false}},
      {52, "Invalid configuration in settings.json", {"runtime_error", "config", false}},
      {53, "Reached max session turns", {"turn_limit", "turn_limit", false}},
      {54, "Error executing tool", {"runtime_error", "tool_failed", false}},
      {55, "Gemini CLI is not running in a trusted directory.", {"policy_denied", "runtime_policy", false}},
      {130, "Operation cancelled.", {"cancelled", "runtime_cancelled", false}},
      {3, "something else", {"runtime_error", "no_result", false}},
  };
  for (const auto& [code, err, want] : cases) {
    const std::string noise = "YOLO mode is enabled. All tool calls will be automatically approved.\n";
    const auto events = run("", exited(code), {}, noise + err + "\n    at somewhere (file.js:1:2)\n");
    EXPECT_EQ(failure_of(events), want) << code;
    EXPECT_NE(events.back().payload["error"]["message"].get<std::string>().find(err), std::string::npos)
        << code << ": the line that says why, not the banner before it nor the stack after it";
  }
}

TEST_F(Gemini, AStderrLineWithoutItsNewlineStillSaysWhy) {
  const auto events = run("", exited(42), {}, "Error resuming session: No previous sessions found for this project.");
  EXPECT_EQ(failure_of(events), (Failure{"session_not_found", "session_not_found", false}));
  EXPECT_TRUE(of_type(events, "command.output").empty()) << "the CLI's own log is no command's output";
  EXPECT_EQ(of_type(events, "message").back()["stream"], "stderr") << "and it is kept, once, as a system message";
}

TEST_F(Gemini, TheUntrustedFolderFailureSaysHowToTrustIt) {
  const Transcript t = transcript("untrusted_folder");
  const auto events = run(t.out, exited(t.meta["exit"]["code"].get<int>()), {}, t.err);
  EXPECT_EQ(failure_of(events), (Failure{"policy_denied", "runtime_policy", false}));
  EXPECT_NE(events.back().payload["error"]["recovery"]["hint"].get<std::string>().find("trust_workspace"),
            std::string::npos);
}

}  // namespace
}  // namespace runhost::testing
