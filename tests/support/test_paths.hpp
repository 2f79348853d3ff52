// Paths the build hands the C++ test suites, and small helpers shared by them.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace runhost::testing {

inline const std::filesystem::path kFixtureDir = RUNHOST_TEST_FIXTURE_DIR;        // refused by the loader
inline const std::filesystem::path kCheckOnlyDir = RUNHOST_TEST_CHECK_ONLY_DIR;  // loaded, fail plugin check
inline const std::filesystem::path kOlderDir = RUNHOST_TEST_OLDER_DIR;  // ABI 1.0 and 1.1 plugins: load, pass plugin check
inline const std::filesystem::path kMisbehavingDir = RUNHOST_TEST_MISBEHAVING_DIR;  // crash or hang when called
inline const std::filesystem::path kEngineFixtureDir = RUNHOST_TEST_ENGINE_FIXTURE_DIR;  // test-only policies
inline const std::filesystem::path kBundledDir = RUNHOST_TEST_PLUGIN_DIR;        // the example plugins
inline const std::filesystem::path kCli = RUNHOST_TEST_CLI;                       // the runhost binary
inline const std::filesystem::path kSourceDir = RUNHOST_TEST_SOURCE_DIR;          // the repository

// A fresh directory under the system temp dir, removed when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& content);
std::string read_file(const std::filesystem::path& path);

// A plugin manifest for one plugin.
std::string manifest_json(const std::string& library, const std::string& id, const std::string& kind,
                          const std::string& version = "0.1.0", int abi_major = 1);

// Copies bundled plugin <id>.so into `dir` as <stem>.so with a manifest naming it.
std::filesystem::path copy_plugin(const std::string& id, const std::string& kind, const std::filesystem::path& dir,
                                  const std::string& stem);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr, interleaved
};

// What the bundled plugin directory holds, from its manifests: "kind/id" for every plugin, and
// the runtime ids as a host lists them ("claude-code, custom, ...", sorted).
std::set<std::string> bundled_plugins();
std::string bundled_runtimes_listed();

// Runs argv (no shell) with stdout+stderr captured.
CommandResult run_command(const std::vector<std::string>& argv);

}  // namespace runhost::testing
