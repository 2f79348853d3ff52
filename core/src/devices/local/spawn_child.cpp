#include "devices/local/spawn_child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace runhost::devices::local {
namespace {

namespace fs = std::filesystem;

// What execvp uses when PATH is unset.
constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

bool is_executable_file(const fs::path& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

Error os_error(const std::string& what, int err) {
  return {ErrorCode::internal, what + ": " + std::strerror(err)};
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

// Both ends close-on-exec, and above 0-2 so that dup2 onto 0-2 in the child always happens
// (dup2(fd, fd) would leave close-on-exec set).
Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return os_error("pipe2", errno);
  Pipe pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  for (UniqueFd* end : {&pipe.read, &pipe.write}) {
    if (end->get() > 2) continue;
    const int moved = ::fcntl(end->get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return os_error("fcntl(F_DUPFD_CLOEXEC)", errno);
    end->reset(moved);
  }
  return pipe;
}

Status set_nonblocking(const UniqueFd& fd) {
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0) return os_error("fcntl(O_NONBLOCK)", errno);
  return {};
}

// posix_spawn's attribute and file-action objects, destroyed on every path.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  // Own process group; no blocked signals; every signal at its default disposition (the host
  // may ignore SIGPIPE or block SIGCHLD, the runtime must not inherit that).
  int configure(const Pipe& in, const Pipe& out, const Pipe& err, const fs::path& cwd) {
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    int rc = posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0) rc = posix_spawnattr_setpgroup(&attr_, 0);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr_, &none);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr_, &all);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions_, in.read.get(), STDIN_FILENO);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions_, out.write.get(), STDOUT_FILENO);
    if (rc == 0) rc = posix_spawn_file_actions_adddup2(&actions_, err.write.get(), STDERR_FILENO);
    if (rc == 0) rc = posix_spawn_file_actions_addchdir_np(&actions_, cwd.c_str());
    // Belt and braces: whatever another part of the process opened without O_CLOEXEC.
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions_, STDERR_FILENO + 1);
    return rc;
  }

  const posix_spawn_file_actions_t* actions() const { return &actions_; }
  const posix_spawnattr_t* attr() const { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<fs::path> find_command(const std::string& command, const std::map<std::string, std::string>& env,
                              const fs::path& cwd) {
  if (command.empty()) return Error{ErrorCode::runtime_not_found, "no command to run: argv[0] is empty"};
  if (command.find('/') != std::string::npos) {
    const fs::path path = fs::path(command).is_absolute() ? fs::path(command) : cwd / command;
    if (is_executable_file(path)) return path;
    return Error{ErrorCode::runtime_not_found, "command '" + command + "' does not exist or is not executable"};
  }
  const auto path_var = env.find("PATH");
  const std::string search = path_var != env.end() ? path_var->second : kDefaultPath;
  for (size_t begin = 0; begin <= search.size();) {
    size_t end = search.find(':', begin);
    if (end == std::string::npos) end = search.size();
    const fs::path dir(search.substr(begin, end - begin));
    begin = end + 1;
    if (dir.empty()) continue;  // would mean the runtime's cwd: a workspace could plant a binary
    const fs::path candidate = (dir.is_absolute() ? dir : cwd / dir) / command;
    if (is_executable_file(candidate)) return candidate;
  }
  return Error{ErrorCode::runtime_not_found, "command '" + command + "' not found on PATH (" + search + ")"};
}

Result<SpawnedChild> spawn_child(const fs::path& program, const SpawnSpec& spec) {
  auto in = make_pipe();
  if (!in) return in.error();
  auto out = make_pipe();
  if (!out) return out.error();
  auto err = make_pipe();
  if (!err) return err.error();
  for (const UniqueFd* ours : {&in->write, &out->read, &err->read}) {
    if (auto s = set_nonblocking(*ours); !s) return s.error();
  }

  SpawnSetup setup;
  if (const int rc = setup.configure(*in, *out, *err, spec.cwd); rc != 0) return os_error("posix_spawn setup", rc);

  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> envp;
  envp.reserve(spec.env.size());
  for (const auto& [name, value] : spec.env) envp.push_back(name + "=" + value);
  auto argv_c = c_strings(argv);
  auto envp_c = c_strings(envp);

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), setup.actions(), setup.attr(), argv_c.data(), envp_c.data());
  if (rc != 0) {
    if (rc == ENOENT || rc == EACCES || rc == ENOEXEC || rc == EPERM || rc == ENOTDIR) {
      return Error{ErrorCode::runtime_not_found, "command '" + spec.argv.front() + "' cannot be executed (" +
                                                     program.string() + "): " + std::strerror(rc)};
    }
    return os_error("posix_spawn " + program.string(), rc);
  }

  // The child is a zombie at worst until we reap it, so its pid cannot have been reused.
  // glibc 2.36 declares pidfd_open() without C linkage for C++: the system call itself.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int e = errno;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return os_error("pidfd_open", e);
  }
  return SpawnedChild{pid, UniqueFd(pidfd), std::move(in->write), std::move(out->read), std::move(err->read)};
}

}  // namespace runhost::devices::local
