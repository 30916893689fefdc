// Kernel log probe: NVIDIA events (Xid, fallen off the bus, API mismatch,
// RmInitAdapter failed) and the kernel's stall reports inside the driver
// (hung tasks, soft/hard lockups, RCU stalls) from the journal, /dev/kmsg or
// a file, in any of the usual text formats (docs/kernel-log.md). The parser
// is pure and streams: one vectorised pass per line looks for the bytes its
// anchors hold, and only lines that have them are parsed further.
#pragma once

#include <chrono>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "gd/host/host_root.hpp"
#include "gd/host/kernel_log_source.hpp"
#include "gd/model/snapshot.hpp"
#include "gd/util/result.hpp"

namespace gd::probe {

// Lines longer than this are cut (the rest is skipped up to the newline).
inline constexpr std::size_t k_kernel_log_max_line = 16 * 1024;
// At most this many events are kept; further ones are counted as problems.
inline constexpr std::size_t k_kernel_log_max_events = 100'000;

// Which events to keep (--since).
struct KernelLogWindow {
  std::optional<int> min_boot = -1;          // keep boots >= this offset (0 this boot); nullopt: all
  std::optional<std::int64_t> since_unix_s;  // keep events at or after this time; events without one are kept
  std::string description = "this boot and the previous one";
};

// Parses a --since value: "boot" (this boot), "previous-boot" (the default:
// this and the one before), "all", a duration "90s" "30m" "2h" "7d" back from
// now_unix_s, or a local date/time "2026-11-27", "2026-11-27T03:00[:00]" (a
// space may replace the T). Error names the value and the accepted forms.
Result<KernelLogWindow> parse_since(std::string_view text, std::int64_t now_unix_s);

// Streaming parser. Feed text in any chunking (a line may span chunks), or
// structured records (the journal), not both; then finish() once.
class KernelLogParser {
 public:
  KernelLogParser(KernelLogWindow window, std::int64_t now_unix_s);

  void feed(std::string_view chunk);
  // Feeds the text that `produce` streams to the sink it is given, with the
  // reading and the per-line scan on a second thread and what depends on the
  // parser's state on this one: the same result as feed() given the same
  // bytes, in any chunking. Returns what produce returned. At most four
  // blocks of about block_bytes are between the threads (tests pass small
  // values to cross every boundary). Called before any other feed.
  using Producer = std::function<Result<std::uint64_t>(const host::ByteSink& sink)>;
  Result<std::uint64_t> feed_threaded(const Producer& produce, std::size_t block_bytes = 512 << 10);
  // One journal entry: its MESSAGE, boot offset (0 this boot) and wall time.
  void feed_record(std::string_view message, int boot, std::int64_t realtime_usec);
  // Wall-clock time at which the log's latest boot started (the live
  // /dev/kmsg knows it): lets --since durations judge monotonic stamps.
  void set_boot_time(std::int64_t unix_s) { m_boot_time_unix_s = unix_s; }
  // When the node's current boot began (its /proc/stat btime): at finish(),
  // events of the log's latest boot that carry only a monotonic stamp get
  // their wall-clock time from it. Earlier boots are left without one.
  void set_last_boot_time(std::int64_t unix_s) { m_last_boot_time_unix_s = unix_s; }
  // Ends the input. Boot offsets of text become relative to its last boot.
  model::KernelLog finish();

  enum class Clock { none, iso, ctime, syslog };  // how a stamp's text reads as wall time
  struct Stamp {                                  // what a line's prefix says about when it was written
    std::string text;
    std::optional<double> mono_s;  // seconds since boot
    Clock clock = Clock::none;
    std::optional<std::int64_t> unix_s;  // wall clock, when the source gave it directly
  };

 private:
  struct Pending {  // a message continued on following NVRM lines
    model::KernelEventKind kind;
    std::string body;
    Stamp stamp;
    int lines = 0;
  };
  struct Report {  // a kernel stall report and the lines after it (RIP, call trace)
    model::KernelEvent event;
    std::string first_line;
    Stamp stamp;
    int lines = 0;
    bool in_trace = false;  // "Call Trace:" seen
  };

