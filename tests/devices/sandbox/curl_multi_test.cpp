// CurlMulti on a real io_context against the loopback script server: delivery order, chunks,
// redirects, timeouts, pause/resume, and the re-entrancy rules (cancel from a callback, observers
// destroyed after on_done, the multi destroyed with requests in flight or from a callback).
#include "http/curl_multi.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/post.hpp>

#include "reactor.hpp"
#include "script_server.hpp"

namespace runhost::http {
namespace {

using namespace std::chrono_literals;
using testing::Reactor;
using testing::ScriptedResponse;
using testing::ScriptServer;

class Recorder final : public HttpObserver {
 public:
  void on_head(const HttpHead& h) override {
    log.push_back("head");
    head = h;
    ++heads;
    if (after_head) after_head();
  }
  bool on_body(std::string_view bytes) override {
    log.push_back("body");
    body.append(bytes);
    ++bodies;
    if (after_body) after_body();
    return keep_going;
  }
  void on_done(CURLcode r, std::string_view e) override {
    log.push_back("done");
    result = r;
    error = std::string(e);
    if (after_done) after_done();
  }
  bool done() const { return result.has_value(); }

  std::vector<std::string> log;
  HttpHead head;
  int heads = 0;
  int bodies = 0;
  std::string body;
  std::optional<CURLcode> result;
  std::string error;
  bool keep_going = true;
  std::function<void()> after_head, after_body, after_done;
};

// A port nothing listens on: bound, then closed.
uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

HttpRequest get(const ScriptServer& server, const std::string& path) {
  HttpRequest r;
  r.url = server.base_url() + path;
  return r;
}

ScriptedResponse held_open_stream() {  // a head and one chunk, then silence until the client leaves
  ScriptedResponse r = ScriptedResponse::sse({"data: first\n\n"});
  r.ending = ScriptedResponse::Ending::hang;
  return r;
}

class CurlMultiTest : public ::testing::Test {
 protected:
  Reactor reactor;
  ScriptServer server;
  std::unique_ptr<CurlMulti> multi = std::make_unique<CurlMulti>(reactor.io);
};

TEST_F(CurlMultiTest, DeliversHeadThenBodyThenDone) {
  server.script(
      "GET", "/x",
      ScriptedResponse::json(200, R"({"ok":true})", {{"X-Request-Id", "req_1"}, {"X-Dup", "a"}, {"x-dup", "b"}}));
  Recorder rec;
  reactor.run([&] { multi->start(get(server, "/x"), rec); }, [&] { return rec.done(); });
  EXPECT_EQ(*rec.result, CURLE_OK) << rec.error;
  EXPECT_EQ(rec.heads, 1);
  EXPECT_EQ(rec.head.status, 200);
  EXPECT_EQ(rec.head.header("x-request-id"), "req_1");
  EXPECT_EQ(rec.head.header("x-dup"), "b");  // names lower-cased, the last one wins
  EXPECT_EQ(rec.head.header("content-type"), "application/json");
  EXPECT_EQ(rec.body, R"({"ok":true})");
  ASSERT_GE(rec.log.size(), 3u);
  EXPECT_EQ(rec.log.front(), "head");
  EXPECT_EQ(rec.log.back(), "done");
  EXPECT_EQ(multi->active(), 0u);
}

TEST_F(CurlMultiTest, ManySmallChunksArriveWholeAndInOrder) {
  std::vector<std::string> chunks;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    chunks.push_back("piece-" + std::to_string(i) + ";");
    expected += chunks.back();
  }
  ScriptedResponse r = ScriptedResponse::sse(chunks);
  server.script("GET", "/chunks", r);
  Recorder rec;
  reactor.run([&] { multi->start(get(server, "/chunks"), rec); }, [&] { return rec.done(); });
  EXPECT_EQ(*rec.result, CURLE_OK) << rec.error;
  EXPECT_EQ(rec.body, expected);
}

TEST_F(CurlMultiTest, NeverCallsBackFromWithinStart) {
  Recorder rec;
  bool returned_before_done = false;
  reactor.run(
      [&] {
        HttpRequest r;
        r.url = "ftp://example.invalid/";
        multi->start(std::move(r), rec);
        returned_before_done = !rec.done();
      },
      [&] { return rec.done(); });
  EXPECT_TRUE(returned_before_done);
  EXPECT_EQ(*rec.result, CURLE_URL_MALFORMAT);
  EXPECT_EQ(rec.heads, 0);
}

TEST_F(CurlMultiTest, RefusesHeaderLinesWithLineBreaks) {
  Recorder rec;
  reactor.run(
      [&] {
        HttpRequest r = get(server, "/x");
        r.headers.push_back("X-Evil: a\r\nX-Injected: b");
        multi->start(std::move(r), rec);
      },
      [&] { return rec.done(); });
  EXPECT_EQ(*rec.result, CURLE_BAD_FUNCTION_ARGUMENT);
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(CurlMultiTest, ConnectionRefusedEndsWithoutAHead) {
  Recorder rec;
  reactor.run(
      [&] {
        HttpRequest r;
        r.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/x";
        multi->start(std::move(r), rec);
      },
      [&] { return rec.done(); });
  EXPECT_EQ(*rec.result, CURLE_COULDNT_CONNECT);
  EXPECT_EQ(rec.heads, 0);
  EXPECT_FALSE(rec.error.empty());
}

TEST_F(CurlMultiTest, TotalTimeoutEndsAStalledRequest) {
  ScriptedResponse slow = ScriptedResponse::json(200, "{}");
  slow.delay = 5s;
  server.script("GET", "/slow", slow);
  Recorder rec;
  reactor.run(
      [&] {
        HttpRequest r = get(server, "/slow");
        r.total_timeout = 200ms;
        multi->start(std::move(r), rec);
      },
      [&] { return rec.done(); });
  EXPECT_EQ(*rec.result, CURLE_OPERATION_TIMEDOUT);
}

TEST_F(CurlMultiTest, FollowsRedirectsAndReportsOnlyTheFinalHead) {
  server.script("GET", "/old", ScriptedResponse::json(302, "moved", {{"Location", "/new"}}));
  server.script("GET", "/new", ScriptedResponse::json(200, "final"));
  Recorder rec;
  reactor.run(
      [&] {
        HttpRequest r = get(server, "/old");
        r.headers.push_back("Authorization: Bearer same-host-token");
        multi->start(std::move(r), rec);
      },
      [&] { return rec.done(); });
  EXPECT_EQ(*rec.result, CURLE_OK) << rec.error;
  EXPECT_EQ(rec.heads, 1);
  EXPECT_EQ(rec.head.status, 200);
  EXPECT_EQ(rec.body, "final");
  const auto followed = server.requests("GET", "/new");
  ASSERT_EQ(followed.size(), 1u);
  EXPECT_EQ(followed[0].header("authorization"), "Bearer same-host-token");  // same host: kept
}

TEST_F(CurlMultiTest, SendsBodiesWithoutExpectOrAFormContentType) {
  server.script("POST", "/p", ScriptedResponse::json(201, "{}"));
  server.script("PUT", "/u", ScriptedResponse::json(200, "{}"));
  server.script("DELETE", "/d", ScriptedResponse::json(204, ""));
  const std::string big(200'000, 'x');  // large enough that curl would ask "Expect: 100-continue"
  Recorder post, put, del;
  reactor.run(
      [&] {
        HttpRequest p = get(server, "/p");
        p.method = "POST";
        p.body = big;
        multi->start(std::move(p), post);
        HttpRequest u = get(server, "/u");
        u.method = "PUT";
        multi->start(std::move(u), put);
        HttpRequest d = get(server, "/d");
        d.method = "DELETE";
        multi->start(std::move(d), del);
      },
      [&] { return post.done() && put.done() && del.done(); });
  EXPECT_EQ(*post.result, CURLE_OK) << post.error;
  const auto posted = server.requests("POST", "/p");
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_EQ(posted[0].body.size(), big.size());
  EXPECT_EQ(posted[0].header("expect"), "");
  EXPECT_EQ(posted[0].header("content-type"), "");
  const auto putted = server.requests("PUT", "/u");
  ASSERT_EQ(putted.size(), 1u);
  EXPECT_EQ(putted[0].header("content-length"), "0");
  ASSERT_EQ(server.requests("DELETE", "/d").size(), 1u);
  EXPECT_EQ(del.head.status, 204);
}

TEST_F(CurlMultiTest, ReturningFalseFromOnBodyAbortsWithWriteError) {
  server.script("GET", "/s", held_open_stream());
  Recorder rec;
  rec.keep_going = false;
  reactor.run([&] { multi->start(get(server, "/s"), rec); }, [&] { return rec.done(); });
  EXPECT_EQ(*rec.result, CURLE_WRITE_ERROR);
  EXPECT_TRUE(server.wait_for_idle(5s));
}

TEST_F(CurlMultiTest, CancelFromItsOwnCallbackStopsEverything) {
  server.script("GET", "/s", held_open_stream());
  Recorder rec;
  uint64_t id = 0;
  rec.after_body = [&] { multi->cancel(id); };
  reactor.run([&] { id = multi->start(get(server, "/s"), rec); }, [&] { return rec.bodies > 0; });
  reactor.settle(100ms);
  EXPECT_EQ(rec.bodies, 1);
  EXPECT_FALSE(rec.done());
  EXPECT_EQ(multi->active(), 0u);
  EXPECT_TRUE(server.wait_for_idle(5s));  // the connection was closed, not left hanging
}

TEST_F(CurlMultiTest, CancelFromHeadCallbackMeansNoBodyAndNoDone) {
  server.script("GET", "/s", held_open_stream());
  Recorder rec;
  uint64_t id = 0;
  rec.after_head = [&] { multi->cancel(id); };
  reactor.run([&] { id = multi->start(get(server, "/s"), rec); }, [&] { return rec.heads > 0; });
  reactor.settle(100ms);
  EXPECT_EQ(rec.bodies, 0);
  EXPECT_FALSE(rec.done());
}

TEST_F(CurlMultiTest, ACallbackMayCancelAnotherRequest) {
  server.script("GET", "/s", held_open_stream());
  ScriptedResponse slow = ScriptedResponse::json(200, "late");
  slow.delay = 300ms;
  server.script("GET", "/slow", slow);
  Recorder stream, other;
  uint64_t stream_id = 0, other_id = 0;
  stream.after_body = [&] {
    multi->cancel(other_id);
    multi->cancel(stream_id);
  };
  reactor.run(
      [&] {
        other_id = multi->start(get(server, "/slow"), other);
        stream_id = multi->start(get(server, "/s"), stream);
      },
      [&] { return stream.bodies > 0; });
  reactor.settle(500ms);
  EXPECT_FALSE(other.done());
  EXPECT_FALSE(stream.done());
  EXPECT_EQ(multi->active(), 0u);
}

TEST_F(CurlMultiTest, AnObserverMayDeleteItselfInOnDone) {
  server.script("GET", "/x", ScriptedResponse::json(200, "{}"));
  int finished = 0;
  reactor.run(
      [&] {
        for (int i = 0; i < 5; ++i) {
          auto* rec = new Recorder;
          rec->after_done = [rec, &finished] {
            ++finished;
            delete rec;  // ASan: nothing touches it after on_done
          };
          multi->start(get(server, "/x"), *rec);
        }
      },
      [&] { return finished == 5; });
}

TEST_F(CurlMultiTest, PauseHoldsBackBodyAndDoneUntilResume) {
  server.script("GET", "/s", ScriptedResponse::sse({"a", "b", "c"}, 10ms));
  Recorder rec;
  uint64_t id = 0;
  rec.after_head = [&] { multi->pause(id); };
  reactor.run([&] { id = multi->start(get(server, "/s"), rec); }, [&] { return rec.heads > 0; });
  reactor.settle(200ms);  // the server has sent everything by now
  EXPECT_EQ(rec.bodies, 0);
  EXPECT_FALSE(rec.done());
  bool resumed_before_body = false;
  reactor.run(
      [&] {
        multi->resume(id);
        resumed_before_body = rec.bodies == 0;  // nothing is delivered from within resume()
      },
      [&] { return rec.done(); });
  EXPECT_TRUE(resumed_before_body);
  EXPECT_EQ(*rec.result, CURLE_OK) << rec.error;
  EXPECT_EQ(rec.body, "abc");
}

TEST_F(CurlMultiTest, PausingAfterEveryPieceStillGetsEveryByte) {
  // Several MiB through repeated pauses: curl leaves bytes in the socket while paused, which an
  // edge-triggered wait alone would never see again.
  std::vector<std::string> chunks;
  std::string expected;
  for (int i = 0; i < 64; ++i) {
    chunks.emplace_back(64 * 1024, static_cast<char>('a' + i % 26));
    expected += chunks.back();
  }
  server.script("GET", "/big", ScriptedResponse::sse(chunks));
  Recorder rec;
  uint64_t id = 0;
  rec.after_body = [&] {
    multi->pause(id);
    boost::asio::post(reactor.io, [&] { multi->resume(id); });
  };
  reactor.run([&] { id = multi->start(get(server, "/big"), rec); }, [&] { return rec.done(); });
  EXPECT_EQ(*rec.result, CURLE_OK) << rec.error;
  EXPECT_EQ(rec.body.size(), expected.size());
  EXPECT_TRUE(rec.body == expected);
}

TEST_F(CurlMultiTest, ABodyLargerThanOneReadLoopArrivesWhole) {
  // Far more than one socket buffer, sent as fast as the server can: every readiness edge
  // (or the level check behind them) must reach curl.
  const std::string big(8 << 20, 'z');
  server.script("GET", "/big", ScriptedResponse::json(200, big));
  Recorder rec;
  size_t pieces = 0;
  rec.after_body = [&] { ++pieces; };
  reactor.run(
      [&] {
        HttpRequest r = get(server, "/big");
        multi->start(std::move(r), rec);
      },
      [&] { return rec.done(); }, std::chrono::seconds(20));
  ASSERT_TRUE(rec.done());
  EXPECT_EQ(*rec.result, CURLE_OK) << rec.error;
  EXPECT_EQ(rec.body.size(), big.size());
}

TEST_F(CurlMultiTest, DestroyingTheMultiWithRequestsInFlightCallsNothing) {
  server.script("GET", "/s", held_open_stream());
  ScriptedResponse slow = ScriptedResponse::json(200, "late");
  slow.delay = 2s;
  server.script("GET", "/slow", slow);
  Recorder a, b, c;
  reactor.run(
      [&] {
        multi->start(get(server, "/s"), a);
        multi->start(get(server, "/slow"), b);
        multi->start(get(server, "/slow"), c);
      },
      [&] { return a.bodies > 0 && server.requests().size() == 3; });
  reactor.on_reactor([&] { multi.reset(); });
  reactor.settle(100ms);
  EXPECT_FALSE(a.done()) << a.result.value_or(CURLE_OK) << " " << a.error;
  EXPECT_FALSE(b.done());
  EXPECT_FALSE(c.done());
  EXPECT_TRUE(server.wait_for_idle(5s));
}

TEST_F(CurlMultiTest, DestroyingTheMultiFromACallbackIsSafe) {
  server.script("GET", "/s", held_open_stream());
  ScriptedResponse slow = ScriptedResponse::json(200, "late");
  slow.delay = 2s;
  server.script("GET", "/slow", slow);
  Recorder stream, other;
  stream.after_body = [&] { multi.reset(); };
  reactor.run(
      [&] {
        multi->start(get(server, "/slow"), other);
        multi->start(get(server, "/s"), stream);
      },
      [&] { return !multi; });
  reactor.settle(100ms);
  EXPECT_EQ(stream.bodies, 1);
  EXPECT_FALSE(stream.done());
  EXPECT_FALSE(other.done());
  EXPECT_TRUE(server.wait_for_idle(5s));
}

TEST_F(CurlMultiTest, ConnectionsAreReusedBetweenRequests) {
  server.script("GET", "/x", ScriptedResponse::json(200, "{}"));
  for (int i = 0; i < 3; ++i) {
    Recorder rec;
    reactor.run([&] { multi->start(get(server, "/x"), rec); }, [&] { return rec.done(); });
    EXPECT_EQ(*rec.result, CURLE_OK);
  }
  EXPECT_EQ(server.connections_accepted(), 1u);
}

#ifndef NDEBUG
TEST(CurlMultiThreadRule, ACallOffTheReactorIsCaughtInDebugBuilds) {
  EXPECT_DEATH(
      {
        boost::asio::io_context io;
        CurlMulti multi(io);
        multi.cancel(1);  // not from within io.run()
      },
      "running_in_this_thread");
}
#endif

}  // namespace
}  // namespace runhost::http
