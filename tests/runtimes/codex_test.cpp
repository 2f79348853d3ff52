// The codex adapter beyond what every adapter does (bad_input_test.cpp) and its recorded
// transcripts (golden_test.cpp): the launch (prompt on stdin, resume, config, constraints as
// sandbox and tool flags), the typing of failures from codex's wording, file changes relative to
// the work dir, commands with their exit codes, MCP and web search calls, the to-do list, usage.
// Transcripts come from the real codex 0.169.0 (tests/fixtures/runtimes/codex/ and
// tests/runtimes/transcripts/codex/, record_codex.py); lines written here are cut down from the
// shapes those show, or from codex's exec_events.rs for items the model server cannot make
// codex print (todo_list, collab_tool_call, plan).
#include <gtest/gtest.h>

#include "adapter_harness.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;

constexpr const char* kThread = "01a1fde0-cd25-7631-a25e-5ed6e43282a9";

std::string line(const json& j) {
  return j.dump() + "\n";
}

json thread_started(const std::string& id = kThread) {
  return {{"type", "thread.started"}, {"thread_id", id}};
}
json turn_started() {
  return {{"type", "turn.started"}};
}
json turn_completed(int64_t in = 100, int64_t cached = 20, int64_t out = 7) {
  return {{"type", "turn.completed"},
          {"usage",
           {{"input_tokens", in},
            {"cached_input_tokens", cached},
            {"cache_write_input_tokens", 0},
            {"output_tokens", out},
            {"reasoning_output_tokens", 3}}}};
}
json turn_failed(const std::string& message) {
  return {{"type", "turn.failed"}, {"error", {{"message", message}}}};
}
json error_notice(const std::string& message) {
  return {{"type", "error"}, {"message", message}};
}
json item(const std::string& phase, const json& body) {
  return {{"type", "item." + phase}, {"item", body}};
}
json agent_message(const std::string& id, const std::string& text) {
  return {{"id", id}, {"type", "agent_message"}, {"text", text}};
}

Transcript transcript(const std::string& name) { return load_transcript("codex", name); }


std::vector<std::string> strings(const json& array) {
  std::vector<std::string> out;
  for (const auto& v : array) out.push_back(v.get<std::string>());
  return out;
}

