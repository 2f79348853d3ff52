// Threads blocked on a reactor's answer (HostImpl::on_reactor: a dispatch's adapter check, a
// cancel), counted per io_context. Handlers that do long work in turns — reading runtime
// output — end their turn early while a caller waits, so the caller's task, posted behind
// them, runs after at most one short turn instead of after every busy run's turn.
//
//   auto& callers = boost::asio::use_service<ReactorCallers>(io);  // once: it takes a lock
//   if (callers.waiting()) return schedule_next_turn();
#pragma once

#include <atomic>

#include <boost/asio/execution_context.hpp>

namespace runhost::util {

class ReactorCallers final : public boost::asio::execution_context::service {
 public:
  using key_type = ReactorCallers;
  static inline boost::asio::execution_context::id id;

  explicit ReactorCallers(boost::asio::execution_context& context) : service(context) {}

  bool waiting() const noexcept { return waiting_.load(std::memory_order_relaxed) > 0; }
  void arrive() noexcept { waiting_.fetch_add(1, std::memory_order_relaxed); }
  void served() noexcept { waiting_.fetch_sub(1, std::memory_order_relaxed); }

 private:
  void shutdown() override {}
  std::atomic<int> waiting_{0};
};

}  // namespace runhost::util
