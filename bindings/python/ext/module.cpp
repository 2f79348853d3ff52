// runhost._native._core: the C++ core for the runhost package. The package's pure-Python layer
// (runhost/_host.py...) is the public API; this module is its engine room and is not meant to
// be used directly.
//
// Every call into the core releases the GIL: dispatch, reads, cancel and close can block on the
// store's writer or the host's reactor, and none of them ever needs Python.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "event_stream.hpp"
#include "host_core.hpp"
#include "run_watch.hpp"  // bindings/common

namespace runhost::python {
namespace {

// The acting tenant as the core's Scope: None is the operator (every tenant's runs).
Scope scope_of(const std::optional<std::string>& tenant) { return tenant ? Scope::tenant(*tenant) : Scope{}; }

// A listing's rows as a Python list, each converted by `convert` (with the GIL held).
template <class T, class Convert>
py::list list_of(const std::vector<T>& rows, Convert convert) {
  py::list out;
  for (const auto& row : rows) out.append(convert(row));
  return out;
}

class PyHost {
 public:
  PyHost(const std::string& store, const std::vector<std::string>& plugin_dirs, bool use_environment, bool use_bundled,
         const std::string& workspace_root, const std::map<std::string, std::string>& plugin_config,
         int64_t default_timeout_seconds, bool durable, bool keep_raw, int64_t max_output_bytes,
         const std::vector<std::string>& artifact_patterns, int64_t approval_timeout_seconds, const std::string& limits,
         const std::map<std::string, std::string>& miosa) {
    HostOptions options;
    options.store = store;
    for (const auto& d : plugin_dirs) options.plugins.directories.emplace_back(d);
    options.plugins.use_environment = use_environment;
    options.plugins.use_bundled = use_bundled;
    options.workspace_root = workspace_root;
    options.plugin_config = plugin_config;
    options.default_timeout = std::chrono::seconds(default_timeout_seconds);
    options.durable = durable;
    options.keep_raw = keep_raw;
    options.max_output_bytes = max_output_bytes;
    options.artifact_patterns = artifact_patterns;
    options.approval_timeout = std::chrono::seconds(approval_timeout_seconds);
    options.limits = limits;
    // _host.py has checked the names; one it does not know is a bug there, not a silent no-op.
    for (const auto& [name, value] : miosa) {
      if (name == "base_url") options.miosa.base_url = value;
      else if (name == "api_key") options.miosa.api_key = value;
      else if (name == "tenant") options.miosa.tenant = value;
      else if (name == "template_id") options.miosa.template_id = value;
      else throw py::type_error("unknown miosa option '" + name + "'");
    }
    options.miosa.use_environment = use_environment;
    py::gil_scoped_release release;
    state_ = std::make_shared<HostState>();
    state_->open(std::move(options));
    open_hosts().add(state_);
  }

  ~PyHost() {
    // Garbage-collected without close(): shut down without holding the GIL (the core may wait
    // for runs to end, and other Python threads should keep running meanwhile).
    if (!state_ || state_->closed()) return;
    if (Py_IsInitialized() && PyGILState_Check()) {
      py::gil_scoped_release release;
      state_->close();
    } else {
      state_->close();
    }
  }

  py::tuple dispatch(const std::string& json, const std::optional<std::string>& tenant) {
    DispatchResult r;
    {
      py::gil_scoped_release release;
      r = state_->with_host([&](Host& h) { return value_or_throw(h.dispatch(json, scope_of(tenant))); });
    }
    return py::make_tuple(to_dict(r.run), r.created);
  }

  void cancel(const std::string& run_id, const std::optional<std::string>& tenant) {
    py::gil_scoped_release release;
    state_->with_host([&](Host& h) { ok_or_throw(h.cancel(run_id, scope_of(tenant))); });
  }

  void answer_approval(const std::string& run_id, const std::string& approval_id, bool allow, const std::string& scope,
                       const std::string& reason, const std::string& by, const std::optional<std::string>& tenant) {
    const ApprovalDecision decision{allow, scope, reason, by};
    py::gil_scoped_release release;
    state_->with_host([&](Host& h) { ok_or_throw(h.answer_approval(run_id, approval_id, decision, scope_of(tenant))); });
  }

