// MiosaClient::stream against the loopback script server: SSE framing across many small
// chunks, empty and failed streams, a dropped stream (frames before the drop delivered once),
// the idle timeout, backpressure, and cancelling or destroying from inside a callback.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "miosa_fixture.hpp"

namespace runhost::devices::sandbox {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ScriptedResponse;

struct Collected {
  std::vector<std::string> log;  // "open", "event", "end", in order
  std::vector<SseEvent> events;
  std::string opened_with;
  std::optional<MiosaResult<StreamEnd>> end;
  std::function<void(const SseEvent&)> on_event_extra;

  StreamCallbacks callbacks() {
    StreamCallbacks cb;
    cb.on_open = [this](std::string_view request_id) {
      log.push_back("open");
      opened_with = std::string(request_id);
    };
    cb.on_event = [this](const SseEvent& e) {
      log.push_back("event");
      events.push_back(e);
      if (on_event_extra) on_event_extra(e);
    };
    cb.on_end = [this](MiosaResult<StreamEnd> r) {
      log.push_back("end");
      end.emplace(std::move(r));
    };
    return cb;
  }
  std::vector<std::string> data() const {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.data);
    return out;
  }
};

// Cuts `text` into pieces of `size` bytes: frames and even line breaks end up split.
std::vector<std::string> pieces(const std::string& text, size_t size) {
  std::vector<std::string> out;
  for (size_t at = 0; at < text.size(); at += size) out.push_back(text.substr(at, size));
  return out;
}

class MiosaStreamTest : public MiosaFixture {
 protected:
  MiosaHandle open(Collected& c, const std::string& method, const std::string& path, StreamOptions options = {},
                   std::optional<json> body = std::nullopt) {
    MiosaHandle handle;
    reactor.on_reactor(
        [&] { handle = client->stream(method, path, std::move(body), std::move(options), c.callbacks()); });
    return handle;
  }
  void until_end(Collected& c) {
    reactor.run(nullptr, [&] { return c.end.has_value(); });
  }
};

TEST_F(MiosaStreamTest, ManySmallChunksMakeTheSameFramesInOrder) {
  std::string text;
  for (int i = 0; i < 30; ++i) {
    text +=
        "id: " + std::to_string(i) + "\r\nevent: stdout\r\ndata: {\"line\":\"line " + std::to_string(i) + "\"}\r\n\r\n";
    if (i % 7 == 0) text += ": keep-alive\r\n\r\n";
  }
  text += "event: exit\ndata: {\"exit_code\":0}\n\n";
  server.script("POST", api("/sandboxes/sbx_1/exec/stream"),
                ScriptedResponse::sse(pieces(text, 9), 1ms, {{"X-Request-Id", "req_stream"}}));
  Collected c;
  open(c, "POST", "/sandboxes/sbx_1/exec/stream", {}, json{{"command", "ls"}});
  until_end(c);
  ASSERT_TRUE(c.end->ok()) << c.end->failure().message;
  ASSERT_EQ(c.events.size(), 31u);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(c.events[i].type, "stdout");
    EXPECT_EQ(c.events[i].id, std::to_string(i));
    EXPECT_EQ(json::parse(c.events[i].data)["line"], "line " + std::to_string(i));
  }
  EXPECT_EQ(c.events[30].type, "exit");
  EXPECT_EQ(c.log.front(), "open");
  EXPECT_EQ(c.log.back(), "end");
  EXPECT_EQ(c.opened_with, "req_stream");
  EXPECT_TRUE((*c.end)->clean);
  EXPECT_EQ((*c.end)->status, 200);
  EXPECT_EQ((*c.end)->request_id, "req_stream");
  EXPECT_EQ((*c.end)->events, 31u);
}

TEST_F(MiosaStreamTest, SendsTheSseAcceptAndTheUsualHeaders) {
  server.script("POST", api("/sandboxes/sbx_1/exec/stream"), ScriptedResponse::sse({"data: x\n\n"}));
  Collected c;
  open(c, "POST", "/sandboxes/sbx_1/exec/stream", {}, json{{"command", "ls"}});
  until_end(c);
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("accept"), "text/event-stream, application/json;q=0.9");
  EXPECT_EQ(seen[0].header("authorization"), std::string("Bearer ") + kKey);
  EXPECT_EQ(seen[0].header("content-type"), "application/json");
  EXPECT_EQ(json::parse(seen[0].body), json({{"command", "ls"}}));
}

