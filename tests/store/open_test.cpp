// Opening: WAL mode, the directory, and each way a file can be unusable. A refused file is left
// exactly as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <random>

#include "store/schema.hpp"
#include "store_test_util.hpp"
#include "test_paths.hpp"

namespace runhost::store {
namespace {

namespace fs = std::filesystem;
using runhost::testing::read_file;
using runhost::testing::TempDir;
using runhost::testing::write_file;
using testing::make_run;
using testing::open_store;
using testing::RawConnection;

std::string random_bytes(size_t n) {
  std::mt19937 gen(42);
  std::string bytes(n, '\0');
  for (auto& c : bytes) c = static_cast<char>(gen() & 0xff);
  return bytes;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void make_store(const fs::path& path) {
  auto store = open_store(path);
  ASSERT_TRUE(store->create_run(make_run("run_A")));
}

// Store::open in a child that drops to "nobody" (root ignores file permissions): the error
// code and message, "opened" if it succeeded.
std::pair<std::string, std::string> open_as_nobody(const fs::path& path) {
  int fds[2];
  if (pipe(fds) != 0) return {"pipe failed", ""};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
    auto store = Store::open(path, {true, 100, 2000});
    const std::string out =
        store ? std::string("opened\n") : std::string(to_string(store.error().code)) + "\n" + store.error().message;
    (void)!write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return {"child status " + std::to_string(status), out};
  const auto newline = out.find('\n');
  return {out.substr(0, newline), newline == std::string::npos ? "" : out.substr(newline + 1)};
}

TEST(StoreOpen, UsesWalMode) {
  TempDir dir;
  make_store(dir / "runhost.db");
  RawConnection raw(dir / "runhost.db");
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(latest_schema_version()));
}

TEST(StoreOpen, CreatesMissingDirectoriesPrivately) {
  TempDir dir;
  auto store = open_store(dir / "a" / "b" / "runhost.db");
  for (const auto& level : {dir / "a", dir / "a" / "b"}) {
    struct stat info {};
    ASSERT_EQ(stat(level.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0700u) << level;
  }
  EXPECT_TRUE(fs::exists(dir / "a" / "b" / "runhost.db"));
}

TEST(StoreOpen, ReportsADirectoryThatCannotBeCreated) {
  TempDir dir;
  write_file(dir / "a-file", "x");
  auto store = Store::open(dir / "a-file" / "sub" / "runhost.db");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::store_unavailable);
  EXPECT_EQ(store.error().message,
            "cannot create the store directory " + (dir / "a-file" / "sub").string() + ": Not a directory");
}

TEST(StoreOpen, RefusesAFileThatIsNotADatabaseAndLeavesItAlone) {
  TempDir dir;
  const auto path = dir / "runhost.db";
  const std::string bytes = random_bytes(16384);
  write_file(path, bytes);
  auto store = Store::open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::store_unavailable);
  EXPECT_EQ(store.error().message.rfind("store " + path.string() + " is not a SQLite database", 0), 0u)
      << store.error().message;
  EXPECT_TRUE(read_file(path) == bytes) << "the file changed";
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"runhost.db"});
}

TEST(StoreOpen, RefusesACorruptDatabaseAndLeavesItAlone) {
  TempDir dir;
  const auto path = dir / "runhost.db";
  make_store(path);
  std::string bytes = read_file(path);
  ASSERT_GT(bytes.size(), 4096u);
  // Keep the 100-byte header, scramble the rest of page 1 (the schema's root).
  const std::string noise = random_bytes(4096 - 100);
  bytes.replace(100, noise.size(), noise);
  write_file(path, bytes);
  auto store = Store::open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::store_unavailable);
  EXPECT_NE(store.error().message.find("store " + path.string() + " is corrupt"), std::string::npos)
      << store.error().message;
  EXPECT_TRUE(read_file(path) == bytes) << "the file changed";
}

TEST(StoreOpen, RefusesSomebodyElsesDatabaseAndLeavesItAlone) {
  TempDir dir;
  const auto path = dir / "other.db";
  {
    RawConnection raw(path);
    raw.exec("CREATE TABLE agent_runs (x INTEGER)");
  }
  const std::string bytes = read_file(path);
  auto store = Store::open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::store_unavailable);
  EXPECT_EQ(
      store.error().message,
      "store " + path.string() + " is a database of something else (it has tables, but no runhost schema version)");
  EXPECT_TRUE(read_file(path) == bytes) << "the file changed";
  RawConnection raw(path);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "delete");
}

TEST(StoreOpen, RefusesANewerSchemaVersion) {
  TempDir dir;
  const auto path = dir / "runhost.db";
  make_store(path);
  RawConnection(path).exec("PRAGMA user_version = 99");
  auto store = Store::open(path);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::store_unavailable);
  EXPECT_EQ(store.error().message, "store " + path.string() +
                                       " has schema version 99, newer than this runhost knows (" +
                                       std::to_string(latest_schema_version()) + ")");
}