  // Oldest first; the request stays JSON text (the Python layer parses it into its TypedDict).
  py::list pending_approvals(const std::optional<std::string>& tenant) {
    std::vector<PendingApproval> rows;
    {
      py::gil_scoped_release release;
      rows = state_->with_host([&](Host& h) { return value_or_throw(h.pending_approvals(scope_of(tenant))); });
    }
    py::list out;
    for (const auto& p : rows) {
      py::dict d;
      d["id"] = p.id;
      d["run_id"] = p.run_id;
      d["tenant_id"] = p.tenant_id;
      d["seq"] = p.seq;
      d["request_json"] = p.request_json;
      d["created_us"] = p.created_us;
      d["deadline_us"] = p.deadline_us;
      d["answered"] = p.answered;
      out.append(d);
    }
    return out;
  }

  // The grant recorded (never its secret). The Python layer has checked every argument's type,
  // so pybind11 never quotes them back in a TypeError ("Invoked with: ...", the secret among them).
  py::dict add_grant(const std::string& tenant_id, const std::string& user_id, const std::string& connector,
                     const std::optional<std::string>& code, const std::optional<std::string>& secret_json,
                     const std::vector<std::string>& scopes, std::optional<int64_t> expires_in_s,
                     const std::string& metadata_json, const std::optional<std::string>& tenant) {
    GrantInput input;
    input.tenant_id = tenant_id;
    input.user_id = user_id;
    input.connector = connector;
    input.code = code;
    input.secret_json = secret_json;
    input.scopes = scopes;
    input.expires_in_s = expires_in_s;
    input.metadata_json = metadata_json;
    GrantInfo grant;
    {
      py::gil_scoped_release release;
      grant = state_->with_host([&](Host& h) { return value_or_throw(h.add_grant(input, scope_of(tenant))); });
    }
    return to_dict(grant);
  }

  py::list grants(std::optional<std::string> tenant_id, std::optional<std::string> user_id,
                  std::optional<std::string> connector, bool include_inactive, size_t limit,
                  const std::optional<std::string>& tenant) {
    std::vector<GrantInfo> rows;
    {
      GrantQuery query;
      query.tenant_id = std::move(tenant_id);
      query.user_id = std::move(user_id);
      query.connector = std::move(connector);
      query.include_revoked = query.include_expired = include_inactive;
      query.limit = limit;
      py::gil_scoped_release release;
      rows = state_->with_host([&](Host& h) { return value_or_throw(h.grants(query, scope_of(tenant))); });
    }
    return list_of(rows, [](const GrantInfo& g) { return to_dict(g); });
  }

  void revoke_grant(const std::string& grant_id, const std::optional<std::string>& tenant) {
    py::gil_scoped_release release;
    state_->with_host([&](Host& h) { ok_or_throw(h.revoke_grant(grant_id, scope_of(tenant))); });
  }

  // Per usage source, most spent first, each as a dict of UsageTotal's fields.
  py::list usage(std::optional<std::string> tenant_id, std::optional<std::string> user_id,
                 std::optional<std::string> workspace_id, std::optional<std::string> run_id, int64_t since_us,
                 int64_t until_us, const std::optional<std::string>& tenant) {
    std::vector<UsageTotal> rows;
    {
      UsageQuery query;
      query.tenant_id = std::move(tenant_id);
      query.user_id = std::move(user_id);
      query.workspace_id = std::move(workspace_id);
      query.run_id = std::move(run_id);
      query.since_us = since_us;
      query.until_us = until_us;
      py::gil_scoped_release release;
      rows = state_->with_host([&](Host& h) { return value_or_throw(h.usage(query, scope_of(tenant))); });
    }
    return list_of(rows, [](const UsageTotal& t) { return to_dict(t); });
  }

