// The loader as an operator sees it: which plugins load, which are refused, and why.
#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include <gtest/gtest.h>

#include "plugins/instances.hpp"
#include "plugins/registry.hpp"
#include "runhost/plugins.hpp"
#include "runhost/version.h"
#include "test_paths.hpp"

namespace runhost {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

PluginSearchPath only(std::vector<fs::path> dirs) {
  PluginSearchPath search;
  search.directories = std::move(dirs);
  search.use_environment = false;
  search.use_bundled = false;
  return search;
}

std::map<std::string, std::string> refusals_by_name(const PluginRegistry& registry) {
  std::map<std::string, std::string> out;
  for (const auto& r : registry.refusals()) out[r.path.filename().string()] = r.reason;
  return out;
}

// Is the library currently mapped into this process? (RTLD_NOLOAD never loads it.)
bool is_mapped(const fs::path& library) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return false;
  dlclose(handle);
  return true;
}

TEST(Loader, RefusesEveryFixtureWithItsReason) {
  const std::map<std::string, std::string> expected = {
      {"not-a-library.so", "not a shared library (no ELF header)"},
      {"no-entry.so", "no entry symbol runhost_plugin_entry_v1"},
      {"null-entry.so", "runhost_plugin_entry_v1() returned NULL"},
      {"wrong-major.so", "built for ABI 2.0; this host speaks ABI 1.x"},
      {"wrong-major-manifest.so", "manifest says ABI 2.0; this host speaks ABI 1.x"},
      {"short-struct.so", "entry table struct_size is 8; ABI 1 needs at least 48"},
      {"duplicate-id.so", "duplicate policy id 'dup' within the library"},
      {"unknown-kind.so", "plugin #0: unknown kind 99"},
      {"manifest-mismatch.so", "manifest disagrees with the library: the manifest lists policy 'fixture-mismatch-a'"},
      {"init-fails.so", "init() failed (status 9): fixture: cannot reach the licence server"},
      {"bad-manifest-json.so", "manifest bad-manifest-json.runhost.json: invalid JSON"},
      {"manifest-missing-fields.so", "manifest manifest-missing-fields.runhost.json: missing field 'plugins'"},
      {"no-manifest.so", "no manifest (expected no-manifest.runhost.json beside the library)"},
      {"undefined-symbol.so", "undefined symbol: fixture_symbol_defined_nowhere"},
      {"incomplete-iface.so", "policy 'fixture-incomplete-iface': policy lacks one of create, evaluate, destroy"},
      {"reserved-protocol.so",
       "runtime 'fixture-reserved-protocol': declares RH_PROTOCOL_HTTP, which is reserved: this host does not implement it"},
      {"bad-id.so", "plugin #0: invalid id 'Bad Id!'"},
      {"wrong-arch.so", "built for aarch64; this host is x86_64"},
      {"loop-a.so", "cannot resolve path: symlink loop"},
      {"loop-b.so", "cannot resolve path: symlink loop"},
      {"orphan.runhost.json", "manifest without a library: orphan.so is not beside it"},
  };
  const auto registry = PluginRegistry::load(only({testing::kFixtureDir}));
  EXPECT_TRUE(registry->plugins().empty());
  const auto refused = refusals_by_name(*registry);
  EXPECT_EQ(refused.size(), expected.size());
  for (const auto& [file, reason] : expected) {
    auto it = refused.find(file);
    ASSERT_NE(it, refused.end()) << file << " was not refused";
    EXPECT_NE(it->second.find(reason), std::string::npos) << file << ": got \"" << it->second << "\"";
    EXPECT_EQ(it->second.find('\n'), std::string::npos) << file << ": a refusal is one line";
  }
  // Nothing refused stays mapped.
  for (const auto& r : registry->refusals()) EXPECT_FALSE(is_mapped(r.path)) << r.path;
}

