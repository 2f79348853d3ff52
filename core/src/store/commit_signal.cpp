#include "store/commit_signal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "store/host_lock.hpp"
#include "store/open_file.hpp"
#include "util/logging.hpp"

namespace runhost::store {

std::filesystem::path CommitSignal::path_for(const std::filesystem::path& store_path) {
  return HostLock::directory(store_path) / kFileName;
}

CommitSignal::~CommitSignal() {
  if (fd_ >= 0) ::close(fd_);
}

void CommitSignal::notify() noexcept {
  if (failed_) return;
  if (fd_ < 0) {
    // Opened on the first commit: the directory is the hosts' (HostLock makes it, 0700).
    const auto path = path_for(store_path_);
    if (auto st = create_store_directory(path.parent_path()); st) {
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    }
    if (fd_ < 0) {
      failed_ = true;
      util::logger()->warn("cannot open {} ({}): followers in other processes see this host's events later",
                           path.string(), std::strerror(errno));
      return;
    }
  }
  const char byte = 0;
  if (::pwrite(fd_, &byte, 1, 0) != 1 && !failed_) {
    failed_ = true;
    util::logger()->warn("cannot write {} ({}): followers in other processes see this host's events later",
                         path_for(store_path_).string(), std::strerror(errno));
  }
}

}  // namespace runhost::store
