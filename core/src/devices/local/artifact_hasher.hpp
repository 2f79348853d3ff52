// Artifacts: files handed in by the change debouncer, hashed (sha256) and reported once per
// (path, content) — a file rewritten with new content is reported again, one closed twice
// with the same content is not.
//
// Hashing runs on the reactor in bounded slices (256 KiB, about 2 ms), each slice
// posting the next, so a large file never stalls the other runs for long and no thread is
// needed. A file that changes while it is hashed is hashed again from the start.
#pragma once

#include <sys/stat.h>

#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>

#include "devices/local/lifetime.hpp"
#include "devices/local/local_device.hpp"
#include "devices/local/unique_fd.hpp"
#include "util/sha256.hpp"

namespace runhost::devices::local {

class ArtifactHasher {
 public:
  ArtifactHasher(boost::asio::io_context& io, std::filesystem::path root, int64_t max_bytes,
                 std::function<void(const Artifact&)> on_artifact);
  ArtifactHasher(const ArtifactHasher&) = delete;
  ArtifactHasher& operator=(const ArtifactHasher&) = delete;

  void add(const std::string& relative_path);
  // `done` runs (posted) once nothing is queued or being hashed.
  void when_idle(std::function<void()> done);

 private:
  struct Job {
    std::string path;
    UniqueFd fd;
    struct stat opened {};
    util::Sha256 sha;
    int64_t size = 0;
  };

  void schedule();
  void step();
  void open_next();
  void report(const std::string& path, const std::string& identity, int64_t size, std::string sha256);

  boost::asio::io_context& io_;
  std::filesystem::path root_;
  int64_t max_bytes_;
  std::function<void(const Artifact&)> on_artifact_;
  std::deque<std::string> queue_;
  std::optional<Job> current_;
  bool restart_current_ = false;
  bool scheduled_ = false;
  std::unordered_map<std::string, std::string> reported_;  // path -> content identity last reported
  std::function<void()> on_idle_;
  Lifetime lifetime_;
};

}  // namespace runhost::devices::local
