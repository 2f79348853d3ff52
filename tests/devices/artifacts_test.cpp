// Artifacts: files matching the patterns, written and closed, reported once per content with
// size, content type and sha256; the content-type table and the pattern matching on their own.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "device_harness.hpp"
#include "test_paths.hpp"
#include "devices/local/artifact_rules.hpp"
#include "util/sha256.hpp"

namespace runhost::devices::local {
namespace {

using ArtifactsTest = testing::DeviceTest;

TEST_F(ArtifactsTest, WrittenPdfIsOneArtifactWithItsDigest) {
  runhost::testing::write_file(dir_.path() / "content.bin", "%PDF-1.7\nnot really a pdf, but bytes\n");
  run_script("mkdir out && cp content.bin out/report.pdf && echo notes > notes.txt");
  const std::string content = runhost::testing::read_file(dir_.path() / "out" / "report.pdf");
  ASSERT_EQ(rec_.artifacts.size(), 1u);
  const Artifact& a = rec_.artifacts[0];
  EXPECT_EQ(a.path, "out/report.pdf");
  EXPECT_EQ(a.content_type, "application/pdf");
  EXPECT_EQ(a.size_bytes, static_cast<int64_t>(content.size()));
  EXPECT_EQ(a.sha256, util::sha256_hex(content));
  EXPECT_EQ(rec_.order.back(), "exit") << "artifacts come before the exit";
}

TEST_F(ArtifactsTest, ReportedOncePerContent) {
  run_script("echo v1 > page.html; sleep 0.3; echo v1 > page.html; sleep 0.3; echo v2 > page.html");
  ASSERT_EQ(rec_.artifacts.size(), 2u);
  EXPECT_EQ(rec_.artifacts[0].sha256, util::sha256_hex("v1\n"));
  EXPECT_EQ(rec_.artifacts[1].sha256, util::sha256_hex("v2\n"));
  EXPECT_EQ(rec_.artifacts[1].content_type, "text/html");
}

TEST_F(ArtifactsTest, FileMovedInIsAnArtifact) {
  run_script("echo 'a,b' > /tmp/runhost-device-test-$$.csv && mv /tmp/runhost-device-test-$$.csv table.csv");
  ASSERT_EQ(rec_.artifacts.size(), 1u);
  EXPECT_EQ(rec_.artifacts[0].path, "table.csv");
  EXPECT_EQ(rec_.artifacts[0].content_type, "text/csv");
}

TEST_F(ArtifactsTest, LargerThanTheLimitIsReportedWithoutDigest) {
  LocalOptions options = testing::fast_options();
  options.artifact_max_bytes = 1000;
  run_script("head -c 5000 /dev/urandom > big.zip", options);
  ASSERT_EQ(rec_.artifacts.size(), 1u);
  EXPECT_EQ(rec_.artifacts[0].size_bytes, 5000);
  EXPECT_EQ(rec_.artifacts[0].sha256, "");
}

TEST_F(ArtifactsTest, LargeFileIsHashedCorrectly) {
  run_script("head -c 20000000 /dev/urandom > data.tar.gz");
  ASSERT_EQ(rec_.artifacts.size(), 1u);
  EXPECT_EQ(rec_.artifacts[0].size_bytes, 20000000);
  EXPECT_EQ(rec_.artifacts[0].sha256, util::sha256_hex(runhost::testing::read_file(dir_.path() / "data.tar.gz")));
  EXPECT_EQ(rec_.artifacts[0].content_type, "application/gzip");
}

TEST(ArtifactRules, ContentTypes) {
  EXPECT_EQ(content_type_for("a/b/report.PDF"), "application/pdf");
  EXPECT_EQ(content_type_for("x.docx"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  EXPECT_EQ(content_type_for("x.jpeg"), "image/jpeg");
  EXPECT_EQ(content_type_for("x.jpg"), "image/jpeg");
  EXPECT_EQ(content_type_for("x.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for("site/index.htm"), "text/html");
  EXPECT_EQ(content_type_for("README.md"), "text/markdown");
  EXPECT_EQ(content_type_for("data.json"), "application/json");
  EXPECT_EQ(content_type_for("Makefile"), "application/octet-stream");
  EXPECT_EQ(content_type_for("archive.tar"), "application/octet-stream");
}

TEST(ArtifactRules, PatternsMatchAcrossDirectories) {
  const std::vector<std::string> patterns = LocalOptions{}.artifact_patterns;
  EXPECT_TRUE(matches_any(patterns, "report.pdf"));
  EXPECT_TRUE(matches_any(patterns, "out/deep/report.pdf"));
  EXPECT_TRUE(matches_any(patterns, "dist/app.tar.gz"));
  EXPECT_FALSE(matches_any(patterns, "src/main.cpp"));
  EXPECT_FALSE(matches_any(patterns, "report.pdf.tmp"));
}

// docs/events.md lists the default patterns; the list there is the list here.
TEST(ArtifactRules, TheDocumentedDefaultsAreTheDefaults) {
  const std::string doc = runhost::testing::read_file(runhost::testing::kSourceDir / "docs" / "events.md");
  const std::string marker = "<!-- artifact-patterns:";
  const auto at = doc.find(marker);
  ASSERT_NE(at, std::string::npos) << "docs/events.md lost its artifact-patterns list";
  const auto line_start = doc.find('\n', at) + 1;
  const std::string line = doc.substr(line_start, doc.find('\n', line_start) - line_start);
  std::vector<std::string> documented;
  for (size_t open = line.find('`'); open != std::string::npos; open = line.find('`', open + 1)) {
    const size_t close = line.find('`', open + 1);
    ASSERT_NE(close, std::string::npos) << line;
    documented.push_back(line.substr(open + 1, close - open - 1));
    open = close;
  }
  EXPECT_EQ(documented, LocalOptions{}.artifact_patterns);
}

}  // namespace
}  // namespace runhost::devices::local
