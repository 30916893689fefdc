#include "gd/host/host_root.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "gd/util/strings.hpp"

namespace gd::host {

namespace {

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

}  // namespace

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
}

std::filesystem::path HostRoot::path(std::string_view host_path) const {
  std::string norm = normalize(host_path);
  if (m_live) return norm;
  return m_root / std::string_view(norm).substr(1);
}

Result<std::string> HostRoot::read_file(std::string_view host_path, std::size_t max_bytes) const {
  auto p = path(host_path);
  int fd = ::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return make_error(fmt::format("{}: {}", host_path, errno_text(errno)));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(fmt::format("{}: not a regular file", host_path));
  }
  std::string out;
  char buf[8192];
  while (out.size() < max_bytes) {
    ssize_t n = ::read(fd, buf, std::min(sizeof buf, max_bytes - out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return make_error(fmt::format("{}: read failed: {}", host_path, errno_text(err)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

FileKind HostRoot::kind(std::string_view host_path) const {
  struct stat st {};
  if (::lstat(path(host_path).c_str(), &st) != 0) return FileKind::missing;
  return kind_of(st);
}

FileKind HostRoot::kind_followed(std::string_view host_path) const {
  auto resolved = resolve(host_path);
  if (!resolved) return FileKind::missing;
  return kind(*resolved);
}

Result<std::vector<std::string>> HostRoot::list_dir(std::string_view host_path) const {
  std::error_code ec;
  std::vector<std::string> names;
  std::filesystem::directory_iterator it(path(host_path), ec);
  if (ec) return make_error(fmt::format("{}: {}", host_path, ec.message()));
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return make_error(fmt::format("{}: {}", host_path, ec.message()));
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::string> HostRoot::read_link(std::string_view host_path) const {
  char buf[4096];
  ssize_t n = ::readlink(path(host_path).c_str(), buf, sizeof buf - 1);
  if (n < 0) return make_error(fmt::format("{}: {}", host_path, errno_text(errno)));
  return std::string(buf, static_cast<size_t>(n));
}

Result<std::string> HostRoot::resolve(std::string_view host_path) const {
  // Walk component by component, expanding links, so links in the middle of
  // the path are re-rooted too.
  std::vector<std::string> todo;
  std::string norm = normalize(host_path);
  for (auto part : util::split(norm, '/'))
    if (!part.empty()) todo.emplace_back(part);
  std::reverse(todo.begin(), todo.end());
  std::string done = "/";
  int links = 0;
  while (!todo.empty()) {
    std::string part = std::move(todo.back());
    todo.pop_back();
    if (part == ".") continue;
    if (part == "..") {
      done = normalize(done + "/..");
      continue;
    }
    std::string next = join(done, part);
    FileKind k = kind(next);
    if (k == FileKind::missing) return make_error(fmt::format("{}: {} does not exist", host_path, next));
    if (k != FileKind::symlink) {
      done = next;
      continue;
    }
    if (++links > 40) return make_error(fmt::format("{}: too many levels of symbolic links (loop?)", host_path));
    auto target = read_link(next);
    if (!target) return target.error();
    if (!target->empty() && (*target)[0] == '/') done = "/";
    std::vector<std::string> parts;
    for (auto p : util::split(*target, '/'))
      if (!p.empty()) parts.emplace_back(p);
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) todo.push_back(*it);
  }
  return done;
}

long long HostRoot::file_size(std::string_view host_path) const {
  auto resolved = resolve(host_path);
  if (!resolved) return -1;
  struct stat st {};
  if (::stat(path(*resolved).c_str(), &st) != 0) return -1;
  return static_cast<long long>(st.st_size);
}

}  // namespace gd::host