  // None for a run that is missing or outside the scope.
  py::object run(const std::string& run_id, const std::optional<std::string>& tenant) {
    std::optional<RunInfo> info;
    {
      py::gil_scoped_release release;
      info = state_->with_host([&](Host& h) { return value_or_throw(h.run(run_id, scope_of(tenant))); });
    }
    return info ? py::object(to_dict(*info)) : py::object(py::none());
  }

  // The same record, or RunNotFound with the message every other call gives.
  py::dict info(const std::string& run_id, const std::optional<std::string>& tenant) {
    RunInfo info;
    {
      py::gil_scoped_release release;
      info = state_->with_host([&](Host& h) { return binding::find_run(h, run_id, scope_of(tenant)); });
    }
    return to_dict(info);
  }

  py::list runs(std::optional<std::string> tenant_id, std::optional<std::string> status, size_t limit,
               const std::optional<std::string>& tenant) {
    std::vector<RunInfo> rows;
    {
      RunQuery query;
      query.tenant_id = std::move(tenant_id);
      query.status = std::move(status);
      query.limit = limit;
      py::gil_scoped_release release;
      rows = state_->with_host([&](Host& h) { return value_or_throw(h.runs(query, scope_of(tenant))); });
    }
    return list_of(rows, [](const RunInfo& r) { return to_dict(r); });
  }

  py::list events(const std::string& run_id, int64_t after, size_t limit, const std::optional<std::string>& tenant) {
    std::vector<Event> rows;
    {
      py::gil_scoped_release release;
      rows = state_->with_host([&](Host& h) { return value_or_throw(h.events(run_id, after, limit, scope_of(tenant))); });
    }
    return list_of(rows, decode_event);
  }

  std::unique_ptr<EventStream> stream(const std::string& run_id, int64_t after, const std::optional<std::string>& tenant) {
    return std::make_unique<EventStream>(state_, run_id, after, scope_of(tenant));
  }

  // (loaded plugins, refusals as (path, reason), directories searched)
  py::tuple plugins() {
    std::vector<PluginInfo> loaded;
    std::vector<PluginRefusal> refused;
    std::vector<std::filesystem::path> directories;
    {
      py::gil_scoped_release release;
      state_->with_host([&](Host& h) {
        const auto& registry = h.plugins();
        loaded = registry.plugins();
        refused = registry.refusals();
        directories = registry.directories();
      });
    }
    py::list l, r, d;
    for (const auto& p : loaded) l.append(to_dict(p));
    for (const auto& x : refused) r.append(py::make_tuple(x.path.string(), x.reason));
    for (const auto& x : directories) d.append(x.string());
    return py::make_tuple(l, r, d);
  }

  std::string store_path() {
    py::gil_scoped_release release;
    return state_->with_host([](Host& h) { return h.store_path().string(); });
  }

  void close() {
    py::gil_scoped_release release;
    state_->close();
  }

  bool closed() const { return state_->closed(); }

 private:
  std::shared_ptr<HostState> state_;
};

py::list error_codes() {
  py::list out;
#define RUNHOST_X(name, retryable, action) out.append(py::make_tuple(#name, retryable, #action));
  RUNHOST_ERROR_CODES(RUNHOST_X)
#undef RUNHOST_X
  return out;
}

}  // namespace
}  // namespace runhost::python

