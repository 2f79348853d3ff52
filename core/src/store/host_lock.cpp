#include "store/host_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "store/open_file.hpp"

namespace runhost::store {
namespace {

Error lock_error(const std::string& what, const std::filesystem::path& path, int err) {
  return {ErrorCode::store_unavailable, what + " " + path.string() + ": " + std::generic_category().message(err)};
}

std::filesystem::path lock_path(const std::filesystem::path& store_path, const std::string& host_id) {
  return HostLock::directory(store_path) / (host_id + ".lock");
}

// Whether `fd` is still the file at `path`: a lock on a file someone unlinked proves nothing.
bool still_linked(int fd, const std::filesystem::path& path) {
  struct stat open_file {};
  struct stat named {};
  return ::fstat(fd, &open_file) == 0 && ::stat(path.c_str(), &named) == 0 && open_file.st_dev == named.st_dev &&
         open_file.st_ino == named.st_ino;
}

}  // namespace

std::filesystem::path HostLock::directory(const std::filesystem::path& store_path) {
  return std::filesystem::path(store_path.string() + "-hosts");
}

Result<HostLock> HostLock::acquire(const std::filesystem::path& store_path, const std::string& host_id) {
  const auto dir = directory(store_path);
  if (auto st = create_store_directory(dir); !st) return std::move(st).error();
  const auto path = lock_path(store_path, host_id);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return lock_error("cannot create the host lock", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      return lock_error("cannot lock the host lock", path, err);
    }
    if (still_linked(fd, path)) return HostLock(fd, path);
    ::close(fd);  // deleted between our open and our lock: make it again
  }
  return Error(ErrorCode::store_unavailable, "cannot hold the host lock " + path.string() + ": it keeps being deleted");
}

Result<HostProbe> HostLock::probe(const std::filesystem::path& store_path, const std::string& host_id) {
  const auto path = lock_path(store_path, host_id);
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    // No file: the host released it (it deletes it when it closes) or a recovery did.
    if (errno == ENOENT) return HostProbe{false, std::nullopt};
    return lock_error("cannot open the host lock", path, errno);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return HostProbe{true, std::nullopt};
    return lock_error("cannot probe the host lock", path, err);
  }
  if (!still_linked(fd, path)) {  // its holder (the host itself, or a recovery) deleted it
    ::close(fd);
    return HostProbe{false, std::nullopt};
  }
  return HostProbe{false, HostLock(fd, path)};
}

HostLock::HostLock(HostLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

HostLock& HostLock::operator=(HostLock&& other) noexcept {
  if (this != &other) {
    this->~HostLock();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

HostLock::~HostLock() {
  if (fd_ < 0) return;
  (void)::unlink(path_.c_str());
  ::close(fd_);
}

}  // namespace runhost::store
