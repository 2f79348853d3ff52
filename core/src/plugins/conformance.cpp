#include "runhost/conformance.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "events/event_types.hpp"
#include "plugins/elf.hpp"
#include "plugins/instances.hpp"
#include "plugins/library.hpp"
#include "plugins/manifest.hpp"
#include "plugins/registry.hpp"

namespace runhost {

bool CheckReport::passed() const noexcept {
  if (checks.empty()) return false;
  for (const auto& c : checks) {
    if (!c.passed) return false;
  }
  return true;
}

namespace {

using nlohmann::json;
using plugins::LoadedPlugin;

constexpr std::string_view kSampleDispatch =
    R"({"tenantId":"check-tenant","workspaceId":"check-workspace","userId":"runhost-check-user",)"
    R"("deviceType":"local","deviceId":"check-device","runtime":"check","prompt":"Say hello; then list files.",)"
    R"("approvalPolicy":"auto","idempotencyKey":"runhost-plugin-check","command":["printf","%s\n","hello"]})";

// Reports checks as they happen and remembers them.
class Reporter {
 public:
  Reporter(CheckReport& report, const CheckCallback& on_result, std::function<void(const std::string&)> on_begin = {})
      : report_(report), on_result_(on_result), on_begin_(std::move(on_begin)) {}
  // Announces a check that calls into the plugin, so a crash inside it can be attributed.
  void begin(const std::string& name) {
    if (on_begin_) on_begin_(name);
  }
  bool add(std::string name, bool passed, std::string detail = {}) {
    report_.checks.push_back({std::move(name), passed, std::move(detail)});
    if (on_result_) on_result_(report_.checks.back());
    return passed;
  }
  bool add(std::string name, const Status& st, std::string ok_detail = {}) {
    return add(std::move(name), st.ok(), st.ok() ? std::move(ok_detail) : st.error().message);
  }

 private:
  CheckReport& report_;
  const CheckCallback& on_result_;
  std::function<void(const std::string&)> on_begin_;
};

Result<json> parse_object(const std::string& text, const std::string& what) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Error{ErrorCode::plugin_error, what + " is not a JSON object: " + text.substr(0, 200)};
  }
  return doc;
}

Error fail(std::string what) {
  return {ErrorCode::plugin_error, std::move(what)};
}

// A run that records what a session emits, for the runtime smoke check.
class RecordingRun final : public rh_run {
 public:
  rh_status emit(const rh_event& event) noexcept override {
    try {
      const std::string_view payload = event.payload_json.len
                                           ? std::string_view(event.payload_json.data, event.payload_json.len)
                                           : std::string_view("{}");
      json doc = json::parse(payload, nullptr, false);
      if (doc.is_discarded() || !doc.is_object()) {
        problems.push_back("emitted " + std::string(event.type.data, event.type.len) +
                           " with a payload that is not a JSON object");
        return RH_ERR_INVALID_ARGUMENT;
      }
      types.emplace_back(event.type.data, event.type.len);
      return RH_OK;
    } catch (...) {
      return RH_ERR_NO_MEMORY;
    }
  }
  std::vector<std::string> types;
  std::vector<std::string> problems;
};

Status check_launch_spec(const std::string& text) {
  auto spec = parse_object(text, "launch spec");
  if (!spec) return spec.error();
  auto argv = spec->find("argv");
  if (argv == spec->end() || !argv->is_array() || argv->empty())
    return fail("launch spec has no non-empty \"argv\" array");
  for (const auto& a : *argv) {
    if (!a.is_string()) return fail("launch spec \"argv\" holds a non-string");
  }
  if (auto env = spec->find("env"); env != spec->end()) {
    if (!env->is_object()) return fail("launch spec \"env\" is not an object");
    for (const auto& [k, v] : env->items()) {
      if (!v.is_string()) return fail("launch spec env \"" + k + "\" is not a string");
    }
  }
  return {};
}

