#include "gd/host/host_root.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "gd/util/strings.hpp"

namespace gd::host {

namespace {

constexpr int k_max_links = 40;

FileKind kind_of(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return FileKind::regular;
  if (S_ISDIR(st.st_mode)) return FileKind::directory;
  if (S_ISLNK(st.st_mode)) return FileKind::symlink;
  if (S_ISCHR(st.st_mode)) return FileKind::char_device;
  if (S_ISBLK(st.st_mode)) return FileKind::block_device;
  if (S_ISSOCK(st.st_mode)) return FileKind::socket;
  if (S_ISFIFO(st.st_mode)) return FileKind::fifo;
  return FileKind::other;
}

std::string errno_text(int err) { return std::strerror(err); }

// The components of a path, in order, empty ones and "." dropped.
std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> out;
  for (auto part : util::split(path, '/'))
    if (!part.empty() && part != ".") out.emplace_back(part);
  return out;
}

std::string host_path_of(const std::vector<std::string>& names) {
  if (names.empty()) return "/";
  std::string out;
  for (const auto& n : names) out += "/" + n;
  return out;
}

// A path relative to the root descriptor for openat2: "proc/modules", "." for the root.
std::string relative(std::string_view host_path) {
  while (!host_path.empty() && host_path.front() == '/') host_path.remove_prefix(1);
  return host_path.empty() ? std::string(".") : std::string(host_path);
}

int dup_fd(int fd) { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }

std::atomic<int> g_forced{-1};  // -1: detect; else a Resolver

// openat2(2) with `resolve`, retried when it raced a rename (EAGAIN). -1 and errno on failure.
int openat2_resolving(int dir_fd, const char* path, int flags, mode_t mode, std::uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = resolve;
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN || attempt >= 8) return static_cast<int>(fd);
  }
}

int openat2_in_root(int root_fd, const std::string& rel, int flags, mode_t mode) {
  return openat2_resolving(root_fd, rel.c_str(), flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

Resolver detect_resolver() {
  int fd = openat2_in_root(AT_FDCWD, "/", O_PATH | O_DIRECTORY, 0);
  if (fd < 0) return Resolver::walk;  // ENOSYS (kernel < 5.6), EPERM (seccomp): walk instead
  ::close(fd);
  return Resolver::openat2;
}

Status write_all(int fd, std::string_view data, std::string_view what) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(fmt::format("{}: write failed: {}", what, errno_text(n < 0 ? errno : ENOSPC)));
    off += static_cast<std::size_t>(n);
  }
  return ok_status();
}

std::string temp_name(std::string_view name) { return fmt::format(".{}.gpudoctor-tmp-{}", name, ::getpid()); }

}  // namespace

struct HostRoot::Located {
  util::Fd dir;           // the directory that holds the entry
  std::string name;       // its name there; "" when the entry is that directory itself
  std::string host_path;  // where it is, as a host path, links resolved
  bool exists = false;
};

