// ELF inspection: the architecture check and the export list behind "exactly one symbol".
#include <elf.h>

#include <algorithm>
#include <sstream>

#include <gtest/gtest.h>

#include "plugins/elf.hpp"
#include "test_paths.hpp"

namespace runhost::plugins {
namespace {

using runhost::testing::TempDir;

const std::vector<std::string> kExamples = {"example-echo", "deny-pattern", "static-grant", "oauth2", "custom"};

// nm's view of the same library, to check our reader against binutils.
std::vector<std::string> nm_exports(const std::filesystem::path& lib) {
  const auto result = runhost::testing::run_command({"/usr/bin/nm", "-D", "--defined-only", "--format=posix", lib.string()});
  EXPECT_EQ(result.exit_code, 0) << result.out;
  std::vector<std::string> names;
  std::istringstream lines(result.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string name, type;
    fields >> name >> type;
    if (!name.empty()) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Elf, EveryBundledPluginExportsExactlyTheEntrySymbol) {
  for (const auto& id : kExamples) {
    const auto lib = runhost::testing::kBundledDir / (id + ".so");
    auto exports = exported_symbols(lib);
    ASSERT_TRUE(exports) << exports.error().message;
    EXPECT_EQ(*exports, std::vector<std::string>{"runhost_plugin_entry_v1"}) << id;
    EXPECT_EQ(*exports, nm_exports(lib)) << id << ": our ELF reader and nm disagree";
  }
}

TEST(Elf, SeesEveryExtraExport) {
  const auto lib = runhost::testing::kCheckOnlyDir / "extra-exports.so";
  auto exports = exported_symbols(lib);
  ASSERT_TRUE(exports) << exports.error().message;
  EXPECT_EQ(*exports, (std::vector<std::string>{"fixture_extra_exports_build_info", "runhost_plugin_entry_v1"}));
  EXPECT_EQ(*exports, nm_exports(lib));
}

TEST(Elf, RefusesOtherArchitecturesClassesAndNonLibraries) {
  TempDir dir;
  const std::string lib = runhost::testing::read_file(runhost::testing::kBundledDir / "deny-pattern.so");
  auto patched = [&](size_t offset, std::string bytes) {
    std::string copy = lib;
    copy.replace(offset, bytes.size(), bytes);
    const auto path = dir / ("patched-" + std::to_string(offset) + "-" + std::to_string(bytes[0]) + ".so");
    runhost::testing::write_file(path, copy);
    return path;
  };
  EXPECT_EQ(check_elf_for_this_host(patched(offsetof(Elf64_Ehdr, e_machine), std::string("\xb7\x00", 2))).error().message,
            "built for aarch64; this host is x86_64");
  EXPECT_EQ(check_elf_for_this_host(patched(offsetof(Elf64_Ehdr, e_machine), std::string("\x16\x00", 2))).error().message,
            "built for s390; this host is x86_64");
  EXPECT_EQ(check_elf_for_this_host(patched(EI_CLASS, std::string(1, ELFCLASS32))).error().message,
            "built as a 32-bit ELF; this host is 64-bit");
  EXPECT_EQ(check_elf_for_this_host(patched(EI_DATA, std::string(1, ELFDATA2MSB))).error().message,
            "ELF byte order differs from this host's");
  EXPECT_EQ(check_elf_for_this_host(patched(offsetof(Elf64_Ehdr, e_type), std::string("\x02\x00", 2))).error().message,
            "an ELF file but not a shared library (ET_DYN)");
  EXPECT_EQ(check_elf_for_this_host(dir / "missing.so").error().message, "cannot read file: No such file or directory");
  EXPECT_EQ(elf_machine_name(9999), "machine 9999");
}

TEST(Elf, SurvivesCorruptSectionTables) {
  TempDir dir;
  std::string lib = runhost::testing::read_file(runhost::testing::kBundledDir / "deny-pattern.so");
  // Point the section header table past the end of the file.
  const uint64_t bogus = lib.size() + 4096;
  lib.replace(offsetof(Elf64_Ehdr, e_shoff), sizeof bogus, reinterpret_cast<const char*>(&bogus), sizeof bogus);
  runhost::testing::write_file(dir / "corrupt.so", lib);
  auto exports = exported_symbols(dir / "corrupt.so");
  ASSERT_FALSE(exports);
  EXPECT_EQ(exports.error().message, "section header out of bounds");
}

}  // namespace
}  // namespace runhost::plugins
