#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "runhost/conformance.hpp"
#include "runhost/plugins.hpp"
#include "terminal.hpp"

namespace runhost::cli {
namespace {

using nlohmann::json;

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

int cmd_plugins(const std::vector<std::string>& argv) {
  const auto args = parse_args(argv, {{"--json", "--strict", "--no-bundled", "--no-env"}, {"--plugin-dir"}});
  if (!args.positionals.empty()) throw UsageError{"unexpected argument '" + args.positionals.front() + "'"};
  PluginSearchPath search;
  for (const auto& dir : args.values("--plugin-dir")) search.directories.emplace_back(dir);
  search.use_bundled = !args.has("--no-bundled");
  search.use_environment = !args.has("--no-env");
  const auto registry = PluginRegistry::load(search);

  if (args.has("--json")) {
    json out{{"directories", json::array()}, {"plugins", json::array()}, {"refused", json::array()}};
    for (const auto& d : registry->directories()) out["directories"].push_back(d.string());
    for (const auto& p : registry->plugins()) {
      out["plugins"].push_back({{"id", p.id}, {"kind", to_string(p.kind)}, {"version", p.version}, {"name", p.name},
                                {"vendor", p.vendor}, {"description", p.description}, {"library", p.library.string()},
                                {"abi", std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor)}});
    }
    for (const auto& r : registry->refusals()) out["refused"].push_back({{"path", r.path.string()}, {"reason", r.reason}});
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    std::FILE* o = stdout;
    std::cout << paint(o, Colour::bold, "Plugin directories") << "\n";
    for (const auto& d : registry->directories()) std::cout << "  " << d.string() << "\n";
    std::cout << "\n" << paint(o, Colour::bold, "Loaded (" + std::to_string(registry->plugins().size()) + ")") << "\n";
    if (!registry->plugins().empty()) {
      std::cout << paint(o, Colour::dim, "  " + pad("KIND", 11) + pad("ID", 24) + pad("VERSION", 10) + "PATH") << "\n";
    }
    for (const auto& p : registry->plugins()) {
      std::cout << "  " << pad(std::string(to_string(p.kind)), 11) << pad(p.id, 24) << pad(p.version, 10)
                << p.library.string() << "\n";
    }
    std::cout << "\n" << paint(o, Colour::bold, "Refused (" + std::to_string(registry->refusals().size()) + ")") << "\n";
    for (const auto& r : registry->refusals()) {
      std::cout << "  " << paint(o, Colour::red, r.path.string()) << ": " << r.reason << "\n";
    }
  }
  return args.has("--strict") && !registry->refusals().empty() ? 1 : 0;
}

int cmd_plugin(const std::vector<std::string>& argv) {
  const auto args = parse_args(argv, {{"--json", "--no-isolate"}, {"--timeout"}});
  if (args.positionals.size() != 2 || args.positionals[0] != "check") {
    throw UsageError{"usage: runhost plugin check PATH [--json] [--no-isolate] [--timeout SECONDS]"};
  }
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  if (auto t = args.value("--timeout")) {
    char* end = nullptr;
    const double seconds = std::strtod(t->c_str(), &end);
    if (end == t->c_str() || *end != '\0' || !(seconds > 0) || seconds > 86400) {
      throw UsageError{"--timeout must be a number of seconds between 0 and 86400, got '" + *t + "'"};
    }
    timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  }
  const std::string path = args.positionals[1];
  const bool as_json = args.has("--json");
  std::FILE* o = stdout;
  auto print = [&](const CheckResult& c) {
    if (as_json) return;
    std::cout << "  " << (c.passed ? paint(o, Colour::green, "ok  ") : paint(o, Colour::red, "FAIL")) << "  "
              << pad(c.name, 28) << (c.detail.empty() ? "" : paint(o, c.passed ? Colour::dim : Colour::none, c.detail))
              << "\n" << std::flush;
  };
  if (!as_json) std::cout << paint(o, Colour::bold, "Checking " + path) << "\n";
  const CheckReport report = args.has("--no-isolate") ? check_plugin(path, print) : check_plugin_isolated(path, print, timeout);
  size_t failed = 0;
  for (const auto& c : report.checks) failed += c.passed ? 0 : 1;
  if (as_json) {
    json out{{"path", path}, {"passed", report.passed()}, {"checks", json::array()}};
    for (const auto& c : report.checks) out["checks"].push_back({{"name", c.name}, {"passed", c.passed}, {"detail", c.detail}});
    std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    std::cout << (report.passed() ? paint(o, Colour::green, "PASS") : paint(o, Colour::red, "FAIL")) << "  " << path << ": "
              << report.checks.size() - failed << " passed, " << failed << " failed\n";
  }
  return report.passed() ? 0 : 1;
}

}  // namespace runhost::cli