bool has(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

class Codex : public ::testing::Test {
 protected:
  AdapterHarness harness_{"codex"};

  json spec(const AdapterHarness::Options& options, const std::string& prompt = "Do the thing") {
    return harness_.start(AdapterHarness::dispatch(prompt), options).launch_spec();
  }
  json spec() { return spec(AdapterHarness::Options{}); }
  std::vector<std::string> argv(const AdapterHarness::Options& options) { return strings(spec(options)["argv"]); }

  // The create() failure for these options, or "" when it succeeds.
  std::string refusal(const AdapterHarness::Options& options) {
    auto s = harness_.create(AdapterHarness::dispatch(), options);
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

  // A recorded transcript, as the host would have run it: in its work dir, with its exit.
  std::vector<RecordedEvent> replay(const std::string& name, const AdapterHarness::Options& options = {}) {
    const Transcript t = transcript(name);
    AdapterHarness::Options o = options;
    if (t.meta["argv"].size() > 3 && t.meta["argv"].back() == "-") {
      const auto args = strings(t.meta["argv"]);
      for (size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == "--" && i > 0 && args[i - 1] == "resume") o.resume_id = args[i + 1];
      }
    }
    return run(t.out, exited(t.meta["exit"]["code"].get<int>()), o, t.err, t.meta["cwd"].get<std::string>());
  }
};

// ---- Launch ------------------------------------------------------------------------------------

TEST_F(Codex, ThePromptGoesOnStdinAndArgvOnlyHoldsADash) {
  const std::string prompt = std::string("-x starts with a dash\n--sandbox danger-full-access\n") + '\0' + " and a NUL";
  const json s = spec(AdapterHarness::Options{}, prompt);
  EXPECT_EQ(strings(s["argv"]), (std::vector<std::string>{"codex", "exec", "--json", "--skip-git-repo-check",
                                                          "--sandbox=workspace-write", "-"}));
  EXPECT_EQ(s["stdin"], prompt) << "codex exec reads the prompt from stdin when its argument is \"-\"";
  EXPECT_EQ(s["keep_stdin_open"], false) << "codex reads stdin to its end before it starts";
}

TEST_F(Codex, ResumeNamesTheThreadAfterADoubleDash) {
  AdapterHarness::Options o;
  o.resume_id = kThread;
  const auto a = argv(o);
  ASSERT_GE(a.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(a.end() - 4, a.end()), (std::vector<std::string>{"resume", "--", kThread, "-"}));
  EXPECT_TRUE(has(a, "--sandbox=workspace-write"))
      << "exec's options stay before the subcommand, where codex applies them";
}

TEST_F(Codex, AResumeIdThatIsNotAThreadIdIsRefused) {
  for (const std::string id :
       {"--last", "my-thread-name", "01a1fde0-cd25-7631-a25e-5ed6e43282a", "01a1fde0cd257631a25e5ed6e43282a9xxxx"}) {
    AdapterHarness::Options o;
    o.resume_id = id;
    EXPECT_NE(refusal(o).find("UUID"), std::string::npos) << id;
  }
}

TEST_F(Codex, ConfigSetsModelSandboxAndExtraArgsBeforeTheFlagsConstraintsImply) {
  AdapterHarness::Options o;
  o.config = {{"model", "gpt-5.5"},
              {"sandbox", "danger-full-access"},
              {"skip_git_repo_check", false},
              {"args", {"-c", "model_reasoning_effort=\"high\""}},
              {"executable", "/opt/codex/bin/codex"}};
  o.constraints = {{"tools", {{"deny", {"web_search"}}}}};
  EXPECT_EQ(argv(o), (std::vector<std::string>{"/opt/codex/bin/codex", "exec", "--json", "-c",
                                               "model_reasoning_effort=\"high\"", "--sandbox=danger-full-access",
                                               "--model=gpt-5.5", "-c", "web_search=\"disabled\"", "-"}));
}

TEST_F(Codex, BadConfigValuesAreRefusedNamingTheKey) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"sandbox", "yolo"}}, "\"sandbox\""},
      {{{"model", "gpt 5"}}, "\"model\""},
      {{{"model", 5}}, "\"model\""},
      {{{"skip_git_repo_check", "yes"}}, "\"skip_git_repo_check\""},
      {{{"network_access", 1}}, "\"network_access\""},
      {{{"mcp_servers", {"notes", "bad name"}}}, "\"mcp_servers\""},
      {{{"mcp_servers", "notes"}}, "\"mcp_servers\""},
      {{{"max_turns", 3}}, "max_turns"},
      {{{"max_budget_usd", 1.5}}, "max_budget_usd"},
  };
  for (const auto& [config, key] : cases) {
    AdapterHarness::Options o;
    o.config = config;
    EXPECT_NE(refusal(o).find(key), std::string::npos) << config.dump() << ": " << refusal(o);
  }
}

TEST_F(Codex, ReadOnlyAndNetworkConstraintsNarrowTheSandbox) {
  AdapterHarness::Options o;
  o.config = {{"sandbox", "danger-full-access"}, {"network_access", true}};
  EXPECT_TRUE(has(argv(o), "--sandbox=danger-full-access"));
  o.constraints = {{"network", "none"}};
  auto a = argv(o);
  EXPECT_TRUE(has(a, "--sandbox=workspace-write")) << "full access would reach the network";
  EXPECT_TRUE(has(a, "web_search=\"disabled\""));
  EXPECT_TRUE(has(a, "sandbox_workspace_write.network_access=false")) << "the operator's network_access gives way";
  o.constraints = {{"network", "loopback"}, {"read_only", true}};
  a = argv(o);
  EXPECT_TRUE(has(a, "--sandbox=read-only"));
  EXPECT_FALSE(has(a, "--sandbox=workspace-write"));
  o.constraints = json::object();
  o.config = {{"network_access", true}};
  EXPECT_TRUE(has(argv(o), "sandbox_workspace_write.network_access=true"));
}