std::string join(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

std::string normalize(std::string_view host_path) {
  std::vector<std::string_view> parts;
  for (auto part : util::split(host_path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (auto p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? "/" : out;
}

HostRoot::HostRoot(std::filesystem::path root) : m_root(std::move(root)) {
  std::error_code ec;
  auto canon = std::filesystem::weakly_canonical(m_root, ec);
  if (!ec) m_root = canon;
  m_live = (m_root == "/");
  m_root_fd = std::make_shared<util::Fd>(::open(m_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!*m_root_fd) m_root_error = fmt::format("root {}: {}", m_root.string(), errno_text(errno));
}

Resolver HostRoot::resolver() {
  int forced = g_forced.load();
  if (forced >= 0) return static_cast<Resolver>(forced);
  static const Resolver detected = detect_resolver();
  return detected;
}

void HostRoot::force_resolver_for_tests(std::optional<Resolver> r) { g_forced = r ? static_cast<int>(*r) : -1; }

std::filesystem::path HostRoot::display_path(std::string_view host_path) const {
  std::string norm = normalize(host_path);
  if (m_live) return norm;
  return m_root / std::string_view(norm).substr(1);
}

// The walk: one component at a time from the root's descriptor, each link read
// and followed by hand (absolute targets restart at the root, ".." stops there).
Result<HostRoot::Located> HostRoot::locate(std::string_view host_path, bool follow_last) const {
  if (!*m_root_fd) return make_error(m_root_error);
  std::vector<util::Fd> stack;
  stack.emplace_back(dup_fd(m_root_fd->get()));
  std::vector<std::string> names;
  auto todo = components(host_path);
  std::reverse(todo.begin(), todo.end());
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    if (c == "..") {
      if (!names.empty()) stack.pop_back(), names.pop_back();
      continue;
    }
    bool last = todo.empty();
    std::string here = join(host_path_of(names), c);
    struct stat st {};
    if (::fstatat(stack.back().get(), c.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      int err = errno;
      if (err == ENOENT && last) return Located{util::Fd(dup_fd(stack.back().get())), c, here, false};
      if (err == ENOENT) return make_error(fmt::format("{}: {} does not exist", host_path, here));
      return make_error(fmt::format("{}: {}: {}", host_path, here, errno_text(err)));
    }
    if (S_ISLNK(st.st_mode) && (!last || follow_last)) {
      if (++links > k_max_links)
        return make_error(fmt::format("{}: too many levels of symbolic links (loop?)", host_path));
      char buf[4096];
      ssize_t n = ::readlinkat(stack.back().get(), c.c_str(), buf, sizeof buf - 1);
      if (n < 0) return make_error(fmt::format("{}: {}: {}", host_path, here, errno_text(errno)));
      std::string_view target(buf, static_cast<std::size_t>(n));
      if (!target.empty() && target.front() == '/') stack.resize(1), names.clear();
      auto parts = components(target);
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
      continue;
    }
    if (last) return Located{util::Fd(dup_fd(stack.back().get())), c, here, true};
    if (!S_ISDIR(st.st_mode)) return make_error(fmt::format("{}: {}: not a directory", host_path, here));
    int fd = ::openat(stack.back().get(), c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return make_error(fmt::format("{}: {}: {}", host_path, here, errno_text(errno)));
    stack.emplace_back(fd);
    names.push_back(c);
  }
  std::string here = host_path_of(names);
  return Located{std::move(stack.back()), "", here, true};
}

Result<util::Fd> HostRoot::open(std::string_view host_path, int flags, mode_t mode) const {
  if (!*m_root_fd) return make_error(m_root_error);
  if (resolver() == Resolver::openat2) {
    int fd = openat2_in_root(m_root_fd->get(), relative(host_path), flags, mode);
    if (fd < 0) return make_error(fmt::format("{}: {}", host_path, errno_text(errno)));
    return util::Fd(fd);
  }
  auto loc = locate(host_path, (flags & O_NOFOLLOW) == 0);
  if (!loc) return loc.error();
  const char* name = loc->name.empty() ? "." : loc->name.c_str();
  int fd = ::openat(loc->dir.get(), name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return make_error(fmt::format("{}: {}", host_path, errno_text(errno)));
  return util::Fd(fd);
}

Result<std::string> HostRoot::read_file(std::string_view host_path, std::size_t max_bytes) const {
  auto fd = open(host_path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd) return fd.error();
  struct stat st {};
  if (::fstat(fd->get(), &st) == 0 && !S_ISREG(st.st_mode))
    return make_error(fmt::format("{}: not a regular file", host_path));
  std::string out;
  char buf[8192];
  // A regular file with a size is read up to it (one read for a small file);
  // procfs and sysfs files say 0 and are read to the end.
  std::size_t want = st.st_size > 0 ? std::min<std::size_t>(max_bytes, static_cast<std::size_t>(st.st_size)) : max_bytes;
  while (out.size() < want) {
    ssize_t n = ::read(fd->get(), buf, std::min(sizeof buf, want - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(fmt::format("{}: read failed: {}", host_path, errno_text(errno)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<struct stat> HostRoot::stat(std::string_view host_path, bool follow) const {
  auto fd = open(host_path, O_PATH | (follow ? 0 : O_NOFOLLOW));
  if (!fd) return fd.error();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return make_error(fmt::format("{}: {}", host_path, errno_text(errno)));
  return st;
}

FileKind HostRoot::kind(std::string_view host_path) const {
  auto st = stat(host_path, false);
  return st ? kind_of(*st) : FileKind::missing;
}

FileKind HostRoot::kind_followed(std::string_view host_path) const {
  auto st = stat(host_path, true);
  return st ? kind_of(*st) : FileKind::missing;
}

Result<std::vector<std::string>> HostRoot::list_dir(std::string_view host_path) const {
  auto fd = open(host_path, O_RDONLY | O_DIRECTORY);
  if (!fd) return fd.error();
  DIR* d = ::fdopendir(fd->get());
  if (!d) return make_error(fmt::format("{}: {}", host_path, errno_text(errno)));
  fd->release();  // the DIR owns it now
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  int err = errno;
  ::closedir(d);
  if (err) return make_error(fmt::format("{}: {}", host_path, errno_text(err)));
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

// Opens rel beneath dir_fd, no component a link or "..". -1 and errno on failure.
int open_beneath(int dir_fd, const char* rel, int flags) {
  flags |= O_CLOEXEC | O_NOCTTY;
  if (HostRoot::resolver() == Resolver::openat2)
    return openat2_resolving(dir_fd, rel, flags, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  // The walk: one component at a time, none followed.
  char copy[PATH_MAX];
  std::size_t len = std::strlen(rel);
  if (len >= sizeof copy) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(copy, rel, len + 1);
  util::Fd here;
  int at = dir_fd;
  char* name = copy;
  for (;;) {
    char* slash = std::strchr(name, '/');
    if (slash) *slash = '\0';
    bool last = slash == nullptr;
    if (std::strcmp(name, "..") == 0) {
      errno = EXDEV;
      return -1;
    }
    if (!last && (name[0] == '\0' || std::strcmp(name, ".") == 0)) {
      name = slash + 1;
      continue;
    }
    const char* leaf = name[0] == '\0' ? "." : name;
    int fd = ::openat(at, leaf, last ? flags | O_NOFOLLOW : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || last) return fd;
    here = util::Fd(fd);
    at = here.get();
    name = slash + 1;
  }
}

// The links of an open directory (closed here), as read_links() says: its
// entries straight from getdents64, each link's text by readlinkat on the same
// descriptor (a /proc/PID/fd of a few entries costs four system calls and the
// links).
Result<std::vector<std::pair<std::string, std::string>>> links_of(util::Fd fd, std::string_view display,
                                                                  std::size_t max_entries) {
  std::vector<std::pair<std::string, std::string>> out;
  char target[4096];
  auto listed = HostRoot::for_each_entry(fd.get(), display, [&](std::string_view n, unsigned char type) {
    if ((type != DT_LNK && type != DT_UNKNOWN) || out.size() >= max_entries) return;
    // The name is one component of a directory opened inside the root:
    // readlinkat reads that link's text and follows nothing.
    ssize_t len = ::readlinkat(fd.get(), n.data(), target, sizeof target - 1);
    if (len >= 0) out.emplace_back(std::string(n), std::string(target, static_cast<std::size_t>(len)));
  });
  if (!listed.ok()) return listed.error();
  return out;
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> HostRoot::read_links(std::string_view host_dir,
                                                                               std::size_t max_entries) const {
  auto fd = open(host_dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return fd.error();
  return links_of(std::move(*fd), host_dir, max_entries);
}

Status HostRoot::for_each_entry(int dir_fd, std::string_view display,
                                const std::function<void(std::string_view name, unsigned char type)>& on_entry) {
  struct Entry {  // linux_dirent64
    std::uint64_t ino;
    std::int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[1];
  };
  alignas(8) char entries[8192];
  for (;;) {
    long got = ::syscall(SYS_getdents64, dir_fd, entries, sizeof entries);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return make_error(fmt::format("{}: {}", display, errno_text(errno)));
    if (got == 0) return ok_status();
    for (long off = 0; off < got;) {
      const auto* e = reinterpret_cast<const Entry*>(entries + off);
      off += e->reclen;
      std::string_view n = e->name;
      if (n != "." && n != "..") on_entry(n, e->type);
    }
  }
}

long HostRoot::read_beneath(int dir_fd, const char* rel, char* buf, std::size_t cap) {
  util::Fd fd(open_beneath(dir_fd, rel, O_RDONLY | O_NONBLOCK));
  if (!fd) return -1;
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, cap);
    if (n >= 0 || errno != EINTR) return n;
  }
}

Status HostRoot::list_beneath(int dir_fd, const char* rel, std::string_view display,
                              const std::function<void(std::string_view name, unsigned char type)>& on_entry) {
  util::Fd fd(open_beneath(dir_fd, rel, O_RDONLY | O_DIRECTORY));
  if (!fd) return make_error(fmt::format("{}: {}", display, errno_text(errno)));
  return for_each_entry(fd.get(), display, on_entry);
}

Result<std::vector<std::pair<std::string, std::string>>> HostRoot::read_links_beneath(int dir_fd, const char* rel,
                                                                                       std::string_view display,
                                                                                       std::size_t max_entries) {
  util::Fd fd(open_beneath(dir_fd, rel, O_RDONLY | O_DIRECTORY));
  if (!fd) return make_error(fmt::format("{}: {}", display, errno_text(errno)));
  return links_of(std::move(fd), display, max_entries);
}

Result<std::string> HostRoot::read_link(std::string_view host_path) const {
  auto fd = open(host_path, O_PATH | O_NOFOLLOW);
  if (!fd) return fd.error();
  char buf[4096];
  ssize_t n = ::readlinkat(fd->get(), "", buf, sizeof buf - 1);
  if (n < 0) return make_error(fmt::format("{}: {}", host_path, errno == ENOENT ? "not a symbolic link" : errno_text(errno)));
  return std::string(buf, static_cast<size_t>(n));
}

Result<std::string> HostRoot::resolve(std::string_view host_path) const {
  auto loc = locate(host_path, true);
  if (!loc) return loc.error();
  if (!loc->exists) return make_error(fmt::format("{}: {} does not exist", host_path, loc->host_path));
  return loc->host_path;
}

long long HostRoot::file_size(std::string_view host_path) const {
  auto st = stat(host_path, true);
  return st ? static_cast<long long>(st->st_size) : -1;
}

Result<util::Fd> HostRoot::open_parent(std::string_view host_path, std::string& name) const {
  std::string norm = normalize(host_path);
  auto slash = norm.rfind('/');
  name = norm.substr(slash + 1);
  if (name.empty()) return make_error(fmt::format("{}: not a file name", host_path));
  return open(slash == 0 ? "/" : std::string_view(norm).substr(0, slash), O_PATH | O_DIRECTORY);
}

Status HostRoot::make_dirs(std::string_view host_dir, mode_t mode) const {
  std::string prefix;
  for (const auto& c : components(normalize(host_dir))) {
    prefix += "/" + c;
    if (kind_followed(prefix) == FileKind::directory) continue;
    std::string name;
    auto parent = open_parent(prefix, name);
    if (!parent) return parent.error();
    if (::mkdirat(parent->get(), name.c_str(), mode) != 0 && errno != EEXIST)
      return make_error(fmt::format("{}: cannot create: {}", prefix, errno_text(errno)));
    if (kind_followed(prefix) != FileKind::directory)
      return make_error(fmt::format("{}: not a directory", prefix));
  }
  return ok_status();
}

Status HostRoot::write_file_atomic(std::string_view host_path, std::string_view content, mode_t mode) const {
  std::string name;
  auto dir = open_parent(host_path, name);
  if (!dir) return dir.error();
  std::string tmp = temp_name(name);
  ::unlinkat(dir->get(), tmp.c_str(), 0);
  util::Fd fd(::openat(dir->get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return make_error(fmt::format("{}: cannot create: {}", host_path, errno_text(errno)));
  auto fail = [&](Error e) {
    ::unlinkat(dir->get(), tmp.c_str(), 0);
    return e;
  };
  if (auto w = write_all(fd.get(), content, host_path); !w) return fail(w.error());
  if (::fchmod(fd.get(), mode) != 0 || ::fsync(fd.get()) != 0)
    return fail(make_error(fmt::format("{}: {}", host_path, errno_text(errno))));
  fd.reset();
  if (::renameat(dir->get(), tmp.c_str(), dir->get(), name.c_str()) != 0)
    return fail(make_error(fmt::format("{}: cannot rename into place: {}", host_path, errno_text(errno))));
  return ok_status();
}

Status HostRoot::symlink_atomic(std::string_view host_path, std::string_view target) const {
  std::string name;
  auto dir = open_parent(host_path, name);
  if (!dir) return dir.error();
  std::string tmp = temp_name(name);
  ::unlinkat(dir->get(), tmp.c_str(), 0);
  if (::symlinkat(std::string(target).c_str(), dir->get(), tmp.c_str()) != 0)
    return make_error(fmt::format("{}: cannot create link: {}", host_path, errno_text(errno)));
  if (::renameat(dir->get(), tmp.c_str(), dir->get(), name.c_str()) != 0) {
    int err = errno;
    ::unlinkat(dir->get(), tmp.c_str(), 0);
    return make_error(fmt::format("{}: cannot rename into place: {}", host_path, errno_text(err)));
  }
  return ok_status();
}

Status HostRoot::append_file(std::string_view host_path, std::string_view content, mode_t mode) const {
  std::string name;
  auto dir = open_parent(host_path, name);
  if (!dir) return dir.error();
  util::Fd fd(::openat(dir->get(), name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return make_error(fmt::format("{}: cannot open for appending: {}", host_path, errno_text(errno)));
  return write_all(fd.get(), content, host_path);
}

}  // namespace gd::host
