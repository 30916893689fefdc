#include "gd/host/log_follower.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace gd::host {

namespace {

constexpr std::size_t k_chunk = 64 * 1024;
constexpr std::string_view k_kmsg = "/dev/kmsg";

}  // namespace

LogFollower LogFollower::file(std::string path) {
  LogFollower f;
  f.m_path = std::move(path);
  std::vector<std::string> ignored;  // reported by the first poll
  f.open_file(true, ignored);
  return f;
}

Result<LogFollower> LogFollower::kmsg(const HostRoot& root) {
  if (!root.is_live()) return make_error(fmt::format("{} is followed on the live root only", k_kmsg));
  LogFollower f;
  f.m_kmsg = true;
  f.m_path = std::string(k_kmsg);
  auto opened = root.open(k_kmsg, O_RDONLY | O_NONBLOCK);
  if (!opened) return opened.error();
  f.m_fd = opened->release();
  ::lseek(f.m_fd, 0, SEEK_END);  // after the last record: only new ones count
  return f;
}

LogFollower::LogFollower(LogFollower&& o) noexcept { *this = std::move(o); }

LogFollower& LogFollower::operator=(LogFollower&& o) noexcept {
  if (this == &o) return *this;
  close();
  m_kmsg = o.m_kmsg, m_path = std::move(o.m_path), m_fd = std::exchange(o.m_fd, -1);
  m_dev = o.m_dev, m_ino = o.m_ino, m_offset = o.m_offset, m_started = o.m_started;
  m_last_problem = std::move(o.m_last_problem);
  return *this;
}

LogFollower::~LogFollower() { close(); }

void LogFollower::close() {
  if (m_fd >= 0) ::close(m_fd);
  m_fd = -1;
}

std::string LogFollower::describe() const { return m_kmsg ? std::string(k_kmsg) : "file " + m_path; }

void LogFollower::poll(std::string& out, std::size_t max_bytes, std::vector<std::string>& problems) {
  std::vector<std::string> found;
  if (m_kmsg)
    poll_kmsg(out, max_bytes, found);
  else
    poll_file(out, max_bytes, found);
  for (auto& p : found) {
    if (p == m_last_problem) continue;
    m_last_problem = p;
    problems.push_back(std::move(p));
  }
  if (found.empty()) m_last_problem.clear();
}

bool LogFollower::open_file(bool from_end, std::vector<std::string>& problems) {
  m_fd = ::open(m_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  m_started = true;
  if (m_fd < 0) {
    if (errno != ENOENT) problems.push_back(fmt::format("{}: {}", m_path, std::strerror(errno)));
    return false;
  }
  struct stat st {};
  if (::fstat(m_fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    problems.push_back(fmt::format("{}: not a regular file (not followed)", m_path));
    close();
    return false;
  }
  m_dev = st.st_dev, m_ino = st.st_ino;
  m_offset = from_end ? static_cast<std::uint64_t>(::lseek(m_fd, 0, SEEK_END)) : 0;
  return true;
}

void LogFollower::poll_file(std::string& out, std::size_t max_bytes, std::vector<std::string>& problems) {
  if (m_fd < 0 && !open_file(!m_started, problems)) return;
  std::size_t got = 0;
  auto drain = [&] {
    char buf[k_chunk];
    while (got < max_bytes) {
      ssize_t n = ::read(m_fd, buf, std::min(sizeof buf, max_bytes - got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN) problems.push_back(fmt::format("{}: {}", m_path, std::strerror(errno)));
      if (n <= 0) return true;  // at the end (or nothing to read now)
      out.append(buf, static_cast<std::size_t>(n));
      got += static_cast<std::size_t>(n), m_offset += static_cast<std::uint64_t>(n);
    }
    return false;  // max_bytes reached: more next time
  };
  if (!drain()) return;
  struct stat st {};
  if (::stat(m_path.c_str(), &st) != 0) return;    // removed: keep what we have, wait for a new file
  if (st.st_dev != m_dev || st.st_ino != m_ino) {  // rotated: the old file is read to its end
    close();
    if (open_file(false, problems)) drain();
  } else if (static_cast<std::uint64_t>(st.st_size) < m_offset) {  // truncated (copytruncate)
    ::lseek(m_fd, 0, SEEK_SET);
    m_offset = 0;
    drain();
  }
}

void LogFollower::poll_kmsg(std::string& out, std::size_t max_bytes, std::vector<std::string>& problems) {
  char buf[16384];  // larger than any record (the kernel's limit is 8 KiB)
  std::size_t got = 0;
  bool lost = false;
  while (got < max_bytes) {
    ssize_t n = ::read(m_fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      if (buf[n - 1] != '\n') out += '\n';
      got += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) {  // overwritten before we read them; the next read resumes
      lost = true;
      continue;
    }
    if (n < 0 && errno != EAGAIN) problems.push_back(fmt::format("{}: {}", k_kmsg, std::strerror(errno)));
    break;
  }
  if (lost) problems.push_back(fmt::format("{}: records were overwritten before they were read", k_kmsg));
}

}  // namespace gd::host