TEST_F(Codex, PermissionModeIsASandboxWordAndOnlyEverTightens) {
  AdapterHarness::Options o;
  o.constraints = {{"permission_mode", "read-only"}};
  EXPECT_TRUE(has(argv(o), "--sandbox=read-only"));
  o.config = {{"sandbox", "read-only"}};
  o.constraints = {{"permission_mode", "danger-full-access"}};
  EXPECT_TRUE(has(argv(o), "--sandbox=read-only")) << "the tightest of config and policy";
  o.constraints = {{"permission_mode", "acceptEdits"}};
  EXPECT_NE(refusal(o).find("permission_mode"), std::string::npos);
}

TEST_F(Codex, LimitsCodexCannotEnforceFailClosed) {
  AdapterHarness::Options o;
  o.constraints = {{"max_turns", 5}};
  EXPECT_NE(refusal(o).find("no turn limit"), std::string::npos);
  o.constraints = {{"max_budget_usd", 2.5}};
  EXPECT_NE(refusal(o).find("no spending limit"), std::string::npos);
}

TEST_F(Codex, DeniedToolsAreTurnedOffOrTheRunIsRefused) {
  AdapterHarness::Options o;
  o.constraints = {{"tools", {{"deny", {"exec_command", "Write", "Read(./secrets/**)", "Bash(git push:*)"}}}}};
  auto a = argv(o);
  EXPECT_TRUE(has(a, "--disable") && has(a, "shell_tool"));
  EXPECT_TRUE(has(a, "--sandbox=workspace-write")) << "a tool codex does not have needs nothing";
  EXPECT_EQ(a.size(), 8u) << "another runtime's rules are not codex tools";
  o.constraints = {{"tools", {{"deny", {"apply_patch"}}}}};
  EXPECT_TRUE(has(argv(o), "--sandbox=read-only")) << "codex cannot turn apply_patch off: nothing may be written";
  o.constraints = {{"tools", {{"deny", {"view_image"}}}}};
  EXPECT_NE(refusal(o).find("cannot be turned off"), std::string::npos);
  o.constraints = {{"tools", {{"deny", {"notes.lookup"}}}}};
  EXPECT_NE(refusal(o).find("mcp_servers"), std::string::npos)
      << "an undeclared server cannot be named to codex safely";
  o.config = {{"mcp_servers", {"github", "notes"}}};
  for (const std::string name : {"notes.lookup", "mcp__notes__lookup", "mcp__notes"}) {
    o.constraints = {{"tools", {{"deny", {name}}}}};
    a = argv(o);
    EXPECT_TRUE(has(a, "mcp_servers.notes.enabled=false")) << name;
    EXPECT_FALSE(has(a, "mcp_servers.github.enabled=false")) << name;
  }
}

TEST_F(Codex, AnAllowListTurnsOffWhateverItDoesNotName) {
  AdapterHarness::Options o;
  o.config = {{"mcp_servers", {"github", "notes"}}};
  o.constraints = {{"tools", {{"allow", {"exec_command", "notes.lookup"}}}}};
  auto a = argv(o);
  EXPECT_FALSE(has(a, "shell_tool"));
  EXPECT_TRUE(has(a, "--sandbox=read-only"));
  EXPECT_TRUE(has(a, "web_search=\"disabled\""));
  EXPECT_TRUE(has(a, "mcp_servers.github.enabled=false"));
  EXPECT_FALSE(has(a, "mcp_servers.notes.enabled=false"));
  o.constraints = {{"tools", {{"allow", json::array()}}}};
  a = argv(o);
  EXPECT_TRUE(has(a, "shell_tool"));
  EXPECT_TRUE(has(a, "--sandbox=read-only"));
  EXPECT_TRUE(has(a, "mcp_servers.notes.enabled=false"));
}

// ---- Mapping -----------------------------------------------------------------------------------