// One session: launch, feed awkward bytes, finish with `exit`; exactly one terminal event, last.
Status smoke_session(const LoadedPlugin& plugin, const rh_exit& exit) {
  RecordingRun run;
  plugins::RuntimeSessionArgs args;
  args.run_id = "runhost-check-run";
  args.dispatch_json = std::string(kSampleDispatch);
  args.config_json = plugin.config_json;
  auto session = plugins::RuntimeSession::create(plugin, args, &run);
  if (!session) return session.error();
  auto spec = (*session)->launch();
  if (!spec) return spec.error();
  if (auto st = check_launch_spec(*spec); !st) return st;
  // Feed failures are tolerated (the host records them as runtime.unparsed); crashes are not.
  (void)(*session)->feed(RH_STREAM_STDOUT, "plain text from the runtime\n{\"partial\":");
  (void)(*session)->feed(RH_STREAM_STDOUT, " true}\n\xff\xfe not utf-8\n{\"type\":\"unknown\"}\n");
  (void)(*session)->feed(RH_STREAM_STDERR, "warning: noise on stderr\n");
  if ((*session)->can_respond()) {  // live approvals: a well-formed answer is taken, garbage never crashes it
    for (
        const char* answer :
        {R"({"request_id":"runhost-check-1","approval_id":"apr_check","decision":"allow","scope":"once","source":"policy"})",
         R"({"request_id":"runhost-check-2","decision":"deny","reason":"the check says no","scope":"once","source":"human"})"}) {
      if (auto bytes = (*session)->respond(answer); !bytes) {
        return fail("respond() refused a well-formed answer: " + bytes.error().message);
      }
    }
    (void)(*session)->respond("{\"request_id\":");
  }
  if (auto st = (*session)->finish(exit); !st) return st;
  if (!run.problems.empty()) return fail(run.problems.front());
  size_t terminal = 0;
  for (const auto& t : run.types) terminal += events::is_terminal_event_type(t) ? 1 : 0;
  if (terminal != 1 || !events::is_terminal_event_type(run.types.back())) {
    return fail("finish() must emit exactly one run.completed, run.failed or run.cancelled, last; saw " +
                std::to_string(terminal) + " terminal events among " + std::to_string(run.types.size()));
  }
  return {};
}

Status smoke_runtime(const LoadedPlugin& plugin) {
  rh_exit ok{sizeof(rh_exit), RH_EXIT_EXITED, 0, 0, 0};
  rh_exit failed{sizeof(rh_exit), RH_EXIT_EXITED, 1, 0, 0};
  rh_exit killed{sizeof(rh_exit), RH_EXIT_SIGNALED, 0, SIGKILL, RH_EXIT_FLAG_CANCELLED};
  for (const rh_exit* exit : {&ok, &failed, &killed}) {
    if (auto st = smoke_session(plugin, *exit); !st) return st;
  }
  return {};
}

Status check_decision(const std::string& text) {
  auto d = parse_object(text, "decision");
  if (!d) return d.error();
  const auto effect = d->value("effect", std::string());
  if (effect != "allow" && effect != "deny" && effect != "ask")
    return fail("decision \"effect\" must be allow, deny or ask: " + text.substr(0, 200));
  if (effect != "allow" && !d->value("reason", json()).is_string())
    return fail("a " + effect + " decision needs a \"reason\" string");
  if (auto c = d->find("constraints"); c != d->end() && !c->is_object())
    return fail("decision \"constraints\" is not an object");
  return {};
}

Status smoke_policy(const LoadedPlugin& plugin) {
  auto instance = plugins::PolicyInstance::create(plugin, plugin.config_json);
  if (!instance) return instance.error();
  const std::string dispatch(kSampleDispatch);
  const std::string requests[] = {
      R"({"phase":"run.start","run_id":"runhost-check-run","dispatch":)" + dispatch + "}",
      R"({"phase":"action","run_id":"runhost-check-run","dispatch":)" + dispatch +
          R"(,"action":{"kind":"command","name":"Bash","input":{"command":"ls -la"}}})",
  };
  for (const auto& request : requests) {
    auto decision = (*instance)->evaluate(request);
    if (!decision) return decision.error();
    if (auto st = check_decision(*decision); !st) return st;
  }
  (void)(*instance)->evaluate("{\"phase\":");  // malformed: any status, no crash
  return {};
}

