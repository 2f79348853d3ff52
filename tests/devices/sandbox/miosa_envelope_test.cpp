// MIOSA's error envelope read with the SDK's precedence (errors.py raise_for_status and its
// helpers), and what each failure becomes as a runhost Error.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "devices/sandbox/miosa_client.hpp"
#include "util/secrets.hpp"

namespace runhost::devices::sandbox {
namespace {

using nlohmann::json;

TEST(ErrorEnvelope, NestedErrorWinsOverTopLevelFields) {
  const auto f = failure_from_response(
      409, json::parse(R"({"error":{"code":"SANDBOX_STARTING","message":"still starting","details":{"phase":"boot"},
                                "retryable":true,"retry_after_ms":1500},
                      "code":"OTHER","message":"top","details":{"x":1}})"),
      "req_h");
  EXPECT_EQ(f.status, 409);
  EXPECT_EQ(f.code, "SANDBOX_STARTING");
  EXPECT_EQ(f.message, "still starting");
  EXPECT_EQ(f.details, json::parse(R"({"phase":"boot"})"));
  EXPECT_TRUE(f.retryable);
  EXPECT_EQ(f.retry_after_ms, 1500);
  EXPECT_EQ(f.request_id, "req_h");
}

TEST(ErrorEnvelope, FlatCodeAndMessage) {
  const auto f = failure_from_response(
      404,
      json::parse(R"({"code":"NOT_FOUND","message":"no such sandbox","details":{"id":"sbx_9"},"request_id":"req_b"})"),
      "");
  EXPECT_EQ(f.code, "NOT_FOUND");
  EXPECT_EQ(f.message, "no such sandbox");
  EXPECT_EQ(f.details, json::parse(R"({"id":"sbx_9"})"));
  EXPECT_EQ(f.request_id, "req_b");  // the body's, when the header has none
  EXPECT_FALSE(f.retryable);
}

TEST(ErrorEnvelope, TheHeadersRequestIdWinsOverTheBodys) {
  const auto f = failure_from_response(500, json::parse(R"({"request_id":"req_body"})"), "req_header");
  EXPECT_EQ(f.request_id, "req_header");
}

TEST(ErrorEnvelope, UpperSnakeErrorStringIsTheCodeAndDetailTheMessage) {
  const auto f = failure_from_response(
      403, json::parse(R"({"error":"EGRESS_HOST_NOT_ALLOWED","detail":"blocked","reason":"policy"})"), "");
  EXPECT_EQ(f.code, "EGRESS_HOST_NOT_ALLOWED");
  EXPECT_EQ(f.message, "blocked");
  EXPECT_EQ(f.details, json::parse(R"({"detail":"blocked","reason":"policy"})"));
}

TEST(ErrorEnvelope, ALowerCaseErrorStringIsOnlyAMessage) {
  const auto f = failure_from_response(400, json::parse(R"({"error":"bad things happened"})"), "");
  EXPECT_EQ(f.code, "");
  EXPECT_EQ(f.message, "bad things happened");
  EXPECT_TRUE(f.details.is_null());
}

TEST(ErrorEnvelope, TopLevelCodeComesBeforeAnUpperSnakeError) {
  const auto f = failure_from_response(409, json::parse(R"({"code":"RESOURCE_STATE","error":"CONFLICT"})"), "");
  EXPECT_EQ(f.code, "RESOURCE_STATE");
  EXPECT_EQ(f.message, "CONFLICT");  // no message/detail/reason: the error string is the first string
}

TEST(ErrorEnvelope, MessageFallsBackThroughDetailReasonErrorsInOrder) {
  EXPECT_EQ(failure_from_response(422, json::parse(R"({"reason":"r","detail":"d"})"), "").message, "d");
  EXPECT_EQ(failure_from_response(422, json::parse(R"({"reason":"r"})"), "").message, "r");
  EXPECT_EQ(failure_from_response(422, json::parse(R"({"errors":["first","second"]})"), "").message, "first");
  EXPECT_EQ(failure_from_response(422, json::parse(R"({"errors":[]})"), "").message,
            "API request failed with status 422");
}

TEST(ErrorEnvelope, ATextBodyIsTheMessage) {
  const auto f = failure_from_response(502, json("Bad Gateway from the edge"), "req_t");
  EXPECT_EQ(f.code, "");
  EXPECT_EQ(f.message, "Bad Gateway from the edge");
  EXPECT_TRUE(f.details.is_null());
  EXPECT_EQ(f.request_id, "req_t");
}

