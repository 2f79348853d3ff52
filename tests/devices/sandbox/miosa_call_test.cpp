// MiosaClient::call against the loopback script server: the SDK's headers, its retry rules
// (which calls, which failures, which delays, the same Idempotency-Key), the envelope of the
// final failure, data unwrapping, and cancelling or destroying with calls in flight.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "miosa_fixture.hpp"

namespace runhost::devices::sandbox {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ScriptedResponse;

class MiosaCallTest : public MiosaFixture {};

ScriptedResponse status_json(int status, std::string body,
                             std::vector<std::pair<std::string, std::string>> headers = {}) {
  return ScriptedResponse::json(status, std::move(body), std::move(headers));
}

TEST_F(MiosaCallTest, SendsTheSdkHeadersOnEveryRequest) {
  MiosaConfig config = config_for(server.base_url());
  config.tenant = "acme";
  use(config);
  server.script("GET", api("/sandboxes/sbx_1"),
                status_json(200, R"({"data":{"id":"sbx_1","state":"running"}})", {{"x-request-id", "req_ok"}}));
  const auto r = call("GET", "/sandboxes/sbx_1");
  ASSERT_TRUE(r.ok()) << r.failure().message;
  const auto seen = server.requests("GET", api("/sandboxes/sbx_1"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("authorization"), std::string("Bearer ") + kKey);
  EXPECT_EQ(seen[0].header("accept"), "application/json");
  EXPECT_EQ(seen[0].header("user-agent").rfind("runhost/", 0), 0u) << seen[0].header("user-agent");
  EXPECT_GT(seen[0].header("user-agent").size(), std::string("runhost/").size());
  EXPECT_EQ(seen[0].header("x-miosa-tenant"), "acme");
  EXPECT_EQ(seen[0].header("content-type"), "");
  EXPECT_EQ(seen[0].header("idempotency-key"), "");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->request_id, "req_ok");
  EXPECT_EQ(r->data, json::parse(R"({"id":"sbx_1","state":"running"})"));
  EXPECT_EQ(r->attempts, 1);
}

TEST_F(MiosaCallTest, NoTenantHeaderWithoutATenant) {
  server.script("GET", api("/usage"), status_json(200, "{}"));
  ASSERT_TRUE(call("GET", "/usage").ok());
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].headers.count("x-miosa-tenant"), 0u);
}

TEST_F(MiosaCallTest, ABodyGoesAsJsonWithItsContentTypeAndTheIdempotencyKey) {
  server.script("POST", api("/sandboxes"), status_json(201, R"({"data":{"id":"sbx_new"}})"));
  const json body = {{"template_id", "miosa-sandbox"}, {"persistent", true}, {"name", "rh-ü"}};
  CallOptions options;
  options.idempotency_key = "idem-123";
  const auto r = call("POST", "/sandboxes", body, options);
  ASSERT_TRUE(r.ok()) << r.failure().message;
  EXPECT_EQ(r->data["id"], "sbx_new");
  const auto seen = server.requests("POST", api("/sandboxes"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("content-type"), "application/json");
  EXPECT_EQ(seen[0].header("idempotency-key"), "idem-123");
  EXPECT_EQ(json::parse(seen[0].body), body);
}

TEST_F(MiosaCallTest, QueryParametersArePercentEncodedInOrder) {
  server.script("GET", api("/sandboxes/sbx_1/files"), status_json(200, "[]"));
  CallOptions options;
  options.query = {{"path", "/workspace/a b&c"}, {"depth", "3"}};
  ASSERT_TRUE(call("GET", "/sandboxes/sbx_1/files", std::nullopt, options).ok());
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].query, "path=%2Fworkspace%2Fa%20b%26c&depth=3");
}