TEST_F(MiosaStreamTest, A204IsAnEmptyStream) {
  ScriptedResponse empty;
  empty.status = 204;
  server.script("GET", api("/sandboxes/sbx_1/events"), empty);
  Collected c;
  open(c, "GET", "/sandboxes/sbx_1/events");
  until_end(c);
  ASSERT_TRUE(c.end->ok()) << c.end->failure().message;
  EXPECT_TRUE(c.events.empty());
  EXPECT_EQ((*c.end)->status, 204);
}

TEST_F(MiosaStreamTest, AnErrorAnswerIsItsEnvelopeAndIsNeverRetried) {
  server.script(
      "GET", api("/sandboxes/sbx_1/readiness/stream"),
      ScriptedResponse::json(503, R"({"error":{"code":"RESTORE_TRANSIENT","message":"restoring","retryable":true}})",
                             {{"X-Request-Id", "req_503"}, {"Retry-After", "0"}}));
  Collected c;
  open(c, "GET", "/sandboxes/sbx_1/readiness/stream");
  until_end(c);
  ASSERT_FALSE(c.end->ok());
  const MiosaFailure& f = c.end->failure();
  EXPECT_EQ(f.status, 503);
  EXPECT_EQ(f.code, "RESTORE_TRANSIENT");
  EXPECT_EQ(f.message, "restoring");
  EXPECT_EQ(f.request_id, "req_503");
  EXPECT_EQ(f.path, "/sandboxes/sbx_1/readiness/stream");
  EXPECT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(c.log, std::vector<std::string>{"end"});  // never opened
}

TEST_F(MiosaStreamTest, AnErrorBodyIsReadAsJsonWhateverItsType) {
  ScriptedResponse text;
  text.status = 409;
  text.body = R"({"error":{"code":"SANDBOX_STARTING","message":"wait"}})";
  text.headers = {{"Content-Type", "text/plain"}};
  server.script("POST", api("/sandboxes/sbx_1/exec/stream"), text);
  Collected c;
  open(c, "POST", "/sandboxes/sbx_1/exec/stream", {}, json::object());
  until_end(c);
  ASSERT_FALSE(c.end->ok());
  EXPECT_EQ(c.end->failure().code, "SANDBOX_STARTING");
  EXPECT_TRUE(c.end->failure().retryable);
}

TEST_F(MiosaStreamTest, ADroppedStreamDeliversWhatCameBeforeOnceAndSaysItWasDropped) {
  ScriptedResponse dropping =
      ScriptedResponse::sse({"data: 1\n\n", "data: 2\n", "\n", "data: partial"}, 5ms, {{"X-Request-Id", "req_drop"}});
  dropping.ending = ScriptedResponse::Ending::drop;
  server.script("POST", api("/sandboxes/sbx_1/exec/stream"), dropping);
  Collected c;
  StreamOptions options;
  options.flush_at_eof = true;  // a drop is not an end: the unterminated frame is not flushed
  open(c, "POST", "/sandboxes/sbx_1/exec/stream", options, json::object());
  until_end(c);
  EXPECT_EQ(c.data(), (std::vector<std::string>{"1", "2"}));
  ASSERT_FALSE(c.end->ok());
  const MiosaFailure& f = c.end->failure();
  EXPECT_EQ(f.code, kStreamDropped);
  EXPECT_TRUE(f.retryable);
  EXPECT_EQ(f.details["reason"], "connection_lost");
  EXPECT_EQ(f.details["events_delivered"], 2);
  EXPECT_EQ(f.request_id, "req_drop");
  EXPECT_NE(f.curl_code, 0);
  EXPECT_EQ(c.end->error().code, ErrorCode::device_unavailable);
  EXPECT_EQ(server.requests().size(), 1u);  // never reopened by the client itself
}

