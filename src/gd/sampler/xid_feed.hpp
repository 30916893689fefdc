// Xid events as `watch` sees them live: new kernel log lines (followed by
// host::LogFollower) parsed into events, and Xids from NVML's event API (the
// sampler's worker). The same Xid seen through both is recorded once
// (docs/watch.md, "Xid events"), and every Xid is counted per GPU and code.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gd/model/snapshot.hpp"
#include "gd/store/store.hpp"

namespace gd::sampler {

// Cuts followed text into complete lines. The unfinished last line waits for
// the next chunk; a line longer than max_line is cut there and the rest of it,
// up to its newline, skipped (counted in lines_cut).
class LineAssembler {
 public:
  explicit LineAssembler(std::size_t max_line = 16 * 1024) : m_max(max_line) {}
  // The complete lines of what was held back plus `chunk`, each ending in '\n'.
  std::string feed(std::string_view chunk);
  std::uint64_t lines_cut() const { return m_cut; }

 private:
  std::size_t m_max;
  std::string m_partial;
  bool m_skipping = false;
  std::uint64_t m_cut = 0;
};

// The Xid and fallen-off-the-bus events in complete kernel log lines (any
// format the kernel_log probe reads), in log order.
std::vector<model::KernelEvent> parse_new_kernel_lines(std::string_view lines, std::int64_t now_unix_s);

// One sighting of an Xid (or of a fallen-off-the-bus message without one).
struct XidSighting {
  enum class Source { kernel_log, nvml };
  Source source = Source::kernel_log;
  std::string bus_id;      // lowercase sysfs form; "" when unknown
  std::optional<int> xid;  // nullopt: fallen off the bus without an Xid number
  std::optional<int> pid;
  std::optional<std::string> process;
  std::string message;     // the kernel log's "NVRM: ..." text; "" from NVML
  std::int64_t ts_ms = 0;  // when watch saw it (unix ms)
};

XidSighting sighting_from_kernel(const model::KernelEvent& e, std::int64_t ts_ms);

// Deduplicates sightings across the two sources and counts Xids.
class XidTracker {
 public:
  // window_ms: how far apart the two sightings of one Xid may be seen.
  explicit XidTracker(std::int64_t window_ms) : m_window_ms(window_ms) {}

  // The event to record (type "xid", or "fallen_off_bus" without a code),
  // or nullopt when this is the other source's sighting of an Xid already
  // recorded: same GPU, same code, other source, within the window, not yet
  // paired. Repeats through the same source are separate Xids.
  std::optional<store::EventRow> add(const XidSighting& s);

  // Xids recorded since start, by (bus id, code).
  const std::map<std::pair<std::string, int>, std::uint64_t>& counts() const { return m_counts; }

 private:
  struct Recent {
    XidSighting::Source source;
    std::string bus_id;
    int xid;
    std::int64_t ts_ms;
    bool paired;
  };
  std::int64_t m_window_ms;
  std::deque<Recent> m_recent;
  std::map<std::pair<std::string, int>, std::uint64_t> m_counts;
};

}  // namespace gd::sampler
