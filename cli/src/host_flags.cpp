#include "host_flags.hpp"

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>

// Internal: the CLI refuses secrets on its command line by the host's own rule.
#include "util/secrets.hpp"

namespace runhost::cli {
namespace {

// One --plugin-config ID=JSON | ID=@FILE | ID=@- as the plugin's id and its JSON. A secret is
// never taken from the command line (every process on the machine can read it in
// /proc/PID/cmdline), and no message here ever repeats a value.
// `stdin_reader` names whoever has read stdin already (empty: nobody).
std::pair<std::string, std::string> read_plugin_config(const std::string& flag, std::string& stdin_reader) {
  const size_t eq = flag.find('=');
  if (eq == std::string::npos || eq == 0) throw UsageError{"--plugin-config takes ID=JSON, ID=@FILE or ID=@- (stdin)"};
  std::string id = flag.substr(0, eq);
  std::string value = flag.substr(eq + 1);
  if (value.empty() || value[0] != '@') {
    if (!util::secrets_in_config(value).empty()) {
      throw UsageError{"--plugin-config " + id +
                       "=JSON holds a secret, and every process on this machine can read a command line: put the "
                       "JSON in a file and pass " + id + "=@FILE, or on stdin with " + id + "=@-"};
    }
    return {std::move(id), std::move(value)};
  }
  const std::string from = value.substr(1);
  if (from.empty()) throw UsageError{"--plugin-config " + id + "=@ needs a file name, or - for stdin"};
  if (from == "-") {
    if (!stdin_reader.empty()) {
      throw UsageError{"--plugin-config " + id + "=@-: stdin is read by " + stdin_reader +
                       " already (one reader only)"};
    }
    stdin_reader = "--plugin-config " + id + "=@-";
    return {std::move(id), std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>())};
  }
  std::ifstream in(from, std::ios::binary);
  if (!in) throw UsageError{"--plugin-config " + id + "=@" + from + ": cannot read it (" + std::strerror(errno) + ")"};
  return {std::move(id), std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>())};
}

// --limits / $RUNHOST_LIMITS: the JSON itself when it starts with '{', else a file holding it.
std::string read_limits(const std::string& from, const char* named) {
  const size_t first = from.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && from[first] == '{') return from;
  std::ifstream in(from, std::ios::binary);
  if (!in) {
    throw UsageError{std::string(named) + " " + from + ": cannot read it (" + std::strerror(errno) +
                     "); give a file or the JSON itself"};
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

std::string default_actor() {
  const char* user = std::getenv("USER");
  return user != nullptr && *user ? user : "local-user";
}

ArgSpec with_host_flags(ArgSpec spec) {
  spec.options.insert({"--store", "--plugin-dir", "--workspace-root", "--plugin-config", "--limits"});
  return spec;
}

std::unique_ptr<Host> open_host(const Args& args) {
  HostOptions options;
  options.keep_raw = args.has("--keep-raw");  // runhost run's
  if (auto t = args.value("--approval-timeout")) {  // runhost run's
    char* end = nullptr;
    const long long seconds = std::strtoll(t->c_str(), &end, 10);
    if (end == t->c_str() || *end != '\0' || seconds <= 0) {
      throw UsageError{"--approval-timeout takes whole seconds > 0, got '" + *t + "'"};
    }
    options.approval_timeout = std::chrono::seconds(seconds);
  }
  for (const auto& pattern : args.values("--artifact-pattern")) {  // runhost run's
    if (pattern.empty()) throw UsageError{"--artifact-pattern takes a glob, such as '*.json'"};
    options.artifact_patterns.push_back(pattern);
  }
  if (auto store = args.value("--store")) options.store = *store;
  for (const auto& dir : args.values("--plugin-dir")) options.plugins.directories.emplace_back(dir);
  if (auto root = args.value("--workspace-root")) {
    options.workspace_root = *root;
  } else if (const char* env = std::getenv("RUNHOST_WORKSPACE_ROOT"); env != nullptr && *env) {
    options.workspace_root = env;
  }
  if (auto limits = args.value("--limits")) {
    options.limits = read_limits(*limits, "--limits");
  } else if (const char* env = std::getenv("RUNHOST_LIMITS"); env != nullptr && *env) {
    options.limits = read_limits(env, "RUNHOST_LIMITS");
  }
  // MIOSA_BASE_URL, MIOSA_API_KEY and MIOSA_TENANT are read by the host itself.
  if (const char* env = std::getenv("RUNHOST_MIOSA_TEMPLATE"); env != nullptr && *env) options.miosa.template_id = env;
  std::string stdin_reader = args.value("--dispatch") == "-" ? "--dispatch -" : "";  // runhost run read it
  for (const auto& flag : args.values("--plugin-config")) {
    auto [id, config] = read_plugin_config(flag, stdin_reader);
    // Registered before the host opens, so that nothing it logs or records shows them.
    for (const auto& secret : util::secrets_in_config(config)) util::secrets().add(secret);
    options.plugin_config[std::move(id)] = std::move(config);
  }
  auto host = Host::open(std::move(options));
  if (!host) {
    std::string message = host.error().message;  // a plugin's init error may quote its config
    util::secrets().redact(message);
    std::cerr << "runhost: " << message << "\n";
    return nullptr;
  }
  return std::move(*host);
}

Status follow_run(Host& host, const std::string& run_id, int64_t after_seq, const EventCallback& on_event,
                  const Scope& scope) {
  std::mutex m;
  std::condition_variable cv;
  bool ended = false;
  Status end;
  auto sub = host.subscribe(run_id, after_seq, on_event, [&](const Status& st) {
    std::lock_guard lock(m);
    ended = true;
    end = st;
    cv.notify_all();
  }, scope);
  if (!sub) return sub.error();
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return ended; });
  return end;
}

}  // namespace runhost::cli
