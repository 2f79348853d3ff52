// The unified event schema (docs/events.schema.json as embedded in the build): a valid event of
// every type passes; each kind of mistake fails with a message naming the JSON pointer; the
// schema agrees with the C++ tables; docs/events.md documents everything and its example
// stream is valid; and validating an event is cheap.
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "events/event_types.hpp"
#include "events/schema.hpp"
#include "runhost/error.hpp"
#include "test_paths.hpp"

namespace runhost::events {
namespace {

using nlohmann::json;

// One valid payload of every type, each using every field its table lists.
const std::map<std::string, json>& examples() {
  static const std::map<std::string, json> all = {
      {"run.started",
       json::parse(R"({"cwd": "/work/app", "argv": ["claude", "-p", "hi"], "pid": 4242, "resume_id": "s-1"})")},
      {"message", json::parse(R"({"role": "assistant", "text": "Done.", "delta": false, "truncated": false})")},
      {"reasoning", json::parse(R"({"text": "First, list the files.", "delta": true})")},
      {"tool.started",
       json::parse(R"({"tool_call_id": "t1", "name": "Bash", "input": {"command": "ls"}, "kind": "command"})")},
      {"tool.completed",
       json::parse(
           R"({"tool_call_id": "t1", "name": "Bash", "status": "error", "output": ["a", 1], "error": "exit 2", "duration_ms": 12.5})")},
      {"command.output",
       json::parse(
           R"({"stream": "stderr", "text": "warning", "tool_call_id": "t1", "exit_code": 0, "truncated": true})")},
      {"file.changed",
       json::parse(
           R"({"path": "src/App.tsx", "change": "renamed", "from": "src/app.tsx", "size_bytes": 120, "source_runtime": true})")},
      {"preview.ready",
       json::parse(R"({"port": 5173, "url": "http://127.0.0.1:5173/", "address": "127.0.0.1", "pid": 77})")},
      {"artifact.created",
       json::parse(R"({"path": "dist/report.pdf", "size_bytes": 0, "content_type": "application/pdf",
                       "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})")},
      {"approval.required",
       json::parse(
           R"({"approval_id": "apr_1", "action": {"kind": "publish", "name": "deploy", "input": null}, "reason": "publishing is risky"})")},
      {"approval.resolved",
       json::parse(R"({"approval_id": "apr_1", "decision": "deny", "by": "user:u1", "reason": "not yet"})")},
      {"deployment.ready",
       json::parse(R"({"url": "https://app.example.com", "deployment_id": "dep_1", "version_id": "v3"})")},
      {"usage",
       json::parse(
           R"({"source": "anthropic", "input_tokens": 1200, "output_tokens": 300, "cached_input_tokens": 0, "cost_usd": 0.0123,
                       "model": "claude-sonnet"})")},
      {"run.completed",
       json::parse(R"({"exit_code": 0, "result": "Built the app.", "duration_ms": 8123, "session_id": "s-1"})")},
      {"run.failed",
       json::parse(
           R"({"error": {"code": "connector_authorization_missing", "message": "github is not connected", "request_id": null,
                       "retryable": false, "recovery": {"action": "connect_account", "connector": "github",
                       "connect_url": "https://example.com/connect/github"}}, "exit_code": 1, "signal": 9})")},
      {"run.cancelled", json::parse(R"({"reason": "cancelled", "by": "user:u1"})")},
      {"runtime.unparsed",
       json::parse(R"({"stream": "stdout", "line": "{oops", "reason": "not valid JSON", "truncated": false})")},
      {"policy.decision",
       json::parse(R"({"phase": "action", "effect": "ask", "policy": "risky-actions", "rule": "delete",
                       "reason": "policy 'risky-actions': deletes files: rm -rf build",
                       "action": {"kind": "command", "name": "Bash"}, "tool_call_id": "toolu_1", "approval_id": "apr_1",
                       "decisions": [{"policy": "deny-pattern", "effect": "allow"},
                                     {"policy": "risky-actions", "effect": "ask", "reason": "deletes files: rm -rf build",
                                      "rule": "delete"}]})")},
  };
  return all;
}

json envelope(const std::string& type, json payload) {
  return json{{"schema", "runhost.event/1"},
              {"id", "evt_01JD3QZ5Y8K2M4N6P8R0T2V4X6"},
              {"run_id", "run_01JD3QZ5Y8K2M4N6P8R0T2V4X7"},
              {"seq", 3},
              {"type", type},
              {"time", "2026-11-21T09:30:00.123456Z"},
              {"tenant_id", "t1"},
              {"workspace_id", "w1"},
              {"project_id", "p1"},
              {"user_id", "u1"},
              {"runtime", "claude-code"},
              {"device", {{"type", "sandbox"}, {"id", "sbx_1"}}},
              {"request_id", "req_1"},
              {"source", "runtime"},
              {"payload", std::move(payload)},
              {"raw", "{\"type\":\"assistant\"}"}};
}

std::string problem(const json& event) {
  auto st = validate_event(event);
  return st ? "" : st.error().message;
}

// The envelope of `type` with `edit` applied to it.
template <class Edit>
std::string problem_after(const std::string& type, Edit&& edit) {
  json e = envelope(type, examples().at(type));
  edit(e);
  return problem(e);
}

std::vector<std::string> table_codes() {
  std::vector<std::string> out;
#define RUNHOST_X(name, retryable, action) out.emplace_back(#name);
  RUNHOST_ERROR_CODES(RUNHOST_X)
#undef RUNHOST_X
  return out;
}

const json& schema_document() {
  static const json doc = json::parse(event_schema_text());
  return doc;
}

TEST(EventSchema, AcceptsAValidEventOfEveryType) {
  ASSERT_EQ(examples().size(), kEventTypes.size());
  for (auto type : kEventTypes) {
    const std::string t(type);
    ASSERT_TRUE(examples().count(t)) << t;
    EXPECT_EQ(problem(envelope(t, examples().at(t))), "") << t;
    EXPECT_TRUE(validate_payload(t, examples().at(t))) << t;
  }
}

TEST(EventSchema, AcceptsTheSmallestEnvelopeAndOpenPayloads) {
  json smallest = envelope("run.completed", json::object());
  for (const char* optional : {"project_id", "request_id", "raw"}) smallest.erase(optional);
  EXPECT_EQ(problem(smallest), "");
  smallest["request_id"] = nullptr;
  EXPECT_EQ(problem(smallest), "") << "request_id may be null";
  EXPECT_EQ(problem(envelope("message", json{{"role", "user"}, {"text", "hi"}, {"model", "x"}, {"parts", {1, 2}}})), "")
      << "payloads take fields the schema does not list";
  EXPECT_EQ(problem_after("run.failed", [](json& e) { e["payload"]["error"]["recovery"]["backoff"] = "linear"; }), "")
      << "recovery takes action-specific fields";
  EXPECT_EQ(problem_after("run.completed", [](json& e) { e["seq"] = 7.0; }), "") << "7.0 is an integer";
  EXPECT_EQ(problem_after("artifact.created", [](json& e) { e["payload"]["sha256"] = ""; }), "") << "too large to hash";
}

TEST(EventSchema, RejectsMissingRequiredFields) {
  EXPECT_EQ(problem_after("run.started", [](json& e) { e["payload"].erase("cwd"); }),
            "payload/cwd: required, but missing");
  EXPECT_EQ(problem_after("tool.completed", [](json& e) { e["payload"].erase("status"); }),
            "payload/status: required, but missing");
  EXPECT_EQ(problem_after("run.failed", [](json& e) { e["payload"]["error"].erase("retryable"); }),
            "payload/error/retryable: required, but missing");
  EXPECT_EQ(problem_after("run.failed", [](json& e) { e["payload"]["error"]["recovery"].erase("action"); }),
            "payload/error/recovery/action: required, but missing");
  EXPECT_EQ(problem_after("approval.required", [](json& e) { e["payload"]["action"].erase("kind"); }),
            "payload/action/kind: required, but missing");
  EXPECT_EQ(problem_after("message", [](json& e) { e.erase("tenant_id"); }), "tenant_id: required, but missing");
  EXPECT_EQ(problem_after("message", [](json& e) { e["device"].erase("id"); }), "device/id: required, but missing");
}

TEST(EventSchema, RejectsWrongTypes) {
  EXPECT_EQ(problem_after("message", [](json& e) { e["payload"]["text"] = 5; }),
            "payload/text: expected string, got integer");
  EXPECT_EQ(problem_after("run.started", [](json& e) { e["payload"]["argv"][1] = false; }),
            "payload/argv/1: expected string, got boolean");
  EXPECT_EQ(problem_after("usage", [](json& e) { e["payload"]["input_tokens"] = 1.5; }),
            "payload/input_tokens: expected integer, got number");
  EXPECT_EQ(problem_after("usage", [](json& e) { e["payload"]["cost_usd"] = -1; }),
            "payload/cost_usd: must be >= 0, got -1");
  EXPECT_EQ(problem_after("preview.ready", [](json& e) { e["payload"]["port"] = 70000; }),
            "payload/port: must be <= 65535, got 70000");
  EXPECT_EQ(problem_after("message", [](json& e) { e["payload"] = json::array(); }),
            "payload: expected object, got array");
  EXPECT_EQ(problem_after("message", [](json& e) { e["request_id"] = 5; }),
            "request_id: expected string or null, got integer");
  EXPECT_EQ(problem_after("message", [](json& e) { e["payload"]["role"] = "robot"; }),
            "payload/role: not one of assistant, user, system (got \"robot\")");
  EXPECT_EQ(problem_after("message", [](json& e) { e["device"]["type"] = "vm"; }),
            "device/type: not one of local, sandbox, computer (got \"vm\")");
  EXPECT_EQ(problem_after("message", [](json& e) { e["source"] = "plugin"; }),
            "source: not one of runtime, device, host, policy (got \"plugin\")");
  EXPECT_EQ(problem_after("message", [](json& e) { e["schema"] = "runhost.event/2"; }),
            "schema: must be \"runhost.event/1\", got \"runhost.event/2\"");
  EXPECT_EQ(problem_after("message", [](json& e) { e["type"] = "tool.exploded"; }).substr(0, 30),
            "type: not one of run.started, ");
}

TEST(EventSchema, RejectsAnUnknownFailureCode) {
  const auto message = problem_after("run.failed", [](json& e) { e["payload"]["error"]["code"] = "oops"; });
  EXPECT_EQ(
      message,
      "payload/error/code: not one of invalid_dispatch, runtime_not_found, runtime_crashed, runtime_error, timeout, "
      "cancelled, policy_denied, budget_exceeded, quota_exceeded, connector_authorization_missing, device_unavailable, "
      "device_lost, plugin_error, idempotency_conflict, internal, auth_failed, rate_limited, model_unavailable, "
      "model_api_error, turn_limit, context_limit, session_not_found, store_unavailable (got \"oops\")");
  EXPECT_NE(problem_after("run.failed", [](json& e) { e["payload"]["error"]["code"] = "run_not_found"; }), "")
      << "run_not_found answers a call naming a run, it is never a run's failure";
}

TEST(EventSchema, RejectsABadTime) {
  for (const char* bad :
       {"2026-11-21T09:30:00Z", "2026-11-21T09:30:00.123Z", "2026-11-21T09:30:00.123456+00:00",
        "2026-11-21 09:30:00.123456Z", "2026-13-21T09:30:00.123456Z", "2026-11-21T24:00:00.123456Z"}) {
    const auto message = problem_after("message", [&](json& e) { e["time"] = bad; });
    EXPECT_EQ(message.substr(0, 33), "time: does not match the pattern ") << bad << ": " << message;
  }
  EXPECT_EQ(problem_after("message", [](json& e) { e["time"] = 1732181400; }), "time: expected string, got integer");
}

TEST(EventSchema, RejectsSequenceNumbersBelowOne) {
  EXPECT_EQ(problem_after("message", [](json& e) { e["seq"] = 0; }), "seq: must be >= 1, got 0");
  EXPECT_EQ(problem_after("message", [](json& e) { e["seq"] = -3; }), "seq: must be >= 1, got -3");
  EXPECT_EQ(problem_after("message", [](json& e) { e["seq"] = 1.5; }), "seq: expected integer, got number");
}

TEST(EventSchema, RejectsAnAdditionalEnvelopeProperty) {
  EXPECT_EQ(problem_after("message", [](json& e) { e["extra"] = true; }), "extra: not allowed here (unknown property)");
  EXPECT_EQ(problem_after("message", [](json& e) { e["device"]["region"] = "eu"; }),
            "device/region: not allowed here (unknown property)");
}

TEST(EventSchema, RejectsIdsWithoutTheirPrefix) {
  EXPECT_EQ(problem_after("message", [](json& e) { e["id"] = "01JD3QZ5Y8K2M4N6P8R0T2V4X6"; }).substr(0, 31),
            "id: does not match the pattern ");
  EXPECT_EQ(problem_after("message", [](json& e) { e["run_id"] = "evt_01JD3QZ5Y8"; }).substr(0, 35),
            "run_id: does not match the pattern ");
}

TEST(EventSchema, FilePathsAreRelativeWithoutParentSegments) {
  for (const char* ok : {"a", "src/App.tsx", "a/..b/c", "b../c", ".hidden/x", "dir/"}) {
    EXPECT_EQ(problem_after("file.changed", [&](json& e) { e["payload"]["path"] = ok; }), "") << ok;
  }
  for (const char* bad : {"/etc/passwd", "..", "../x", "a/../b", "a/..", ""}) {
    EXPECT_NE(problem_after("file.changed", [&](json& e) { e["payload"]["path"] = bad; }).find("payload/path: "),
              std::string::npos)
        << bad;
  }
  EXPECT_NE(problem_after("file.changed", [](json& e) { e["payload"]["from"] = "../outside"; }).find("payload/from: "),
            std::string::npos);
}

TEST(EventSchema, ChecksUrlsHashesAndRecoveryFields) {
  EXPECT_NE(
      problem_after("preview.ready", [](json& e) { e["payload"]["url"] = "localhost 5173"; }).find("payload/url: "),
      std::string::npos);
  EXPECT_NE(problem_after("artifact.created", [](json& e) { e["payload"]["sha256"] = std::string(64, 'A'); })
                .find("payload/sha256: "),
            std::string::npos);
  EXPECT_EQ(problem_after("run.failed", [](json& e) { e["payload"]["error"]["recovery"].erase("connect_url"); }),
            "payload/error/recovery/connect_url: required, but missing")
      << "a missing connector always says where to connect it";
  EXPECT_EQ(problem_after("run.failed",
                          [](json& e) {
                            e["payload"]["error"]["code"] = "budget_exceeded";
                            e["payload"]["error"]["recovery"] = {{"action", "raise_budget"}};
                          }),
            "payload/error/recovery/usage_source: required, but missing")
      << "a budget stop names the usage source";
  EXPECT_EQ(
      problem_after("run.failed", [](json& e) { e["payload"]["error"]["recovery"]["action"] = "panic"; }).substr(0, 52),
      "payload/error/recovery/action: not one of retry, fix");
}

TEST(EventSchema, ValidatePayloadNamesPayloadPointers) {
  auto st =
      validate_payload("run.failed", json::parse(R"({"error": {"code": "nope", "message": "m", "retryable": true}})"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::internal);
  EXPECT_EQ(st.error().message.substr(0, 31), "payload/error/code: not one of ");
  st = validate_payload("tool.exploded", json::object());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "type: unknown event type 'tool.exploded'");
  st = validate_payload("command.output", json::array());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message, "payload: expected object, got array");
}

TEST(EventSchema, FailureCodesEqualTheErrorTableWithoutRunNotFound) {
  std::vector<std::string> expected;
  for (const auto& code : table_codes()) {
    if (code != "run_not_found") expected.push_back(code);
  }
  ASSERT_EQ(expected.size(), table_codes().size() - 1) << "the table has run_not_found";
  const auto& codes = schema_document()["$defs"]["error"]["properties"]["code"]["enum"];
  EXPECT_EQ(codes.get<std::vector<std::string>>(), expected);
  // And every one of them is accepted, by name, through to_string().
  for (const auto& code : expected) {
    ASSERT_TRUE(error_code_from_string(code)) << code;
    EXPECT_EQ(problem_after("run.failed",
                            [&](json& e) {
                              e["payload"]["error"]["code"] = std::string(to_string(*error_code_from_string(code)));
                            }),
              "")
        << code;
  }
}

TEST(EventSchema, TypesEqualTheEventTypeTable) {
  const auto& types = schema_document()["properties"]["type"]["enum"];
  EXPECT_EQ(types.get<std::vector<std::string>>(), std::vector<std::string>(kEventTypes.begin(), kEventTypes.end()));
  for (auto t : kEventTypes) EXPECT_TRUE(event_schema().has("/$defs/" + std::string(t))) << t;
  EXPECT_EQ(schema_document()["allOf"].size(), kEventTypes.size()) << "one if/then per type";
}

TEST(EventSchema, TheBuildEmbedsTheCurrentSchemaFile) {
  EXPECT_EQ(std::string(event_schema_text()), testing::read_file(testing::kSourceDir / "docs/events.schema.json"))
      << "reconfigure the build: docs/events.schema.json changed since it was embedded";
  EXPECT_EQ(schema_document()["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

// ---- docs/events.md -------------------------------------------------------------------------

std::string events_md() {
  return testing::read_file(testing::kSourceDir / "docs/events.md");
}

TEST(EventDocs, DocumentEveryTypeAndEveryFailureCode) {
  const auto md = events_md();
  for (auto t : kEventTypes) {
    EXPECT_NE(md.find("### `" + std::string(t) + "`"), std::string::npos) << "no section for " << t;
  }
  for (const auto& code : table_codes()) {
    if (code == "run_not_found") continue;
    EXPECT_NE(md.find("| `" + code + "` |"), std::string::npos) << "no row for " << code;
  }
}

TEST(EventDocs, TheExampleStreamIsValidAndOrdered) {
  const auto md = events_md();
  const auto begin = md.find("```jsonl\n");
  ASSERT_NE(begin, std::string::npos) << "docs/events.md has no ```jsonl example stream";
  const auto end = md.find("```", begin + 9);
  std::istringstream lines(md.substr(begin + 9, end - begin - 9));
  std::vector<json> stream;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    stream.push_back(json::parse(line));
    EXPECT_EQ(problem(stream.back()), "") << line;
  }
  ASSERT_GE(stream.size(), 8u);
  std::set<std::string> ids;
  for (size_t i = 0; i < stream.size(); ++i) {
    EXPECT_EQ(stream[i]["seq"], i + 1) << "seq is 1, 2, 3... without gaps";
    EXPECT_EQ(stream[i]["run_id"], stream[0]["run_id"]);
    EXPECT_TRUE(ids.insert(stream[i]["id"].get<std::string>()).second) << "ids are unique";
    EXPECT_EQ(is_terminal_event_type(stream[i]["type"].get<std::string>()), i + 1 == stream.size())
        << "exactly one terminal event, last";
  }
  EXPECT_EQ(stream.front()["type"], "run.started");
}

// ---- Cost -----------------------------------------------------------------------------------

TEST(EventSchema, ValidatingATypicalEventIsCheap) {
  const json event = envelope("command.output", json{{"stream", "stdout"}, {"text", "compiling src/App.tsx"}});
  const json payload = event["payload"];
  ASSERT_TRUE(validate_event(event));
  constexpr int kRounds = 20000;
  auto time = [&](auto&& call) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRounds; ++i) {
      if (!call()) return -1.0;
    }
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kRounds;
  };
  const double envelope_ns = time([&] { return static_cast<bool>(validate_event(event)); });
  const double payload_ns = time([&] { return static_cast<bool>(validate_payload("command.output", payload)); });
  std::printf("validate_event: %.0f ns per event; validate_payload: %.0f ns per payload\n", envelope_ns, payload_ns);
  RecordProperty("validate_event_ns", static_cast<int>(envelope_ns));
  RecordProperty("validate_payload_ns", static_cast<int>(payload_ns));
  EXPECT_GT(envelope_ns, 0);
  EXPECT_LT(envelope_ns, 1e6) << "even an unoptimised sanitizer build validates a thousand events a second";
}

}  // namespace
}  // namespace runhost::events