TEST(ErrorEnvelope, AnEmptyBodyNamesTheStatus) {
  EXPECT_EQ(failure_from_response(503, json(""), "").message, "API request failed with status 503");
  EXPECT_EQ(failure_from_response(503, json(nullptr), "").message, "API request failed with status 503");
}

TEST(ErrorEnvelope, A429IsAlwaysRetryableAndReadsRetryAfterSeconds) {
  const auto f = failure_from_response(
      429, json::parse(R"({"error":{"code":"RATE_LIMITED","retry_after":2.5,"retryable":false}})"), "");
  EXPECT_TRUE(f.retryable);
  EXPECT_EQ(f.retry_after_ms, 2500);
  const auto g = failure_from_response(429, json::parse(R"({"retry_after":"1.25"})"), "");
  EXPECT_EQ(g.retry_after_ms, 1250);
  const auto h = failure_from_response(429, json::parse(R"({"retry_after_ms":700,"retry_after":9})"), "");
  EXPECT_EQ(h.retry_after_ms, 700);
}

TEST(ErrorEnvelope, RetryableComesFromTheBodyElseTheSdkClass) {
  EXPECT_TRUE(failure_from_response(503, json::parse(R"({"error":{"code":"RESTORE_TRANSIENT","retryable":true}})"), "")
                  .retryable);
  EXPECT_FALSE(failure_from_response(503, json::parse(R"({"error":{"code":"RESTORE_TRANSIENT"}})"), "").retryable);
  EXPECT_TRUE(failure_from_response(409, json::parse(R"({"error":{"code":"SANDBOX_STARTING"}})"), "").retryable);
  EXPECT_FALSE(failure_from_response(409, json::parse(R"({"error":{"code":"SANDBOX_STARTING","retryable":false}})"), "")
                   .retryable);
  // NoReadyMachineError: never retryable, whatever the body says.
  EXPECT_FALSE(failure_from_response(503, json::parse(R"({"error":{"code":"NO_READY_MACHINE","retryable":true}})"), "")
                   .retryable);
}

TEST(ErrorEnvelope, RetryAfterMsIgnoresBooleansAndTruncatesFloats) {
  EXPECT_EQ(failure_from_response(409, json::parse(R"({"retry_after_ms":true})"), "").retry_after_ms, 0);
  EXPECT_EQ(failure_from_response(409, json::parse(R"({"retry_after_ms":12.9})"), "").retry_after_ms, 12);
}

TEST(ErrorEnvelope, AnEchoedKeyIsRedacted) {
  util::secrets().add("msk_echoed_key_0101");
  const auto f = failure_from_response(
      401,
      json::parse(
          R"({"error":{"code":"UNAUTHORIZED","message":"bad key msk_echoed_key_0101","details":{"got":"msk_echoed_key_0101"}}})"),
      "");
  EXPECT_EQ(f.message.find("msk_echoed_key_0101"), std::string::npos);
  EXPECT_EQ(f.details.dump().find("msk_echoed_key_0101"), std::string::npos);
}

// --- to_error ---------------------------------------------------------------------------------

MiosaFailure failure(long status, std::string code, std::string request_id = "req_42") {
  MiosaFailure f;
  f.status = status;
  f.code = std::move(code);
  f.message = "what MIOSA said";
  f.request_id = std::move(request_id);
  f.method = "POST";
  f.path = "/sandboxes/sbx_1/resume";
  return f;
}

json recovery_of(const Error& e) {
  return json::parse(e.recovery_json);
}

TEST(MiosaFailureToError, NotFoundAsksForAnotherDevice) {
  const Error e = failure(404, "NOT_FOUND").to_error();
  EXPECT_EQ(e.code, ErrorCode::device_unavailable);
  const json r = recovery_of(e);
  EXPECT_EQ(r["action"], "configure_device");
  EXPECT_EQ(r["field"], "deviceId");
  EXPECT_EQ(r["request_id"], "req_42");
  EXPECT_EQ(r["device_code"], "NOT_FOUND");
}

TEST(MiosaFailureToError, BadCredentialsAskToCheckThem) {
  for (const long status : {401L, 403L}) {
    const Error e = failure(status, "").to_error();
    EXPECT_EQ(e.code, ErrorCode::device_unavailable);
    const json r = recovery_of(e);
    EXPECT_EQ(r["action"], "configure_device");
    EXPECT_NE(r["hint"].get<std::string>().find("MIOSA_API_KEY"), std::string::npos);
    EXPECT_FALSE(r.contains("device_code"));
  }
}

