// runhost/error.hpp — the one error idiom of the C++ core: typed codes, Error, Result<T>.
//
// Every fallible core function returns Result<T> (or Status = Result<void>). The codes come
// from one table, RUNHOST_ERROR_CODES, shared with the event schema (run.failed.error.code)
// and the bindings, which turn them into exception subclasses / JS errors with `code`.
//
//   Result<Manifest> m = parse_manifest(path);
//   if (!m) return m.error();            // propagate
//   use(m->plugins);
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace runhost {

// X(code, retryable by default). Append only. Every code may appear as
// run.failed.payload.error.code except run_not_found, which only a call naming a run answers.
// store_unavailable is mostly the host's own (its store cannot be opened or written); as a
// run's failure it says the host could not record the run's events (a full disk, an I/O error,
// a deleted store file), and is written once the store takes writes again.
#define RUNHOST_ERROR_CODES(X)                 \
  X(invalid_dispatch, false)                   \
  X(runtime_not_found, false)                  \
  X(runtime_crashed, true)                     \
  X(runtime_error, false)                      \
  X(timeout, true)                             \
  X(cancelled, false)                          \
  X(policy_denied, false)                      \
  X(budget_exceeded, false)                    \
  X(quota_exceeded, false)                     \
  X(connector_authorization_missing, false)    \
  X(device_unavailable, true)                  \
  X(device_lost, true)                         \
  X(plugin_error, false)                       \
  X(idempotency_conflict, false)               \
  X(internal, false)                           \
  X(auth_failed, false)                        \
  X(rate_limited, true)                        \
  X(model_unavailable, true)                   \
  X(model_api_error, false)                    \
  X(turn_limit, false)                         \
  X(context_limit, false)                      \
  X(session_not_found, false)                  \
  X(store_unavailable, true)                  \
  X(run_not_found, false)

enum class ErrorCode {
#define RUNHOST_X(name, retryable) name,
  RUNHOST_ERROR_CODES(RUNHOST_X)
#undef RUNHOST_X
};

std::string_view to_string(ErrorCode code) noexcept;
std::optional<ErrorCode> error_code_from_string(std::string_view name) noexcept;
bool default_retryable(ErrorCode code) noexcept;

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  // What the caller can do about it, as the JSON object of run.failed's `recovery`
  // ({"action": "fix_dispatch", "field": "cwd"}); empty when there is nothing specific.
  std::string recovery_json;

  Error() = default;
  Error(ErrorCode c, std::string m, std::string recovery = {})
      : code(c), message(std::move(m)), recovery_json(std::move(recovery)) {}
};

// The value of a fallible call, or the Error that stopped it.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}   // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

  const Error& error() const& { return std::get<1>(state_); }
  Error&& error() && { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace runhost
