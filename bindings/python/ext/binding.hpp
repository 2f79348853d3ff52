// Shared by the extension's files: the C++ exceptions the binding throws and how they become
// Python exceptions, and the conversions from core values to Python objects.
//
// Thread rules: everything here needs the GIL, except constructing the exceptions.
#pragma once

#include <stdexcept>
#include <string>

#include <pybind11/pybind11.h>

#include "runhost/host.hpp"

namespace runhost::python {

namespace py = pybind11;

// A core Error; becomes the runhost.errors subclass of its code (runhost.errors._from_core).
struct CoreError : std::exception {
  explicit CoreError(Error e) : error(std::move(e)) {}
  const char* what() const noexcept override { return error.message.c_str(); }
  Error error;
};

// The Host was closed: runhost.HostClosedError.
struct HostClosed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An EventStream that has ended, iterated again: runhost.StreamConsumedError.
struct StreamConsumed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws the value's error as CoreError.
template <class T>
T value_or_throw(Result<T>&& r) {
  if (!r) throw CoreError(std::move(r).error());
  return std::move(r).value();
}
inline void ok_or_throw(Status&& st) {
  if (!st) throw CoreError(std::move(st).error());
}

void register_exception_translators();

py::dict to_dict(const RunInfo& info);
py::dict to_dict(const PluginInfo& info);
// The event's envelope as a dict (json.loads of its JSON text).
py::object decode_event(const Event& event);

}  // namespace runhost::python