TEST_F(Codex, TheThreadIdIsTheSessionIdToResume) {
  const auto events = run(line(thread_started()) + line(turn_started()) +
                          line(item("completed", agent_message("item_0", "Hi."))) + line(turn_completed()));
  const auto messages = of_type(events, "message");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0]["role"], "system");
  EXPECT_EQ(messages[0]["session_id"], kThread);
  EXPECT_EQ(messages[1], (json{{"role", "assistant"}, {"text", "Hi."}}));
  EXPECT_EQ(events.back().type, "run.completed");
  EXPECT_EQ(events.back().payload["session_id"], kThread);
  EXPECT_EQ(events.back().payload["result"], "Hi.");
  EXPECT_EQ(events.back().payload["exit_code"], 0);
}

TEST_F(Codex, AResumedThreadSaysSoAndAnotherThreadIsFlagged) {
  const auto resumed = replay("resume");
  EXPECT_NE(of_type(resumed, "message")[0]["text"].get<std::string>().find("resumed"), std::string::npos);
  const json first = json::parse(split_lines(transcript("resume_first").out).front());
  EXPECT_EQ(resumed.back().payload["session_id"], first["thread_id"]) << "codex keeps the thread id on resume";
  EXPECT_EQ(resumed.back().payload["result"], "The word was kiwi.");
  AdapterHarness::Options o;
  o.resume_id = "00000000-1111-2222-3333-444444444444";
  const auto other = run(line(thread_started()) + line(turn_completed()), exited(0), o);
  EXPECT_NE(of_type(other, "message")[0]["text"].get<std::string>().find("new thread"), std::string::npos);
  EXPECT_EQ(other.back().payload["session_id"], kThread) << "the thread that ran is the one to resume next";
}

TEST_F(Codex, UsageComesFromTurnCompletedWithTheConfiguredModel) {
  AdapterHarness::Options o;
  o.config = {{"model", "gpt-5.5"}};
  auto usage = of_type(run(line(thread_started()) + line(turn_completed(22056, 100, 272)), exited(0), o), "usage");
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0], (json{{"source", "openai"},
                            {"input_tokens", 22056},
                            {"cached_input_tokens", 100},
                            {"output_tokens", 272},
                            {"model", "gpt-5.5"},
                            {"reasoning_output_tokens", 3},
                            {"cache_write_input_tokens", 0}}));
  o.config = {{"usage_source", "azure-openai"}};
  usage = of_type(run(line(turn_completed()), exited(0), o), "usage");
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0]["source"], "azure-openai");
  EXPECT_FALSE(usage[0].contains("model"));
}

TEST_F(Codex, ACommandIsOneToolCallWithItsOutputAndExitCode) {
  const auto events = replay("items_tour");
  const auto started = of_type(events, "tool.started");
  ASSERT_GE(started.size(), 1u);
  EXPECT_EQ(started[0], (json{{"tool_call_id", "item_2"},
                              {"name", "exec_command"},
                              {"kind", "command"},
                              {"input", {{"command", "/bin/bash -lc 'ls; echo oops >&2; exit 3'"}}}}));
  const auto output = of_type(events, "command.output");
  ASSERT_EQ(output.size(), 3u);
  EXPECT_EQ(output[0], (json{{"stream", "stdout"}, {"text", "README.md"}, {"tool_call_id", "item_2"}}));
  EXPECT_EQ(output[2], (json{{"stream", "stdout"}, {"text", "oops"}, {"tool_call_id", "item_2"}, {"exit_code", 3}}));
  const auto completed = of_type(events, "tool.completed");
  ASSERT_GE(completed.size(), 1u);
  EXPECT_EQ(completed[0]["tool_call_id"], "item_2");
  EXPECT_EQ(completed[0]["status"], "error");
  EXPECT_EQ(completed[0]["error"], "the command exited with code 3");
  EXPECT_EQ(completed[0]["output"], "README.md\nold.txt\noops\n");
}