TEST_F(MiosaCallTest, DataIsUnwrappedOnlyFromAnObjectThatHasIt) {
  server.script("GET", api("/a"), status_json(200, R"({"data":{"id":1},"request_id":"req_body"})"));
  server.script("GET", api("/b"), status_json(200, R"({"id":2})", {{"X-Request-Id", "req_hdr"}}));
  server.script("GET", api("/c"), status_json(200, R"([1,2])"));
  server.script("GET", api("/d"), status_json(200, R"({"data":null})"));
  ScriptedResponse text;
  text.body = "plain words";
  text.headers = {{"Content-Type", "text/plain"}};
  server.script("GET", api("/e"), text);
  ScriptedResponse bytes;
  bytes.body = std::string("\x00\xff\x10raw", 6);
  bytes.headers = {{"Content-Type", "application/octet-stream"}};
  server.script("GET", api("/f"), bytes);
  ScriptedResponse not_json = status_json(200, "{oops");
  server.script("GET", api("/g"), not_json);

  const auto a = call("GET", "/a");
  EXPECT_EQ(a->data, json::parse(R"({"id":1})"));
  EXPECT_EQ(a->body, json::parse(R"({"data":{"id":1},"request_id":"req_body"})"));
  EXPECT_EQ(a->request_id, "req_body");
  const auto b = call("GET", "/b");
  EXPECT_EQ(b->data, json::parse(R"({"id":2})"));
  EXPECT_EQ(b->request_id, "req_hdr");
  EXPECT_EQ(call("GET", "/c")->data, json::parse("[1,2]"));
  EXPECT_TRUE(call("GET", "/d")->data.is_null());
  EXPECT_EQ(call("GET", "/e")->body, "plain words");
  const auto f = call("GET", "/f");
  EXPECT_TRUE(f->body.is_null());
  EXPECT_EQ(f->raw, std::string("\x00\xff\x10raw", 6));
  EXPECT_EQ(call("GET", "/g")->body, "{oops");  // JSON type that does not parse: the text, as the SDK
}

TEST_F(MiosaCallTest, ResultConvertsToTheHouseResultType) {
  server.script("GET", api("/x"), status_json(200, R"({"data":{"ok":true}})"));
  server.script("GET", api("/missing"), status_json(404, R"({"error":{"code":"NOT_FOUND","message":"gone"}})"));
  std::optional<Result<MiosaResponse>> ok, missing;
  reactor.run(
      [&] {
        client->call("GET", "/x", std::nullopt, {}, [&](Result<MiosaResponse> r) { ok.emplace(std::move(r)); });
        client->call("GET", "/missing", std::nullopt, {},
                     [&](Result<MiosaResponse> r) { missing.emplace(std::move(r)); });
      },
      [&] { return ok && missing; });
  ASSERT_TRUE(ok->ok());
  EXPECT_EQ((*ok)->data["ok"], true);
  ASSERT_FALSE(missing->ok());
  EXPECT_EQ(missing->error().code, ErrorCode::device_unavailable);
}

TEST_F(MiosaCallTest, A429IsRetriedAfterItsFractionalRetryAfter) {
  server.script("GET", api("/sandboxes/sbx_1"),
                {status_json(429, R"({"error":{"code":"RATE_LIMITED"}})", {{"Retry-After", "0.15"}}),
                 status_json(200, R"({"data":{"id":"sbx_1"}})")});
  const auto started = std::chrono::steady_clock::now();
  const auto r = call("GET", "/sandboxes/sbx_1");
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(r.ok()) << r.failure().message;
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(server.requests().size(), 2u);
  // The backoff alone is ~1 ms here: waiting at least 150 ms means Retry-After was read.
  EXPECT_GE(took, 150ms);
}

TEST_F(MiosaCallTest, A503IsRetriedWithBackoff) {
  server.script("GET", api("/x"), {status_json(503, "{}"), status_json(502, "{}"), status_json(200, R"({"data":1})")});
  const auto r = call("GET", "/x");
  ASSERT_TRUE(r.ok()) << r.failure().message;
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(r->data, 1);
  EXPECT_EQ(server.requests().size(), 3u);
}

TEST_F(MiosaCallTest, ARefusedConnectionIsRetriedThenReported) {
  use(config_for("http://127.0.0.1:" + std::to_string(closed_port())));
  const auto r = call("DELETE", "/sandboxes/sbx_1/processes/12");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure().code, kConnectionFailed);
  EXPECT_EQ(r.failure().curl_code, CURLE_COULDNT_CONNECT);
  EXPECT_EQ(r.failure().attempts, 4);  // max_retries 3
  EXPECT_TRUE(r.failure().retryable);
  const Error e = r.error();
  EXPECT_EQ(e.code, ErrorCode::device_unavailable);
  EXPECT_NE(e.message.find("DELETE /sandboxes/sbx_1/processes/12"), std::string::npos) << e.message;
}

