// Reads the dynamic section of an ELF64 shared library (its SONAME) without
// loading it: the header, the program headers, PT_DYNAMIC and one string of
// DT_STRTAB, each bounds-checked, so a truncated or hostile file is an Error
// and never a crash. Reads well under 1 MB whatever the file's size.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gd/host/host_root.hpp"
#include "gd/util/result.hpp"

namespace gd::host {

inline constexpr std::uint16_t k_elf_machine_x86_64 = 62;    // EM_X86_64
inline constexpr std::uint16_t k_elf_machine_aarch64 = 183;  // EM_AARCH64

// Random access to a file's bytes: read(offset, length) returns at most
// `length` bytes (fewer at the end of the file) or an Error.
struct ByteSource {
  std::uint64_t size = 0;
  std::function<Result<std::string>(std::uint64_t offset, std::size_t length)> read;
};

// A source over bytes in memory (tests, fixtures). `bytes` must outlive it.
ByteSource memory_source(std::string_view bytes);

struct ElfInfo {
  std::uint16_t type = 0;             // ET_DYN (3) for a shared library, ET_EXEC (2)
  std::uint16_t machine = 0;          // EM_*
  std::optional<std::string> soname;  // DT_SONAME; nullopt when the library has none
  std::vector<std::string> needed;    // DT_NEEDED names, in order
};

// Parses a little-endian ELF64 file for `machine`. Error (without the file
// name; the caller adds it) for: too short, not ELF, ELF32, big-endian,
// another architecture, headers or segments past the end of the file, a
// dynamic section without DT_NULL or DT_STRTAB, an address no PT_LOAD maps,
// a string without its NUL.
Result<ElfInfo> parse_elf(const ByteSource& src, std::uint16_t machine = k_elf_machine_x86_64);
// For the first bytes of a file that is ELF but built for another ABI than
// little-endian ELF64 `machine`: what it is ("32-bit ELF for i386"). nullopt
// for a matching or a non-ELF file. Lets callers skip multilib copies (the
// i386 libcuda beside the x86-64 one) instead of calling them broken.
std::optional<std::string> foreign_elf(std::string_view header, std::uint16_t machine = k_elf_machine_x86_64);
// A minimal ELF64 little-endian shared library: one PT_LOAD over the whole
// file, PT_DYNAMIC (DT_NEEDED..., DT_STRTAB, DT_STRSZ, DT_SONAME, DT_NULL) at
// offset 176, the string table at 256, one null section header at the end.
// ldconfig accepts it. For tests and hand-made fixtures.
std::string encode_elf_library(std::string_view soname, const std::vector<std::string>& needed = {"libc.so.6"},
                               std::uint16_t machine = k_elf_machine_x86_64);
// Opens `host_path` (links followed inside the root; regular files only, never
// blocks) and parses it. Errors are prefixed with the host path.
Result<ElfInfo> read_elf(const HostRoot& host, std::string_view host_path,
                         std::uint16_t machine = k_elf_machine_x86_64);

}  // namespace gd::host
