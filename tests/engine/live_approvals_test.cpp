// Live approvals: a runtime that asks before it acts (the claude-code adapter, with a stand-in
// `claude` that speaks Claude Code's stdio permission protocol as recorded in
// tests/runtimes/transcripts/claude-code/control/) asks through the host. The bundled
// risky-actions policy gives approvalPolicy its meaning; what it asks about waits for a person
// (here: another Host on the same store, as another process would), and the answer reaches the
// runtime on its stdin. The stand-in runs each command only when allowed, and records every
// answer it got in answers.jsonl.
#include <fstream>
#include <thread>

#include "test_host.hpp"

namespace runhost::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kFakeClaude = R"PY(#!/usr/bin/env python3
import json, os, sys
sys.stdin.readline()  # the prompt: one user message
def out(o):
    print(json.dumps(o), flush=True)
out({"type": "system", "subtype": "init", "cwd": os.getcwd(), "session_id": "s-1", "tools": ["Bash"],
     "model": "m", "permissionMode": "default"})
for i, cmd in enumerate(json.loads(os.environ["FAKE_COMMANDS"])):
    tid = "toolu_%d" % i
    out({"type": "assistant", "message": {"id": "msg_%d" % i, "type": "message", "role": "assistant",
         "content": [{"type": "tool_use", "id": tid, "name": "Bash", "input": {"command": cmd}}]},
         "parent_tool_use_id": None, "session_id": "s-1"})
    out({"type": "control_request", "request_id": "req-%d" % i,
         "request": {"subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": cmd}, "tool_use_id": tid}})
    if os.environ.get("FAKE_EXIT_AFTER_ASK"):
        sys.exit(0)
    line = sys.stdin.readline()
    if not line:
        sys.exit(3)  # stdin closed while asking
    with open("answers.jsonl", "a") as f:
        f.write(line)
    response = json.loads(line)["response"]
    allowed = response["request_id"] == "req-%d" % i and response["response"]["behavior"] == "allow"
    if allowed:
        os.system(cmd)
    out({"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid,
         "content": "ok" if allowed else response["response"].get("message", ""), "is_error": not allowed}]},
         "parent_tool_use_id": None, "session_id": "s-1"})
out({"type": "result", "subtype": "success", "is_error": False, "duration_ms": 5, "num_turns": 1, "result": "done",
     "session_id": "s-1"})
sys.stdin.read()  # like the real CLI: it exits once stdin closes
)PY";

class LiveApprovals : public ::testing::Test {
 protected:
  // A host whose claude-code runs the stand-in with these commands.
  HostOptions options(const std::vector<std::string>& commands, const json& extra_env = json::object()) {
    const auto fake = bin_ / "claude";
    std::ofstream(fake) << kFakeClaude;
    std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
    json env{{"FAKE_COMMANDS", json(commands).dump()}};
    env.update(extra_env);
    HostOptions o;
    o.plugin_config["claude-code"] = json{{"executable", fake.string()}, {"env", env}}.dump();
    return o;
  }

  static json dispatch(const std::string& policy, const std::string& key) {
    json d = custom_dispatch({"unused"}, key);
    d.erase("command");
    d["runtime"] = "claude-code";
    d["prompt"] = "tidy up the build";
    d["approvalPolicy"] = policy;
    return d;
  }

  // The approval.required of `run_id` once it exists, seen through `host`.
  static json wait_for_ask(Host& host, const std::string& run_id, size_t nth = 0) {
    for (int i = 0; i < 1000; ++i) {
      size_t seen = 0;
      if (auto events = host.events(run_id, 0)) {
        for (const auto& e : *events) {
          if (e.type == "approval.required" && seen++ == nth) return json::parse(e.json)["payload"];
        }
      }
      std::this_thread::sleep_for(10ms);
    }
    return nullptr;
  }