TEST_F(MiosaCallTest, APostWithoutAnIdempotencyKeyIsNeverRetried) {
  server.script("POST", api("/sandboxes/sbx_1/exec"),
                status_json(503, R"({"error":{"code":"RESTORE_TRANSIENT"}})", {{"Retry-After", "0"}}));
  server.script("POST", api("/sandboxes/sbx_1/processes"), status_json(429, "{}", {{"Retry-After", "0"}}));
  const auto exec = call("POST", "/sandboxes/sbx_1/exec", json{{"command", "true"}});
  ASSERT_FALSE(exec.ok());
  EXPECT_EQ(exec.failure().status, 503);
  EXPECT_EQ(exec.failure().attempts, 1);
  const auto start = call("PATCH", "/sandboxes/sbx_1/processes", json{{"command", "true"}});
  const auto start_post = call("POST", "/sandboxes/sbx_1/processes", json{{"command", "true"}});
  EXPECT_EQ(start_post.failure().status, 429);
  EXPECT_EQ(server.requests("POST", api("/sandboxes/sbx_1/exec")).size(), 1u);
  EXPECT_EQ(server.requests("POST", api("/sandboxes/sbx_1/processes")).size(), 1u);
  EXPECT_EQ(server.requests("PATCH", api("/sandboxes/sbx_1/processes")).size(), 1u);
  EXPECT_FALSE(start.ok());
}

TEST_F(MiosaCallTest, APostWithAnIdempotencyKeyIsRetriedWithTheSameKeyAndBody) {
  server.script("POST", api("/sandboxes"),
                {status_json(503, "{}"), status_json(429, "{}", {{"Retry-After", "0"}}),
                 status_json(201, R"({"data":{"id":"sbx_once"}})")});
  CallOptions options;
  options.idempotency_key = "5c9b2f2e-5b8a-4d3e-9b1a-7f2c1d0e9a11";
  const json body = {{"template_id", "miosa-sandbox"}};
  const auto r = call("POST", "/sandboxes", body, options);
  ASSERT_TRUE(r.ok()) << r.failure().message;
  EXPECT_EQ(r->data["id"], "sbx_once");
  const auto seen = server.requests("POST", api("/sandboxes"));
  ASSERT_EQ(seen.size(), 3u);
  for (const auto& request : seen) {
    EXPECT_EQ(request.header("idempotency-key"), options.idempotency_key);
    EXPECT_EQ(json::parse(request.body), body);
  }
}

TEST_F(MiosaCallTest, ExhaustedRetriesBecomeATypedErrorThatNeverCarriesTheKey) {
  const std::string envelope =
      std::string(R"({"error":{"code":"RESTORE_TRANSIENT","message":"checkpoint in flight for )") + kKey +
      R"(","details":{"auth":"Bearer )" + kKey + R"("},"retryable":true}})";
  server.script("POST", api("/sandboxes/sbx_1/resume"), status_json(503, envelope, {{"X-Request-Id", "req_final"}}));
  CallOptions options;
  options.idempotency_key = "resume-key";
  const auto r = call("POST", "/sandboxes/sbx_1/resume", json::object(), options);
  ASSERT_FALSE(r.ok());
  const MiosaFailure& f = r.failure();
  EXPECT_EQ(server.requests().size(), 4u);
  EXPECT_EQ(f.attempts, 4);
  EXPECT_EQ(f.status, 503);
  EXPECT_EQ(f.code, "RESTORE_TRANSIENT");
  EXPECT_EQ(f.request_id, "req_final");
  EXPECT_TRUE(f.retryable);
  EXPECT_EQ(f.method, "POST");
  EXPECT_EQ(f.path, "/sandboxes/sbx_1/resume");
  const Error e = r.error();
  EXPECT_EQ(e.code, ErrorCode::device_unavailable);
  for (const char* part : {"POST", "/sandboxes/sbx_1/resume", "RESTORE_TRANSIENT", "req_final", "4 attempts"}) {
    EXPECT_NE(e.message.find(part), std::string::npos) << part << " in " << e.message;
  }
  const json recovery = json::parse(e.recovery_json);
  EXPECT_EQ(recovery["action"], "retry");
  EXPECT_EQ(recovery["request_id"], "req_final");
  EXPECT_EQ(recovery["device_code"], "RESTORE_TRANSIENT");
  for (const std::string& text : {e.message, e.recovery_json, f.message, f.details.dump(), f.code, f.request_id}) {
    EXPECT_EQ(text.find(kKey), std::string::npos) << text;
  }
}

