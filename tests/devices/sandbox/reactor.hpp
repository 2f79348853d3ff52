// The tests' reactor: an io_context run on the test's own thread, so that every CurlMulti and
// MiosaClient call is made from within run() as on the host's reactor (debug builds assert it).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace runhost::testing {

class Reactor {
 public:
  boost::asio::io_context io;

  // Runs `step` on the reactor, then keeps the reactor running until `done()` holds. The limit
  // only keeps a broken build from hanging the suite: passing it fails the test.
  bool run(const std::function<void()>& step, const std::function<bool()>& done,
           std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    if (step) boost::asio::post(io, step);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    auto guard = boost::asio::make_work_guard(io);
    if (io.stopped()) io.restart();
    while (!done() && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(10));
    const bool ok = done();
    EXPECT_TRUE(ok) << "the reactor did not get there in " << limit.count() << " ms";
    return ok;
  }

  // Runs `step` on the reactor and returns once it ran.
  void on_reactor(const std::function<void()>& step) {
    bool ran = false;
    run(
        [&] {
          step();
          ran = true;
        },
        [&] { return ran; });
  }

  // Keeps the reactor running for a while: lets anything that should not happen, happen.
  void settle(std::chrono::milliseconds how_long) {
    const auto until = std::chrono::steady_clock::now() + how_long;
    auto guard = boost::asio::make_work_guard(io);
    if (io.stopped()) io.restart();
    while (std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(5));
  }
};

}  // namespace runhost::testing