TEST(Loader, LoadsTheBundledExamples) {
  PluginSearchPath search;
  search.use_environment = false;
  const auto registry = PluginRegistry::load(search);
  ASSERT_EQ(registry->plugins().size(), testing::bundled_plugins().size())
      << (registry->refusals().empty() ? "" : registry->refusals()[0].reason);
  EXPECT_TRUE(registry->refusals().empty());
  const auto* echo = registry->find(PluginKind::runtime, "example-echo");
  const auto* deny = registry->find(PluginKind::policy, "deny-pattern");
  const auto* grant = registry->find(PluginKind::connector, "static-grant");
  ASSERT_TRUE(echo && deny && grant);
  EXPECT_EQ(echo->version, "0.1.0");
  EXPECT_EQ(echo->abi_major, 1u);
  EXPECT_TRUE(echo->library.is_absolute());
  EXPECT_EQ(deny->library.filename(), "deny-pattern.so");
  EXPECT_EQ(registry->find(PluginKind::policy, "example-echo"), nullptr) << "ids are per kind";
  std::vector<std::string> runtimes;
  for (const auto& p : testing::bundled_plugins()) {
    if (p.rfind("runtime/", 0) == 0) runtimes.push_back(p.substr(8));
  }
  EXPECT_EQ(registry->ids(PluginKind::runtime), runtimes) << "sorted, one per id";
  EXPECT_EQ(registry->directories().back(), bundled_plugin_dir());
}

// The manifest is read before the library is opened, so a stale one (the library was rebuilt
// against other headers) is refused with what to write instead, not trusted.
TEST(Loader, RefusesAManifestWhoseAbiDisagreesWithTheEntryTable) {
  TempDir dir;
  testing::copy_plugin("deny-pattern", "policy", dir.path(), "stale");
  auto manifest = testing::read_file(dir / "stale.runhost.json");
  const std::string current = "\"minor\": " + std::to_string(RH_ABI_VERSION_MINOR);
  ASSERT_NE(manifest.find(current), std::string::npos) << manifest;
  manifest.replace(manifest.find(current), current.size(), "\"minor\": " + std::to_string(RH_ABI_VERSION_MINOR + 1));
  testing::write_file(dir / "stale.runhost.json", manifest);
  const auto registry = PluginRegistry::load(only({dir.path()}));
  EXPECT_TRUE(registry->plugins().empty());
  const auto refused = refusals_by_name(*registry);
  ASSERT_EQ(refused.count("stale.so"), 1u);
  const std::string built = "1." + std::to_string(RH_ABI_VERSION_MINOR);
  EXPECT_EQ(refused.at("stale.so"), "manifest disagrees with the library: the manifest says ABI 1." +
                                        std::to_string(RH_ABI_VERSION_MINOR + 1) + ", the library's entry table says " +
                                        built + " (write \"abi\": {\"major\": 1, \"minor\": " +
                                        std::to_string(RH_ABI_VERSION_MINOR) + "} in the manifest)");
  EXPECT_FALSE(is_mapped(dir / "stale.so")) << "a refused library is unloaded";
}

TEST(Loader, ABadPluginDoesNotStopTheOthers) {
  TempDir dir;
  testing::copy_plugin("deny-pattern", "policy", dir.path(), "good");
  testing::write_file(dir / "garbage.so", std::string(4096, '\x5a'));
  testing::write_file(dir / "garbage.runhost.json", testing::manifest_json("garbage.so", "garbage", "policy"));
  testing::write_file(dir / "empty.so", "");
  testing::write_file(dir / "empty.runhost.json", testing::manifest_json("empty.so", "empty", "policy"));
  testing::write_file(dir / "truncated.so", testing::read_file(testing::kBundledDir / "deny-pattern.so").substr(0, 40));
  testing::write_file(dir / "truncated.runhost.json", testing::manifest_json("truncated.so", "truncated", "policy"));
  const auto registry = PluginRegistry::load(only({dir.path()}));
  ASSERT_EQ(registry->plugins().size(), 1u);
  EXPECT_EQ(registry->plugins()[0].id, "deny-pattern");
  const auto refused = refusals_by_name(*registry);
  EXPECT_EQ(refused.at("garbage.so"), "not a shared library (no ELF header)");
  EXPECT_EQ(refused.at("empty.so"), "not a shared library (no ELF header)");
  EXPECT_EQ(refused.at("truncated.so"), "truncated ELF header");
}

