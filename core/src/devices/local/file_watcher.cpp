#include "devices/local/file_watcher.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include <boost/asio/post.hpp>

#include "util/logging.hpp"

namespace runhost::devices::local {
namespace {

namespace fs = std::filesystem;

// The first walk: the constructor's slice (before the process starts: the top of the tree, and
// all of a small one); after a pause that leaves the run's start to itself, the later ones,
// short, between other handlers.
constexpr auto kFirstSlice = std::chrono::microseconds(250);
constexpr auto kPauseAfterFirst = std::chrono::milliseconds(20);
constexpr auto kLaterSlice = std::chrono::microseconds(250);

constexpr uint32_t kWatchMask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

std::string join(const std::string& dir, std::string_view name) {
  return dir.empty() ? std::string(name) : dir + "/" + std::string(name);
}

bool under(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

}  // namespace

FileWatcher::FileWatcher(boost::asio::io_context& io, fs::path root, std::vector<std::string> ignore_dirs,
                         std::function<void(const FsEvent&)> on_event)
    : root_(std::move(root)),
      ignore_dirs_(std::move(ignore_dirs)),
      on_event_(std::move(on_event)),
      hub_(InotifyHub::for_context(io)),
      io_(io),
      pause_(io) {
  if (!hub_->ok()) return;
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  // File times come from the kernel's coarse clock, up to a tick (≤ 10 ms) behind this one.
  since_ns_ = int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec - 10'000'000;
  unwalked_.push_back("");
  walk_first(kFirstSlice);
  late_ = true;
  if (unwalked_.empty()) return;
  pause_.expires_after(kPauseAfterFirst);
  pause_.async_wait(lifetime_.guard([this](const boost::system::error_code& ec) {
    if (!ec && hub_) schedule_first_walk();
  }));
}

void FileWatcher::schedule_first_walk() {
  if (unwalked_.empty()) {
    if (on_walked_) std::exchange(on_walked_, {})();
    return;
  }
  boost::asio::post(io_, lifetime_.guard([this] {
    if (!hub_) return;  // stopped
    walk_first(kLaterSlice);
    schedule_first_walk();
  }));
}

void FileWatcher::when_walked(std::function<void()> done) {
  if (!walking()) return done();
  on_walked_ = std::move(done);                    // the slice that empties unwalked_ calls it
  if (pause_.cancel() > 0) schedule_first_walk();  // no reason to wait any more
}

void FileWatcher::walk_first(std::chrono::steady_clock::duration budget) {
  const auto until = std::chrono::steady_clock::now() + budget;
  while (!unwalked_.empty() && hub_) {
    const std::string dir = std::move(unwalked_.back());
    unwalked_.pop_back();
    walk_one(
        dir, /*watch=*/true,
        [&](const std::string& path) {
          if (late_) report_if_changed(path);
        },
        unwalked_);
    if (std::chrono::steady_clock::now() >= until) break;
  }
}

void FileWatcher::report_if_changed(const std::string& path) {
  struct statx info {};
  if (statx(AT_FDCWD, (root_ / path).c_str(), AT_SYMLINK_NOFOLLOW, STATX_MTIME | STATX_BTIME, &info) != 0) return;
  const auto ns = [](const statx_timestamp& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
  if (ns(info.stx_mtime) < since_ns_) return;
  const bool born_since = (info.stx_mask & STATX_BTIME) && ns(info.stx_btime) >= since_ns_;
  emit(born_since ? FsEvent::Kind::appeared : FsEvent::Kind::written, path);
}

void FileWatcher::drain() {
  while (!unwalked_.empty() && hub_) walk_first(std::chrono::hours(1));
  if (hub_ && hub_->ok()) hub_->drain();  // delivers to every watcher, this one included
  on_inotify_drained();
}

void FileWatcher::on_inotify_drained() {
  if (pending_move_) moved_out(*std::exchange(pending_move_, std::nullopt));
}

FileWatcher::~FileWatcher() {
  stop();
}

void FileWatcher::stop() {
  if (hub_) {
    hub_->remove_client(this);
    hub_.reset();
  }
  dirs_.clear();
  pending_move_.reset();
  unwalked_.clear();
  if (on_walked_) boost::asio::post(io_, std::exchange(on_walked_, {}));
}

void FileWatcher::handle(const inotify_event& event, const char* name) {
  if (event.mask & IN_Q_OVERFLOW) {
    util::logger()->warn("local device: inotify queue overflow under {}: some file changes were not seen",
                         root_.string());
    return;
  }
  const auto dir = dirs_.find(event.wd);
  if (event.mask & IN_IGNORED) {
    if (dir != dirs_.end()) dirs_.erase(dir);
    return;
  }
  if (dir == dirs_.end() || *name == '\0') return;  // a watch we dropped, or the directory itself
  const std::string path = join(dir->second, name);
  const bool is_dir = (event.mask & IN_ISDIR) != 0;
  const bool ignored_name = is_dir && ignored(name);

  const bool completes_move = (event.mask & IN_MOVED_TO) && pending_move_ && pending_move_->cookie == event.cookie;
  if (pending_move_ && !completes_move) moved_out(*std::exchange(pending_move_, std::nullopt));

  if (event.mask & IN_MOVED_FROM) {
    pending_move_ = PendingMove{event.cookie, path, is_dir, is_dir && !ignored_name};
  } else if (event.mask & IN_MOVED_TO) {
    handle_moved_to(path, is_dir, ignored_name, event.cookie);
  } else if (is_dir) {
    if ((event.mask & IN_CREATE) && !ignored_name) add_tree(path, /*report=*/true);
  } else if (event.mask & IN_CREATE) {
    emit(FsEvent::Kind::created, path);
  } else if (event.mask & IN_MODIFY) {
    emit(FsEvent::Kind::modified, path);
  } else if (event.mask & IN_CLOSE_WRITE) {
    emit(FsEvent::Kind::written, path);
  } else if (event.mask & IN_DELETE) {
    emit(FsEvent::Kind::deleted, path);
  }
}

void FileWatcher::handle_moved_to(const std::string& path, bool is_dir, bool ignored_name, uint32_t cookie) {
  std::optional<PendingMove> from;
  if (pending_move_ && pending_move_->cookie == cookie) from = std::exchange(pending_move_, std::nullopt);
  if (!is_dir) {
    if (from) return emit(FsEvent::Kind::renamed, path, from->path);
    return emit(FsEvent::Kind::appeared, path);
  }
  if (ignored_name) {
    if (from) moved_out(*from);  // out of sight is out of the tree
    return;
  }
  if (from && from->watched) return rename_tree(from->path, path);
  add_tree(path, /*report=*/true);
}

void FileWatcher::moved_out(const PendingMove& move) {
  if (move.is_dir && !move.watched) return;
  if (move.is_dir) forget_tree(move.path);
  emit(FsEvent::Kind::deleted, move.path);
}

void FileWatcher::add_tree(const std::string& rel, bool report) {
  walk(rel, /*watch=*/true, [&](const std::string& path) {
    if (report) emit(FsEvent::Kind::appeared, path);
  });
}

void FileWatcher::forget_tree(const std::string& rel) {
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    if (under(it->second, rel)) {
      if (hub_) hub_->remove_watch(this, it->first);
      it = dirs_.erase(it);
    } else {
      ++it;
    }
  }
}

// The inodes moved and their watches with them: only the names change. Files are reported
// under their new names; nothing needs watching anew. Directories inside it the first walk has
// not reached yet are still to be watched, under their new names.
void FileWatcher::rename_tree(const std::string& from, const std::string& to) {
  for (auto& [wd, dir] : dirs_) {
    if (under(dir, from)) dir = to + dir.substr(from.size());
  }
  for (auto& dir : unwalked_) {
    if (under(dir, from)) dir = to + dir.substr(from.size());
  }
  walk(to, /*watch=*/false,
       [&](const std::string& path) { emit(FsEvent::Kind::renamed, path, from + path.substr(to.size())); });
}

void FileWatcher::walk(const std::string& rel, bool watch, const std::function<void(const std::string&)>& on_file) {
  std::vector<std::string> stack{rel};
  while (!stack.empty()) {
    const std::string dir = std::move(stack.back());
    stack.pop_back();
    walk_one(dir, watch, on_file, stack);
  }
}

void FileWatcher::walk_one(const std::string& dir, bool watch, const std::function<void(const std::string&)>& on_file,
                           std::vector<std::string>& subdirs) {
  // The watch first, then the listing: a file made in between is seen twice, never missed.
  if (watch && hub_ && hub_->ok()) {
    const int wd = hub_->add_watch(this, root_ / dir, kWatchMask);
    if (wd >= 0) {
      dirs_[wd] = dir;
    } else if (errno == ENOSPC && !std::exchange(limit_logged_, true)) {
      util::logger()->warn("local device: inotify watch limit reached under {}: raise fs.inotify.max_user_watches",
                           root_.string());
    }
  }
  // readdir's d_type, not a stat per entry (std::filesystem's symlink_status() stats each one).
  std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir((root_ / dir).c_str()), ::closedir);
  if (!listing) return;
  while (const dirent* entry = ::readdir(listing.get())) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    unsigned char type = entry->d_type;
    if (type == DT_UNKNOWN) {  // some file systems do not say
      struct stat info {};
      if (::fstatat(::dirfd(listing.get()), entry->d_name, &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
      type = S_ISDIR(info.st_mode) ? DT_DIR : S_ISREG(info.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (type == DT_DIR && !ignored(name)) subdirs.push_back(join(dir, name));
    if (type == DT_REG) on_file(join(dir, name));
  }
}

bool FileWatcher::ignored(std::string_view name) const {
  return std::find(ignore_dirs_.begin(), ignore_dirs_.end(), name) != ignore_dirs_.end();
}

void FileWatcher::emit(FsEvent::Kind kind, std::string path, std::string from) {
  on_event_(FsEvent{kind, std::move(path), std::move(from)});
}

}  // namespace runhost::devices::local
