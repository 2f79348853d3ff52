#include "args.hpp"

namespace runhost::cli {

std::optional<std::string> Args::value(const std::string& option) const {
  auto it = options.find(option);
  if (it == options.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::values(const std::string& option) const {
  auto it = options.find(option);
  return it == options.end() ? std::vector<std::string>{} : it->second;
}

Args parse_args(const std::vector<std::string>& argv, const ArgSpec& spec) {
  Args out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      out.after_dashdash.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
      break;
    }
    if (a.size() < 2 || a[0] != '-' || a == "-") {
      out.positionals.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (spec.flags.count(name)) {
      if (eq != std::string::npos) throw UsageError{name + " takes no value"};
      out.flags.insert(name);
    } else if (spec.options.count(name)) {
      if (eq != std::string::npos) {
        out.options[name].push_back(a.substr(eq + 1));
      } else if (i + 1 < argv.size()) {
        out.options[name].push_back(argv[++i]);
      } else {
        throw UsageError{name + " needs a value"};
      }
    } else {
      throw UsageError{"unknown option " + name};
    }
  }
  return out;
}

}  // namespace runhost::cli
