// A fresh store and workspace root for runhost commands run as a user runs them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_paths.hpp"

namespace runhost::testing {

class CliFixture : public ::testing::Test {
 protected:
  void SetUp() override { std::filesystem::create_directories(dir_ / "ws"); }
  // runhost SUB --store S --workspace-root W REST...
  std::vector<std::string> runhost(const std::string& sub, std::vector<std::string> rest) {
    std::vector<std::string> argv{kCli.string(), sub, "--store", (dir_ / "runhost.db").string(), "--workspace-root",
                                  (dir_ / "ws").string()};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }
  TempDir dir_;
};

}  // namespace runhost::testing
