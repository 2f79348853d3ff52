// Shared by the extension's files: the C++ exceptions the binding throws and how they become
// Python exceptions, and the conversions from core values to Python objects.
//
// Thread rules: everything here needs the GIL, except constructing the exceptions.
#pragma once

#include <stdexcept>
#include <string>

#include <pybind11/pybind11.h>

#include "host_state.hpp"  // bindings/common
#include "runhost/host.hpp"

namespace runhost::python {

namespace py = pybind11;

// CoreError (a core Error: the runhost.errors subclass of its code, runhost.errors._from_core),
// HostClosed (runhost.HostClosedError), value_or_throw and ok_or_throw: bindings/common.
using binding::CoreError;
using binding::HostClosed;
using binding::ok_or_throw;
using binding::value_or_throw;

// An EventStream that has ended, iterated again: runhost.StreamConsumedError.
struct StreamConsumed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void register_exception_translators();

py::dict to_dict(const RunInfo& info);
py::dict to_dict(const PluginInfo& info);
// A grant as listed (GrantInfo never holds the secret); metadata stays JSON text.
py::dict to_dict(const GrantInfo& info);
// One usage source's totals (runhost.UsageTotal's fields).
py::dict to_dict(const UsageTotal& total);
// The event's envelope as a dict (json.loads of its JSON text).
py::object decode_event(const Event& event);

}  // namespace runhost::python