Status smoke_connector(const LoadedPlugin& plugin) {
  auto instance = plugins::ConnectorInstance::create(plugin, plugin.config_json);
  if (!instance) return instance.error();
  auto description = (*instance)->describe();
  if (!description) return description.error();
  auto d = parse_object(*description, "description");
  if (!d) return d.error();
  if (!d->value("id", json()).is_string()) return fail("description has no \"id\" string");

  const std::string request =
      R"({"connector":")" + plugin.info.id +
      R"(","tenantId":"check-tenant","workspaceId":"check-workspace","userId":"runhost-check-user","grant":null})";
  auto checked = (*instance)->check(request);
  if (!checked) return checked.error();
  auto c = parse_object(*checked, "check result");
  if (!c) return c.error();
  const auto state = c->value("state", std::string());
  if (state == "missing" || state == "expired") {
    if (!c->value("connect_url", json()).is_string())
      return fail("a " + state + " check result needs a \"connect_url\"");
    return {};
  }
  if (state != "granted")
    return fail("check \"state\" must be granted, missing or expired: " + checked->substr(0, 200));
  auto material = (*instance)->materialize(request);
  if (!material) return material.error();
  auto m = parse_object(*material, "materialized grant");
  if (!m) return m.error();
  if (auto env = m->find("env"); env != m->end()) {
    if (!env->is_object()) return fail("materialized \"env\" is not an object");
    for (const auto& [name, value] : env->items()) {
      if (!value.is_object() || !value.value("value", json()).is_string() ||
          !value.value("secret", json()).is_boolean()) {
        return fail("materialized env \"" + name + "\" must be {\"value\": string, \"secret\": bool}");
      }
    }
  }
  return {};
}

void run_checks(const std::filesystem::path& input, Reporter& r) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path path = fs::absolute(input, ec);
  const fs::path canonical = fs::canonical(path, ec);
  if (ec) {
    r.add("file", false, ec == std::errc::too_many_symbolic_link_levels ? "symlink loop" : ec.message());
    return;
  }
  if (!r.add("file", fs::is_regular_file(canonical), canonical.string())) return;

  auto manifest = plugins::read_manifest(plugins::manifest_path_for(path));
  if (!r.add("manifest", manifest ? Status{} : Status{manifest.error()}, plugins::manifest_path_for(path).string()))
    return;
  if (!r.add("manifest ABI", plugins::check_manifest_abi(*manifest))) return;

  if (auto exports = plugins::exported_symbols(canonical); !exports) {
    r.add("exports", false, exports.error().message);
  } else if (*exports == std::vector<std::string>{RH_PLUGIN_ENTRY_SYMBOL}) {
    r.add("exports", true, RH_PLUGIN_ENTRY_SYMBOL);
  } else {
    std::string list;
    for (const auto& s : *exports) list += (list.empty() ? "" : ", ") + s;
    r.add("exports", false,
          "must export exactly " + std::string(RH_PLUGIN_ENTRY_SYMBOL) +
              "; exports: " + (list.empty() ? "nothing" : list) + " (use -fvisibility=hidden and a version script)");
  }

  r.begin("load and init");
  auto library = plugins::acquire_library(
      path, canonical, *manifest, [&](std::string_view step, const Status& st) { r.add(std::string(step), st); },
      /*fresh=*/true);
  if (!library) return;

  for (const rh_plugin_desc* desc : (*library)->descriptors()) {
    LoadedPlugin plugin;
    plugin.info = plugins::describe(**library, *desc);
    plugin.library = *library;
    plugin.desc = desc;
    for (const auto& m : manifest->plugins) {
      if (m.id == plugin.info.id && m.kind == plugin.info.kind) plugin.config_json = m.config_json;
    }
    const std::string name = std::string(to_string(plugin.info.kind)) + " '" + plugin.info.id + "'";
    r.begin(name);
    if (desc->get_extension != nullptr) {
      const void* ext = desc->get_extension(desc, "runhost.conformance-probe/1");
      r.add(name + " extensions", ext == nullptr,
            ext ? "get_extension returned non-NULL for an unknown id" : "unknown id -> NULL");
    }
    switch (plugin.info.kind) {
      case PluginKind::runtime:
        r.add(name, smoke_runtime(plugin), "create, launch, feed, respond (live approvals), finish x3, destroy");
        break;
      case PluginKind::policy:
        r.add(name, smoke_policy(plugin), "create, evaluate x3, destroy");
        break;
      case PluginKind::connector:
        r.add(name, smoke_connector(plugin), "create, describe, check, destroy");
        break;
    }
  }
  r.begin("deinit");
  const std::weak_ptr<plugins::Library> watch = *library;
  library = Error{};  // drop the last reference: deinit() and unload run now
  r.add("deinit", watch.expired(), watch.expired() ? "library unloaded" : "library still referenced");
}

