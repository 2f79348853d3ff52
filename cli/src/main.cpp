// runhost — run AI agent runtimes under policy and stream one unified event stream.
#include <iostream>
#include <string>
#include <vector>

#include "args.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "runhost/version.h"

#ifndef RUNHOST_VERSION_STRING
#define RUNHOST_VERSION_STRING "0.0.0"
#endif

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << runhost::cli::overview();
    return runhost::cli::exit_status::usage;
  }
  const std::string command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "help" || command == "--help" || command == "-h") {
    if (rest.empty()) {
      std::cout << runhost::cli::overview();
      return 0;
    }
    auto page = runhost::cli::command_help(runhost::cli::asks_for_help(rest) ? "help" : rest[0]);
    if (!page) {
      std::cerr << "runhost help: unknown command '" << rest[0] << "' (see runhost help)\n";
      return runhost::cli::exit_status::usage;
    }
    std::cout << *page;
    return 0;
  }
  if (auto page = runhost::cli::command_help(command); page && runhost::cli::asks_for_help(rest)) {
    std::cout << *page;
    return 0;
  }
  try {
    if (command == "plugins") return runhost::cli::cmd_plugins(rest);
    if (command == "plugin") return runhost::cli::cmd_plugin(rest);
    if (command == "run") return runhost::cli::cmd_run(rest);
    if (command == "events") return runhost::cli::cmd_events(rest);
    if (command == "runs") return runhost::cli::cmd_runs(rest);
    if (command == "cancel") return runhost::cli::cmd_cancel(rest);
    if (command == "approvals") return runhost::cli::cmd_approvals(rest);
    if (command == "approve") return runhost::cli::cmd_approve(rest);
    if (command == "deny") return runhost::cli::cmd_deny(rest);
    if (command == "grants") return runhost::cli::cmd_grants(rest);
    if (command == "usage") return runhost::cli::cmd_usage(rest);
    if (command == "version" || command == "--version") {
      std::cout << "runhost " << RUNHOST_VERSION_STRING << " (plugin ABI " << RH_ABI_VERSION_MAJOR << "."
                << RH_ABI_VERSION_MINOR << ")\n";
      return 0;
    }
    std::cerr << "runhost: unknown command '" << command << "' (see runhost help)\n";
    return runhost::cli::exit_status::usage;
  } catch (const runhost::cli::UsageError& e) {
    std::cerr << "runhost " << command << ": " << e.message << " (see runhost " << command << " --help)\n";
    return runhost::cli::exit_status::usage;
  } catch (const std::exception& e) {
    std::cerr << "runhost " << command << ": internal error: " << e.what() << "\n";
    return 70;
  }
}
