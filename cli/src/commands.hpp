// The runhost subcommands. Each takes the arguments after its name and returns the exit code:
// 0 success, 1 the thing checked (or the run) failed, 2 usage error, 70 the host could not
// start (store or plugins); `run` exits 130 when the run was cancelled.
#pragma once

#include <string>
#include <vector>

namespace runhost::cli {

int cmd_plugins(const std::vector<std::string>& args);
int cmd_plugin(const std::vector<std::string>& args);  // "plugin check PATH"
int cmd_run(const std::vector<std::string>& args);
int cmd_events(const std::vector<std::string>& args);
int cmd_runs(const std::vector<std::string>& args);
int cmd_cancel(const std::vector<std::string>& args);

}  // namespace runhost::cli