TEST_F(MiosaCallTest, A429ThatNeverClearsIsRetryableWithItsDelay) {
  server.script("GET", api("/x"),
                status_json(429, R"({"error":{"code":"RATE_LIMITED","message":"slow down","retry_after_ms":1}})",
                            {{"Retry-After", "0.001"}}));
  const auto r = call("GET", "/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure().attempts, 4);
  EXPECT_TRUE(r.failure().retryable);
  EXPECT_EQ(r.failure().retry_after_ms, 1);
  const Error e = r.error();
  EXPECT_EQ(e.code, ErrorCode::device_unavailable);
  EXPECT_EQ(json::parse(e.recovery_json)["retry_after_ms"], 1);
}

TEST_F(MiosaCallTest, TheRetryAfterHeaderFillsInWhenTheBodyHasNoDelay) {
  server.script("GET", api("/x"), status_json(409, R"({"error":{"code":"SANDBOX_STARTING"}})", {{"Retry-After", "2"}}));
  const auto r = call("GET", "/x");  // 409 is not a retry status
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure().attempts, 1);
  EXPECT_EQ(r.failure().retry_after_ms, 2000);
  EXPECT_TRUE(r.failure().retryable);
}

TEST_F(MiosaCallTest, ATimeoutIsRetried) {
  MiosaConfig config = config_for(server.base_url());
  config.timeout = 150ms;
  config.max_retries = 1;
  use(config);
  ScriptedResponse slow = status_json(200, "{}");
  slow.delay = 3s;
  server.script("GET", api("/slow"), slow);
  const auto r = call("GET", "/slow");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure().code, kTimedOut);
  EXPECT_EQ(r.failure().attempts, 2);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(MiosaCallTest, AConnectionLostMidBodyIsNotRetried) {
  ScriptedResponse cut = status_json(200, R"({"data":{"id":"sbx_1","state":"running"}})");
  cut.ending = ScriptedResponse::Ending::drop;
  cut.drop_at = 10;
  server.script("GET", api("/sandboxes/sbx_1"), cut);
  const auto r = call("GET", "/sandboxes/sbx_1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure().code, kNetworkError);
  EXPECT_EQ(r.failure().curl_code, CURLE_PARTIAL_FILE);
  EXPECT_EQ(r.failure().attempts, 1);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(MiosaCallTest, NoAnswerAtAllIsNotRetriedEither) {
  ScriptedResponse nothing;
  nothing.ending = ScriptedResponse::Ending::no_answer;
  server.script("GET", api("/x"), nothing);
  const auto r = call("GET", "/x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.failure().curl_code, CURLE_GOT_NOTHING);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(MiosaCallTest, NotFoundAndCreditsMapToTheirErrors) {
  server.script("GET", api("/sandboxes/nope"),
                status_json(404, R"({"error":{"code":"NOT_FOUND","message":"Sandbox not found"}})",
                            {{"X-Request-Id", "req_404"}}));
  server.script("POST", api("/sandboxes"),
                status_json(402, R"({"error":{"code":"CREDIT_REQUIRED","message":"add credits"}})",
                            {{"X-Request-Id", "req_402"}}));
  const Error missing = call("GET", "/sandboxes/nope").error();
  EXPECT_EQ(missing.code, ErrorCode::device_unavailable);
  EXPECT_EQ(json::parse(missing.recovery_json)["request_id"], "req_404");
  const Error broke = call("POST", "/sandboxes", json::object()).error();
  EXPECT_EQ(broke.code, ErrorCode::budget_exceeded);
  EXPECT_EQ(json::parse(broke.recovery_json)["usage_source"], "miosa");
}

TEST_F(MiosaCallTest, ABodyThatIsNotUtf8FailsWithoutARequestAndNotFromWithinCall) {
  std::optional<MiosaResult<MiosaResponse>> out;
  bool returned_first = false;
  reactor.run(
      [&] {
        client->call("POST", "/x", json{{"name", std::string("\xff\xfe")}}, {},
                     [&](MiosaResult<MiosaResponse> r) { out.emplace(std::move(r)); });
        returned_first = !out.has_value();
      },
      [&] { return out.has_value(); });
  EXPECT_TRUE(returned_first);
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->failure().code, kInvalidRequest);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(MiosaCallTest, CancellingACallWaitingToRetryStopsIt) {
  server.script("GET", api("/x"), {status_json(503, "{}", {{"Retry-After", "1"}}), status_json(200, "{}")});
  bool called = false;
  MiosaHandle handle;
  reactor.run([&] { handle = client->call("GET", "/x", std::nullopt, {}, [&](auto) { called = true; }); },
              [&] { return server.requests().size() == 1; });
  reactor.settle(50ms);  // the 503 is in: the call now waits out its Retry-After
  EXPECT_TRUE(handle.active());
  reactor.on_reactor([&] { handle.cancel(); });
  EXPECT_FALSE(handle.active());
  reactor.settle(1200ms);  // past the Retry-After
  EXPECT_FALSE(called);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(MiosaCallTest, DestroyingTheClientWithEverythingInFlightCallsNothing) {
  ScriptedResponse slow = status_json(200, "{}");
  slow.delay = 2s;
  server.script("GET", api("/slow"), slow);
  server.script("GET", api("/retrying"), status_json(503, "{}", {{"Retry-After", "1"}}));
  ScriptedResponse held = ScriptedResponse::sse({"data: one\n\n"});
  held.ending = ScriptedResponse::Ending::hang;
  server.script("GET", api("/stream"), held);
  int callbacks = 0;
  int events = 0;
  reactor.run(
      [&] {
        client->call("GET", "/slow", std::nullopt, {}, [&](auto) { ++callbacks; });
        client->call("GET", "/retrying", std::nullopt, {}, [&](auto) { ++callbacks; });
        client->stream(
            "GET", "/stream", std::nullopt, {}, [&](const SseEvent&) { ++events; }, [&](auto) { ++callbacks; });
      },
      [&] { return server.requests().size() == 3 && events == 1; });
  reactor.on_reactor([&] { client.reset(); });
  reactor.settle(1200ms);  // past the Retry-After
  EXPECT_EQ(callbacks, 0);
  EXPECT_EQ(events, 1);
  EXPECT_EQ(server.requests().size(), 3u);  // the waiting retry never went out
  // The slow call's and the stream's connections are closed; the finished one may stay in
  // curl's connection cache, which belongs to the CurlMulti, not to the client.
  for (const char* path : {"/slow", "/stream"}) {
    const auto seen = server.requests("GET", api(path));
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_TRUE(server.wait_for_closed(seen[0].connection, 5s)) << path;
  }
}

TEST_F(MiosaCallTest, ACallbackMayDestroyTheClient) {
  server.script("GET", api("/fast"), status_json(200, "{}"));
  ScriptedResponse slow = status_json(200, "{}");
  slow.delay = 1s;
  server.script("GET", api("/slow"), slow);
  bool slow_called = false;
  reactor.run(
      [&] {
        client->call("GET", "/slow", std::nullopt, {}, [&](auto) { slow_called = true; });
        client->call("GET", "/fast", std::nullopt, {}, [&](auto) { client.reset(); });
      },
      [&] { return !client; });
  reactor.settle(100ms);
  EXPECT_FALSE(slow_called);
}

TEST_F(MiosaCallTest, RetryDelaysFollowTheSdk) {
  MiosaConfig config = config_for(server.base_url());
  config.retry_base_delay = 500ms;
  use(config);
  for (int i = 0; i < 50; ++i) {
    const auto first = client->retry_delay(0, std::nullopt);
    EXPECT_GE(first, 500ms);
    EXPECT_LE(first, 1000ms);
    const auto third = client->retry_delay(2, std::nullopt);
    EXPECT_GE(third, 2000ms);
    EXPECT_LE(third, 2500ms);
  }
  EXPECT_EQ(client->retry_delay(10, std::nullopt), 30s);
  EXPECT_EQ(client->retry_delay(0, 2.5), 2500ms);
  EXPECT_EQ(client->retry_delay(0, 100.0), 30s);
  EXPECT_EQ(client->retry_delay(0, INFINITY), 30s);
  for (const double ignored : {0.0, -1.0, static_cast<double>(NAN)}) {
    const auto d = client->retry_delay(0, ignored);
    EXPECT_GE(d, 500ms);
    EXPECT_LE(d, 1000ms);
  }
}

}  // namespace
}  // namespace runhost::devices::sandbox