TEST(Loader, RefusesBadManifestsBeforeOpeningTheLibrary) {
  TempDir dir;
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"kind", {R"({"manifest":1,"library":"kind.so","abi":{"major":1,"minor":0},"plugins":[{"id":"x","kind":"widget","version":"1"}]})",
                "'plugins[0].kind' must be \"runtime\", \"policy\" or \"connector\""}},
      {"major-type", {R"({"manifest":1,"library":"major-type.so","abi":{"major":"1","minor":0},"plugins":[{"id":"x","kind":"policy","version":"1"}]})",
                      "'abi.major' must be a non-negative integer"}},
      {"format", {R"({"manifest":2,"library":"format.so","abi":{"major":1,"minor":0},"plugins":[]})",
                  "'manifest' must be 1"}},
      {"no-version", {R"({"manifest":1,"library":"no-version.so","abi":{"major":1,"minor":0},"plugins":[{"id":"x","kind":"policy"}]})",
                      "missing field 'plugins[0].version'"}},
      {"array", {R"([1,2,3])", "must be a JSON object"}},
      {"empty-plugins", {R"({"manifest":1,"library":"empty-plugins.so","abi":{"major":1,"minor":0},"plugins":[]})",
                         "'plugins' must be a non-empty array"}},
      {"renamed", {testing::manifest_json("other-name.so", "deny-pattern", "policy"),
                   "it describes 'other-name.so', not 'renamed.so'"}},
  };
  for (const auto& [stem, manifest] : cases) {
    std::filesystem::copy_file(testing::kBundledDir / "deny-pattern.so", dir / (stem + ".so"));
    testing::write_file(dir / (stem + ".runhost.json"), manifest.first);
  }
  const auto registry = PluginRegistry::load(only({dir.path()}));
  EXPECT_TRUE(registry->plugins().empty());
  const auto refused = refusals_by_name(*registry);
  for (const auto& [stem, manifest] : cases) {
    ASSERT_TRUE(refused.count(stem + ".so")) << stem;
    EXPECT_NE(refused.at(stem + ".so").find(manifest.second), std::string::npos) << stem << ": " << refused.at(stem + ".so");
  }
}

TEST(Loader, RefusesADuplicateIdFromAnotherLibraryAndKeepsTheFirst) {
  TempDir dir;
  const auto first = testing::copy_plugin("deny-pattern", "policy", dir.path(), "vendor-policy");
  PluginSearchPath search;  // vendor dir first, then the bundled dir
  search.directories = {dir.path()};
  search.use_environment = false;
  const auto registry = PluginRegistry::load(search);
  const auto* p = registry->find(PluginKind::policy, "deny-pattern");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->library, fs::canonical(first));
  const auto refused = refusals_by_name(*registry);
  ASSERT_TRUE(refused.count("deny-pattern.so"));
  EXPECT_EQ(refused.at("deny-pattern.so"), "duplicate policy id 'deny-pattern': already loaded from " + fs::canonical(first).string());
  EXPECT_TRUE(registry->find(PluginKind::runtime, "example-echo")) << "the other bundled plugins still load";
}

TEST(Loader, TheSameLibraryUnderTwoNamesOrDirectoriesLoadsOnce) {
  TempDir dir;
  const auto lib = testing::copy_plugin("static-grant", "connector", dir.path(), "grant");
  fs::create_symlink(lib, dir / "alias.so");
  testing::write_file(dir / "alias.runhost.json", testing::manifest_json("alias.so", "static-grant", "connector"));
  const auto registry = PluginRegistry::load(only({dir.path(), dir.path(), dir.path() / "." }));
  EXPECT_EQ(registry->plugins().size(), 1u);
  EXPECT_TRUE(registry->refusals().empty()) << registry->refusals()[0].reason;
  EXPECT_EQ(registry->directories().size(), 1u);
}

