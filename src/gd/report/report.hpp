// The post-mortem of one incident (`gpudoctor report`, watch's live page):
// load() reads a window of the history around an event — per-GPU series of
// the charted metrics, the events, what the history says about the time
// before — into ReportData; judge() (verdict.hpp) tests every usual suspect
// against it; render_json()/render_html() (render.hpp) present it. Loading
// queries, judging is pure, rendering only formats (docs/report.md).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"
#include "gd/store/store.hpp"
#include "gd/util/result.hpp"

namespace gd::report {

// What a report carries per GPU, by history column (store/gpu_metrics.hpp):
// the charts draw some, the verdict reads all.
std::span<const std::string_view> report_metrics();
// Index of column in report_metrics(); aborts on a name not in it (a programming error).
std::size_t metric(std::string_view column);

// One metric over the part of the window before the anchor (or all of it
// when the anchor is only the end of the history).
struct Stat {
  std::int64_t min = 0, max = 0, first = 0, last = 0;
  std::int64_t max_ts = 0;      // when max was first reached (unix s)
  std::int64_t count = 0;       // samples (raw rows; roll-up buckets count their samples)
  std::int64_t bits = 0;        // OR of the values (the clock-event reason mask); of maxima for roll-ups
  std::int64_t count_nonzero = 0;  // raw rows with a non-zero value
};

struct GpuSeries {
  store::GpuIdentity id;
  std::vector<std::int64_t> ts;                                   // unix seconds, ascending
  std::vector<std::vector<std::optional<std::int64_t>>> values;  // [report metric][row]: raw value, or a bucket's average
  std::vector<std::optional<Stat>> before;                       // [report metric]: up to the anchor; nullopt = no value
  std::optional<std::int64_t> last_sample_before;                 // the last row at or before the anchor (unix s)
};

enum class AnchorKind { event, time, latest_loss, latest_critical, end_of_history };
std::string_view anchor_kind_name(AnchorKind k);

struct Anchor {
  AnchorKind kind = AnchorKind::end_of_history;
  std::int64_t ts_ms = 0;
  std::optional<store::EventRow> event;  // the event the window is around, when there is one
};

struct ReportData {
  std::string db_path;
  std::string hostname;
  std::int64_t generated_ms = 0;
  std::int64_t since_s = 0, until_s = 0;  // the window [since, until)
  Anchor anchor;
  std::string resolution;  // raw | minute | hour: what the series are
  std::vector<GpuSeries> gpus;
  std::vector<store::EventRow> events;  // in the window, by time
  // Before the window, what the verdict asks of the whole history: lifecycle of watch, losses (with the card's
  // UUID), inventory and persistence changes, driver changes. Bounded: the latest k_context_max.
  std::vector<store::EventRow> earlier;
  std::vector<model::ChangeRecord> fixes;  // the changes `fix --yes` made in the window
  std::vector<std::string> notes;   // what could not be read, and why
};

inline constexpr std::size_t k_context_max = 5000;

struct ReportOptions {
  std::optional<std::int64_t> around_event;  // an event id
  std::optional<std::int64_t> around_ms;     // a time
  std::optional<std::int64_t> end_ms;        // the live page: the window ends here (now), no incident asked
  std::int64_t window_s = 7200;
  std::int64_t now_ms = 0;
  std::vector<model::ChangeRecord> changes;  // fix's change record (probe::read_state), read by the caller
  std::string hostname;
  // History rows held at most (each carries every report metric: 250,000 are ~90 MB); past it the window is read
  // from the minute, then the hour roll-ups, and a note says so.
  std::int64_t rows_max = 250000;
};

// fix's change record inside the root (/var/lib/gpudoctor/changes.jsonl); empty when there is none.
std::vector<model::ChangeRecord> fix_records(const host::HostRoot& root);

// Places the window (around the event or time asked; else the latest
// gpu_lost, else the latest critical event, else the end of the history:
// 5/6 of it before the anchor, 1/6 after) and reads it. Errors: an event id
// the history does not have, an empty history.
Result<ReportData> load(store::Store& db, const ReportOptions& o);

}  // namespace gd::report
