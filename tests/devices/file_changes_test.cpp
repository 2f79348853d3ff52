// File changes under the working directory: what a runtime did to its files, debounced, with
// paths relative to cwd; the debouncing rules on their own, too.
#include <chrono>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "device_harness.hpp"
#include "devices/local/change_debouncer.hpp"

namespace runhost::devices::local {
namespace {

namespace fs = std::filesystem;
using runhost::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::run_for;
using testing::run_until;

using FileChangesTest = testing::DeviceTest;

TEST_F(FileChangesTest, CreateModifyRenameDelete) {
  run_script("echo a > a.txt; sleep 0.3; echo b >> a.txt; sleep 0.3; mv a.txt b.txt; sleep 0.3; rm b.txt");
  ASSERT_EQ(rec_.changes.size(), 4u);
  EXPECT_EQ(rec_.changes[0].path, "a.txt");
  EXPECT_EQ(rec_.changes[0].change, "created");
  EXPECT_EQ(rec_.changes[0].size_bytes, 2);
  EXPECT_EQ(rec_.changes[1].change, "modified");
  EXPECT_EQ(rec_.changes[1].size_bytes, 4);
  EXPECT_EQ(rec_.changes[2].path, "b.txt");
  EXPECT_EQ(rec_.changes[2].change, "renamed");
  EXPECT_EQ(rec_.changes[2].from, "a.txt");
  EXPECT_EQ(rec_.changes[2].size_bytes, 4);
  EXPECT_EQ(rec_.changes[3].path, "b.txt");
  EXPECT_EQ(rec_.changes[3].change, "deleted");
  EXPECT_EQ(rec_.changes[3].size_bytes, -1);
}

TEST_F(FileChangesTest, ExistingFileModifiedAndDeleted) {
  runhost::testing::write_file(dir_.path() / "old.txt", "old");
  runhost::testing::write_file(dir_.path() / "gone.txt", "gone");
  run_script("echo more >> old.txt; rm gone.txt");
  EXPECT_THAT(rec_.changes_of("old.txt"), ElementsAre("modified"));
  EXPECT_THAT(rec_.changes_of("gone.txt"), ElementsAre("deleted"));
}

TEST_F(FileChangesTest, NewSubdirectoryWithFilesIsSeenWhole) {
  run_script(
      "mkdir -p sub/deep/er && echo x > sub/deep/er/f.txt && echo y > sub/g.txt && sleep 0.2 && "
      "echo z > sub/deep/later.txt");
  EXPECT_THAT(rec_.changes_of("sub/deep/er/f.txt"), ElementsAre("created"));
  EXPECT_THAT(rec_.changes_of("sub/g.txt"), ElementsAre("created"));
  EXPECT_THAT(rec_.changes_of("sub/deep/later.txt"), ElementsAre("created"));
  for (const auto& c : rec_.changes) EXPECT_NE(c.path.front(), '/') << c.path;
}

TEST_F(FileChangesTest, ManyWritesBecomeOneChange) {
  runhost::testing::write_file(dir_.path() / "existing.log", "");
  run_script("for i in $(seq 100); do echo $i >> new.log; echo $i >> existing.log; done");
  EXPECT_THAT(rec_.changes_of("new.log"), ElementsAre("created"));
  EXPECT_THAT(rec_.changes_of("existing.log"), ElementsAre("modified"));
  EXPECT_EQ(rec_.changes.size(), 2u);
}

TEST_F(FileChangesTest, CreatedThenDeletedWithinTheWindowIsNothing) {
  run_script("echo x > scratch.tmp; rm scratch.tmp; echo y > kept.txt");
  EXPECT_THAT(rec_.changes_of("scratch.tmp"), IsEmpty());
  EXPECT_THAT(rec_.changes_of("kept.txt"), ElementsAre("created"));
}

TEST_F(FileChangesTest, IgnoredDirectoriesAreNotWatched) {
  fs::create_directories(dir_.path() / ".git" / "objects");
  run_script(
      "echo 1 > .git/objects/obj; mkdir -p node_modules/pkg && echo 2 > node_modules/pkg/index.js; "
      "mkdir -p src/__pycache__ && echo 3 > src/__pycache__/m.pyc; echo 4 > src/m.py");
  for (const auto& c : rec_.changes) {
    EXPECT_EQ(c.path.find(".git"), std::string::npos) << c.path;
    EXPECT_EQ(c.path.find("node_modules"), std::string::npos) << c.path;
    EXPECT_EQ(c.path.find("__pycache__"), std::string::npos) << c.path;
  }
  EXPECT_THAT(rec_.changes_of("src/m.py"), ElementsAre("created"));
}

TEST_F(FileChangesTest, DirectoryRenamedReportsItsFilesUnderTheNewName) {
  fs::create_directories(dir_.path() / "d" / "inner");
  runhost::testing::write_file(dir_.path() / "d" / "f.txt", "f");
  runhost::testing::write_file(dir_.path() / "d" / "inner" / "g.txt", "g");
  run_script("mv d e; sleep 0.2; echo h > e/inner/h.txt");
  EXPECT_THAT(rec_.changes_of("e/f.txt"), ElementsAre("renamed<-d/f.txt"));
  EXPECT_THAT(rec_.changes_of("e/inner/g.txt"), ElementsAre("renamed<-d/inner/g.txt"));
  EXPECT_THAT(rec_.changes_of("e/inner/h.txt"), ElementsAre("created")) << "watches follow the renamed directory";
}

TEST_F(FileChangesTest, MovesAcrossTheTreeBoundary) {
  TempDir outside;
  runhost::testing::write_file(outside.path() / "in.txt", "in");
  runhost::testing::write_file(dir_.path() / "out.txt", "out");
  const std::string outside_dir = outside.path().string();
  run_script("mv '" + outside_dir + "/in.txt' in.txt; mv out.txt '" + outside_dir + "/out.txt'");
  EXPECT_THAT(rec_.changes_of("in.txt"), ElementsAre("created"));
  EXPECT_THAT(rec_.changes_of("out.txt"), ElementsAre("deleted"));
}

TEST_F(FileChangesTest, ChangesComeBeforeTheExit) {
  run_script("echo last > last.txt");
  ASSERT_THAT(rec_.changes_of("last.txt"), ElementsAre("created"));
  EXPECT_EQ(rec_.order.back(), "exit");
}

// A tree too large to watch before the process starts is watched a slice at a time while it
// runs: what the process did in directories the walk had not reached yet is still reported,
// as created or modified, and before the exit.
TEST_F(FileChangesTest, ALargeTreeWatchedWhileTheProcessRunsMissesNothing) {
  constexpr int kFolders = 6000;
  for (int i = 0; i < kFolders; ++i) fs::create_directories(dir_.path() / ("p" + std::to_string(i / 100)) / std::to_string(i));
  std::string script;
  for (int i = 0; i < kFolders; i += 499) {
    const std::string d = "p" + std::to_string(i / 100) + "/" + std::to_string(i);
    runhost::testing::write_file(dir_.path() / d / "old.txt", "old");
    script += "echo new > " + d + "/new.txt; echo more >> " + d + "/old.txt; ";
  }
  // File times are the kernel's coarse clock: a file born within a tick (≤ 10 ms) of the start
  // counts as born since; the old files are older than that.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  run_script(script + "true");
  for (int i = 0; i < kFolders; i += 499) {
    const std::string d = "p" + std::to_string(i / 100) + "/" + std::to_string(i);
    EXPECT_THAT(rec_.changes_of(d + "/new.txt"), ElementsAre("created")) << d;
    EXPECT_THAT(rec_.changes_of(d + "/old.txt"), ElementsAre("modified")) << d;
  }
  EXPECT_EQ(rec_.order.back(), "exit");
}

// A directory renamed before the first walk reached the folders inside it: they are still
// watched, under the new name, and files written there later are reported.
TEST_F(FileChangesTest, AFolderRenamedBeforeItsTreeIsWatchedIsWatchedUnderItsNewName) {
  constexpr int kFolders = 3000;  // far more than the walk before the start takes
  for (int i = 0; i < kFolders; ++i) fs::create_directories(dir_.path() / "top" / ("p" + std::to_string(i / 100)) / std::to_string(i));
  std::string script = "mv top moved; sleep 0.5; ";
  std::vector<std::string> written;
  for (int i = 0; i < kFolders; i += 293) {
    written.push_back("moved/p" + std::to_string(i / 100) + "/" + std::to_string(i) + "/late.txt");
    script += "echo late > " + written.back() + "; ";
  }
  run_script(script + "true");
  for (const auto& file : written) EXPECT_THAT(rec_.changes_of(file), ElementsAre("created")) << file;
}

// The merging rules, fed directly.
class DebouncerTest : public ::testing::Test {
 protected:
  DebouncerTest()
      : debouncer_(io_, dir_.path(), std::chrono::milliseconds(30), [this](const FileChange& c, bool complete) {
          seen_.push_back(c.change + ":" + c.path + (c.from.empty() ? "" : "<-" + c.from) + (complete ? "+" : ""));
        }) {}
  void feed(FsEvent::Kind kind, const std::string& path, const std::string& from = {}) {
    debouncer_.add({kind, path, from});
  }

