// The runhost subcommands. Each takes the arguments after its name and returns its exit status.
#pragma once

#include <string>
#include <vector>

namespace runhost::cli {

// The exit statuses, the same for every command (help.cpp prints them).
namespace exit_status {
inline constexpr int ok = 0;
inline constexpr int failed = 1;      // the run, or the thing checked, failed
inline constexpr int usage = 2;       // bad arguments, an invalid dispatch
inline constexpr int no_run = 3;      // no such run, or not the --tenant's (run_not_found)
inline constexpr int no_host = 70;    // the store or the plugins could not be opened
inline constexpr int cancelled = 130; // runhost run: the run was cancelled
}  // namespace exit_status

int cmd_plugins(const std::vector<std::string>& args);
int cmd_plugin(const std::vector<std::string>& args);  // "plugin check PATH"
int cmd_run(const std::vector<std::string>& args);
int cmd_events(const std::vector<std::string>& args);
int cmd_runs(const std::vector<std::string>& args);
int cmd_cancel(const std::vector<std::string>& args);
int cmd_approvals(const std::vector<std::string>& args);
int cmd_approve(const std::vector<std::string>& args);
int cmd_deny(const std::vector<std::string>& args);
int cmd_grants(const std::vector<std::string>& args);  // "grants add|list|revoke ..."
int cmd_usage(const std::vector<std::string>& args);

}  // namespace runhost::cli
