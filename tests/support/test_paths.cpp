#include "test_paths.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "runhost/version.h"

extern char** environ;

namespace runhost::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "runhost-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string manifest_json(const std::string& library, const std::string& id, const std::string& kind,
                          const std::string& version, int abi_major) {
  return R"({"manifest": 1, "library": ")" + library + R"(", "abi": {"major": )" + std::to_string(abi_major) +
         R"(, "minor": )" + std::to_string(RH_ABI_VERSION_MINOR) + R"(}, "plugins": [{"id": ")" + id + R"(", "kind": ")" + kind + R"(", "version": ")" + version +
         R"("}]})";
}

std::filesystem::path copy_plugin(const std::string& id, const std::string& kind, const std::filesystem::path& dir,
                                  const std::string& stem) {
  const auto target = dir / (stem + ".so");
  std::filesystem::copy_file(kBundledDir / (id + ".so"), target, std::filesystem::copy_options::overwrite_existing);
  write_file(dir / (stem + ".runhost.json"), manifest_json(stem + ".so", id, kind));
  return target;
}

CommandResult run_command(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  CommandResult result;
  if (rc != 0) {
    close(fds[0]);
    throw std::runtime_error("cannot run " + argv[0]);
  }
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) result.out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::set<std::string> bundled_plugins() {
  std::set<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(kBundledDir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 13 || name.compare(name.size() - 13, 13, ".runhost.json") != 0) continue;
    const auto manifest = nlohmann::json::parse(read_file(entry.path()));
    for (const auto& p : manifest.at("plugins")) found.insert(p.at("kind").get<std::string>() + "/" + p.at("id").get<std::string>());
  }
  return found;
}

std::string bundled_runtimes_listed() {
  std::string listed;
  for (const auto& p : bundled_plugins()) {
    if (p.rfind("runtime/", 0) != 0) continue;
    listed += (listed.empty() ? "" : ", ") + p.substr(8);
  }
  return listed;
}

}  // namespace runhost::testing
