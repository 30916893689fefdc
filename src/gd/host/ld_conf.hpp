// /etc/ld.so.conf as ldconfig reads it: one directory per line, `include`
// glob patterns (relative ones are relative to the including file's
// directory, so /etc for /etc/ld.so.conf), `#` comments, `hwcap` lines
// ignored. The directories are the ones ldconfig scans, in its order.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gd/host/host_root.hpp"

namespace gd::host {

struct LdConfLine {
  enum class Kind { directory, include };
  Kind kind = Kind::directory;
  std::string value;  // the directory (trailing '/' removed) or the glob pattern
  int line = 0;       // 1-based
};

// Parses one configuration file. Pure; never fails: junk is kept as a
// directory and judged by the reader (a relative directory is reported).
std::vector<LdConfLine> parse_ld_so_conf(std::string_view text);

struct LdConf {
  std::vector<std::string> dirs;      // absolute host paths, first occurrence kept, in order
  std::vector<std::string> problems;  // "FILE:LINE: what is wrong"
};

// Reads `conf` (default /etc/ld.so.conf) and every file its includes match.
// Includes nest at most 16 deep and a file already being read is not read
// again (reported as a loop). A missing /etc/ld.so.conf is an empty result.
LdConf read_ld_so_conf(const HostRoot& host, std::string_view conf = "/etc/ld.so.conf");

// Host paths matching an absolute glob pattern (`*`, `?`, `[...]` in any
// component; a leading '.' is matched only explicitly), sorted, inside the
// root. Nothing matching is an empty result.
std::vector<std::string> glob_in_root(const HostRoot& host, std::string_view pattern);

}  // namespace gd::host