TEST_F(Codex, CommandOutputLinesGoWithoutTheNativeLineWhichToolCompletedCarriesOnce) {
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "line " + std::to_string(i) + "\n";
  json cmd = {{"id", "item_1"}, {"type", "command_execution"}, {"command", "seq"}, {"aggregated_output", big},
              {"exit_code", 0}, {"status", "completed"}};
  const auto events = run(line(thread_started()) + line(item("completed", cmd)) + line(turn_completed()));
  size_t n = 0;
  for (const auto& e : events) {
    if (e.type != "command.output") continue;
    ++n;
    EXPECT_TRUE(e.raw.empty());
  }
  EXPECT_EQ(n, 20000u);
  for (const auto& e : events) {
    if (e.type == "tool.completed") {
      EXPECT_FALSE(e.raw.empty());
    }
  }
}

TEST_F(Codex, FileChangesArePathsRelativeToTheWorkDir) {
  const auto events = replay("items_tour");
  EXPECT_EQ(of_type(events, "file.changed"),
            (std::vector<json>{{{"path", "README.md"}, {"change", "modified"}, {"source_runtime", true}},
                               {{"path", "notes/new.txt"}, {"change", "created"}, {"source_runtime", true}},
                               {{"path", "old.txt"}, {"change", "deleted"}, {"source_runtime", true}}}));
  // One tool call around them: tool.started before, tool.completed after, one id.
  std::vector<std::string> order;
  for (const auto& e : events) {
    if (e.payload.value("tool_call_id", "") == "item_5" || e.type == "file.changed") order.push_back(e.type);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"tool.started", "file.changed", "file.changed", "file.changed",
                                             "tool.completed"}));
  const auto edit = of_type(replay("edit_file"), "file.changed");
  EXPECT_EQ(edit, (std::vector<json>{{{"path", "config.ini"}, {"change", "modified"}, {"source_runtime", true}}}));
  const auto write = of_type(replay("write_file"), "file.changed");
  EXPECT_EQ(write, (std::vector<json>{{{"path", "hello.txt"}, {"change", "created"}, {"source_runtime", true}}}));
}

TEST_F(Codex, AFileOutsideTheWorkDirIsLeftToTheDeviceButTheToolCallKeepsIt) {
  const auto events = replay("full_access");
  EXPECT_EQ(of_type(events, "file.changed"),
            (std::vector<json>{{{"path", "a.txt"}, {"change", "modified"}, {"source_runtime", true}}}))
      << "codex reports a move as an update of the old path";
  const auto completed = of_type(events, "tool.completed");
  ASSERT_EQ(completed.size(), 2u);
  EXPECT_EQ(completed[1]["output"][0]["path"], "/var/tmp/runhost-codex-transcripts/outside/full_access.txt");
  EXPECT_EQ(completed[1]["status"], "success");
  // Without a work dir every codex path is outside one: none is guessed.
  EXPECT_TRUE(of_type(run(transcript("items_tour").out), "file.changed").empty());
}

TEST_F(Codex, AFailedPatchChangesNoFile) {
  json change = {{"id", "item_3"},
                 {"type", "file_change"},
                 {"changes", {{{"path", "/w/a.txt"}, {"kind", "add"}}}},
                 {"status", "failed"}};
  const auto events =
      run(line(thread_started()) + line(item("completed", change)) + line(turn_completed()), exited(0), {}, "", "/w");
  EXPECT_TRUE(of_type(events, "file.changed").empty());
  const auto started = of_type(events, "tool.started");
  ASSERT_EQ(started.size(), 1u) << "a completed item never seen started still opens its call";
  EXPECT_EQ(started[0]["name"], "apply_patch");
  EXPECT_EQ(started[0]["kind"], "file");
  const auto completed = of_type(events, "tool.completed");
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0]["status"], "error");
  EXPECT_EQ(completed[0]["error"], "the patch was not applied");
}

