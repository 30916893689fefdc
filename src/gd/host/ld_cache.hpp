// glibc's linker cache (/etc/ld.so.cache), read the way ld.so reads it, so
// gpudoctor can tell which file `dlopen("libnvidia-ml.so.1")` would open.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gd/util/result.hpp"

namespace gd::host {

struct LdCacheEntry {
  std::string name;         // the SONAME: "libnvidia-ml.so.1"
  std::string path;         // host path: "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"
  std::uint32_t flags = 0;  // glibc FLAG_* bits (type | arch)
};

// FLAG_ELF_LIBC6 (3) | FLAG_X8664_LIB64 (0x0300): what ld.so on x86-64 accepts.
inline constexpr std::uint32_t k_ld_flags_x86_64_libc6 = 0x0303;

// Parses the new format ("glibc-ld.so.cache1.1"), the old one ("ld.so-1.7.0")
// and old followed by new (new wins). Entries in file order. Error says what
// is malformed (magic, counts, offsets, strings); the caller adds the file name.
Result<std::vector<LdCacheEntry>> parse_ld_cache(std::string_view bytes);
// Encodes entries in the new little-endian format, in the given order, with
// no extension section. For tests and hand-made fixtures.
std::string encode_ld_cache(const std::vector<LdCacheEntry>& entries);

}  // namespace gd::host
