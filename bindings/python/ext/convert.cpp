#include <pybind11/stl.h>

#include "binding.hpp"

namespace runhost::python {
namespace {

py::object optional_str(const std::optional<std::string>& s) { return s ? py::object(py::str(*s)) : py::object(py::none()); }

// The errors module, imported on first use: the package imports the extension, never the reverse
// at import time.
py::object errors_module() { return py::module_::import("runhost.errors"); }

void raise_as(const char* class_name, const char* message) {
  py::object cls = errors_module().attr(class_name);
  PyErr_SetString(cls.ptr(), message);
}

}  // namespace

void register_exception_translators() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const CoreError& e) {
      const auto& err = e.error;
      py::object exc = errors_module().attr("_from_core")(std::string(to_string(err.code)), err.message, err.recovery_json);
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    } catch (const HostClosed& e) {
      raise_as("HostClosedError", e.what());
    } catch (const StreamConsumed& e) {
      raise_as("StreamConsumedError", e.what());
    }
  });
}

py::dict to_dict(const RunInfo& info) {
  py::dict d;
  d["id"] = info.id;
  d["status"] = info.status;
  d["tenant_id"] = info.tenant_id;
  d["workspace_id"] = info.workspace_id;
  d["project_id"] = optional_str(info.project_id);
  d["user_id"] = info.user_id;
  d["runtime"] = info.runtime;
  d["device_type"] = info.device_type;
  d["device_id"] = info.device_id;
  d["prompt"] = info.prompt;
  d["error_code"] = optional_str(info.error_code);
  d["last_seq"] = info.last_seq;
  d["created_us"] = info.created_us;
  d["updated_us"] = info.updated_us;
  return d;
}

py::dict to_dict(const PluginInfo& info) {
  py::dict d;
  d["id"] = info.id;
  d["kind"] = std::string(to_string(info.kind));
  d["version"] = info.version;
  d["name"] = info.name;
  d["vendor"] = info.vendor;
  d["description"] = info.description;
  d["library"] = info.library.string();
  d["abi_major"] = info.abi_major;
  d["abi_minor"] = info.abi_minor;
  return d;
}

py::dict to_dict(const GrantInfo& info) {
  py::dict d;
  d["id"] = info.id;
  d["tenant_id"] = info.tenant_id;
  d["user_id"] = info.user_id;
  d["connector"] = info.connector;
  d["scopes"] = info.scopes;
  d["state"] = info.state;
  d["created_us"] = info.created_us;
  d["expires_us"] = info.expires_us;
  d["revoked_us"] = info.revoked_us;
  d["metadata_json"] = info.metadata_json;
  return d;
}

py::dict to_dict(const UsageTotal& total) {
  py::dict d;
  d["source"] = total.source;
  d["cost_usd"] = total.cost_usd;
  d["input_tokens"] = total.input_tokens;
  d["output_tokens"] = total.output_tokens;
  d["cached_input_tokens"] = total.cached_input_tokens;
  d["events"] = total.events;
  return d;
}

namespace {

// The decoders, looked up once and kept for the life of the process (never released: a static
// py::object would be destroyed after the interpreter is gone). scan_once is the C scanner
// behind json.loads without its Python-level wrapper: a quarter of the cost per event.
struct Decoders {
  PyObject* loads = nullptr;
  PyObject* scan_once = nullptr;  // may stay null: then json.loads alone
};

const Decoders& decoders() {
  static const Decoders d = [] {
    Decoders out;
    py::module_ json = py::module_::import("json");
    out.loads = py::object(json.attr("loads")).release().ptr();
    try {
      py::object scan = json.attr("decoder").attr("JSONDecoder")().attr("scan_once");
      out.scan_once = scan.release().ptr();
    } catch (const py::error_already_set&) {
      out.scan_once = nullptr;
    }
    return out;
  }();
  return d;
}

}  // namespace

py::object decode_event(const Event& event) {
  const Decoders& d = decoders();
  py::object text = py::reinterpret_steal<py::object>(
      PyUnicode_DecodeUTF8(event.json.data(), static_cast<Py_ssize_t>(event.json.size()), "replace"));
  if (!text) throw py::error_already_set();
  if (d.scan_once != nullptr) {
    static PyObject* zero = PyLong_FromLong(0);
    PyObject* pair = PyObject_CallFunctionObjArgs(d.scan_once, text.ptr(), zero, nullptr);
    if (pair != nullptr) {
      py::tuple result = py::reinterpret_steal<py::tuple>(pair);
      // The envelope is one JSON object and nothing after it; anything else: json.loads decides.
      if (PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2 &&
          PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1)) == PyUnicode_GET_LENGTH(text.ptr())) {
        return py::reinterpret_borrow<py::object>(PyTuple_GET_ITEM(pair, 0));
      }
    }
    PyErr_Clear();
  }
  PyObject* result = PyObject_CallFunctionObjArgs(d.loads, text.ptr(), nullptr);
  if (result == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(result);
}

}  // namespace runhost::python