PYBIND11_MODULE(_core, m) {
  using namespace runhost::python;
  m.doc() = "runhost's C++ core (internal: use the runhost package)";
  register_exception_translators();
  // Before the interpreter goes: every open Host cancels its runs and stores their last events,
  // without the GIL (the core may wait for processes to end).
  py::module_::import("atexit").attr("register")(py::cpp_function([] {
    py::gil_scoped_release release;
    open_hosts().close_all();
  }));

  m.def("error_codes", &error_codes, "RUNHOST_ERROR_CODES as [(code, retryable by default)]");
  m.def("default_store_path", [] { return runhost::default_store_path().string(); });
  m.def("bundled_plugin_dir", [] { return runhost::bundled_plugin_dir().string(); });

  py::class_<EventStream>(m, "EventStream")
      .def("__iter__",
           [](EventStream& s) -> EventStream& {
             s.check_iterable();
             return s;
           })
      .def("__next__", [](EventStream& s) { return s.next(-1); })
      .def("_next", &EventStream::next, py::arg("timeout"))
      .def("_take", &EventStream::take, py::arg("max"))
      .def("fileno", &EventStream::fileno)
      .def("close", &EventStream::close)
      .def("__enter__", [](EventStream& s) -> EventStream& { return s; })
      .def("__exit__", [](EventStream& s, const py::args&) { s.close(); })
      .def("_check_iterable", &EventStream::check_iterable)
      .def_property_readonly("run_id", &EventStream::run_id)
      .def_property_readonly("cursor", &EventStream::cursor)
      .def_property_readonly("ended", &EventStream::ended)
      .def("__repr__", [](const EventStream& s) {
        return "<runhost.EventStream run_id=" + s.run_id() + " cursor=" + std::to_string(s.cursor()) +
               (s.ended() ? " ended" : "") + ">";
      });

  py::class_<PyHost>(m, "Host")
      .def(py::init<const std::string&, const std::vector<std::string>&, bool, bool, const std::string&,
                    const std::map<std::string, std::string>&, int64_t, bool, bool, int64_t, const std::vector<std::string>&,
                    int64_t, const std::string&, const std::map<std::string, std::string>&>(),
           py::arg("store"), py::arg("plugin_dirs"), py::arg("use_environment"), py::arg("use_bundled"),
           py::arg("workspace_root"), py::arg("plugin_config"), py::arg("default_timeout_seconds"), py::arg("durable"),
           py::arg("keep_raw"), py::arg("max_output_bytes"), py::arg("artifact_patterns"),
           py::arg("approval_timeout_seconds"), py::arg("limits"), py::arg("miosa"))
      // `scope`: the acting tenant (runhost.TenantView), or None for the operator.
      .def("dispatch", &PyHost::dispatch, py::arg("json"), py::arg("scope"))
      .def("cancel", &PyHost::cancel, py::arg("run_id"), py::arg("scope"))
      .def("answer_approval", &PyHost::answer_approval, py::arg("run_id"), py::arg("approval_id"), py::arg("allow"),
           py::arg("approval_scope"), py::arg("reason"), py::arg("by"), py::arg("scope"))
      .def("pending_approvals", &PyHost::pending_approvals, py::arg("scope"))
      .def("add_grant", &PyHost::add_grant, py::arg("tenant_id"), py::arg("user_id"), py::arg("connector"),
           py::arg("code"), py::arg("secret_json"), py::arg("scopes"), py::arg("expires_in_s"), py::arg("metadata_json"),
           py::arg("scope"))
      .def("grants", &PyHost::grants, py::arg("tenant_id"), py::arg("user_id"), py::arg("connector"),
           py::arg("include_inactive"), py::arg("limit"), py::arg("scope"))
      .def("revoke_grant", &PyHost::revoke_grant, py::arg("grant_id"), py::arg("scope"))
      .def("usage", &PyHost::usage, py::arg("tenant_id"), py::arg("user_id"), py::arg("workspace_id"),
           py::arg("run_id"), py::arg("since_us"), py::arg("until_us"), py::arg("scope"))
      .def("run", &PyHost::run, py::arg("run_id"), py::arg("scope"))
      .def("info", &PyHost::info, py::arg("run_id"), py::arg("scope"))
      .def("runs", &PyHost::runs, py::arg("tenant_id"), py::arg("status"), py::arg("limit"), py::arg("scope"))
      .def("events", &PyHost::events, py::arg("run_id"), py::arg("after"), py::arg("limit"), py::arg("scope"))
      // A stream keeps its Host alive: `for ev in Host().dispatch(d).events()` must not close
      // the Host (and cancel the run) as soon as the temporary Host object is collected.
      .def("stream", &PyHost::stream, py::arg("run_id"), py::arg("after"), py::arg("scope"), py::keep_alive<0, 1>())
      .def("plugins", &PyHost::plugins)
      .def("store_path", &PyHost::store_path)
      .def("close", &PyHost::close)
      .def_property_readonly("closed", &PyHost::closed);
}
