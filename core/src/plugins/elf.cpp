#include "plugins/elf.hpp"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>

namespace runhost::plugins {
namespace {

constexpr uint16_t this_machine() {
#if defined(__x86_64__)
  return EM_X86_64;
#elif defined(__aarch64__)
  return EM_AARCH64;
#elif defined(__i386__)
  return EM_386;
#elif defined(__arm__)
  return EM_ARM;
#elif defined(__riscv)
  return EM_RISCV;
#elif defined(__powerpc64__)
  return EM_PPC64;
#else
#error "unsupported architecture: add its EM_ constant"
#endif
}

Error elf_error(const std::string& what) {
  return {ErrorCode::plugin_error, what};
}

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return elf_error("cannot read file: " + std::string(std::strerror(errno)));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return bytes;
}

// Copies a T out of `bytes` at `offset`, checking bounds; nullopt when it does not fit.
template <class T>
std::optional<T> load(const std::string& bytes, uint64_t offset) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return std::nullopt;
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

}  // namespace

std::string elf_machine_name(uint16_t machine) {
  switch (machine) {
    case EM_X86_64:
      return "x86_64";
    case EM_AARCH64:
      return "aarch64";
    case EM_386:
      return "i386";
    case EM_ARM:
      return "arm";
    case EM_RISCV:
      return "riscv";
    case EM_PPC64:
      return "ppc64";
    case EM_S390:
      return "s390";
    default:
      return "machine " + std::to_string(machine);
  }
}

Result<ElfIdentity> check_elf_for_this_host(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return elf_error("cannot read file: " + std::string(std::strerror(errno)));
  unsigned char header[sizeof(Elf64_Ehdr)] = {};
  in.read(reinterpret_cast<char*>(header), sizeof header);
  const auto got = static_cast<size_t>(in.gcount());
  if (got < EI_NIDENT || std::memcmp(header, ELFMAG, SELFMAG) != 0) {
    return elf_error("not a shared library (no ELF header)");
  }
  ElfIdentity id;
  id.is_64 = header[EI_CLASS] == ELFCLASS64;
  id.little_endian = header[EI_DATA] == ELFDATA2LSB;
  const bool host_64 = sizeof(void*) == 8;
  if (id.is_64 != host_64) {
    return elf_error(std::string("built as a ") + (id.is_64 ? "64" : "32") + "-bit ELF; this host is " +
                     (host_64 ? "64" : "32") + "-bit");
  }
  const bool host_le = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  if (id.little_endian != host_le) return elf_error("ELF byte order differs from this host's");
  if (got < sizeof(Elf64_Ehdr) && host_64) return elf_error("truncated ELF header");
  // e_type and e_machine sit at the same offsets in ELF32 and ELF64.
  std::memcpy(&id.type, header + offsetof(Elf64_Ehdr, e_type), sizeof id.type);
  std::memcpy(&id.machine, header + offsetof(Elf64_Ehdr, e_machine), sizeof id.machine);
  if (id.machine != this_machine()) {
    return elf_error("built for " + elf_machine_name(id.machine) + "; this host is " +
                     elf_machine_name(this_machine()));
  }
  if (id.type != ET_DYN) return elf_error("an ELF file but not a shared library (ET_DYN)");
  return id;
}

Result<std::vector<std::string>> exported_symbols(const std::filesystem::path& path) {
  static_assert(sizeof(void*) == 8, "exported_symbols reads ELF64 only");
  auto identity = check_elf_for_this_host(path);
  if (!identity) return identity.error();
  auto bytes = read_file(path);
  if (!bytes) return bytes.error();
  const std::string& b = *bytes;
  const auto ehdr = load<Elf64_Ehdr>(b, 0);
  if (!ehdr || ehdr->e_shentsize != sizeof(Elf64_Shdr)) return elf_error("bad section headers");

  auto section = [&](uint64_t index) { return load<Elf64_Shdr>(b, ehdr->e_shoff + index * sizeof(Elf64_Shdr)); };
  std::vector<std::string> names;
  for (uint64_t i = 0; i < ehdr->e_shnum; ++i) {
    const auto shdr = section(i);
    if (!shdr) return elf_error("section header out of bounds");
    if (shdr->sh_type != SHT_DYNSYM || shdr->sh_entsize != sizeof(Elf64_Sym)) continue;
    const auto strtab = section(shdr->sh_link);
    if (!strtab) return elf_error("dynamic string table out of bounds");
    for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= shdr->sh_size; off += sizeof(Elf64_Sym)) {
      const auto sym = load<Elf64_Sym>(b, shdr->sh_offset + off);
      if (!sym) return elf_error("dynamic symbol out of bounds");
      const int binding = ELF64_ST_BIND(sym->st_info);
      const int visibility = ELF64_ST_VISIBILITY(sym->st_other);
      if (sym->st_shndx == SHN_UNDEF || sym->st_name == 0) continue;
      if (binding != STB_GLOBAL && binding != STB_WEAK && binding != STB_GNU_UNIQUE) continue;
      if (visibility != STV_DEFAULT && visibility != STV_PROTECTED) continue;
      const uint64_t name_at = strtab->sh_offset + sym->st_name;
      if (name_at >= b.size()) return elf_error("symbol name out of bounds");
      const char* name = b.data() + name_at;
      names.emplace_back(name, strnlen(name, b.size() - name_at));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace runhost::plugins
