// Guards asynchronous handlers against the object that started them being gone.
//
// Closing a descriptor or cancelling a timer does not unqueue a completion handler that the
// io_context already holds: it still runs, later. Every handler a device component starts is
// wrapped with guard(), which drops the call once the owner is destroyed. An owner that calls
// out (an observer, a callback) takes alive() first and returns at once if the callee destroyed
// it: a callback may well destroy the LocalProcess it came from.
#pragma once

#include <memory>
#include <utility>

namespace runhost::devices::local {

class Lifetime {
 public:
  Lifetime() : token_(std::make_shared<char>()) {}
  Lifetime(const Lifetime&) = delete;
  Lifetime& operator=(const Lifetime&) = delete;

  // True while the owner lives; cheap to copy and to test.
  class Alive {
   public:
    explicit Alive(std::weak_ptr<char> token) : token_(std::move(token)) {}
    explicit operator bool() const noexcept { return !token_.expired(); }

   private:
    std::weak_ptr<char> token_;
  };

  Alive alive() const { return Alive(token_); }

  // `handler`, run only while the owner lives.
  template <class Handler>
  auto guard(Handler handler) const {
    return [alive = alive(), handler = std::move(handler)](auto&&... args) mutable {
      if (alive) handler(std::forward<decltype(args)>(args)...);
    };
  }

 private:
  std::shared_ptr<char> token_;
};

}  // namespace runhost::devices::local
