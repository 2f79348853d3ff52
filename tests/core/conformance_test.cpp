// `runhost plugin check` as a library: the examples pass, every fixture fails, and a crashing or
// hanging plugin is a failed check rather than a dead caller.
#include <algorithm>
#include <map>

#include <gtest/gtest.h>

#include "runhost/conformance.hpp"
#include "test_paths.hpp"

namespace runhost {
namespace {

std::vector<std::string> failed_checks(const CheckReport& report) {
  std::vector<std::string> out;
  for (const auto& c : report.checks) {
    if (!c.passed) out.push_back(c.name + ": " + c.detail);
  }
  return out;
}

TEST(Conformance, TheExamplesPassEveryCheck) {
  for (const char* id : {"example-echo", "deny-pattern", "static-grant", "oauth2", "custom"}) {
    const auto report = check_plugin_isolated(testing::kBundledDir / (std::string(id) + ".so"));
    EXPECT_TRUE(report.passed()) << id << ": " << ::testing::PrintToString(failed_checks(report));
    std::vector<std::string> names;
    for (const auto& c : report.checks) names.push_back(c.name);
    for (const char* must : {"manifest", "exports", "dlopen", "entry table", "descriptors", "manifest agreement", "init", "deinit"}) {
      EXPECT_NE(std::find(names.begin(), names.end(), must), names.end()) << id << " skipped " << must;
    }
  }
}

TEST(Conformance, FailsEachFixtureAtTheRightCheck) {
  const std::map<std::string, std::string> first_failure = {
      {"not-a-library.so", "exports"},       {"no-entry.so", "exports"},
      {"null-entry.so", "entry table"},      {"wrong-major.so", "entry table"},
      {"wrong-major-manifest.so", "manifest ABI"}, {"short-struct.so", "entry table"},
      {"duplicate-id.so", "descriptors"},    {"unknown-kind.so", "descriptors"},
      {"manifest-mismatch.so", "manifest agreement"}, {"init-fails.so", "init"},
      {"bad-manifest-json.so", "manifest"},  {"manifest-missing-fields.so", "manifest"},
      {"no-manifest.so", "manifest"},        {"undefined-symbol.so", "dlopen"},
      {"incomplete-iface.so", "descriptors"}, {"bad-id.so", "descriptors"},
      {"wrong-arch.so", "exports"},          {"loop-a.so", "file"},
  };
  for (const auto& [file, check] : first_failure) {
    const auto report = check_plugin(testing::kFixtureDir / file);
    EXPECT_FALSE(report.passed()) << file;
    const auto failures = failed_checks(report);
    ASSERT_FALSE(failures.empty()) << file;
    EXPECT_EQ(failures.front().substr(0, check.size() + 1), check + ":") << file << ": " << failures.front();
  }
}

TEST(Conformance, FailsALibraryThatExportsMoreThanTheEntry) {
  const auto report = check_plugin(testing::kCheckOnlyDir / "extra-exports.so");
  const auto failures = failed_checks(report);
  ASSERT_EQ(failures.size(), 1u) << ::testing::PrintToString(failures);
  EXPECT_EQ(failures[0], "exports: must export exactly runhost_plugin_entry_v1; exports: fixture_extra_exports_build_info, "
                         "runhost_plugin_entry_v1 (use -fvisibility=hidden and a version script)");
}

TEST(Conformance, SurvivesAPluginThatCrashes) {
  const auto report = check_plugin_isolated(testing::kMisbehavingDir / "crashes.so");
  const auto failures = failed_checks(report);
  ASSERT_EQ(failures.size(), 1u) << ::testing::PrintToString(failures);
  // A plain build dies of SIGSEGV; under ASan the sanitizer reports it and exits non-zero.
  EXPECT_NE(failures[0].find("completes: "), std::string::npos);
  EXPECT_NE(failures[0].find("while checking policy 'fixture-crashes'"), std::string::npos) << failures[0];
}

TEST(Conformance, GivesUpOnAPluginThatHangs) {
  const auto report = check_plugin_isolated(testing::kMisbehavingDir / "hangs.so", {}, std::chrono::milliseconds(500));
  const auto failures = failed_checks(report);
  ASSERT_EQ(failures.size(), 1u) << ::testing::PrintToString(failures);
  EXPECT_EQ(failures[0], "completes: no result within 500 ms while checking load and init, after 'manifest agreement'; killed");
}

TEST(Conformance, ReportsResultsAsTheyHappen) {
  std::vector<std::string> streamed;
  const auto report = check_plugin_isolated(testing::kBundledDir / "deny-pattern.so",
                                            [&](const CheckResult& c) { streamed.push_back(c.name); });
  ASSERT_EQ(streamed.size(), report.checks.size());
  EXPECT_EQ(streamed.front(), "file");
  EXPECT_EQ(streamed.back(), "deinit");
}

}  // namespace
}  // namespace runhost
