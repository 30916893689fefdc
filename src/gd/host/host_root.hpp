// HostRoot: the one door to the node's files. Every read of sysfs, procfs, /dev,
// /etc, /usr/lib and /run goes through it, so `--root DIR` makes a directory
// tree stand in for the whole node. Paths given to it are host paths
// ("/proc/modules"); it maps them under the root.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "gd/util/result.hpp"

namespace gd::host {

enum class FileKind { missing, regular, directory, symlink, char_device, block_device, socket, fifo, other };

class HostRoot {
 public:
  explicit HostRoot(std::filesystem::path root = "/");

  const std::filesystem::path& root() const { return m_root; }
  // True when the root is the real "/" of this machine.
  bool is_live() const { return m_live; }
  // Maps a host path ("/proc/modules") to the file under the root.
  std::filesystem::path path(std::string_view host_path) const;
  // Reads a whole file, at most max_bytes (the rest is dropped). Never blocks
  // on FIFOs or devices (they are refused). Error names the path and errno.
  Result<std::string> read_file(std::string_view host_path, std::size_t max_bytes = 1 << 20) const;
  // Kind of the entry itself (a symlink is not followed).
  FileKind kind(std::string_view host_path) const;
  // Kind after following symlinks inside the root.
  FileKind kind_followed(std::string_view host_path) const;
  bool exists(std::string_view host_path) const { return kind(host_path) != FileKind::missing; }
  // Entry names of a directory, sorted; error when absent or unreadable.
  Result<std::vector<std::string>> list_dir(std::string_view host_path) const;
  Result<std::string> read_link(std::string_view host_path) const;
  // Follows symlinks as the kernel would if the root were "/": absolute
  // targets are re-rooted, ".." never climbs above the root. Returns the final
  // host path; error on a loop (more than 40 links) or a dangling link.
  Result<std::string> resolve(std::string_view host_path) const;
  // Size in bytes of the entry after following links; -1 if missing.
  long long file_size(std::string_view host_path) const;

 private:
  std::filesystem::path m_root;
  bool m_live = false;
};

// Joins a host directory and a name: join("/sys/bus", "pci") == "/sys/bus/pci".
std::string join(std::string_view dir, std::string_view name);
// Lexically normalises an absolute host path: collapses "//", ".", "..".
std::string normalize(std::string_view host_path);

}  // namespace gd::host