TEST(StoreOpen, OpensAndReadsWhileAnotherProcessHoldsTheWriteLock) {
  // A host stopped (or slow) in the middle of a write holds SQLite's write lock: once the schema
  // exists, opening and reading never wait for it; a write waits the busy timeout, then says so.
  TempDir dir;
  const auto path = dir / "runhost.db";
  make_store(path);
  RawConnection holder(path);
  holder.exec("BEGIN IMMEDIATE");
  holder.exec("UPDATE agent_runs SET status = status");
  const auto start = std::chrono::steady_clock::now();
  auto store = Store::open(path, {true, 100, 2000});
  ASSERT_TRUE(store) << store.error().message;
  auto runs = (*store)->runs({});
  ASSERT_TRUE(runs) << runs.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90)) << "nothing waited for the lock";

  auto created = (*store)->create_run(make_run("run_A"));
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().code, ErrorCode::store_unavailable);
  EXPECT_EQ(created.error().message.rfind(
                "store " + path.string() + " is locked by another process: still locked after 100 ms", 0),
            0u)
      << created.error().message;
  holder.exec("ROLLBACK");
  EXPECT_TRUE((*store)->create_run(make_run("run_B"))) << "writes go on once the lock is gone";
}

TEST(StoreOpen, ReportsANewFileLockedByAnotherProcessWithinTheBusyTimeout) {
  // Without a schema, opening must write one, and so waits for the lock (bounded).
  TempDir dir;
  const auto path = dir / "runhost.db";
  RawConnection holder(path);
  holder.exec("PRAGMA journal_mode = WAL");
  holder.exec("BEGIN IMMEDIATE");
  holder.exec("CREATE TEMP TABLE t (x)");
  holder.exec("PRAGMA user_version");
  const auto start = std::chrono::steady_clock::now();
  auto store = Store::open(path, {true, 100, 2000});
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::store_unavailable);
  EXPECT_EQ(store.error().message.rfind(
                "store " + path.string() + " is locked by another process: still locked after 100 ms", 0),
            0u)
      << store.error().message;
  EXPECT_GE(waited, std::chrono::milliseconds(90));
  EXPECT_LT(waited, std::chrono::seconds(3));
  holder.exec("ROLLBACK");
  EXPECT_TRUE(Store::open(path, {true, 100, 2000})) << "usable once the lock is gone";
}

TEST(StoreOpen, ReportsAReadOnlyFile) {
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_all);  // 0757: only the file is read-only
  const auto path = dir / "runhost.db";
  make_store(path);
  fs::permissions(path, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  const std::string bytes = read_file(path);
  const auto [code, message] = open_as_nobody(path);
  EXPECT_EQ(code, "store_unavailable") << message;
  EXPECT_EQ(message, "store " + path.string() + " is read-only");
  EXPECT_TRUE(read_file(path) == bytes) << "the file changed";
}

TEST(StoreOpen, ReportsAReadOnlyDirectory) {
  TempDir dir;
  fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);  // 0755
  const auto path = dir / "runhost.db";
  make_store(path);
  fs::permissions(path, fs::perms::all);  // the file is writable, its directory is not
  const auto [code, message] = open_as_nobody(path);
  EXPECT_EQ(code, "store_unavailable") << message;
  EXPECT_EQ(message, "store " + path.string() + " is read-only: its directory " + dir.path().string() +
                         " is not writable (SQLite keeps its -wal and -shm files there)");
}

}  // namespace
}  // namespace runhost::store

namespace runhost::store {
namespace {

TEST(StoreOpen, EventsWaitOutALockAnotherProcessHoldsInsteadOfFailing) {
  // A host stopped mid-write holds the lock past the busy timeout: that is contention, and the
  // runs whose events queue meanwhile must not fail for it.
  TempDir dir;
  const auto path = dir / "runhost.db";
  auto store = open_store(path, {true, 100, 0});
  ASSERT_TRUE(store->create_run(make_run("run_A")));
  RawConnection holder(path);
  holder.exec("BEGIN IMMEDIATE");
  holder.exec("UPDATE agent_runs SET status = status");
  std::promise<Status> durable;
  store->append(testing::make_event("run_A", 1), [&](const Status& st) { durable.set_value(st); });
  auto outcome = durable.get_future();
  EXPECT_EQ(outcome.wait_for(std::chrono::milliseconds(400)), std::future_status::timeout)
      << "the event waits for the lock (several busy timeouts)";
  holder.exec("COMMIT");
  ASSERT_EQ(outcome.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const Status st = outcome.get();
  EXPECT_TRUE(st) << st.error().message;
  EXPECT_EQ(testing::stored_seqs(*store, "run_A"), std::vector<int64_t>{1});
}

}  // namespace
}  // namespace runhost::store