TEST_F(Codex, McpCallsAreNamedServerDotToolWithTheirResultOrWhyTheyFailed) {
  const auto events = replay("mcp_tool");
  const auto started = of_type(events, "tool.started");
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(
      started[0],
      (json{{"tool_call_id", "item_1"}, {"name", "notes.lookup"}, {"kind", "mcp"}, {"input", {{"key", "shopping"}}}}));
  const auto completed = of_type(events, "tool.completed");
  ASSERT_EQ(completed.size(), 2u);
  EXPECT_EQ(completed[0]["status"], "success");
  EXPECT_EQ(completed[0]["output"]["content"][0]["text"], "note shopping: buy milk");
  EXPECT_EQ(completed[1]["status"], "error");
  EXPECT_EQ(completed[1]["error"], "no note named missing") << "the result's text says why when error is null";
  json failed = {{"id", "item_4"},
                 {"type", "mcp_tool_call"},
                 {"server", "gh"},
                 {"tool", "issue"},
                 {"arguments", nullptr},
                 {"result", nullptr},
                 {"error", {{"message", "server gh is not running"}}},
                 {"status", "failed"}};
  const auto c = of_type(run(line(item("completed", failed)) + line(turn_completed())), "tool.completed");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0]["error"], "server gh is not running");
}

TEST_F(Codex, AWebSearchIsOneToolCallDespiteItsTwoIds) {
  const auto events = replay("items_tour");
  std::vector<json> search;
  for (const auto& e : events) {
    if (e.payload.value("name", "") == "web_search") search.push_back(json{{"type", e.type}, {"payload", e.payload}});
  }
  ASSERT_EQ(search.size(), 2u);
  EXPECT_EQ(search[0]["type"], "tool.started");
  EXPECT_EQ(search[1]["type"], "tool.completed");
  EXPECT_EQ(search[0]["payload"]["tool_call_id"], search[1]["payload"]["tool_call_id"]);
  EXPECT_EQ(search[0]["payload"]["input"]["query"], "codex exec json output");
  EXPECT_EQ(search[1]["payload"]["status"], "success");
}

TEST_F(Codex, EachNewStateOfTheToDoListIsOnePlanCall) {
  auto todo = [](const std::string& phase, bool first_done) {
    return line(
        item(phase,
             {{"id", "item_7"},
              {"type", "todo_list"},
              {"items", {{{"text", "read"}, {"completed", first_done}}, {{"text", "write"}, {"completed", false}}}}}));
  };
  const auto events = run(line(thread_started()) + todo("started", false) + todo("updated", true) +
                          todo("completed", true) + line(turn_completed()));
  const auto started = of_type(events, "tool.started");
  ASSERT_EQ(started.size(), 2u) << "the completed item repeats the last state";
  EXPECT_EQ(started[0]["tool_call_id"], "item_7");
  EXPECT_EQ(started[1]["tool_call_id"], "item_7.1");
  EXPECT_EQ(started[1]["name"], "todo_list");
  EXPECT_EQ(started[1]["input"]["items"][0]["completed"], true);
  EXPECT_EQ(of_type(events, "tool.completed").size(), 2u);
}

TEST_F(Codex, TextItemsReasoningPlansWarningsAndAgentCalls) {
  json collab_started = {{"id", "item_5"},
                         {"type", "collab_tool_call"},
                         {"tool", "spawn_agent"},
                         {"sender_thread_id", kThread},
                         {"receiver_thread_ids", json::array()},
                         {"prompt", "check the tests"},
                         {"agents_states", json::object()},
                         {"status", "in_progress"}};
  json collab_done = collab_started;
  collab_done["status"] = "completed";
  collab_done["agents_states"] = {{"t2", {{"status", "completed"}, {"message", "ok"}}}};
  const auto events =
      run(line(thread_started()) + line(item("started", {{"id", "item_0"}, {"type", "reasoning"}, {"text", ""}})) +
          line(item("completed", {{"id", "item_0"}, {"type", "reasoning"}, {"text", "Think first."}})) +
          line(item("completed", {{"id", "item_1"}, {"type", "error"}, {"message", "config is deprecated"}})) +
          line(item("completed", {{"id", "item_2"}, {"type", "plan"}, {"text", "1. read 2. write"}})) +
          line(item("started", collab_started)) + line(item("completed", collab_done)) + line(turn_completed()));
  EXPECT_EQ(of_type(events, "reasoning"), (std::vector<json>{{{"text", "Think first."}}}));
  const auto messages = of_type(events, "message");
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[1], (json{{"role", "system"}, {"text", "config is deprecated"}}));
  EXPECT_EQ(messages[2], (json{{"role", "assistant"}, {"text", "1. read 2. write"}}));
  EXPECT_EQ(events.back().payload["result"], "1. read 2. write") << "a plan stands in for a missing agent message";
  const auto started = of_type(events, "tool.started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0]["name"], "spawn_agent");
  EXPECT_EQ(started[0]["input"]["prompt"], "check the tests");
  const auto completed = of_type(events, "tool.completed");
  ASSERT_EQ(completed.size(), 1u);
  EXPECT_EQ(completed[0]["output"]["t2"]["message"], "ok");
}

