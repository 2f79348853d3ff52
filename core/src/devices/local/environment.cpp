#include <cstdlib>
#include <cstring>

#include "devices/local/local_device.hpp"

extern char** environ;

namespace runhost::devices::local {
namespace {

bool inherited(std::string_view name) {
  static constexpr std::string_view kAllowed[] = {"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "TZ", "TMPDIR"};
  for (auto allowed : kAllowed) {
    if (name == allowed) return true;
  }
  return name.rfind("LC_", 0) == 0;
}

}  // namespace

std::map<std::string, std::string> controlled_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq == nullptr) continue;
    std::string name(*e, static_cast<size_t>(eq - *e));
    if (inherited(name)) env[std::move(name)] = eq + 1;
  }
  if (!env.count("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  env["TERM"] = "dumb";
  for (const auto& [name, value] : extra) env[name] = value;
  return env;
}

}  // namespace runhost::devices::local
