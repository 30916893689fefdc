#include "gd/report/report.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/model/history_event.hpp"
#include "gd/model/xid_catalog.hpp"
#include "gd/probe/state.hpp"
#include "gd/store/gpu_metrics.hpp"

namespace gd::report {

namespace {

constexpr std::string_view k_metrics[] = {
    "temp_celsius",   "fan_percent",        "power_milliwatts",    "power_limit_milliwatts",
    "util_gpu_percent", "util_mem_percent", "mem_used_bytes",      "mem_total_bytes",
    "clock_sm_mhz",   "clock_mem_mhz",      "clock_graphics_mhz",  "clock_event_reasons",
    "pstate",         "pcie_gen",           "pcie_width",          "persistence_mode",
    "ecc_corrected_volatile", "ecc_uncorrected_volatile", "remapped_rows_uncorrectable", "remapped_rows_failure",
    "retired_pages_pending",
};

// At most this many events in the window are read (an Xid storm is reported as cut, not held whole).
constexpr std::int64_t k_events_max = 20000;

using model::HistoryEvent;

std::string name(HistoryEvent e) { return std::string(model::history_event_name(e)); }

// Whether an event is the kind a post-mortem is about (the default anchor after a loss).
bool critical_event(const store::EventRow& e) {
  auto kind = model::history_event_from_name(e.type);
  if (!kind) return false;
  switch (*kind) {
    case HistoryEvent::gpu_lost:
    case HistoryEvent::fallen_off_bus:
    case HistoryEvent::nvml_hung:
    case HistoryEvent::nvidia_smi_no_devices:
    case HistoryEvent::nvidia_smi_empty:
      return true;
    case HistoryEvent::xid:
    case HistoryEvent::finding_raised: {
      auto d = nlohmann::json::parse(e.detail, nullptr, false);
      if (!d.is_object()) return false;
      if (*kind == HistoryEvent::finding_raised) return d.value("severity", "") == "critical";
      return d.contains("code") && d["code"].is_number_integer() &&
             model::xid_info(d["code"].get<int>()).severity == model::Severity::critical;
    }
    default:
      return false;
  }
}

Result<Anchor> find_anchor(store::Store& db, const ReportOptions& o) {
  Anchor a;
  if (o.around_event) {
    store::Store::EventQuery q;
    q.id = *o.around_event;
    auto ev = db.find_events(q);
    if (!ev) return ev.error();
    if (ev->empty()) return make_error(fmt::format("{}: no event with id {} (`gpudoctor events` lists them)", db.path(),
                                                   *o.around_event));
    a.kind = AnchorKind::event, a.ts_ms = ev->front().ts_ms, a.event = ev->front();
    return a;
  }
  if (o.around_ms) {
    a.kind = AnchorKind::time, a.ts_ms = *o.around_ms;
    return a;
  }
  if (o.end_ms) {
    a.kind = AnchorKind::end_of_history, a.ts_ms = *o.end_ms;
    return a;
  }
  store::Store::EventQuery lost;
  lost.types = {name(HistoryEvent::gpu_lost)}, lost.newest_first = true, lost.limit = 1;
  auto l = db.find_events(lost);
  if (!l) return l.error();
  if (!l->empty()) {
    a.kind = AnchorKind::latest_loss, a.ts_ms = l->front().ts_ms, a.event = l->front();
    return a;
  }
  store::Store::EventQuery crit;
  crit.types = {name(HistoryEvent::fallen_off_bus), name(HistoryEvent::nvml_hung),
                name(HistoryEvent::nvidia_smi_no_devices), name(HistoryEvent::nvidia_smi_empty),
                name(HistoryEvent::xid), name(HistoryEvent::finding_raised)};
  crit.newest_first = true, crit.limit = 5000;
  auto c = db.find_events(crit);
  if (!c) return c.error();
  for (const auto& e : *c)
    if (critical_event(e)) {
      a.kind = AnchorKind::latest_critical, a.ts_ms = e.ts_ms, a.event = e;
      return a;
    }
  auto last = db.last_sample_ts();
  if (!last) return last.error();
  store::Store::EventQuery any;
  any.newest_first = true, any.limit = 1;
  auto ev = db.find_events(any);
  if (!ev) return ev.error();
  std::optional<std::int64_t> end_ms;
  if (*last) end_ms = **last * 1000;
  if (!ev->empty()) end_ms = std::max(end_ms.value_or(INT64_MIN), ev->front().ts_ms);
  if (!end_ms) return make_error(fmt::format("{}: the history is empty (no samples, no events)", db.path()));
  a.kind = AnchorKind::end_of_history, a.ts_ms = *end_ms;
  return a;
}

}  // namespace

std::span<const std::string_view> report_metrics() { return k_metrics; }

std::vector<model::ChangeRecord> fix_records(const host::HostRoot& root) {
  auto text = root.read_file(probe::k_changes_file, 8 << 20);
  if (!text) return {};
  model::StateInfo st;
  probe::parse_change_records(*text, st);
  return std::move(st.changes);
}

std::size_t metric(std::string_view column) {
  for (std::size_t i = 0; i < std::size(k_metrics); ++i)
    if (k_metrics[i] == column) return i;
  std::abort();
}

std::string_view anchor_kind_name(AnchorKind k) {
  switch (k) {
    case AnchorKind::event: return "event";
    case AnchorKind::time: return "time";
    case AnchorKind::latest_loss: return "latest_gpu_lost";
    case AnchorKind::latest_critical: return "latest_critical_event";
    case AnchorKind::end_of_history: return "end_of_history";
  }
  return "?";
}

Result<ReportData> load(store::Store& db, const ReportOptions& o) {
  ReportData r;
  r.db_path = db.path();
  r.hostname = o.hostname;
  r.generated_ms = o.now_ms;
  auto anchor = find_anchor(db, o);
  if (!anchor) return anchor.error();
  r.anchor = *anchor;
  const std::int64_t w = std::max<std::int64_t>(o.window_s, 60);
  const std::int64_t at_s = store::bucket_start(r.anchor.ts_ms, 1000) / 1000;
  r.since_s = o.end_ms ? at_s - w : at_s - w * 5 / 6;
  r.until_s = r.since_s + w + 1;
  // The anchor's own second is "before": a loss recorded at 12:00:00.500 judges the sample of 12:00:00.
  const std::int64_t before_until = r.anchor.kind == AnchorKind::end_of_history ? r.until_s : at_s + 1;

  // Columns of the store for each report metric.
  std::vector<std::size_t> cols;
  for (auto m : k_metrics) cols.push_back(*store::metric_index(m));
  store::HistoryQuery q;
  q.since = r.since_s, q.until = r.until_s, q.metrics = cols;
  // More than a day: minute roll-ups (a week of 10 s samples of 8 GPUs is 480,000 rows a chart would not show).
  if (w > 86400) q.resolution = store::Resolution::minute;
  auto inv = db.inventory();
  if (!inv) return inv.error();
  std::map<std::string, std::size_t> index;
  bool any_raw = false, any_rollup = false;
  // A GPU's place in r.gpus, with its identity from the inventory (the bus id alone when it has none).
  auto add_gpu = [&](const std::string& bus) {
    GpuSeries g;
    g.id.bus_id = bus;
    for (const auto& id : *inv)
      if (id.bus_id == bus) g.id = id;
    g.values.resize(std::size(k_metrics));
    g.before.resize(std::size(k_metrics));
    r.gpus.push_back(std::move(g));
    return index.emplace(bus, r.gpus.size() - 1).first;
  };
  const std::size_t reasons = metric("clock_event_reasons");
  // At most o.rows_max rows are held (a day of 1 s samples of 8 GPUs would be 690,000): past it the window is
  // read again from the per-minute roll-ups, then the hourly ones, and the page says so.
  std::int64_t held = 0;
  bool over = false;
  auto visit = [&](const store::HistoryRow& row) {
    if (over) return;
    if (++held > o.rows_max) {
      over = true;
      return;
    }
    auto it = index.find(row.bus_id);
    if (it == index.end()) it = add_gpu(row.bus_id);
    (row.resolution == store::Resolution::raw ? any_raw : any_rollup) = true;
    auto& g = r.gpus[it->second];
    g.ts.push_back(row.ts);
    const bool before = row.ts < before_until;
    if (before) g.last_sample_before = row.ts;
    for (std::size_t k = 0; k < cols.size(); ++k) {
      const auto& v = row.values[cols[k]];
      if (!v) {
        g.values[k].push_back(std::nullopt);
        continue;
      }
      std::int64_t avg = v->count ? static_cast<std::int64_t>(std::llround(v->avg())) : v->max;
      g.values[k].push_back(row.resolution == store::Resolution::raw ? v->max : avg);
      if (!before) continue;
      auto& st = g.before[k];
      if (!st) {
        st = Stat{v->min, v->max, avg, avg, row.ts, 0, 0, 0};
      } else {
        if (v->max > st->max) st->max = v->max, st->max_ts = row.ts;
        st->min = std::min(st->min, v->min);
        st->last = row.resolution == store::Resolution::raw ? v->max : avg;
      }
      st->count += std::max<std::int64_t>(v->count, 1);
      if (k == reasons) st->bits |= v->max;
      if (row.resolution == store::Resolution::raw && v->max != 0) ++st->count_nonzero;
    }
  };
  auto rows = db.history(q, visit);
  for (auto coarser : {store::Resolution::minute, store::Resolution::hour}) {
    if (!rows || !over || (q.resolution && *q.resolution >= coarser)) continue;
    r.notes.push_back(fmt::format("more than {} rows in the window at {} resolution: read from the {} roll-ups",
                                  o.rows_max, q.resolution ? store::resolution_name(*q.resolution) : "raw",
                                  store::resolution_name(coarser)));
    r.gpus.clear(), index.clear();
    held = 0, over = false, any_raw = false, any_rollup = false;
    q.resolution = coarser;
    rows = db.history(q, visit);
  }
  if (!rows) return rows.error();
  if (over) r.notes.push_back(fmt::format("the window holds more than {} hourly rows: only the first are shown", o.rows_max));
  r.resolution = any_rollup ? (q.resolution ? std::string(store::resolution_name(*q.resolution)) : "mixed") : "raw";
  if (!any_raw && !any_rollup) r.resolution = "none";
  if (any_rollup)
    r.notes.push_back("part of the window is read from roll-ups (per-minute or per-hour min/avg/max): the series "
                      "show bucket averages; the clock-event reasons are the OR of bucket maxima");

  store::Store::EventQuery in;
  in.since_ms = r.since_s * 1000, in.until_ms = r.until_s * 1000, in.limit = k_events_max + 1;
  auto ev = db.find_events(in);
  if (!ev) return ev.error();
  r.events = std::move(*ev);
  if (static_cast<std::int64_t>(r.events.size()) > k_events_max) {
    r.events.resize(k_events_max);
    r.notes.push_back(fmt::format("more than {} events in the window: the first {} are shown", k_events_max,
                                  k_events_max));
  }
  std::stable_sort(r.events.begin(), r.events.end(),
                   [](const auto& a, const auto& b) { return a.ts_ms < b.ts_ms; });
  // A GPU with events in the window but no samples (lost before it, or never sampled) still has its place.
  for (const auto& e : r.events)
    if (!e.gpu.empty() && !index.contains(e.gpu)) add_gpu(e.gpu);
  std::sort(r.gpus.begin(), r.gpus.end(), [](const auto& a, const auto& b) { return a.id.bus_id < b.id.bus_id; });

  store::Store::EventQuery earlier;
  earlier.until_ms = r.since_s * 1000, earlier.newest_first = true, earlier.limit = k_context_max;
  earlier.types = {name(HistoryEvent::daemon_start),       name(HistoryEvent::daemon_stop),
                   name(HistoryEvent::gpu_lost),           name(HistoryEvent::gpu_back),
                   name(HistoryEvent::gpu_added),          name(HistoryEvent::inventory_changed),
                   name(HistoryEvent::persistence_changed), name(HistoryEvent::driver_changed)};
  auto before = db.find_events(earlier);
  if (!before) return before.error();
  r.earlier.assign(before->rbegin(), before->rend());

  for (const auto& c : o.changes)
    if (c.ts_unix_s >= r.since_s && c.ts_unix_s < r.until_s) r.fixes.push_back(c);
  return r;
}

}  // namespace gd::report
