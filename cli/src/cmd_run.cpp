// runhost run: dispatch one run and print its events live.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <thread>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "event_printer.hpp"
#include "host_flags.hpp"
#include "terminal.hpp"
#include "util/json_depth.hpp"

namespace runhost::cli {
namespace {

using nlohmann::json;

std::string read_dispatch(const std::string& from) {
  if (from == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  std::ifstream in(from, std::ios::binary);
  if (!in) throw UsageError{"cannot read --dispatch " + from};
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string hostname() {
  char name[256] = {};
  return gethostname(name, sizeof name - 1) == 0 && name[0] ? name : "localhost";
}

std::string random_key() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  unsigned char bytes[12] = {};
  urandom.read(reinterpret_cast<char*>(bytes), sizeof bytes);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key = "cli-";
  for (unsigned char b : bytes) key += {kHex[b >> 4], kHex[b & 15]};
  return key;
}

// The dispatch: --dispatch's JSON (if any), then each flag on top, then defaults for what is
// still missing.
json build_dispatch(const Args& args) {
  json d = json::object();
  if (auto from = args.value("--dispatch")) {
    const std::string text = read_dispatch(*from);
    // Checked before parsing: a document nested 100,000 deep parses, then overflows the stack
    // when serialised again.
    if (!util::json_depth_within(text)) {
      throw UsageError{"--dispatch " + *from + " nests deeper than " + std::to_string(util::kMaxJsonDepth) +
                       " levels (a dispatch needs 2)"};
    }
    d = json::parse(text, nullptr, false);
    if (d.is_discarded() || !d.is_object()) throw UsageError{"--dispatch " + *from + " is not a JSON object"};
  }
  const std::pair<const char*, const char*> flags[] = {
      {"--tenant", "tenantId"},   {"--workspace", "workspaceId"}, {"--project", "projectId"},
      {"--user", "userId"},       {"--device", "deviceType"},     {"--device-id", "deviceId"},
      {"--runtime", "runtime"},   {"--prompt", "prompt"},         {"--cwd", "cwd"},
      {"--approval-policy", "approvalPolicy"}, {"--idempotency-key", "idempotencyKey"}, {"--output-mode", "outputMode"},
      {"--resume", "resumeSessionId"}};
  for (const auto& [flag, field] : flags) {
    if (auto v = args.value(flag)) d[field] = *v;
  }
  if (auto t = args.value("--timeout")) {
    char* end = nullptr;
    const long long seconds = std::strtoll(t->c_str(), &end, 10);
    if (end == t->c_str() || *end != '\0') throw UsageError{"--timeout takes whole seconds, got '" + *t + "'"};
    d["timeoutSeconds"] = seconds;
  }
  for (const auto& c : args.values("--connector")) d["connectors"].push_back(c);
  if (!args.after_dashdash.empty()) {
    d["command"] = args.after_dashdash;
    if (!d.contains("runtime")) d["runtime"] = "custom";
  }
  const std::pair<const char*, std::string> defaults[] = {
      {"tenantId", "local"}, {"workspaceId", "default"}, {"userId", default_actor()}, {"deviceType", "local"},
      {"prompt", ""}, {"approvalPolicy", "auto"}, {"idempotencyKey", random_key()}};
  for (const auto& [field, value] : defaults) {
    if (!d.contains(field)) d[field] = value;
  }
  // A local run names this machine; a sandbox without --device-id is found or created.
  if (!d.contains("deviceId") && d["deviceType"] == "local") d["deviceId"] = hostname();
  return d;
}

int exit_code_for(const std::string& terminal_type) {
  if (terminal_type == "run.completed") return exit_status::ok;
  if (terminal_type == "run.cancelled") return exit_status::cancelled;
  return exit_status::failed;
}

// Waits for the blocked `signals` on a thread of its own and calls `on_signal` with how many
// have arrived so far. Stops and joins when destroyed, so `on_signal` never runs once the
// objects it refers to (declared before it) are gone.
class SignalWatch {
 public:
  SignalWatch(sigset_t signals, std::function<void(int count)> on_signal)
      : thread_([this, signals, on_signal = std::move(on_signal)] {
          int count = 0;
          const timespec poll{0, 100'000'000};
          while (!stop_.load()) {
            if (sigtimedwait(&signals, nullptr, &poll) > 0) on_signal(++count);
          }
        }) {}
  ~SignalWatch() {
    stop_ = true;
    thread_.join();
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

int cmd_run(const std::vector<std::string>& argv) {
  const auto args = parse_args(
      argv, with_host_flags({{"--json", "--keep-raw"},
                             {"--dispatch", "--tenant", "--workspace", "--project", "--user", "--device", "--device-id",
                              "--runtime", "--prompt", "--cwd", "--approval-policy", "--idempotency-key", "--output-mode",
                              "--timeout", "--connector", "--resume", "--artifact-pattern", "--approval-timeout"}}));
  if (!args.positionals.empty()) {
    throw UsageError{"unexpected argument '" + args.positionals.front() + "' (a command for the custom runtime goes after --)"};
  }
  const json dispatch = build_dispatch(args);
  if (!dispatch.contains("runtime")) throw UsageError{"say which runtime: --runtime ID, or a command after -- for the custom runtime"};

  // Ctrl-C cancels the run (a second one leaves at once). Blocked before any thread starts, so
  // only the waiter below receives them; runtimes start with a clean signal mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto host = open_host(args);
  if (!host) return exit_status::no_host;
  auto dispatched = host->dispatch(dispatch.dump());
  if (!dispatched) {
    const Error& e = dispatched.error();
    const bool limited = e.code == ErrorCode::budget_exceeded || e.code == ErrorCode::quota_exceeded;  // --limits
    std::cerr << "runhost run: " << (limited ? std::string(to_string(e.code)) + ": " : std::string()) << e.message << "\n";
    return dispatched.error().code == ErrorCode::invalid_dispatch ? 2 : 1;
  }
  const auto run = dispatched->run;
  const bool as_json = args.has("--json");
  if (!as_json) {
    std::fprintf(stderr, "%s %s (%s on %s:%s)%s\n", paint(stderr, Colour::bold, "run").c_str(), run.id.c_str(),
                 run.runtime.c_str(), run.device_type.c_str(), run.device_id.c_str(),
                 dispatched->created ? "" : " — already dispatched with this idempotency key; replaying");
  }

  EventPrinter printer(stdout, as_json);
  std::string terminal;  // written on the reactor thread, read after follow_run returns
  SignalWatch cancel_on_signal(signals, [&host = *host, id = run.id](int count) {
    if (count > 1) std::_Exit(130);
    std::fprintf(stderr, "\nrunhost: cancelling %s (again to quit at once)\n", id.c_str());
    (void)host.cancel(id);
  });

  const Status end = follow_run(*host, run.id, 0, [&](const Event& e) {
    printer.print(e);
    if (e.type == "run.completed" || e.type == "run.failed" || e.type == "run.cancelled") terminal = e.type;
  });
  if (!end) {
    std::cerr << "runhost run: " << end.error().message << "\n";
    return 1;
  }
  return exit_code_for(terminal);
}

}  // namespace runhost::cli