TEST(Loader, ReportsBadDirectoriesAndCarriesOn) {
  TempDir dir;
  testing::write_file(dir / "a-file", "x");
  fs::create_directory_symlink(dir / "loop", dir / "loop");  // a directory symlink to itself
  const auto registry = PluginRegistry::load(only({dir / "missing", dir / "a-file", dir / "loop", testing::kBundledDir}));
  EXPECT_EQ(registry->plugins().size(), testing::bundled_plugins().size());
  std::map<fs::path, std::string> by_path;
  for (const auto& r : registry->refusals()) by_path[r.path] = r.reason;
  EXPECT_EQ(by_path.at(dir / "missing"), "plugin directory does not exist");
  EXPECT_EQ(by_path.at(dir / "a-file"), "plugin path is not a directory");
  EXPECT_NE(by_path.at(dir / "loop").find("cannot read plugin directory: Too many levels of symbolic links"), std::string::npos)
      << by_path.at(dir / "loop");
}

TEST(Loader, ReportsAnUnreadableDirectory) {
  // Root reads every directory, so the loader runs in a child that drops to "nobody".
  TempDir dir;
  testing::copy_plugin("deny-pattern", "policy", dir.path(), "p");
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::others_exec);  // 0701: nobody can enter, not list
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
    const auto registry = PluginRegistry::load(only({dir.path()}));
    std::string reason = registry->refusals().empty() ? "(nothing refused)" : registry->refusals()[0].reason;
    if (!registry->plugins().empty()) reason = "(loaded)";
    (void)!write(fds[1], reason.data(), reason.size());
    _exit(0);
  }
  close(fds[1]);
  std::string reason;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) reason.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  EXPECT_EQ(reason, "cannot read plugin directory: Permission denied");
}

TEST(Loader, SearchPathOrderIsExplicitThenEnvironmentThenBundled) {
  setenv("RUNHOST_PLUGIN_PATH", "/opt/a::/opt/b/", 1);
  PluginSearchPath search;
  search.directories = {"/explicit"};
  const auto dirs = search.resolve();
  unsetenv("RUNHOST_PLUGIN_PATH");
  ASSERT_EQ(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], "/explicit");
  EXPECT_EQ(dirs[1], "/opt/a");
  EXPECT_EQ(dirs[2], "/opt/b") << "trailing separators are dropped";
  EXPECT_EQ(dirs[3], bundled_plugin_dir());
  search.use_environment = false;
  search.use_bundled = false;
  EXPECT_EQ(search.resolve(), std::vector<fs::path>{"/explicit"});
}

TEST(Loader, NeverUnloadsALibraryWhileAnObjectFromItLives) {
  TempDir dir;
  const auto lib = fs::canonical(testing::copy_plugin("deny-pattern", "policy", dir.path(), "private-policy"));
  std::unique_ptr<plugins::PolicyInstance> instance;
  {
    const auto registry = PluginRegistry::load(only({dir.path()}));
    const auto* loaded = registry->impl().find(PluginKind::policy, "deny-pattern");
    ASSERT_NE(loaded, nullptr);
    auto created = plugins::PolicyInstance::create(*loaded, R"({"patterns":["rm -rf /*"]})");
    ASSERT_TRUE(created) << created.error().message;
    instance = std::move(*created);
  }  // the registry is gone; the instance still holds the library
  EXPECT_TRUE(is_mapped(lib));
  auto decision = instance->evaluate(R"({"phase":"action","run_id":"r","dispatch":{},"action":{"kind":"command","name":"Bash","input":{"command":"rm -rf /"}}})");
  ASSERT_TRUE(decision) << decision.error().message;
  EXPECT_NE(decision->find("\"deny\""), std::string::npos) << *decision;
  instance.reset();
  EXPECT_FALSE(is_mapped(lib)) << "deinit and unload once the last object is gone";
}

TEST(Loader, RegistriesInOneProcessShareALoadedLibrary) {
  const auto a = PluginRegistry::load(only({testing::kBundledDir}));
  const auto b = PluginRegistry::load(only({testing::kBundledDir}));
  const auto* pa = a->impl().find(PluginKind::connector, "static-grant");
  const auto* pb = b->impl().find(PluginKind::connector, "static-grant");
  ASSERT_TRUE(pa && pb);
  EXPECT_EQ(pa->library.get(), pb->library.get()) << "one load, one init() per process";
}

}  // namespace
}  // namespace runhost
