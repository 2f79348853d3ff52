// ELF inspection for plugin libraries, done before (and independently of) dlopen: the
// architecture check that gives "built for aarch64" instead of a cryptic loader error, and
// the list of exported symbols the conformance check holds to exactly one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runhost/error.hpp"

namespace runhost::plugins {

struct ElfIdentity {
  bool is_64 = false;
  bool little_endian = false;
  uint16_t type = 0;     // ET_DYN for a shared library
  uint16_t machine = 0;  // EM_X86_64, EM_AARCH64, ...
};

// Reads and checks the ELF header: a shared object for this machine's architecture, class and
// byte order. The error message is the refusal reason.
Result<ElfIdentity> check_elf_for_this_host(const std::filesystem::path& path);

// The names of the dynamic symbols the library defines and exports (global or weak binding,
// default or protected visibility). Sorted.
Result<std::vector<std::string>> exported_symbols(const std::filesystem::path& path);

// "x86_64", "aarch64", ... or "machine 1234".
std::string elf_machine_name(uint16_t machine);

}  // namespace runhost::plugins