TEST_F(Codex, ErrorNoticesAreMessagesAndDoNotEndTheRun) {
  const auto events = run(line(thread_started()) + line(turn_started()) +
                          line(error_notice("Reconnecting... 1/5 (stream disconnected before completion: reset)")) +
                          line(item("completed", agent_message("item_0", "Back."))) + line(turn_completed()));
  EXPECT_EQ(events.back().type, "run.completed");
  EXPECT_EQ(of_type(events, "message")[1]["text"],
            "Reconnecting... 1/5 (stream disconnected before completion: reset)");
  EXPECT_EQ(of_type(events, "message")[1]["role"], "system");
}

// ---- Failures ----------------------------------------------------------------------------------

struct Typed {
  std::string scenario, code, cause;
  bool retryable;
};

TEST_F(Codex, RecordedFailuresAreTyped) {
  const std::vector<Typed> cases = {
      {"api_401", "auth_failed", "auth_failed", false},
      {"missing_api_key", "auth_failed", "auth_failed", false},
      {"api_500", "model_unavailable", "model_unavailable", true},
      {"http_500_then_429", "rate_limited", "rate_limited", true},
      {"api_quota", "budget_exceeded", "billing", false},
      {"api_usage_limit", "quota_exceeded", "usage_limit", false},
      {"api_unknown_model", "model_api_error", "model_request_rejected", false},
      {"context_window", "context_limit", "context_limit", false},
      {"resume_missing", "session_not_found", "session_not_found", false},
  };
  for (const auto& c : cases) {
    const auto events = replay(c.scenario);
    ASSERT_EQ(events.back().type, "run.failed") << c.scenario;
    const json& p = events.back().payload;
    EXPECT_EQ(p["error"]["code"], c.code) << c.scenario;
    EXPECT_EQ(p["error"]["cause"], c.cause) << c.scenario;
    EXPECT_EQ(p["error"]["retryable"], c.retryable) << c.scenario;
    EXPECT_EQ(p["exit_code"], 1) << c.scenario;
    EXPECT_EQ(p["error"]["message"].get<std::string>().rfind("Codex: ", 0), 0u) << c.scenario;
  }
  const auto limited = replay("http_500_then_429");
  EXPECT_EQ(limited.back().payload["api_status"], 429);
  EXPECT_EQ(limited.back().payload["error"]["recovery"]["action"], "request_quota");
  EXPECT_EQ(limited.back().payload["error"]["recovery"]["usage_source"], "openai");
  EXPECT_EQ(limited.back().payload["session_id"],
            json::parse(split_lines(transcript("http_500_then_429").out).front())["thread_id"]);
}