  boost::asio::io_context io_;
  TempDir dir_;
  std::vector<std::string> seen_;
  ChangeDebouncer debouncer_;
};

TEST_F(DebouncerTest, MergesWithinTheWindow) {
  using K = FsEvent::Kind;
  feed(K::created, "a");
  feed(K::modified, "a");
  feed(K::written, "a");  // created + written: created, complete
  feed(K::created, "b");
  feed(K::deleted, "b");  // nothing
  feed(K::deleted, "c");
  feed(K::created, "c");  // replaced: modified
  feed(K::created, "d");
  feed(K::renamed, "e", "d");  // never reported as d: created at e
  feed(K::renamed, "g", "f");
  feed(K::renamed, "h", "g");  // f -> g -> h: renamed from f
  feed(K::renamed, "j", "i");
  feed(K::deleted, "j");  // renamed then deleted: i is gone
  run_until(
      io_, [&] { return seen_.size() >= 5; }, std::chrono::seconds(2));
  EXPECT_THAT(seen_, ElementsAre("created:a+", "modified:c", "created:e+", "renamed:h<-f+", "deleted:i"));
}

TEST_F(DebouncerTest, QuietPathsFlushWhileBusyOnesWait) {
  using K = FsEvent::Kind;
  feed(K::created, "quiet");
  for (int i = 0; i < 8; ++i) {
    feed(K::modified, "busy");
    run_for(io_, std::chrono::milliseconds(10));
  }
  EXPECT_THAT(seen_, ElementsAre("created:quiet"));
  run_until(
      io_, [&] { return seen_.size() == 2; }, std::chrono::seconds(2));
  EXPECT_THAT(seen_, ElementsAre("created:quiet", "modified:busy"));
}

TEST_F(DebouncerTest, FlushAllEmitsAtOnceInFirstTouchedOrder) {
  using K = FsEvent::Kind;
  feed(K::modified, "z");
  feed(K::modified, "a");
  feed(K::modified, "z");
  debouncer_.flush_all();
  EXPECT_THAT(seen_, ElementsAre("modified:z", "modified:a"));
  run_for(io_, std::chrono::milliseconds(100));
  EXPECT_EQ(seen_.size(), 2u);
}

}  // namespace
}  // namespace runhost::devices::local
