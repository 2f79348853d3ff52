#include "store/open_file.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>
#include <thread>
#include <vector>

#include "store/schema.hpp"

namespace runhost::store {
namespace {

Error directory_error(const std::filesystem::path& dir, int error_number) {
  return {ErrorCode::store_unavailable,
          "cannot create the store directory " + dir.string() + ": " + std::generic_category().message(error_number)};
}

bool writable(const std::filesystem::path& path) {
  return access(path.c_str(), W_OK) == 0 || errno == ENOENT;
}

// SQLite reports a file it cannot write, or a directory where it cannot create the -wal and
// -shm files, in several ways (READONLY, CANTOPEN, IOERR); the permissions say which it was.
Error explain(const std::filesystem::path& path, Error error) {
  if (error.code != ErrorCode::store_unavailable) return error;
  auto dir = path.parent_path();
  if (dir.empty()) dir = ".";
  if (!writable(path)) return {ErrorCode::store_unavailable, "store " + path.string() + " is read-only"};
  if (!writable(dir)) {
    return {ErrorCode::store_unavailable, "store " + path.string() + " is read-only: its directory " + dir.string() +
                                              " is not writable (SQLite keeps its -wal and -shm files there)"};
  }
  return error;
}

Status use_wal(sqlite::Connection& conn) {
  auto mode = conn.scalar_text("PRAGMA journal_mode = WAL");
  if (!mode) return std::move(mode).error();
  if (*mode != "wal") {
    return Error(ErrorCode::store_unavailable,
                 "store " + conn.path().string() + " cannot use WAL mode (its journal mode stays '" + *mode + "')");
  }
  return {};
}

Status set_up_schema(sqlite::Connection& conn) {
  // Once the schema is current, opening writes nothing and so waits on no other host's lock: a
  // host stopped in the middle of a write must not keep the others from opening the store.
  auto version = conn.scalar_int("PRAGMA user_version");
  if (!version) return std::move(version).error();
  if (*version == latest_schema_version()) return {};
  if (auto st = conn.exec("BEGIN IMMEDIATE", "setting up the schema"); !st) return st;
  auto st = migrate(conn);
  if (st) st = conn.exec("COMMIT", "setting up the schema");
  if (!st && conn.in_transaction()) (void)conn.exec("ROLLBACK");
  return st;
}

// The store holds prompts, dispatches and every event: its owner's alone. The file is created
// 0600 before SQLite opens it (SQLite gives its -wal and -shm files the main file's mode), and
// a file of ours left more open by an older runhost is tightened.
Status keep_private(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EACCES || errno == EROFS) return {};  // SQLite says what is wrong with it, in its words
    return Error(ErrorCode::store_unavailable,
                 "cannot open store " + path.string() + ": " + std::generic_category().message(errno));
  }
  struct stat info {};
  if (::fstat(fd, &info) == 0 && info.st_uid == ::geteuid() && (info.st_mode & 077) != 0) (void)::fchmod(fd, 0600);
  ::close(fd);
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    const auto companion = path.string() + suffix;
    if (::stat(companion.c_str(), &info) == 0 && info.st_uid == ::geteuid() && (info.st_mode & 077) != 0) {
      (void)::chmod(companion.c_str(), 0600);
    }
  }
  return {};
}

Status get_ready(sqlite::Connection& conn, const StoreOptions& options) {
  // Reads first: a file that is not a database, a damaged one or somebody else's is refused
  // before anything (the journal mode switch) writes to it.
  if (auto st = check_schema(conn); !st) return st;
  if (conn.read_only()) return Error(ErrorCode::store_unavailable, "store " + conn.path().string() + " is read-only");
  if (auto st = use_wal(conn); !st) return st;
  if (auto st = conn.exec(options.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL"); !st)
    return st;
  // After a burst, checkpoints shrink the -wal file back to this size.
  if (auto st = conn.exec("PRAGMA journal_size_limit = 67108864"); !st) return st;
  if (auto st = conn.exec("PRAGMA foreign_keys = ON"); !st) return st;
  return set_up_schema(conn);
}

}  // namespace

Status create_store_directory(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> missing;
  for (auto level = dir; !level.empty(); level = level.parent_path()) {
    struct stat info {};
    if (::stat(level.c_str(), &info) == 0) {
      if (!S_ISDIR(info.st_mode)) return directory_error(dir, ENOTDIR);
      break;
    }
    if (errno != ENOENT) return directory_error(dir, errno);
    missing.push_back(level);
    if (level == level.parent_path()) break;
  }
  for (auto level = missing.rbegin(); level != missing.rend(); ++level) {
    if (::mkdir(level->c_str(), 0700) != 0 && errno != EEXIST) return directory_error(*level, errno);
  }
  return {};
}

Result<std::unique_ptr<sqlite::Connection>> open_writer(const std::filesystem::path& path,
                                                        const StoreOptions& options) {
  if (auto st = keep_private(path); !st) return std::move(st).error();
  auto opened = sqlite::Connection::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, options.busy_timeout_ms);
  if (!opened) return explain(path, std::move(opened).error());
  // A new store opened by many processes at once (a backend's workers starting together): one
  // switches it to WAL and writes the schema while the rest queue for its locks, and behind each
  // other's first writes. SQLite's busy handler is not fair, so a busy timeout may pass for one
  // waiter; this happens once in a store's life, so wait through several before giving up.
  // Some of those locks SQLite refuses at once, without its busy handler (switching a new file
  // to WAL while another process opens it): so each retry first sleeps a little, longer each
  // time, or six refusals in a row would take microseconds (seen with one process opening the
  // store while others opened and closed it many times a second).
  Status ready = get_ready(**opened, options);
  for (int attempt = 1; !ready && attempt < 8 && (sqlite3_errcode((*opened)->handle()) & 0xff) == SQLITE_BUSY;
       ++attempt) {
    if ((*opened)->in_transaction()) (void)(*opened)->exec("ROLLBACK");
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10 << attempt, 250)));
    ready = get_ready(**opened, options);
  }
  if (auto st = std::move(ready); !st) {
    Error error = std::move(st).error();
    error.code = ErrorCode::store_unavailable;  // whatever it is, this file cannot be used
    const int rc = sqlite3_errcode((*opened)->handle()) & 0xff;
    const bool file_access = rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY || rc == SQLITE_IOERR || rc == SQLITE_PERM;
    return file_access ? explain(path, std::move(error)) : error;
  }
  return std::move(*opened);
}

}  // namespace runhost::store
