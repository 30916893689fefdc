// Where the kernel log comes from: the systemd journal (with previous boots),
// /dev/kmsg (this boot, live root only) or a file. Every reader is bounded in
// entries, bytes and time and never blocks; parsing is the probe's job.
#pragma once

#include <cstdint>
#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "gd/host/host_root.hpp"
#include "gd/util/result.hpp"

namespace gd::host {

struct JournalRecord {
  std::string message;  // MESSAGE
  int boot = 0;         // 0 = this boot (or the journal's newest), -1 = the one before, ...
  std::int64_t realtime_usec = 0;
};

struct JournalLimits {
  std::optional<int> max_boots = 2;        // stop at the first entry of an older boot; nullopt: all
  std::optional<std::int64_t> since_usec;  // stop at entries older than this wall time
  std::uint64_t max_entries = 2'000'000;   // kernel entries examined at most
  double max_seconds = 3;                  // wall time spent reading at most
  std::string keep_substring = "NVRM";     // only messages containing it are returned ("" = all)
};

struct JournalRead {
  std::string source;                  // "journal" or "journal DIR"
  std::vector<JournalRecord> records;  // oldest first
  std::uint64_t entries_read = 0;      // kernel entries examined
  std::vector<std::string> problems;   // limits hit, unreadable files
};

// Reads kernel messages (_TRANSPORT=kernel) newest first until a limit, and
// returns them oldest first. On the live root: the local journal
// (SD_JOURNAL_LOCAL_ONLY); under another root: ROOT/var/log/journal. Error
// (with the reason) when there is no journal or it holds no kernel entries.
Result<JournalRead> read_journal(const HostRoot& root, const JournalLimits& limits);

struct KmsgRead {
  std::string text;  // "prio,seq,usec,flags;message\n" records
  std::uint64_t records = 0;
  std::optional<std::int64_t> boot_time_unix_s;  // approximate wall time of boot
  std::vector<std::string> problems;             // records lost to overwrite, limits hit
};

// Reads every record of /dev/kmsg without blocking (O_NONBLOCK, from the
// first record, until EAGAIN). Live root only. Error names why (absent,
// permission, not the live root).
Result<KmsgRead> read_kmsg(const HostRoot& root, std::size_t max_bytes = 64u << 20, double max_seconds = 2);

// Streams a file ("-" = stdin) to sink in chunks of up to 128 KiB. Returns the
// bytes read; Error names the path and errno when it cannot be opened or read
// (directories, devices that would block and FIFOs other than stdin are refused).
// Stops after max_bytes (what was read by then is kept), and at the deadline:
// then `*cut_short` is set (what was read is kept; a stdin that sends nothing
// is waited for only until the deadline).
using Deadline = std::optional<std::chrono::steady_clock::time_point>;
// Where streamed bytes go: into the reader's own 128 KiB buffer and then to `chunk` (a function converts to
// this); or, when `space` is set, read straight into the memory it gives (no copy), `filled` being told how
// many bytes went there.
struct ByteSink {
  template <class F>
    requires std::is_invocable_v<F, std::string_view>
  ByteSink(F f) : chunk(std::move(f)) {}  // NOLINT: implicit by design
  ByteSink(std::function<std::span<char>()> s, std::function<void(std::size_t)> f)
      : space(std::move(s)), filled(std::move(f)) {}
  std::function<void(std::string_view)> chunk;
  std::function<std::span<char>()> space;  // non-empty
  std::function<void(std::size_t)> filled;
};
// A file of the node, through the root (sealed), streamed the same way.
Result<std::uint64_t> stream_root_file(const HostRoot& root, std::string_view host_path,
                                       const ByteSink& sink,
                                       std::uint64_t max_bytes = UINT64_MAX, Deadline deadline = {},
                                       bool* cut_short = nullptr);
Result<std::uint64_t> stream_file(const std::string& path, const ByteSink& sink,
                                  std::uint64_t max_bytes = UINT64_MAX, Deadline deadline = {},
                                  bool* cut_short = nullptr);

}  // namespace gd::host
