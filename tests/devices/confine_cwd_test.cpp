// confine_cwd: a run's working directory stays inside the workspace root, whatever it is asked.
#include <gtest/gtest.h>

#include "devices/local/local_device.hpp"
#include "test_paths.hpp"

namespace runhost::devices::local {
namespace {

namespace fs = std::filesystem;
using runhost::testing::TempDir;

class ConfineCwdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_.path() / "ws" / "app" / "src");
    fs::create_directories(outside_.path() / "secret");
    runhost::testing::write_file(root_.path() / "ws" / "file.txt", "x");
  }
  fs::path root() const { return fs::canonical(root_.path() / "ws"); }

  static void expect_refused(const Result<fs::path>& result, const std::string& says) {
    ASSERT_FALSE(result.ok()) << "accepted: " << result.value();
    EXPECT_EQ(result.error().code, ErrorCode::invalid_dispatch);
    EXPECT_NE(result.error().message.find("\"cwd\""), std::string::npos) << result.error().message;
    EXPECT_NE(result.error().message.find(says), std::string::npos) << result.error().message;
    EXPECT_EQ(result.error().recovery_json, R"({"action":"fix_dispatch","field":"cwd"})");
  }

  TempDir root_;
  TempDir outside_;
};

TEST_F(ConfineCwdTest, EmptyMeansTheRoot) {
  auto cwd = confine_cwd(root(), "");
  ASSERT_TRUE(cwd.ok()) << cwd.error().message;
  EXPECT_EQ(*cwd, root());
}

TEST_F(ConfineCwdTest, RelativePathIsTakenUnderTheRoot) {
  auto cwd = confine_cwd(root(), "app/src");
  ASSERT_TRUE(cwd.ok()) << cwd.error().message;
  EXPECT_EQ(*cwd, root() / "app" / "src");
}

TEST_F(ConfineCwdTest, DotDotThatStaysInsideIsCanonicalised) {
  auto cwd = confine_cwd(root(), "app/src/../src/./");
  ASSERT_TRUE(cwd.ok()) << cwd.error().message;
  EXPECT_EQ(*cwd, root() / "app" / "src");
}

TEST_F(ConfineCwdTest, AbsolutePathInsideIsAccepted) {
  auto cwd = confine_cwd(root(), (root() / "app").string());
  ASSERT_TRUE(cwd.ok()) << cwd.error().message;
  EXPECT_EQ(*cwd, root() / "app");
}

TEST_F(ConfineCwdTest, DotDotEscapeIsRefused) {
  expect_refused(confine_cwd(root(), ".."), "outside the workspace root");
  expect_refused(confine_cwd(root(), "app/../../"), "outside the workspace root");
  expect_refused(confine_cwd(root(), "../nonexistent/dir"), "outside the workspace root");
}

TEST_F(ConfineCwdTest, AbsolutePathOutsideIsRefused) {
  expect_refused(confine_cwd(root(), outside_.path().string()), "outside the workspace root");
  expect_refused(confine_cwd(root(), "/"), "outside the workspace root");
}

TEST_F(ConfineCwdTest, SiblingWithTheRootAsPrefixIsOutside) {
  fs::create_directories(root_.path() / "wsx");
  expect_refused(confine_cwd(root(), (root_.path() / "wsx").string()), "outside the workspace root");
}

TEST_F(ConfineCwdTest, SymlinkPointingOutsideIsRefused) {
  fs::create_directory_symlink(outside_.path() / "secret", root() / "escape");
  expect_refused(confine_cwd(root(), "escape"), "outside the workspace root");
}

TEST_F(ConfineCwdTest, SymlinkStayingInsideIsResolved) {
  fs::create_directory_symlink(root() / "app" / "src", root() / "link");
  auto cwd = confine_cwd(root(), "link");
  ASSERT_TRUE(cwd.ok()) << cwd.error().message;
  EXPECT_EQ(*cwd, root() / "app" / "src");
}

TEST_F(ConfineCwdTest, MissingDirectoryIsRefused) {
  expect_refused(confine_cwd(root(), "app/missing"), "does not exist");
}

TEST_F(ConfineCwdTest, FileIsNotADirectory) {
  expect_refused(confine_cwd(root(), "file.txt"), "is not a directory");
}

TEST_F(ConfineCwdTest, MissingRootIsTheHostsProblem) {
  auto cwd = confine_cwd(root() / "nope", "");
  ASSERT_FALSE(cwd.ok());
  EXPECT_EQ(cwd.error().code, ErrorCode::internal);
}

}  // namespace
}  // namespace runhost::devices::local
