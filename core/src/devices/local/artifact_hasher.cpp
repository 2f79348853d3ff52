#include "devices/local/artifact_hasher.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include <boost/asio/post.hpp>

#include "devices/local/artifact_rules.hpp"

namespace runhost::devices::local {
namespace {

constexpr size_t kReadSize = 64 * 1024;
constexpr int kReadsPerSlice = 4;  // 256 KiB: about 2 ms of util::Sha256 at -O2

bool same_file_state(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ino == b.st_ino;
}

}  // namespace

ArtifactHasher::ArtifactHasher(boost::asio::io_context& io, std::filesystem::path root, int64_t max_bytes,
                               std::function<void(const Artifact&)> on_artifact)
    : io_(io), root_(std::move(root)), max_bytes_(max_bytes), on_artifact_(std::move(on_artifact)) {}

void ArtifactHasher::add(const std::string& relative_path) {
  if (current_ && current_->path == relative_path) {
    restart_current_ = true;
  } else if (std::find(queue_.begin(), queue_.end(), relative_path) == queue_.end()) {
    queue_.push_back(relative_path);
  }
  schedule();
}

void ArtifactHasher::when_idle(std::function<void()> done) {
  on_idle_ = std::move(done);
  schedule();
}

void ArtifactHasher::schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  boost::asio::post(io_, lifetime_.guard([this] {
    scheduled_ = false;
    step();
  }));
}

// One unit of work per call, the next one posted: open a file, or hash one slice of it.
// Nothing is touched after a callback: it may have destroyed us.
void ArtifactHasher::step() {
  if (!current_) {
    if (queue_.empty()) {
      if (auto done = std::exchange(on_idle_, nullptr)) done();
      return;
    }
    return open_next();
  }
  Job& job = *current_;
  static thread_local std::unique_ptr<char[]> buffer = std::make_unique<char[]>(kReadSize);
  for (int i = 0; i < kReadsPerSlice; ++i) {
    const ssize_t n = ::read(job.fd.get(), buffer.get(), kReadSize);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      job.sha.update(buffer.get(), static_cast<size_t>(n));
      job.size += n;
      continue;
    }
    struct stat now {};
    const bool changed = n < 0 || ::fstat(job.fd.get(), &now) != 0 || !same_file_state(now, job.opened);
    Job finished = std::move(job);
    current_.reset();
    if (changed || std::exchange(restart_current_, false)) {
      queue_.push_front(std::move(finished.path));  // rewritten while we read it: start again
      break;
    }
    const std::string sha = finished.sha.hex();
    return report(finished.path, sha, finished.size, sha);
  }
  schedule();
}

void ArtifactHasher::open_next() {
  std::string path = std::move(queue_.front());
  queue_.pop_front();
  restart_current_ = false;
  UniqueFd fd(::open((root_ / path).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return schedule();  // gone again, or not a file
  if (st.st_size > max_bytes_) {
    // Too large to hash: reported without a digest, once per size and mtime.
    const std::string identity = "unhashed:" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
                                 "." + std::to_string(st.st_mtim.tv_nsec);
    return report(path, identity, st.st_size, "");
  }
  current_.emplace();
  current_->path = std::move(path);
  current_->fd = std::move(fd);
  current_->opened = st;
  schedule();
}

void ArtifactHasher::report(const std::string& path, const std::string& identity, int64_t size, std::string sha256) {
  schedule();  // whatever is queued goes on after the callback
  auto& last = reported_[path];
  if (last == identity) return;
  last = identity;
  Artifact artifact;
  artifact.path = path;
  artifact.size_bytes = size;
  artifact.content_type = content_type_for(path);
  artifact.sha256 = std::move(sha256);
  on_artifact_(artifact);
}

}  // namespace runhost::devices::local
