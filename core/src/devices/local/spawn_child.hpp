// Starting a runtime's process: the command looked up on the spec's own PATH, then posix_spawn
// without a shell, in a new process group, with default signals, exactly the given environment,
// the working directory set, and three pipes as stdin/stdout/stderr. No other descriptor of the
// host reaches the child.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>

#include "devices/local/local_device.hpp"
#include "devices/local/unique_fd.hpp"
#include "runhost/error.hpp"

namespace runhost::devices::local {

// The executable argv[0] names. With a '/' it is a path (relative to `cwd`); without, it is
// searched on `env`'s PATH (not the host's), relative PATH entries taken under `cwd` and empty
// ones skipped. runtime_not_found, naming the command and the PATH, when nothing executable
// is found.
Result<std::filesystem::path> find_command(const std::string& command, const std::map<std::string, std::string>& env,
                                           const std::filesystem::path& cwd);

struct SpawnedChild {
  pid_t pid = -1;   // also the process group id
  UniqueFd pidfd;   // readable once the process has exited
  UniqueFd stdin_;  // the host's ends, non-blocking and close-on-exec
  UniqueFd stdout_;
  UniqueFd stderr_;
};

// Spawns `program` with spec.argv, spec.env and spec.cwd. Errors: runtime_not_found when the
// program cannot be executed, internal for pipes, spawn or pidfd failures.
Result<SpawnedChild> spawn_child(const std::filesystem::path& program, const SpawnSpec& spec);

}  // namespace runhost::devices::local