TEST_F(Codex, ErrorWordingCodexUsesIsTyped) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"exceeded retry limit, last status: 500 Internal Server Error, request id: r1", "model_unavailable"},
      {"exceeded retry limit, last status: 429 Too Many Requests", "rate_limited"},
      {"unexpected status 400 Bad Request: This model's maximum context length is 128000 tokens.", "context_limit"},
      {"unexpected status 404 Not Found: no such route", "model_request_rejected"},
      {"unexpected status 403 Forbidden: nope", "auth_failed"},
      {"unexpected status 500 Internal Server Error: authentication backend down", "model_unavailable"},
      {"stream disconnected before completion: connection reset", "model_unavailable"},
      {"Selected model is at capacity. Please try a different model.", "model_unavailable"},
      {"You've hit your usage limit. Try again at 3:00 PM.", "usage_limit"},
      {"Your workspace is out of credits. Add credits to continue.", "billing"},
      {"To use Codex with your ChatGPT plan, upgrade to Plus: https://chatgpt.com/explore/plus.", "billing"},
      {"Your access token could not be refreshed. Please log out and sign in again.", "auth_failed"},
      {"sandbox denied exec error, exit code: 1, stdout: , stderr: ", "runtime_policy"},
      {"Fatal error: the agent loop died", "runtime_error"},
      {"something nobody has seen before", "model_api_error"},
  };
  for (const auto& [message, cause] : cases) {
    const auto events = run(line(thread_started()) + line(turn_failed(message)), exited(1));
    ASSERT_EQ(events.back().type, "run.failed");
    EXPECT_EQ(events.back().payload["error"]["cause"], cause) << message;
    EXPECT_NE(events.back().payload["error"]["message"].get<std::string>().find(message), std::string::npos);
  }
}

TEST_F(Codex, AnErrorBeforeAnyTurnResultSaysWhyTheRunFailed) {
  // codex exited 1 after an error notice and no turn.failed.
  auto events =
      run(line(thread_started()) + line(error_notice("unexpected status 401 Unauthorized: bad key")), exited(1));
  EXPECT_EQ(events.back().payload["error"]["cause"], "auth_failed");
  EXPECT_EQ(events.back().payload["api_status"], 401);
  // A config codex cannot load: stderr only.
  events = run("", exited(1), {}, "Error loading config.toml: invalid transport\nin `mcp_servers.ghost`\n");
  EXPECT_EQ(events.back().payload["error"]["code"], "runtime_error");
  EXPECT_NE(
      events.back().payload["error"]["message"].get<std::string>().find("Error loading config.toml: invalid transport"),
      std::string::npos);
  // Exit 0 without a turn result is the kit's no_result, notice or not.
  events = run(line(thread_started()) + line(error_notice("Reconnecting... 1/1")), exited(0));
  EXPECT_EQ(events.back().payload["error"]["cause"], "no_result");
  // A turn result wins over any earlier error.
  events = run(line(thread_started()) + line(error_notice("Reconnecting... 1/1 (unexpected status 500)")) +
                   line(turn_completed()),
               exited(1));
  EXPECT_EQ(events.back().type, "run.completed");
  // And a signal is a crash, whatever was printed before.
  events = run(line(thread_started()) + line(error_notice("unexpected status 401 Unauthorized")), signaled(9));
  EXPECT_EQ(events.back().payload["error"]["code"], "runtime_crashed");
}

TEST_F(Codex, ATurnFailedLineCutOffAtTheEndStillCounts) {
  const std::string failed = turn_failed("exceeded retry limit, last status: 429 Too Many Requests").dump();
  json d = AdapterHarness::dispatch();
  AdapterSession s = harness_.start(d);
  s.feed(RH_STREAM_STDOUT, line(thread_started()) + failed);  // no newline: the process ended
  const auto& events = s.finish(exited(1));
  EXPECT_EQ(events.back().payload["error"]["cause"], "rate_limited");
}

TEST_F(Codex, SecretsFromTheConfigNeverLeaveInEvents) {
  AdapterHarness::Options o;
  o.config = {{"env", {{"OPENAI_API_KEY", "sk-live-0123456789abcdef"}}}};
  const auto events = run(
      line(thread_started()) + line(error_notice("bad key sk-live-0123456789abcdef")) +
          line(turn_failed("unexpected status 401 Unauthorized: Incorrect API key provided: sk-live-0123456789abcdef")),
      exited(1), o);
  for (const auto& e : events) {
    EXPECT_EQ(e.payload.dump().find("sk-live-0123456789abcdef"), std::string::npos) << e.type;
    EXPECT_EQ(e.raw.find("sk-live-0123456789abcdef"), std::string::npos) << e.type;
  }
  EXPECT_EQ(events.back().payload["error"]["cause"], "auth_failed");
}

}  // namespace
}  // namespace runhost::testing
