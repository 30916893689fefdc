// Finds a shared library inside a HostRoot the way glibc's dynamic loader
// would for dlopen("<soname>"): LD_LIBRARY_PATH, then ld.so.cache, then the
// default directories.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gd/host/host_root.hpp"

namespace gd::host {

struct FoundLibrary {
  std::string path;       // host path opened: "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"
  std::string found_via;  // "LD_LIBRARY_PATH", "ld.so.cache", or the default dir
};

// The file the loader would open for `soname`, or nullopt. Appends to
// `problems` (may be null) a corrupt /etc/ld.so.cache or a cache entry whose
// file is gone, and carries on with the next place to look. A name holding
// "/" is not searched for (nullopt).
std::optional<FoundLibrary> find_library(const HostRoot& host, std::string_view soname,
                                         const std::vector<std::string>& ld_library_path,
                                         std::vector<std::string>* problems);
// The loader's built-in directories, searched after the cache, in order.
std::span<const std::string_view> default_library_dirs();
// Version suffix of a resolved library name: "465.19.01" from
// "libnvidia-ml.so.465.19.01"; nullopt unless it has at least one dot.
std::optional<std::string> library_file_version(std::string_view resolved_name);

}  // namespace gd::host