TEST_F(MiosaStreamTest, ASilentStreamIsDroppedAfterTheIdleTimeout) {
  ScriptedResponse silent = ScriptedResponse::sse({"data: 1\n\n"});
  silent.ending = ScriptedResponse::Ending::hang;
  server.script("GET", api("/sandboxes/sbx_1/files/watch"), silent);
  Collected c;
  StreamOptions options;
  options.idle_timeout = 200ms;
  open(c, "GET", "/sandboxes/sbx_1/files/watch", options);
  until_end(c);
  EXPECT_EQ(c.data(), std::vector<std::string>{"1"});
  ASSERT_FALSE(c.end->ok());
  EXPECT_EQ(c.end->failure().code, kStreamDropped);
  EXPECT_EQ(c.end->failure().details["reason"], "idle_timeout");
  EXPECT_TRUE(server.wait_for_idle(5s));  // and the connection was closed
}

TEST_F(MiosaStreamTest, KeepAliveCommentsCountAsLife) {
  std::vector<std::string> chunks(8, ": keep-alive\n\n");
  chunks.push_back("data: done\n\n");
  server.script("GET", api("/sandboxes/sbx_1/events"), ScriptedResponse::sse(chunks, 40ms));
  Collected c;
  StreamOptions options;
  options.idle_timeout = 500ms;  // far longer than a gap, far shorter than the whole stream
  open(c, "GET", "/sandboxes/sbx_1/events", options);
  until_end(c);
  ASSERT_TRUE(c.end->ok()) << c.end->failure().message;
  EXPECT_EQ(c.data(), std::vector<std::string>{"done"});
}

TEST_F(MiosaStreamTest, AnUnterminatedLastFrameIsFlushedOnlyWhenAsked) {
  server.script("GET", api("/s"), ScriptedResponse::sse({"data: a\n\n", "data: tail"}));
  Collected flushed, kept;
  StreamOptions flush, no_flush;
  flush.flush_at_eof = true;
  no_flush.flush_at_eof = false;
  open(flushed, "GET", "/s", flush);
  until_end(flushed);
  open(kept, "GET", "/s", no_flush);
  until_end(kept);
  EXPECT_EQ(flushed.data(), (std::vector<std::string>{"a", "tail"}));
  EXPECT_EQ(kept.data(), std::vector<std::string>{"a"});
  EXPECT_TRUE(flushed.end->ok());
  EXPECT_TRUE(kept.end->ok());
}

TEST_F(MiosaStreamTest, CancelFromInsideOnEventStopsEverything) {
  ScriptedResponse many = ScriptedResponse::sse({"data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n"});
  many.ending = ScriptedResponse::Ending::hang;
  server.script("GET", api("/s"), many);
  Collected c;
  MiosaHandle handle;
  c.on_event_extra = [&](const SseEvent& e) {
    if (e.data == "2") handle.cancel();
  };
  handle = open(c, "GET", "/s");
  reactor.run(nullptr, [&] { return c.events.size() >= 2; });
  reactor.settle(100ms);
  EXPECT_EQ(c.data(), (std::vector<std::string>{"1", "2"}));
  EXPECT_FALSE(c.end.has_value());
  EXPECT_FALSE(handle.active());
  EXPECT_TRUE(server.wait_for_idle(5s));
}

TEST_F(MiosaStreamTest, PauseHoldsEventsBackAndResumeDeliversThemInOrder) {
  std::vector<std::string> chunks;
  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) {
    chunks.push_back("data: " + std::to_string(i) + "\n\n");
    expected.push_back(std::to_string(i));
  }
  server.script("GET", api("/s"), ScriptedResponse::sse(chunks, 5ms));
  Collected c;
  MiosaHandle handle;
  bool paused_once = false;
  c.on_event_extra = [&](const SseEvent&) {
    if (!paused_once) {
      paused_once = true;
      handle.pause();
    }
  };
  StreamOptions options;
  options.idle_timeout = 250ms;  // must not run while paused
  handle = open(c, "GET", "/s", options);
  reactor.run(nullptr, [&] { return !c.events.empty(); });
  reactor.settle(400ms);  // the server has sent everything; the client holds it back
  EXPECT_EQ(c.events.size(), 1u);
  EXPECT_FALSE(c.end.has_value());
  size_t during_resume = 0;
  reactor.on_reactor([&] {
    handle.resume();
    during_resume = c.events.size();
  });
  EXPECT_EQ(during_resume, 1u);  // nothing from within resume()
  until_end(c);
  ASSERT_TRUE(c.end->ok()) << c.end->failure().message;
  EXPECT_EQ(c.data(), expected);
}