CheckReport check_plugin_with(const std::filesystem::path& library, const CheckCallback& on_result,
                              std::function<void(const std::string&)> on_begin) {
  CheckReport report;
  report.path = library;
  Reporter reporter(report, on_result, std::move(on_begin));
  run_checks(library, reporter);
  return report;
}

}  // namespace

CheckReport check_plugin(const std::filesystem::path& library, const CheckCallback& on_result) {
  return check_plugin_with(library, on_result, {});
}

CheckReport check_plugin_isolated(const std::filesystem::path& library, const CheckCallback& on_result,
                                  std::chrono::milliseconds timeout) {
  CheckReport report;
  report.path = library;
  Reporter parent(report, on_result);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    parent.add("isolation", false, std::string("pipe: ") + std::strerror(errno));
    return report;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    parent.add("isolation", false, std::string("fork: ") + std::strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return report;
  }
  if (pid == 0) {
    close(fds[0]);
    auto send = [&](const std::string& line) {
      for (size_t off = 0; off < line.size();) {
        const ssize_t n = write(fds[1], line.data() + off, line.size() - off);
        if (n <= 0) _exit(3);
        off += static_cast<size_t>(n);
      }
    };
    check_plugin_with(
        library,
        [&](const CheckResult& c) {
          send(json{{"name", c.name}, {"passed", c.passed}, {"detail", c.detail}}.dump(-1, ' ', false,
                                                                                       json::error_handler_t::replace) +
               "\n");
        },
        [&](const std::string& name) {
          send(json{{"begin", name}}.dump() + "\n");
        });
    _exit(0);
  }
  close(fds[1]);

  std::string buffer;
  std::string in_progress;  // the check that had begun and not reported when the child stopped
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char chunk[4096];
    const ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buffer.find('\n')) != std::string::npos; buffer.erase(0, nl + 1)) {
      json line = json::parse(buffer.substr(0, nl), nullptr, false);
      if (!line.is_object()) continue;
      if (line.contains("begin")) {
        in_progress = line.value("begin", "");
      } else {
        parent.add(line.value("name", ""), line.value("passed", false), line.value("detail", ""));
      }
    }
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string after = in_progress.empty() ? "" : "while checking " + in_progress;
  if (!report.checks.empty())
    after += (after.empty() ? "" : ", ") + std::string("after '") + report.checks.back().name + "'";
  if (after.empty()) after = "before the first check";
  if (timed_out) {
    parent.add("completes", false, "no result within " + std::to_string(timeout.count()) + " ms " + after + "; killed");
  } else if (WIFSIGNALED(status)) {
    parent.add("completes", false,
               "the plugin crashed the check process with signal " + std::to_string(WTERMSIG(status)) + " (" +
                   strsignal(WTERMSIG(status)) + ") " + after);
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    parent.add("completes", false,
               "the check process exited with status " + std::to_string(WEXITSTATUS(status)) + " " + after);
  }
  return report;
}

}  // namespace runhost
