#include "devices/local/file_watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "util/logging.hpp"

namespace runhost::devices::local {
namespace {

namespace fs = std::filesystem;

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
      hub_(InotifyHub::for_context(io)) {
  if (!hub_->ok()) return;
  add_tree("", /*report=*/false);
}

void FileWatcher::drain() {
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
// under their new names; nothing needs watching anew.
void FileWatcher::rename_tree(const std::string& from, const std::string& to) {
  for (auto& [wd, dir] : dirs_) {
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
    std::error_code ec;
    for (fs::directory_iterator it(root_ / dir, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      const auto type = it->symlink_status(ec).type();
      if (type == fs::file_type::directory && !ignored(name)) stack.push_back(join(dir, name));
      if (type == fs::file_type::regular) on_file(join(dir, name));
    }
  }
}

bool FileWatcher::ignored(std::string_view name) const {
  return std::find(ignore_dirs_.begin(), ignore_dirs_.end(), name) != ignore_dirs_.end();
}

void FileWatcher::emit(FsEvent::Kind kind, std::string path, std::string from) {
  on_event_(FsEvent{kind, std::move(path), std::move(from)});
}

}  // namespace runhost::devices::local
