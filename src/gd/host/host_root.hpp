// HostRoot: the one door to the node's files. Every read of sysfs, procfs, /dev,
// /etc, /usr/lib, /run and /var, and every write `fix` makes, goes through it,
// so `--root DIR` makes a directory tree stand in for the whole node. Paths
// given to it are host paths ("/proc/modules").
//
// It is sealed: every path resolves inside the root, symlinks included, as the
// kernel would resolve it if the root were "/" — absolute link targets start
// again at the root and ".." stops there. Opens use openat2(RESOLVE_IN_ROOT)
// where the kernel has it, else a walk of the path one component at a time
// from an open descriptor of the root (same answers; tested both ways).
// Nothing outside the root is read, stat'ed or written through a link.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gd/util/fd.hpp"
#include "gd/util/result.hpp"

namespace gd::host {

enum class FileKind { missing, regular, directory, symlink, char_device, block_device, socket, fifo, other };

// How paths are resolved inside the root.
enum class Resolver { openat2, walk };

class HostRoot {
 public:
  explicit HostRoot(std::filesystem::path root = "/");

  const std::filesystem::path& root() const { return m_root; }
  // True when the root is the real "/" of this machine.
  bool is_live() const { return m_live; }
  // The host path prefixed with the root, for messages and for programs that
  // are handed the root themselves (`ldconfig -r`, `systemctl --root`). Never
  // open it: that would follow links outside the root. Use open() and friends.
  std::filesystem::path display_path(std::string_view host_path) const;

  // Opens host_path resolved inside the root with open(2) flags (O_CLOEXEC is
  // added). O_NOFOLLOW: a final symlink is not followed (with O_PATH the link
  // itself is opened). O_CREAT creates the file in the resolved directory.
  Result<util::Fd> open(std::string_view host_path, int flags, mode_t mode = 0) const;
  // Reads a whole file, at most max_bytes (the rest is dropped). Never blocks
  // on FIFOs or devices (they are refused). Error names the path and errno.
  Result<std::string> read_file(std::string_view host_path, std::size_t max_bytes = 1 << 20) const;
  // stat(2) of the entry, after links (follow) or of the entry itself.
  Result<struct stat> stat(std::string_view host_path, bool follow = true) const;
  // Kind of the entry itself (a symlink is not followed).
  FileKind kind(std::string_view host_path) const;
  // Kind after following symlinks inside the root.
  FileKind kind_followed(std::string_view host_path) const;
  bool exists(std::string_view host_path) const { return kind(host_path) != FileKind::missing; }
  // Entry names of a directory, sorted; error when absent or unreadable.
  Result<std::vector<std::string>> list_dir(std::string_view host_path) const;
  Result<std::string> read_link(std::string_view host_path) const;
  // The symbolic links in a directory with their targets (as written; none
  // is followed), in directory order, at most max_entries; entries that are
  // not links are left out. One open and one readlinkat each.
  Result<std::vector<std::pair<std::string, std::string>>> read_links(std::string_view host_dir,
                                                                      std::size_t max_entries) const;
  // ---- many small reads in one directory (the processes probe) ----
  // These take a directory this root opened (open(dir, O_PATH | O_DIRECTORY))
  // and a relative path beneath it ("1234/stat"). No component may be a
  // symbolic link or "..": nothing outside the directory is reached whatever
  // the tree holds, with one openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
  // instead of a resolution from the root (a walk where openat2 is missing).
  // At most cap bytes of the file in one read (procfs files of a page or less
  // come whole); FIFOs do not block. The count read, or -1 with errno.
  static long read_beneath(int dir_fd, const char* rel, char* buf, std::size_t cap);
  // Calls on_entry(name, d_type) for each entry of the open directory dir_fd
  // but "." and "..", straight from getdents64 (no string per entry);
  // display names the directory in errors.
  static Status for_each_entry(int dir_fd, std::string_view display,
                               const std::function<void(std::string_view name, unsigned char type)>& on_entry);
  // for_each_entry() of the directory rel beneath dir_fd (opened as read_beneath opens a file).
  static Status list_beneath(int dir_fd, const char* rel, std::string_view display,
                             const std::function<void(std::string_view name, unsigned char type)>& on_entry);
  // read_links() of the directory rel beneath dir_fd; display names it in errors.
  static Result<std::vector<std::pair<std::string, std::string>>> read_links_beneath(int dir_fd, const char* rel,
                                                                                       std::string_view display,
                                                                                       std::size_t max_entries);

  // Follows symlinks as the kernel would if the root were "/". Returns the
  // final host path; error on a loop (more than 40 links) or a dangling link.
  Result<std::string> resolve(std::string_view host_path) const;
  // Size in bytes of the entry after following links; -1 if missing.
  long long file_size(std::string_view host_path) const;

  // ---- writing (only `fix` and gpudoctor's own state dir) ----
  // Creates host_dir and its missing parents (mode for each new one).
  Status make_dirs(std::string_view host_dir, mode_t mode = 0755) const;
  // Writes content to a new file beside host_path and renames it over the
  // name: readers see the old file or the new one, never half; a link at
  // the name is replaced, never written through.
  Status write_file_atomic(std::string_view host_path, std::string_view content, mode_t mode = 0644) const;
  // Makes host_path a symlink to target (written as given), atomically.
  Status symlink_atomic(std::string_view host_path, std::string_view target) const;
  // Appends content to host_path (created with mode when missing; a final
  // symlink is refused).
  Status append_file(std::string_view host_path, std::string_view content, mode_t mode = 0640) const;

  // The resolver in use, and a switch for tests (Resolver::walk everywhere).
  static Resolver resolver();
  static void force_resolver_for_tests(std::optional<Resolver> r);

 private:
  struct Located;
  Result<Located> locate(std::string_view host_path, bool follow_last) const;
  Result<util::Fd> open_parent(std::string_view host_path, std::string& name) const;

  std::filesystem::path m_root;
  bool m_live = false;
  std::shared_ptr<util::Fd> m_root_fd;  // O_PATH descriptor of the root, shared by copies
  std::string m_root_error;             // why the root could not be opened
};

// Joins a host directory and a name: join("/sys/bus", "pci") == "/sys/bus/pci".
std::string join(std::string_view dir, std::string_view name);
// Lexically normalises an absolute host path: collapses "//", ".", "..".
std::string normalize(std::string_view host_path);

}  // namespace gd::host