TEST(MiosaFailureToError, CreditsAreABudget) {
  for (const char* code : {"CREDIT_REQUIRED", "TEAM_MEMBER_CAP_REACHED"}) {
    const Error e = failure(402, code).to_error();
    EXPECT_EQ(e.code, ErrorCode::budget_exceeded);
    const json r = recovery_of(e);
    EXPECT_EQ(r["action"], "raise_budget");
    EXPECT_EQ(r["usage_source"], "miosa");
    EXPECT_EQ(r["device_code"], code);
  }
}

TEST(MiosaFailureToError, RateLimitsAreRetryLaterWithTheDelay) {
  MiosaFailure f = failure(429, "RATE_LIMITED");
  f.retry_after_ms = 2500;
  const Error e = f.to_error();
  EXPECT_EQ(e.code, ErrorCode::device_unavailable);
  EXPECT_TRUE(default_retryable(e.code));
  const json r = recovery_of(e);
  EXPECT_EQ(r["action"], "retry");
  EXPECT_EQ(r["retry_after_ms"], 2500);
}

TEST(MiosaFailureToError, StartingAndTransientRestoreAreRetry) {
  EXPECT_EQ(recovery_of(failure(409, "SANDBOX_STARTING").to_error())["action"], "retry");
  EXPECT_EQ(recovery_of(failure(503, "RESTORE_TRANSIENT").to_error())["action"], "retry");
  EXPECT_EQ(failure(503, "RESTORE_TRANSIENT").to_error().code, ErrorCode::device_unavailable);
}

TEST(MiosaFailureToError, AnIdempotencyConflictIsTheDispatchsToFixNotToRetry) {
  const Error e = failure(409, "IDEMPOTENCY_CONFLICT").to_error();
  EXPECT_EQ(e.code, ErrorCode::idempotency_conflict);
  EXPECT_FALSE(default_retryable(e.code));
  EXPECT_EQ(recovery_of(e)["action"], "fix_dispatch");
  EXPECT_EQ(recovery_of(e)["field"], "idempotencyKey");
  EXPECT_EQ(recovery_of(e)["device_code"], "IDEMPOTENCY_CONFLICT");
}

TEST(MiosaFailureToError, NoSnapshotMeansForkFromOne) {
  const Error e = failure(409, "NO_SNAPSHOT_AVAILABLE").to_error();
  EXPECT_EQ(e.code, ErrorCode::device_unavailable);
  EXPECT_EQ(recovery_of(e)["action"], "fork_from_snapshot");
}

TEST(MiosaFailureToError, ARequestMiosaRefusedIsOurs) {
  EXPECT_EQ(failure(422, "TIMEOUT_TOO_LONG").to_error().code, ErrorCode::internal);
  EXPECT_EQ(recovery_of(failure(400, "INVALID_PATH").to_error())["action"], "contact_support");
}

TEST(MiosaFailureToError, NetworkFailuresAreDeviceUnavailable) {
  MiosaFailure f = failure(0, std::string(kConnectionFailed), "");
  f.attempts = 4;
  const Error e = f.to_error();
  EXPECT_EQ(e.code, ErrorCode::device_unavailable);
  EXPECT_EQ(recovery_of(e)["action"], "retry");
  EXPECT_FALSE(recovery_of(e).contains("request_id"));
  EXPECT_NE(e.message.find("after 4 attempts"), std::string::npos) << e.message;
}

TEST(MiosaFailureToError, TheMessageNamesMethodPathCodeAndRequestId) {
  const Error e = failure(503, "RESTORE_TRANSIENT").to_error();
  for (const char* part :
       {"POST", "/sandboxes/sbx_1/resume", "503", "RESTORE_TRANSIENT", "req_42", "what MIOSA said"}) {
    EXPECT_NE(e.message.find(part), std::string::npos) << part << " in: " << e.message;
  }
}

TEST(MiosaFailureToError, EveryRecoveryActionIsOneTheEventSchemaKnows) {
  // docs/events.schema.json, $defs/recovery/action.
  const std::vector<std::string> known = {"retry",           "fix_dispatch",     "install_runtime",   "connect_account",
                                          "review_policy",   "raise_budget",     "request_quota",     "resume_device",
                                          "contact_support", "configure_device", "fork_from_snapshot"};
  for (const long status : {0L, 400L, 401L, 402L, 403L, 404L, 409L, 413L, 422L, 429L, 500L, 503L}) {
    for (const char* code : {"", "SANDBOX_STARTING", "NO_SNAPSHOT_AVAILABLE", "CREDIT_REQUIRED"}) {
      const std::string action = recovery_of(failure(status, code).to_error())["action"];
      EXPECT_NE(std::find(known.begin(), known.end(), action), known.end()) << status << " " << code << ": " << action;
    }
  }
}

}  // namespace
}  // namespace runhost::devices::sandbox
