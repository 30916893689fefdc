#include "gd/host/ld_cache.hpp"

#include <fmt/format.h>

#include "gd/util/strings.hpp"

namespace gd::host {

namespace {

// Layout from glibc's sysdeps/generic/dl-cache.h.
constexpr std::string_view k_old_magic = "ld.so-1.7.0";
constexpr std::string_view k_new_magic = "glibc-ld.so.cache";
constexpr std::string_view k_new_version = "1.1";
constexpr std::size_t k_old_header_size = 16;  // magic[11], pad, u32 nlibs
constexpr std::size_t k_old_entry_size = 12;   // i32 flags, u32 key, u32 value
constexpr std::size_t k_new_header_size = 48;  // magic+version[20], nlibs, len_strings, flags+pad, ext, unused[3]
constexpr std::size_t k_new_entry_size = 24;   // i32 flags, u32 key, u32 value, u32 osversion, u64 hwcap
constexpr std::size_t k_new_nlibs_at = 20;
constexpr std::size_t k_new_flags_at = 28;
constexpr unsigned k_endian_mask = 3;  // cache_file_new_flags_endian_*: 2 little, 3 big
constexpr unsigned k_endian_big = 3;

std::uint32_t le32(std::string_view b, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + i])); };
  return byte(0) | byte(1) << 8 | byte(2) << 16 | byte(3) << 24;
}

void put_le32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

// The NUL-terminated string at base+offset.
Result<std::string> string_at(std::string_view bytes, std::size_t base, std::uint32_t offset, std::size_t entry,
                              std::string_view what) {
  if (offset >= bytes.size() - base)
    return make_error(fmt::format("entry {}: {} offset {} is beyond the end of the file ({} bytes)", entry, what,
                                  offset, bytes.size()));
  std::size_t nul = bytes.find('\0', base + offset);
  if (nul == std::string_view::npos)
    return make_error(fmt::format("entry {}: {} at offset {} has no terminating NUL", entry, what, offset));
  return std::string(bytes.substr(base + offset, nul - base - offset));
}

// Reads `count` entries of `entry_size` bytes at `table`; strings relative to `strings_base`.
Result<std::vector<LdCacheEntry>> read_entries(std::string_view bytes, std::size_t table, std::size_t entry_size,
                                               std::size_t count, std::size_t strings_base) {
  std::vector<LdCacheEntry> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t at = table + i * entry_size;
    auto name = string_at(bytes, strings_base, le32(bytes, at + 4), i, "name");
    if (!name) return name.error();
    auto path = string_at(bytes, strings_base, le32(bytes, at + 8), i, "path");
    if (!path) return path.error();
    out.push_back(LdCacheEntry{std::move(*name), std::move(*path), le32(bytes, at)});
  }
  return out;
}

Error too_many(std::size_t nlibs, std::size_t fit) {
  return make_error(fmt::format("nlibs {} is larger than the file allows ({} entries fit)", nlibs, fit));
}

bool has_new_header_at(std::string_view bytes, std::size_t at) {
  return at <= bytes.size() && bytes.size() - at >= k_new_header_size &&
         bytes.substr(at, k_new_magic.size()) == k_new_magic;
}

Result<std::vector<LdCacheEntry>> parse_new(std::string_view bytes, std::size_t base) {
  if (bytes.size() - base < k_new_header_size)
    return make_error(fmt::format("truncated header: {} bytes, need {}", bytes.size() - base, k_new_header_size));
  auto version = bytes.substr(base + k_new_magic.size(), k_new_version.size());
  if (version != k_new_version)
    return make_error(fmt::format("unsupported format version \"{}\"", util::printable(version)));
  if ((static_cast<unsigned char>(bytes[base + k_new_flags_at]) & k_endian_mask) == k_endian_big)
    return make_error("big-endian cache is not supported");
  std::size_t nlibs = le32(bytes, base + k_new_nlibs_at);
  std::size_t fit = (bytes.size() - base - k_new_header_size) / k_new_entry_size;
  if (nlibs > fit) return too_many(nlibs, fit);
  return read_entries(bytes, base + k_new_header_size, k_new_entry_size, nlibs, base);
}

Result<std::vector<LdCacheEntry>> parse_old(std::string_view bytes) {
  if (bytes.size() < k_old_header_size)
    return make_error(fmt::format("truncated header: {} bytes, need {}", bytes.size(), k_old_header_size));
  std::size_t nlibs = le32(bytes, k_old_magic.size() + 1);
  std::size_t fit = (bytes.size() - k_old_header_size) / k_old_entry_size;
  if (nlibs > fit) return too_many(nlibs, fit);
  std::size_t end = k_old_header_size + nlibs * k_old_entry_size;
  std::size_t aligned = (end + 7) & ~std::size_t{7};  // ALIGN_CACHE: alignof(struct cache_file_new) == 8
  if (has_new_header_at(bytes, aligned)) return parse_new(bytes, aligned);
  return read_entries(bytes, k_old_header_size, k_old_entry_size, nlibs, end);
}

}  // namespace

Result<std::vector<LdCacheEntry>> parse_ld_cache(std::string_view bytes) {
  if (bytes.empty()) return make_error("empty file");
  if (util::starts_with(bytes, k_new_magic)) return parse_new(bytes, 0);
  if (util::starts_with(bytes, k_old_magic)) return parse_old(bytes);
  return make_error(
      fmt::format("bad magic \"{}\": not an ld.so cache", util::printable(bytes.substr(0, k_new_magic.size()))));
}

std::string encode_ld_cache(const std::vector<LdCacheEntry>& entries) {
  std::string strings;
  std::string table;
  std::size_t strings_at = k_new_header_size + entries.size() * k_new_entry_size;
  for (const auto& e : entries) {
    put_le32(table, e.flags);
    put_le32(table, static_cast<std::uint32_t>(strings_at + strings.size()));
    strings += e.name + '\0';
    put_le32(table, static_cast<std::uint32_t>(strings_at + strings.size()));
    strings += e.path + '\0';
    table.append(12, '\0');  // osversion, hwcap
  }
  std::string out(k_new_magic);
  out += k_new_version;
  put_le32(out, static_cast<std::uint32_t>(entries.size()));
  put_le32(out, static_cast<std::uint32_t>(strings.size()));
  out += std::string("\x02\0\0\0", 4);  // flags: little endian; padding
  out.append(16, '\0');                 // extension_offset (none), unused[3]
  return out + table + strings;
}

}  // namespace gd::host
