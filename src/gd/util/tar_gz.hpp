// A gzip-compressed ustar archive in memory: what `collect --bundle` writes
// and `check --from`/`report --db` read back. Regular files only, flat names;
// the reader is bounded in what it inflates and names what is wrong and where.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gd/util/result.hpp"

namespace gd::util {

struct TarEntry {
  std::string name;  // "snapshot.json": at most 99 bytes, no '/' components that climb ("..")
  std::string data;
  std::int64_t mtime = 0;  // unix seconds
};

// The archive, gzip-compressed (zlib, level 6). Error on a name it cannot hold.
Result<std::string> make_tar_gz(const std::vector<TarEntry>& entries);

// data, gzip-compressed (level 6).
Result<std::string> gzip(std::string_view data);

// True when the bytes start as gzip does (1f 8b).
bool looks_gzip(std::string_view head);

// Inflates at most max_bytes and lists its regular files (other types are skipped). Errors: not gzip, corrupt
// or truncated data, a header whose checksum fails, more than max_bytes.
Result<std::vector<TarEntry>> read_tar_gz(std::string_view gz, std::size_t max_bytes = std::size_t{512} << 20);

}  // namespace gd::util