  static std::vector<json> answers(const std::filesystem::path& work) {
    std::vector<json> out;
    std::ifstream in(work / "answers.jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line)["response"]);
    return out;
  }

  static std::vector<json> of_type(const Finished& f, const std::string& type) {
    std::vector<json> out;
    for (size_t i = 0; i < f.events.size(); ++i) {
      if (f.events[i].type == type) out.push_back(f.payload(i));
    }
    return out;
  }

  TempDir bin_;
};

// confirm-risky: what is not risky goes ahead without asking anyone; the risky command waits for
// a person, answered from another host on the store, and only then runs.
TEST_F(LiveApprovals, ARiskyCommandWaitsForAnAnswerFromAnotherProcessAndThenRuns) {
  TestHost host(options({"touch made.txt", "rm -rf build"}));
  std::filesystem::create_directories(host.workspace() / "build");
  HostOptions second;
  second.store = host.dir() / "runhost.db";
  TestHost other(second);
  auto d = host->dispatch(dispatch("confirm-risky", "live-allow").dump());
  ASSERT_TRUE(d) << d.error().message;
  const json ask = wait_for_ask(*other, d->run.id);
  ASSERT_TRUE(ask.is_object()) << "no approval.required";
  EXPECT_EQ(ask["request_id"], "req-1");
  EXPECT_EQ(ask["tool_call_id"], "toolu_1");
  EXPECT_EQ(ask["action"]["kind"], "command");
  EXPECT_EQ(ask["action"]["name"], "Bash");
  EXPECT_EQ(ask["action"]["summary"], "Bash: rm -rf build");
  EXPECT_EQ(ask["policy"], "risky-actions");
  EXPECT_EQ(ask["rule"], "delete");
  EXPECT_TRUE(std::filesystem::exists(host.workspace() / "made.txt")) << "the harmless command was not held up";
  EXPECT_TRUE(std::filesystem::exists(host.workspace() / "build")) << "nothing runs before the answer";
  auto pending = other->pending_approvals();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->size(), 1u);
  ASSERT_TRUE(other->answer_approval(d->run.id, ask["approval_id"].get<std::string>(), {true, "once", "go ahead", "ada"}));

  const auto f = host.follow(d->run.id);
  expect_valid_stream(f);
  ASSERT_EQ(f.events.back().type, "run.completed") << f.events.back().json;
  EXPECT_FALSE(std::filesystem::exists(host.workspace() / "build"));
  const auto got = answers(host.workspace());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["response"]["behavior"], "allow");
  EXPECT_EQ(got[1]["response"]["behavior"], "allow");
  // The first call: allowed by the policies themselves, recorded with every policy's answer.
  const auto decided = of_type(f, "policy.decision");
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0]["effect"], "allow");
  EXPECT_EQ(decided[0]["tool_call_id"], "toolu_0");
  EXPECT_GE(decided[0]["decisions"].size(), 2u) << "every policy's answer";
  // The second: tool.started (with what policy said), approval.required, approval.resolved, then
  // the call's completion.
  std::vector<std::string> order;
  for (const auto& e : f.events) {
    if (e.type == "tool.started" || e.type == "approval.required" || e.type == "approval.resolved" ||
        e.type == "tool.completed")
      order.push_back(e.type);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"tool.started", "tool.completed", "tool.started", "approval.required",
                                             "approval.resolved", "tool.completed"}));
  const auto resolved = of_type(f, "approval.resolved");
  EXPECT_EQ(resolved[0]["by"], "ada");
  EXPECT_EQ(resolved[0]["source"], "human");
  EXPECT_EQ(of_type(f, "tool.started")[1]["policy"]["effect"], "ask");
  EXPECT_TRUE(other->pending_approvals()->empty());
}

// A deny reaches the runtime with the reason; the command never runs and the run still ends.
TEST_F(LiveApprovals, ADenyIsToldToTheRuntimeAndTheRunGoesOn) {
  TestHost host(options({"rm -rf build"}));
  std::filesystem::create_directories(host.workspace() / "build");
  auto d = host->dispatch(dispatch("confirm-risky", "live-deny").dump());
  ASSERT_TRUE(d);
  const json ask = wait_for_ask(*host, d->run.id);
  ASSERT_TRUE(ask.is_object());
  ASSERT_TRUE(host->answer_approval(d->run.id, ask["approval_id"].get<std::string>(), {false, "once", "keep it", "bob"}));
  const auto f = host.follow(d->run.id);
  expect_valid_stream(f);
  EXPECT_EQ(f.events.back().type, "run.completed");
  EXPECT_TRUE(std::filesystem::exists(host.workspace() / "build"));
  const auto got = answers(host.workspace());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["response"]["behavior"], "deny");
  EXPECT_EQ(got[0]["response"]["message"], "denied by bob: keep it");
}

// An answer with scope "run" also answers the run's later requests of the same kind.
TEST_F(LiveApprovals, AnAnswerForTheRunCoversItsLaterRequestsOfTheSameKind) {
  TestHost host(options({"rm -rf a", "rm -rf b"}));
  std::filesystem::create_directories(host.workspace() / "a");
  std::filesystem::create_directories(host.workspace() / "b");
  auto d = host->dispatch(dispatch("confirm-risky", "live-scope").dump());
  ASSERT_TRUE(d);
  const json ask = wait_for_ask(*host, d->run.id);
  ASSERT_TRUE(ask.is_object());
  ASSERT_TRUE(host->answer_approval(d->run.id, ask["approval_id"].get<std::string>(), {true, "run", "", "ada"}));
  const auto f = host.follow(d->run.id);
  expect_valid_stream(f);
  EXPECT_EQ(f.events.back().type, "run.completed");
  EXPECT_FALSE(std::filesystem::exists(host.workspace() / "a"));
  EXPECT_FALSE(std::filesystem::exists(host.workspace() / "b"));
  EXPECT_EQ(of_type(f, "approval.required").size(), 1u) << "asked once";
  const auto decided = of_type(f, "policy.decision");
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0]["approval_id"], ask["approval_id"]) << "the standing answer is named";
  EXPECT_EQ(decided[0]["tool_call_id"], "toolu_1");
}

