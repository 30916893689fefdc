#include "gd/host/kernel_log_source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <systemd/sd-id128.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "gd/util/fd.hpp"

namespace gd::host {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view k_journal_dir = "/var/log/journal";
constexpr std::string_view k_boot_id = "/proc/sys/kernel/random/boot_id";
constexpr std::string_view k_kmsg = "/dev/kmsg";

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct JournalCloser {
  void operator()(sd_journal* j) const { sd_journal_close(j); }
};
using JournalPtr = std::unique_ptr<sd_journal, JournalCloser>;

std::string hex_id(sd_id128_t id) {
  char buf[SD_ID128_STRING_MAX];
  return sd_id128_to_string(id, buf);
}

// The boot id of "this boot" in the journal's 32-hex form; nullopt when unknown.
std::optional<std::string> current_boot_id(const HostRoot& root) {
  sd_id128_t id;
  if (root.is_live() && sd_id128_get_boot(&id) == 0) return hex_id(id);
  auto text = root.read_file(k_boot_id, 128);
  if (!text) return std::nullopt;
  std::string hex;
  for (char c : *text)
    if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
  if (hex.size() != 32) return std::nullopt;
  return hex;
}

// The journal being read, with the files it reads (under --root each opened
// through the HostRoot, so links cannot lead out of the root).
struct OpenJournal {
  std::vector<util::Fd> files;  // closed after the journal (declared first)
  JournalPtr journal;
};

constexpr std::size_t k_max_journal_files = 1024;

bool is_journal_file(std::string_view name) {
  return name.ends_with(".journal") || name.ends_with(".journal~");
}

// ROOT/var/log/journal/*.journal and ROOT/var/log/journal/<machine-id>/*.journal.
std::vector<util::Fd> open_journal_files(const HostRoot& root, std::string_view dir) {
  std::vector<util::Fd> out;
  auto add = [&](const std::string& path) {
    if (out.size() >= k_max_journal_files || root.kind_followed(path) != FileKind::regular) return;
    if (auto fd = root.open(path, O_RDONLY | O_NONBLOCK)) out.push_back(std::move(*fd));
  };
  for (const auto& name : root.list_dir(dir).value_or({})) {
    std::string path = join(dir, name);
    if (is_journal_file(name)) add(path);
    else if (root.kind_followed(path) == FileKind::directory)
      for (const auto& inner : root.list_dir(path).value_or({}))
        if (is_journal_file(inner)) add(join(path, inner));
  }
  return out;
}

int dup_fd(int fd) { return ::fcntl(fd, F_DUPFD_CLOEXEC, 0); }

int open_files(const std::vector<util::Fd>& files, sd_journal** j) {
  if (files.empty()) return -ENOENT;
  std::vector<int> fds;
  for (const auto& f : files) fds.push_back(f.get());
  return sd_journal_open_files_fd(j, fds.data(), static_cast<unsigned>(fds.size()), 0);
}

// Opens the live journal or ROOT/var/log/journal; Error says why not.
Result<OpenJournal> open_journal(const HostRoot& root, std::string& source) {
  OpenJournal out;
  sd_journal* j = nullptr;
  int r = 0;
  if (root.is_live()) {
    source = "journal";
    r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
  } else {
    auto resolved = root.resolve(k_journal_dir);
    std::string dir = root.display_path(resolved ? *resolved : std::string(k_journal_dir)).string();
    source = fmt::format("journal {}", dir);
    if (!resolved || root.kind(*resolved) != FileKind::directory)
      return make_error(fmt::format("journal: no directory {}", dir));
    out.files = open_journal_files(root, *resolved);
    r = open_files(out.files, &j);
    if (r < 0) {  // one bad file fails them all: keep the ones that open on their own
      std::erase_if(out.files, [](const util::Fd& f) {
        std::vector<util::Fd> one;
        one.emplace_back(dup_fd(f.get()));
        sd_journal* probe = nullptr;
        bool bad = open_files(one, &probe) < 0;
        if (probe) sd_journal_close(probe);
        return bad;
      });
      r = open_files(out.files, &j);
    }
    if (out.files.empty())
      return make_error(fmt::format("{}: no kernel messages (empty, unreadable by this user, or not journal files)",
                                    source));
  }
  if (r < 0) return make_error(fmt::format("{}: cannot open: {}", source, std::strerror(-r)));
  out.journal = JournalPtr(j);
  return out;
}

// The boot offset of boot_id (0 for the first seen, or for this boot).
int boot_offset(std::vector<std::string>& boots, const std::string& boot_id) {
  auto it = std::find(boots.begin(), boots.end(), boot_id);
  if (it == boots.end()) it = boots.insert(boots.end(), boot_id);
  return -static_cast<int>(it - boots.begin());
}

// Reads the entry under the cursor into out; false when the walk must stop.
bool take_entry(sd_journal* j, const JournalLimits& limits, std::vector<std::string>& boots, JournalRead& out) {
  std::uint64_t realtime = 0, mono = 0;
  sd_id128_t boot_id;
  sd_journal_get_realtime_usec(j, &realtime);
  if (limits.since_usec && static_cast<std::int64_t>(realtime) < *limits.since_usec) return false;
  std::string boot = sd_journal_get_monotonic_usec(j, &mono, &boot_id) >= 0 ? hex_id(boot_id) : std::string();
  int offset = !boot.empty() ? boot_offset(boots, boot) : boots.empty() ? 0 : 1 - static_cast<int>(boots.size());
  if (limits.max_boots && -offset >= *limits.max_boots) return false;
  const void* data = nullptr;
  std::size_t len = 0;
  if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0) return true;
  std::string_view message(static_cast<const char*>(data), len);
  if (message.substr(0, 8) == "MESSAGE=") message.remove_prefix(8);
  if (!limits.keep_substring.empty() && message.find(limits.keep_substring) == std::string_view::npos) return true;
  out.records.push_back(JournalRecord{std::string(message), offset, static_cast<std::int64_t>(realtime)});
  return true;
}

