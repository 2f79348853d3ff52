// The runhost subcommands. Each takes the arguments after its name and returns the exit code:
// 0 success, 1 the thing checked failed, 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace runhost::cli {

int cmd_plugins(const std::vector<std::string>& args);
int cmd_plugin(const std::vector<std::string>& args);  // "plugin check PATH"

}  // namespace runhost::cli
