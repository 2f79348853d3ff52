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

// X(code, retryable by default, recovery action). Append only. Every code may appear as
// run.failed.payload.error.code except run_not_found, which only a call naming a run answers.
// The action is what the caller can do about it (run.failed's recovery.action, docs/events.md):
// the host's default when a failure names none; the bindings generate their error classes from
// this table.
// store_unavailable is mostly the host's own (its store cannot be opened or written); as a
// run's failure it says the host could not record the run's events (a full disk, an I/O error,
// a deleted store file), and is written once the store takes writes again.
#define RUNHOST_ERROR_CODES(X)                               \
  X(invalid_dispatch, false, fix_dispatch)                   \
  X(runtime_not_found, false, install_runtime)               \
  X(runtime_crashed, true, retry)                            \
  X(runtime_error, false, retry)                             \
  X(timeout, true, retry)                                    \
  X(cancelled, false, retry)                                 \
  X(policy_denied, false, review_policy)                     \
  X(budget_exceeded, false, raise_budget)                    \
  X(quota_exceeded, false, request_quota)                    \
  X(connector_authorization_missing, false, connect_account) \
  X(device_unavailable, true, retry)                         \
  X(device_lost, true, resume_device)                        \
  X(plugin_error, false, contact_support)                    \
  X(idempotency_conflict, false, fix_dispatch)               \
  X(internal, false, contact_support)                        \
  X(auth_failed, false, retry)                               \
  X(rate_limited, true, request_quota)                       \
  X(model_unavailable, true, retry)                          \
  X(model_api_error, false, retry)                           \
  X(turn_limit, false, raise_budget)                         \
  X(context_limit, false, retry)                             \
  X(session_not_found, false, fix_dispatch)                  \
  X(store_unavailable, true, retry)                          \
  X(run_not_found, false, fix_dispatch)

enum class ErrorCode {
#define RUNHOST_X(name, retryable, action) name,
  RUNHOST_ERROR_CODES(RUNHOST_X)
#undef RUNHOST_X
};

std::string_view to_string(ErrorCode code) noexcept;
std::optional<ErrorCode> error_code_from_string(std::string_view name) noexcept;
bool default_retryable(ErrorCode code) noexcept;
// The code's recovery action ("fix_dispatch", "retry"...), from RUNHOST_ERROR_CODES.
std::string_view default_recovery_action(ErrorCode code) noexcept;

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  // What the caller can do about it, as the JSON object of run.failed's `recovery`
  // ({"action": "fix_dispatch", "field": "cwd"}); empty when there is nothing specific.
  std::string recovery_json;
  // The id of the remote request that failed (a MIOSA call's x-request-id); empty otherwise.
  std::string request_id;

  Error() = default;
  Error(ErrorCode c, std::string m, std::string recovery = {})
      : code(c), message(std::move(m)), recovery_json(std::move(recovery)) {}
};

// The value of a fallible call, or the Error that stopped it.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
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