void walk_journal(sd_journal* j, const JournalLimits& limits, std::vector<std::string>& boots, JournalRead& out) {
  auto t0 = Clock::now();
  while (true) {
    if (out.entries_read >= limits.max_entries) {
      out.problems.push_back(
          fmt::format("{}: stopped after {} kernel entries; older ones were not read", out.source, out.entries_read));
      return;
    }
    if ((out.entries_read & 255) == 255 && seconds_since(t0) > limits.max_seconds) {
      out.problems.push_back(fmt::format("{}: stopped after {:.0f} s ({} kernel entries); older ones were not read",
                                         out.source, limits.max_seconds, out.entries_read));
      return;
    }
    int r = sd_journal_previous(j);
    if (r < 0) {
      out.problems.push_back(fmt::format("{}: read error: {}", out.source, std::strerror(-r)));
      return;
    }
    if (r == 0) return;
    ++out.entries_read;
    if (!take_entry(j, limits, boots, out)) return;
  }
}

}  // namespace

Result<JournalRead> read_journal(const HostRoot& root, const JournalLimits& limits) {
  JournalRead out;
  auto journal = open_journal(root, out.source);
  if (!journal) return journal.error();
  sd_journal* j = journal->journal.get();
  sd_journal_set_data_threshold(j, 64 * 1024);
  int r = sd_journal_add_match(j, "_TRANSPORT=kernel", 0);
  if (r >= 0) r = sd_journal_seek_tail(j);
  if (r < 0) return make_error(fmt::format("{}: cannot read: {}", out.source, std::strerror(-r)));
  std::vector<std::string> boots;
  if (auto current = current_boot_id(root)) boots.push_back(*current);
  walk_journal(j, limits, boots, out);
  if (out.entries_read == 0)
    return make_error(
        fmt::format("{}: no kernel messages (empty, unreadable by this user, or not journal files)", out.source));
  std::reverse(out.records.begin(), out.records.end());
  return out;
}

namespace {

// Approximate wall-clock time of boot: now minus the monotonic clock that
// printk stamps count.
std::optional<std::int64_t> boot_time_unix_s() {
  timespec real{}, mono{};
  if (clock_gettime(CLOCK_REALTIME, &real) != 0 || clock_gettime(CLOCK_MONOTONIC, &mono) != 0) return std::nullopt;
  return static_cast<std::int64_t>(real.tv_sec - mono.tv_sec);
}

// Reads records until EAGAIN (the end: never blocks) or a limit.
void read_records(int fd, std::size_t max_bytes, double max_seconds, KmsgRead& out) {
  std::vector<char> buf(16 * 1024);  // larger than any record (the kernel caps them at 8 KiB)
  std::uint64_t lost = 0;
  auto t0 = Clock::now();
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      out.text.append(buf.data(), static_cast<std::size_t>(n));
      if (buf[static_cast<std::size_t>(n) - 1] != '\n') out.text += '\n';
      ++out.records;
      if (out.text.size() < max_bytes && ((out.records & 1023) || seconds_since(t0) < max_seconds)) continue;
      out.problems.push_back(
          fmt::format("{}: stopped after {} records; later ones were not read", k_kmsg, out.records));
      break;
    }
    if (n == 0 || errno == EAGAIN) break;
    if (errno == EINTR) continue;
    if (errno == EPIPE) {  // records overwritten while reading: the next read resumes
      ++lost;
      continue;
    }
    out.problems.push_back(
        fmt::format("{}: read error after {} records: {}", k_kmsg, out.records, std::strerror(errno)));
    break;
  }
  if (lost) out.problems.push_back(fmt::format("{}: records were overwritten while reading ({} gaps)", k_kmsg, lost));
}

}  // namespace

