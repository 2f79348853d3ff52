// runhost — run AI agent runtimes under policy and stream one unified event stream.
#include <iostream>
#include <string>
#include <vector>

#include "args.hpp"
#include "commands.hpp"

#ifndef RUNHOST_VERSION_STRING
#define RUNHOST_VERSION_STRING "0.0.0"
#endif

namespace {

constexpr const char* kUsage = R"(runhost — run AI agent runtimes under policy, stream unified events

Usage:
  runhost run [--dispatch FILE|-] [--runtime ID] [--prompt TEXT] [--cwd DIR] [--device local]
              [--tenant T] [--workspace W] [--project P] [--user U] [--device-id ID]
              [--approval-policy auto|confirm-risky|manual] [--idempotency-key K]
              [--connector ID]... [--timeout SECONDS] [--output-mode text|jsonl] [--json]
              [--resume SESSION] [-- COMMAND ARGS...]
      Dispatch one run and print its events as they happen (JSON lines with --json).
      A command after -- runs with the custom runtime. --resume continues the runtime's
      own session (the session_id of an earlier run's last event). Fields not given get local
      defaults (tenant "local", workspace "default", user $USER, a fresh idempotency key).
      Ctrl-C cancels the run. Exits 0 when the run completed, 1 when it failed, 130 when
      it was cancelled, 2 for an invalid dispatch.
  runhost events RUN_ID [--after N] [--follow] [--json] [--tenant T]
      Print a run's stored events after seq N; --follow keeps printing until it ends.
  runhost runs [--tenant T] [--status S] [--limit N] [--json]
  runhost cancel RUN_ID [--tenant T]
      --tenant T acts as tenant T: another tenant's run is as missing as an unknown one.
      Without it, these commands are the operator's view of every tenant.
  runhost plugins [--plugin-dir DIR]... [--no-env] [--no-bundled] [--json] [--strict]
      List the plugins found on the search path, and every library refused, with why.
      The search path: each --plugin-dir, then RUNHOST_PLUGIN_PATH (':'-separated, unless
      --no-env), then the bundled directory (unless --no-bundled). --strict exits 1 when
      anything was refused.
  runhost plugin check PATH [--json] [--no-isolate] [--timeout SECONDS]
      Run the conformance checks on one plugin library, in a child process (unless
      --no-isolate) that is killed after --timeout seconds (default 60). Exits 1 naming
      each failed check.
  runhost version
  runhost help

  Commands that open the store take --store PATH (default: $XDG_DATA_HOME/runhost/runhost.db),
  --plugin-dir DIR, --workspace-root DIR (where local runs' cwd must lie; default: the
  current directory or RUNHOST_WORKSPACE_ROOT) and --plugin-config ID=JSON|ID=@FILE|ID=@-
  (a plugin's config inline, from FILE or from stdin; a config holding a secret only from a
  file or stdin, since every process can read a command line).

Environment:
  RUNHOST_PLUGIN_PATH   extra plugin directories, ':'-separated
  RUNHOST_WORKSPACE_ROOT  the default --workspace-root
  RUNHOST_LOG           log level on stderr: trace, debug, info, warn (default), error, off
  NO_COLOR              disable colour on a terminal
)";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  try {
    if (command == "plugins") return runhost::cli::cmd_plugins(rest);
    if (command == "plugin") return runhost::cli::cmd_plugin(rest);
    if (command == "run") return runhost::cli::cmd_run(rest);
    if (command == "events") return runhost::cli::cmd_events(rest);
    if (command == "runs") return runhost::cli::cmd_runs(rest);
    if (command == "cancel") return runhost::cli::cmd_cancel(rest);
    if (command == "version" || command == "--version") {
      std::cout << "runhost " << RUNHOST_VERSION_STRING << " (plugin ABI 1)\n";
      return 0;
    }
    std::cerr << "runhost: unknown command '" << command << "' (see runhost help)\n";
    return 2;
  } catch (const runhost::cli::UsageError& e) {
    std::cerr << "runhost " << command << ": " << e.message << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "runhost " << command << ": internal error: " << e.what() << "\n";
    return 70;
  }
}
