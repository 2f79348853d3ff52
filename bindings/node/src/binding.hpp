// Shared by the addon's files: how core errors and values become JS values. The exceptions that
// carry core errors off libuv's worker threads (CoreError, HostClosed) and the HostState behind
// a JS Host are bindings/common's, shared with the Python binding.
//
// Thread rules: the exceptions may be built and thrown on any thread; everything that takes a
// Napi::Env runs on the JS thread.
#pragma once

#include <string>

#include <napi.h>

#include "host_state.hpp"  // bindings/common
#include "runhost/host.hpp"

namespace runhost::node {

using binding::CoreError;
using binding::HostClosed;
using binding::HostState;
using binding::ok_or_throw;
using binding::value_or_throw;

// A plain Error carrying {runhostCode, retryable, recoveryJson} (or {hostClosed: true}), which
// lib/errors.js converts (native errors never reach the user as they are).
Napi::Error to_js_error(Napi::Env env, const Error& error);
Napi::Error host_closed_error(Napi::Env env, const std::string& message);

Napi::Object to_js(Napi::Env env, const RunInfo& info);

}  // namespace runhost::node
