// Shared by the addon's files: the C++ exceptions the binding throws while it works off the JS
// thread, and how they become JS errors (lib/errors.js turns them into RunhostError subclasses).
//
// Thread rules: the exceptions may be built and thrown on any thread; to_js_error and the
// conversions need the JS thread (a Napi::Env).
#pragma once

#include <stdexcept>
#include <string>

#include <napi.h>

#include "runhost/host.hpp"

namespace runhost::node {

// A core Error; becomes the RunhostError subclass of its code.
struct CoreError : std::exception {
  explicit CoreError(Error e) : error(std::move(e)) {}
  const char* what() const noexcept override { return error.message.c_str(); }
  Error error;
};

// The Host was closed: HostClosedError.
struct HostClosed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
T value_or_throw(Result<T>&& r) {
  if (!r) throw CoreError(std::move(r).error());
  return std::move(r).value();
}
inline void ok_or_throw(Status&& st) {
  if (!st) throw CoreError(std::move(st).error());
}

// A plain Error carrying {runhostCode, retryable, recoveryJson} (or {hostClosed: true}), which
// lib/errors.js converts (native errors never reach the user as they are).
Napi::Error to_js_error(Napi::Env env, const Error& error);
Napi::Error host_closed_error(Napi::Env env, const std::string& message);

Napi::Object to_js(Napi::Env env, const RunInfo& info);

}  // namespace runhost::node