  void append_partial(std::string_view piece);
  void line(std::string_view raw);
  struct LineMark;  // what a complete line's text alone says (kernel_log.cpp)
  static LineMark mark_line(std::string_view raw, std::size_t begin, unsigned anchored);
  void marked_line(const char* base, const LineMark& m);
  void marked_run(const char* base, const LineMark& m);
  static void add_mark(std::vector<LineMark>& marks, const LineMark& m, std::size_t nl);
  bool skim_mark(const LineMark& m);  // a line with nothing to parse: its boot clue; false: parse it
  std::size_t scan_lines(std::string_view chunk);
  void parse_line(std::string_view raw);
  void boot_clues(bool boundary, std::optional<double> mono_s);
  void message(std::string_view text, const Stamp& stamp);
  bool report_line(std::string_view text);
  bool start_report(std::string_view text, const Stamp& stamp);
  void finish_report();
  void nvrm(std::string_view body, const Stamp& stamp);
  void gpu_uuid(std::string_view body);
  void module_loaded(std::string_view body);
  void place_events();
  void start_pending(model::KernelEventKind kind, std::string_view body, const Stamp& stamp);
  void continue_pending(std::string_view body);
  void flush_pending();
  void emit(model::KernelEvent e, std::string_view text, const Stamp& stamp);
  std::optional<std::int64_t> wall_time(const Stamp& stamp) const;
  void new_boot();
  void prune_old_boots();

  KernelLogWindow m_window;
  std::int64_t m_now_unix_s;
  std::optional<std::int64_t> m_boot_time_unix_s;
  std::optional<std::int64_t> m_last_boot_time_unix_s;
  model::KernelLog m_out;
  std::string m_partial;   // a line started in an earlier chunk
  bool m_cutting = false;  // skipping the rest of an over-long line
  bool m_at_line_start = true;
  bool m_records = false;
  int m_boot = 0;  // text: boots counted from the first; records: the record's offset
  std::uint64_t m_lines_in_boot = 0;
  std::optional<double> m_last_mono_s;
  std::optional<Pending> m_pending;
  std::optional<Report> m_report;
  std::unordered_set<std::string> m_seen;
  std::uint64_t m_dropped = 0;
};

// Parses a whole text at once (tests, small inputs).
model::KernelLog parse_kernel_log(std::string_view text, const KernelLogWindow& window, std::int64_t now_unix_s);

struct KernelLogOptions {
  std::string file;   // --kernel-log FILE ("-" = stdin); empty: the node's journal or /dev/kmsg
  std::string since;  // --since; empty: "previous-boot"
  // A file (or a root's syslog file) is read until then at most: the rest is
  // left unread and the log says so (KernelLog::incomplete, a problem line).
  std::optional<std::chrono::steady_clock::time_point> deadline = {};
};

// "kernel log: FILE: read N MB before the time limit; the rest was not read" (and sets log.incomplete).
void note_cut_short(model::KernelLog& log, std::string_view what, std::uint64_t bytes);

// A log file ("-" = stdin) read until the deadline at most (source "file PATH"; a file that cannot be read at all
// is KernelLog::unavailable, one that fails midway keeps what was read and names the error in problems).
model::KernelLog read_kernel_log_file(const std::string& file, const KernelLogWindow& window, std::int64_t now,
                                      std::optional<std::int64_t> boot_time = {},
                                      std::optional<std::chrono::steady_clock::time_point> deadline = {});

// Reads the node's kernel log (journal with previous boots, else /dev/kmsg on
// the live root; under --root ROOT/var/log/journal) or the file. Nothing
// readable is KernelLog::unavailable with the reason, not an error.
model::KernelLog read_kernel_log(const host::HostRoot& root, const KernelLogOptions& options);

}  // namespace gd::probe
