// The runhost command's help: an overview, and one page per command (`runhost COMMAND --help`,
// `runhost help COMMAND`), each with the flags it takes, the exit statuses and the environment.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace runhost::cli {

std::string overview();
// A command's page; nullopt for a command that does not exist.
std::optional<std::string> command_help(std::string_view command);
// --help or -h among the arguments, before any "--".
bool asks_for_help(const std::vector<std::string>& args);

}  // namespace runhost::cli