TEST_F(MiosaStreamTest, PausingMidChunkKeepsTheRestOfThatChunk) {
  server.script("GET", api("/s"), ScriptedResponse::sse({"data: a\n\ndata: b\n\ndata: c\n\n"}));
  Collected c;
  MiosaHandle handle;
  c.on_event_extra = [&](const SseEvent& e) {
    if (e.data == "a") handle.pause();
  };
  handle = open(c, "GET", "/s");
  reactor.run(nullptr, [&] { return !c.events.empty(); });
  reactor.settle(100ms);
  EXPECT_EQ(c.data(), std::vector<std::string>{"a"});
  EXPECT_FALSE(c.end.has_value());  // the end waits behind the held frames
  reactor.on_reactor([&] { handle.resume(); });
  until_end(c);
  EXPECT_EQ(c.data(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(c.end->ok());
}

TEST_F(MiosaStreamTest, AFrameOverTheLimitEndsTheStream) {
  server.script("GET", api("/s"),
                ScriptedResponse::sse({"data: ok\n\n", "data: " + std::string(1000, 'x') + "\n\n", "data: never\n\n"}));
  Collected c;
  StreamOptions options;
  options.max_frame_bytes = 256;
  open(c, "GET", "/s", options);
  until_end(c);
  EXPECT_EQ(c.data(), std::vector<std::string>{"ok"});
  ASSERT_FALSE(c.end->ok());
  EXPECT_EQ(c.end->failure().code, kFrameTooLarge);
  EXPECT_FALSE(c.end->failure().retryable);
}

TEST_F(MiosaStreamTest, ARefusedConnectionIsNotADropAndIsNotRetried) {
  use(config_for("http://127.0.0.1:" + std::to_string(closed_port())));
  Collected c;
  open(c, "GET", "/s");
  until_end(c);
  ASSERT_FALSE(c.end->ok());
  EXPECT_EQ(c.end->failure().code, kConnectionFailed);
  EXPECT_EQ(c.end->failure().attempts, 1);
}

TEST_F(MiosaStreamTest, DestroyingTheClientFromOnEventIsSafe) {
  ScriptedResponse many = ScriptedResponse::sse({"data: 1\n\ndata: 2\n\ndata: 3\n\n"});
  many.ending = ScriptedResponse::Ending::hang;
  server.script("GET", api("/s"), many);
  Collected c;
  c.on_event_extra = [&](const SseEvent&) { client.reset(); };
  open(c, "GET", "/s");
  reactor.run(nullptr, [&] { return !client; });
  reactor.settle(100ms);
  EXPECT_EQ(c.events.size(), 1u);
  EXPECT_FALSE(c.end.has_value());
  EXPECT_TRUE(server.wait_for_idle(5s));
}

TEST_F(MiosaStreamTest, TheEndConvertsToTheHouseResultType) {
  server.script("GET", api("/s"), ScriptedResponse::sse({"data: 1\n\n"}));
  std::optional<Result<StreamEnd>> end;
  int events = 0;
  reactor.on_reactor([&] {
    client->stream(
        "GET", "/s", std::nullopt, {}, [&](const SseEvent&) { ++events; },
        [&](Result<StreamEnd> r) { end.emplace(std::move(r)); });
  });
  reactor.run(nullptr, [&] { return end.has_value(); });
  ASSERT_TRUE(end->ok());
  EXPECT_EQ((*end)->events, 1u);
  EXPECT_EQ(events, 1);
}

}  // namespace
}  // namespace runhost::devices::sandbox