// auto: the agent acts without asking anyone; the policies still see every call.
TEST_F(LiveApprovals, UnderAutoNothingWaitsForAPerson) {
  TestHost host(options({"rm -rf build"}));
  std::filesystem::create_directories(host.workspace() / "build");
  const auto f = host.run(dispatch("auto", "live-auto"));
  expect_valid_stream(f);
  EXPECT_EQ(f.events.back().type, "run.completed") << f.events.back().json;
  EXPECT_TRUE(of_type(f, "approval.required").empty());
  EXPECT_FALSE(std::filesystem::exists(host.workspace() / "build"));
  ASSERT_EQ(of_type(f, "policy.decision").size(), 1u);
  EXPECT_EQ(of_type(f, "policy.decision")[0]["effect"], "allow");
}

// manual: every call that changes something asks; reading does not.
TEST_F(LiveApprovals, UnderManualEveryChangeAsksButReadingDoesNot) {
  TestHost host(options({"ls", "touch x.txt"}));
  auto d = host->dispatch(dispatch("manual", "live-manual").dump());
  ASSERT_TRUE(d);
  const json ask = wait_for_ask(*host, d->run.id);
  ASSERT_TRUE(ask.is_object());
  EXPECT_EQ(ask["action"]["summary"], "Bash: touch x.txt");
  EXPECT_EQ(ask["tool_call_id"], "toolu_1") << "ls went ahead without asking";
  ASSERT_TRUE(host->answer_approval(d->run.id, ask["approval_id"].get<std::string>(), {true, "once", "", ""}));
  const auto f = host.follow(d->run.id);
  EXPECT_EQ(f.events.back().type, "run.completed");
  EXPECT_TRUE(std::filesystem::exists(host.workspace() / "x.txt"));
}

// No answer by the deadline: the runtime is told no, the approval records why.
TEST_F(LiveApprovals, NoAnswerByTheDeadlineIsADenyToldToTheRuntime) {
  HostOptions o = options({"rm -rf build"});
  o.approval_timeout = std::chrono::seconds(1);
  TestHost host(o);
  std::filesystem::create_directories(host.workspace() / "build");
  const auto f = host.run(dispatch("confirm-risky", "live-deadline"));
  expect_valid_stream(f);
  EXPECT_EQ(f.events.back().type, "run.completed");
  const auto resolved = of_type(f, "approval.resolved");
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0]["source"], "deadline");
  EXPECT_EQ(answers(host.workspace()).at(0)["response"]["behavior"], "deny");
  EXPECT_TRUE(std::filesystem::exists(host.workspace() / "build"));
}

// A runtime that ends while it waits leaves nothing pending.
TEST_F(LiveApprovals, ARuntimeThatEndsWhileAskingLeavesNoApprovalPending) {
  TestHost host(options({"rm -rf build"}, json{{"FAKE_EXIT_AFTER_ASK", "1"}}));
  const auto f = host.run(dispatch("confirm-risky", "live-gone"));
  expect_valid_stream(f);
  const auto resolved = of_type(f, "approval.resolved");
  ASSERT_EQ(resolved.size(), 1u);
  EXPECT_EQ(resolved[0]["source"], "cancel");
  EXPECT_EQ(resolved[0]["decision"], "deny");
  EXPECT_TRUE(host->pending_approvals()->empty());
}

// A runtime that cannot ask is refused confirm-risky and manual at dispatch, never downgraded.
TEST_F(LiveApprovals, ARuntimeThatCannotAskIsRefusedAtDispatch) {
  TestHost host;
  for (const char* policy : {"confirm-risky", "manual"}) {
    for (const char* runtime : {"custom", "codex", "gemini-cli", "opencode"}) {
      json d = custom_dispatch({"true"}, std::string("refuse-") + policy + runtime);
      d["approvalPolicy"] = policy;
      d["runtime"] = runtime;
      if (std::string(runtime) != "custom") d.erase("command");
      const auto r = host->dispatch(d.dump());
      ASSERT_FALSE(r) << runtime << " " << policy;
      EXPECT_EQ(r.error().code, ErrorCode::invalid_dispatch);
      EXPECT_NE(r.error().message.find("cannot ask for approval while it runs"), std::string::npos) << r.error().message;
      const json recovery = json::parse(r.error().recovery_json);
      EXPECT_EQ(recovery["field"], "approvalPolicy");
      EXPECT_NE(recovery["hint"].get<std::string>().find("ACP"), std::string::npos);
    }
  }
  EXPECT_TRUE(host->runs({})->empty()) << "nothing was recorded";
}

}  // namespace
}  // namespace runhost::testing