Result<KmsgRead> read_kmsg(const HostRoot& root, std::size_t max_bytes, double max_seconds) {
  if (!root.is_live()) return make_error(fmt::format("{} is read on the live root only", k_kmsg));
  auto opened = root.open(k_kmsg, O_RDONLY | O_NONBLOCK);
  if (!opened) return opened.error();
  int fd = opened->release();
  ::lseek(fd, 0, SEEK_SET);  // the first record still in the buffer
  KmsgRead out;
  out.boot_time_unix_s = boot_time_unix_s();
  read_records(fd, max_bytes, max_seconds, out);
  ::close(fd);
  if (out.records == 0 && !out.problems.empty()) return make_error(out.problems.front());
  return out;
}

namespace {

// Reads fd (closed afterwards unless it is stdin) to EOF or max_bytes.
Result<std::uint64_t> stream_fd(int fd, const std::string& name, const ByteSink& sink,
                                std::uint64_t max_bytes, Deadline deadline, bool* cut_short) {
  std::vector<char> buf(sink.space ? 0 : 128 << 10);  // stays in the L2 cache between the copy and the parse
  std::uint64_t total = 0;
  auto close_fd = [fd] {
    if (fd != 0) ::close(fd);
  };
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  while (true) {
    if (deadline) {
      // A regular file never blocks: only the clock is checked. A pipe or a
      // terminal is waited on with poll, never past the deadline.
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      bool passed = left.count() <= 0;
      if (!passed && !regular) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
        if (r < 0 && errno == EINTR) continue;
        passed = r == 0 && std::chrono::steady_clock::now() >= *deadline;
        if (r == 0 && !passed) continue;
      }
      if (passed) {
        close_fd();
        if (cut_short) *cut_short = true;
        return total;
      }
    }
    std::span<char> into = sink.space ? sink.space() : std::span<char>(buf);
    std::size_t want = std::min<std::uint64_t>({into.size(), std::uint64_t{128} << 10, max_bytes - std::min(total, max_bytes)});
    ssize_t n = total >= max_bytes ? 0 : ::read(fd, into.data(), want);
    if (n > 0) {
      total += static_cast<std::uint64_t>(n);
      if (sink.space) sink.filled(static_cast<std::size_t>(n));
      else sink.chunk(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && deadline) continue;  // (a non-blocking pipe: poll again)
    int err = n < 0 ? errno : 0;
    close_fd();
    if (err) return make_error(fmt::format("{}: read error after {} bytes: {}", name, total, std::strerror(err)));
    return total;
  }
}

}  // namespace

Result<std::uint64_t> stream_file(const std::string& path, const ByteSink& sink,
                                  std::uint64_t max_bytes, Deadline deadline, bool* cut_short) {
  bool is_stdin = path == "-";
  std::string name = is_stdin ? "stdin" : path;
  int fd = is_stdin ? 0 : ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return make_error(fmt::format("{}: cannot open: {}", name, std::strerror(errno)));
  struct stat st {};
  if (!is_stdin && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
    ::close(fd);
    return make_error(fmt::format("{}: not a regular file", name));
  }
  return stream_fd(fd, name, sink, max_bytes, deadline, cut_short);
}

Result<std::uint64_t> stream_root_file(const HostRoot& root, std::string_view host_path,
                                       const ByteSink& sink, std::uint64_t max_bytes,
                                       Deadline deadline, bool* cut_short) {
  auto fd = root.open(host_path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd) return fd.error();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode))
    return make_error(fmt::format("{}: not a regular file", host_path));
  return stream_fd(fd->release(), std::string(host_path), sink, max_bytes, deadline, cut_short);
}

}  // namespace gd::host
