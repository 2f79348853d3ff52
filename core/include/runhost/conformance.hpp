// runhost/conformance.hpp — the conformance kit behind `runhost plugin check PATH`.
//
// Runs every check a plugin vendor's library must pass, one result per check: manifest, ELF
// architecture, exactly one exported symbol, dlopen with RTLD_NOW, entry table, descriptors,
// manifest agreement, init, extension lookup, a smoke run of each plugin's interface, deinit.
//
//   auto report = runhost::check_plugin_isolated("/opt/vendor/acme.so");
//   for (const auto& c : report.checks) std::cout << (c.passed ? "ok   " : "FAIL ") << c.name << "\n";
//   return report.passed() ? 0 : 1;
//
// Thread rules: check_plugin() loads the library into this process and calls into it;
// check_plugin_isolated() does the same in a forked child, so a crashing or hanging plugin is
// reported as a failed check instead of taking the caller down. Call it before starting
// threads of your own (it forks).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace runhost {

struct CheckResult {
  std::string name;  // "manifest", "exports", "policy 'deny-pattern'", ...
  bool passed = false;
  std::string detail;  // why it failed, or what was seen
};

struct CheckReport {
  std::filesystem::path path;
  std::vector<CheckResult> checks;
  bool passed() const noexcept;
};

using CheckCallback = std::function<void(const CheckResult&)>;

CheckReport check_plugin(const std::filesystem::path& library, const CheckCallback& on_result = {});

CheckReport check_plugin_isolated(const std::filesystem::path& library, const CheckCallback& on_result = {},
                                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace runhost
