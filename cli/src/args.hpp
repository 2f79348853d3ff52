// A small argument reader for the runhost command: positionals, --flag, --opt VALUE and
// --opt=VALUE, repeated options, and "--" ending options. Errors name the offending argument.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace runhost::cli {

struct ArgSpec {
  std::set<std::string> flags;    // take no value: "--json"
  std::set<std::string> options;  // take a value: "--plugin-dir"
};

struct Args {
  std::vector<std::string> positionals;
  std::vector<std::string> after_dashdash;
  std::set<std::string> flags;
  std::map<std::string, std::vector<std::string>> options;

  bool has(const std::string& flag) const { return flags.count(flag) > 0; }
  std::optional<std::string> value(const std::string& option) const;
  std::vector<std::string> values(const std::string& option) const;
};

// Throws UsageError on an unknown option or a missing value.
Args parse_args(const std::vector<std::string>& argv, const ArgSpec& spec);

struct UsageError {
  std::string message;
};

}  // namespace runhost::cli
