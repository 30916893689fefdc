#include "gd/report/verdict.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/model/history_event.hpp"
#include "gd/model/xid_catalog.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/time.hpp"

namespace gd::report {

namespace {

using model::HistoryEvent;
using nlohmann::json;

// NVML clock event (throttle) reason bits (nvml.h, nvmlClocksEventReason*).
constexpr std::int64_t k_sw_power_cap = 0x4, k_hw_slowdown = 0x8, k_sw_thermal = 0x20, k_hw_thermal = 0x40,
                       k_hw_power_brake = 0x80;
// Without the GPU's own slowdown threshold, what "hot" means (below every datacentre GPU's slowdown point).
constexpr std::int64_t k_default_slowdown = 85;
// How close to the event the data must reach to speak for the moment before it.
constexpr std::int64_t k_coverage_s = 600;

bool is(const store::EventRow& e, HistoryEvent k) { return e.type == model::history_event_name(k); }

json detail(const store::EventRow& e) {
  auto d = json::parse(e.detail, nullptr, false);
  return d.is_object() ? d : json::object();
}

std::string str(const json& d, const char* key) {
  auto it = d.find(key);
  return it != d.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The facts every suspect asks of the window.
struct View {
  const ReportData& r;
  std::int64_t at_s;     // the anchor
  bool incident;         // the window is around an event or a time asked for, not just the end of the history
  std::string what;      // "the loss", "the event", "the end of the history"

  explicit View(const ReportData& d) : r(d) {
    at_s = r.anchor.ts_ms / 1000;
    incident = r.anchor.kind != AnchorKind::end_of_history;
    if (r.anchor.event && is(*r.anchor.event, HistoryEvent::gpu_lost))
      what = "the loss";
    else if (r.anchor.event)
      what = fmt::format("the {} event", r.anchor.event->type);
    else
      what = incident ? "the time asked" : "the end of the history";
    // The failure may have begun before the event the window is around: nvidia-smi hung (an empty dump) minutes
    // before it printed "No devices were found". Data that stops at the first sign still speaks for the time before.
    onset_s = at_s;
    if (incident)
      for (const auto& e : r.events) {
        std::int64_t t = e.ts_ms / 1000;
        if (t > at_s || t < at_s - 3600 || t >= onset_s) continue;
        if (is(e, HistoryEvent::nvml_hung) || is(e, HistoryEvent::nvidia_smi_empty) ||
            is(e, HistoryEvent::nvidia_smi_no_devices) || is(e, HistoryEvent::nvidia_smi_failed) ||
            is(e, HistoryEvent::gpu_lost) || is(e, HistoryEvent::fallen_off_bus)) {
          onset_s = t;
          onset = e.type;
        }
      }
  }
  std::int64_t onset_s = 0;
  std::string onset;  // the event type of the first sign, "" when it is the anchor itself
  std::string when(std::int64_t ts_s) const {
    std::int64_t d = at_s - ts_s;
    if (!incident) return util::format_utc(ts_s);
    if (d < 0) return fmt::format("{} ({} after {})", util::format_utc(ts_s), span(-d), what);
    return fmt::format("{} ({} before {})", util::format_utc(ts_s), span(d), what);
  }
  static std::string span(std::int64_t s) {
    if (s < 120) return fmt::format("{} s", s);
    if (s < 7200) return fmt::format("{} min", s / 60);
    return fmt::format("{:.1f} h", static_cast<double>(s) / 3600.0);
  }
  // Events up to the anchor (the window's part before it).
  template <class F>
  void before(F f) const {
    for (const auto& e : r.events)
      if (e.ts_ms <= r.anchor.ts_ms || !incident) f(e);
  }
  std::vector<const store::EventRow*> findings(std::initializer_list<std::string_view> ids) const {
    std::vector<const store::EventRow*> out;
    before([&](const store::EventRow& e) {
      if (!is(e, HistoryEvent::finding_raised)) return;
      auto id = str(detail(e), "id");
      for (auto x : ids)
        if (id == x) out.push_back(&e);
    });
    return out;
  }
  // GPUs with a value of report metric m before the anchor.
  std::vector<std::pair<const GpuSeries*, Stat>> stats(std::string_view column) const {
    std::vector<std::pair<const GpuSeries*, Stat>> out;
    std::size_t m = metric(column);
    for (const auto& g : r.gpus)
      if (g.before[m]) out.emplace_back(&g, *g.before[m]);
    return out;
  }
  // Whether GPU g's samples reach close to the anchor.
  bool covered(const GpuSeries& g) const {
    return g.last_sample_before && (!incident || onset_s - *g.last_sample_before <= k_coverage_s);
  }
  std::string coverage(const GpuSeries& g) const {
    if (!g.last_sample_before) return "no sample before " + what;
    if (!incident) return "";
    std::string s = fmt::format("last sample {} before {}", span(at_s - *g.last_sample_before), what);
    if (!onset.empty() && onset_s < at_s)
      s += fmt::format(", {} before the first sign of it ({} at {})",
                       span(std::max<std::int64_t>(0, onset_s - *g.last_sample_before)), onset, util::format_utc(onset_s));
    return s;
  }
  // watch ran over the window up to the anchor (its last start before it has no stop after): its kernel-log feed
  // and rules saw the time the events do not mention.
  // kernel_log: and it followed a kernel log (its daemon_start says which).
  // When watch's run up to the anchor began (its last start before it, with no stop after); nullopt when it was
  // not running then. kernel_log: a run that followed a kernel log (its daemon_start says which).
  std::optional<std::int64_t> watch_start(bool kernel_log) const {
    std::optional<std::int64_t> start;
    auto seen = [&](const store::EventRow& e) {
      if (e.ts_ms > r.anchor.ts_ms) return;  // (milliseconds: watch may stop within the second of the loss)
      if (is(e, HistoryEvent::daemon_start))
        start = !kernel_log || !str(detail(e), "kernel_log").empty() ? std::optional(e.ts_ms / 1000) : std::nullopt;
      if (is(e, HistoryEvent::daemon_stop)) start.reset();
    };
    for (const auto& e : r.earlier) seen(e);
    for (const auto& e : r.events) seen(e);
    return start;
  }
  // Watch ran through the whole window up to the anchor: what it would have recorded and did not, did not happen.
  bool watched(bool kernel_log = false) const {
    auto s = watch_start(kernel_log);
    return s && *s <= r.since_s;
  }
  // Why watched() is false, for the evidence.
  std::string not_watched(bool kernel_log = false) const {
    if (auto s = watch_start(kernel_log))
      return fmt::format("watch started only at {}, after the window began: the time before is not covered", when(*s));
    if (kernel_log && watch_start(false))
      return "watch ran without following a kernel log";
    return "watch was not running before " + what;
  }
};

std::string reasons_text(std::int64_t bits) {
  std::vector<std::string> names;
  if (bits & k_sw_power_cap) names.push_back("SW power cap 0x4");
  if (bits & k_hw_slowdown) names.push_back("HW slowdown 0x8");
  if (bits & k_sw_thermal) names.push_back("SW thermal 0x20");
  if (bits & k_hw_thermal) names.push_back("HW thermal 0x40");
  if (bits & k_hw_power_brake) names.push_back("HW power brake 0x80");
  return names.empty() ? "none" : util::join(names, ", ");
}

std::string finding_lines(const View& v, const std::vector<const store::EventRow*>& f) {
  std::vector<std::string> parts;
  for (const auto* e : f) {
    auto d = detail(*e);
    parts.push_back(fmt::format("{}{} at {}", str(d, "id"), e->gpu.empty() ? "" : " on " + e->gpu, v.when(e->ts_ms / 1000)));
    if (parts.size() == 3) break;
  }
  if (f.size() > parts.size()) parts.push_back(fmt::format("and {} more", f.size() - parts.size()));
  return util::join(parts, "; ");
}

Suspect thermal(const ReportData& d) {
  View v(d);
  Suspect s;
  auto temps = v.stats("temp_celsius");
  if (temps.empty()) {
    s.evidence.push_back("no temperature samples before " + v.what);
    return s;
  }
  bool hot = false, all_cool = true, all_covered = true;
  std::int64_t thermal_bits = 0;
  std::map<std::string, Stat> reasons;
  for (auto& [g, st] : v.stats("clock_event_reasons")) reasons[g->id.bus_id] = st;
  std::map<std::string, Stat> fans;
  for (auto& [g, st] : v.stats("fan_percent")) fans[g->id.bus_id] = st;
  for (const auto& [g, st] : temps) {
    std::int64_t slow = g->id.slowdown_celsius.value_or(k_default_slowdown);
    std::string limits = g->id.slowdown_celsius
                             ? fmt::format("slowdown at {} °C{}", *g->id.slowdown_celsius,
                                           g->id.shutdown_celsius ? fmt::format(", shutdown at {} °C", *g->id.shutdown_celsius) : "")
                             : fmt::format("its thresholds not recorded ({} °C taken as hot)", k_default_slowdown);
    std::string line = fmt::format("{}: max {} °C at {}, {}", g->id.bus_id, st.max, v.when(st.max_ts), limits);
    if (auto f = fans.find(g->id.bus_id); f != fans.end() && f->second.max > 0)  // 0 throughout: passively cooled
      line += fmt::format("; fan {}–{} %{}", f->second.min, f->second.max, f->second.last == 0 ? " (0 % at the end)" : "");
    if (auto rs = reasons.find(g->id.bus_id); rs != reasons.end()) {
      std::int64_t t = rs->second.bits & (k_sw_thermal | k_hw_thermal);
      thermal_bits |= t;
      if (t) line += fmt::format("; thermal clock-event reasons: {}", reasons_text(t));
    }
    auto cov = v.coverage(*g);
    if (!cov.empty()) line += "; " + cov;
    s.evidence.push_back(line);
    if (st.max >= slow) hot = true;
    if (st.max >= slow - 5) all_cool = false;
    if (!v.covered(*g)) all_covered = false;
  }
  auto raised = v.findings({"thermal.hot", "thermal.throttled", "thermal.fan_stopped"});
  if (!raised.empty()) s.evidence.push_back("raised: " + finding_lines(v, raised));
  if (hot || thermal_bits || !raised.empty()) {
    s.status = SuspectStatus::supported;
  } else if (all_cool && all_covered) {
    s.status = SuspectStatus::ruled_out;
    s.evidence.push_back(fmt::format("every GPU stayed more than 5 °C below its slowdown point, no thermal "
                                     "clock-event reason{}",
                                     reasons.empty() ? " (reasons not recorded)" : ""));
  } else if (!all_covered) {
    s.evidence.push_back("the temperatures stop too long before " + v.what + " to speak for it");
  }
  return s;
}

Suspect power(const ReportData& d) {
  View v(d);
  Suspect s;
  auto draw = v.stats("power_milliwatts");
  std::map<std::string, Stat> limit, reasons;
  for (auto& [g, st] : v.stats("power_limit_milliwatts")) limit[g->id.bus_id] = st;
  for (auto& [g, st] : v.stats("clock_event_reasons")) reasons[g->id.bus_id] = st;
  if (draw.empty() && reasons.empty()) {
    s.evidence.push_back("no power samples before " + v.what);
    return s;
  }
  bool brake = false, over = false, covered = true;
  for (const auto& [g, st] : draw) {
    std::string line = fmt::format("{}: max draw {:.1f} W at {}", g->id.bus_id, static_cast<double>(st.max) / 1000.0,
                                   v.when(st.max_ts));
    if (auto l = limit.find(g->id.bus_id); l != limit.end()) {
      line += fmt::format(", limit {:.0f} W", static_cast<double>(l->second.max) / 1000.0);
      if (st.max > l->second.max + l->second.max / 20) over = true;
    }
    if (auto rs = reasons.find(g->id.bus_id); rs != reasons.end()) {
      std::int64_t p = rs->second.bits & (k_sw_power_cap | k_hw_power_brake | k_hw_slowdown);
      if (p) line += fmt::format("; power clock-event reasons: {}", reasons_text(p));
      if (rs->second.bits & k_hw_power_brake) brake = true;
    }
    s.evidence.push_back(line);
    if (!v.covered(*g)) covered = false;
  }
  if (brake || over) {
    s.status = SuspectStatus::supported;
    if (brake) s.evidence.push_back("HW power brake (0x80): the board's power supply asserted its brake signal");
    if (over) s.evidence.push_back("draw above the enforced limit by more than 5 %");
  } else if (covered && !draw.empty()) {
    s.status = SuspectStatus::ruled_out;
    s.evidence.push_back(reasons.empty() ? "draw within the limit (clock-event reasons not recorded)"
                                         : "draw within the limit, no HW power brake");
  }
  return s;
}

Suspect pcie(const ReportData& d) {
  View v(d);
  Suspect s;
  auto width = v.stats("pcie_width");
  auto raised = v.findings({"pcie.link_degraded"});
  if (width.empty() && raised.empty()) {
    s.evidence.push_back("no PCIe link width samples before " + v.what + " (the nvidia-smi default table has none)");
    return s;
  }
  bool dropped = false;
  for (const auto& [g, st] : width) {
    if (st.min < st.max) {
      dropped = true;
      s.evidence.push_back(fmt::format("{}: link width fell from x{} to x{}", g->id.bus_id, st.max, st.min));
    } else {
      s.evidence.push_back(fmt::format("{}: link width x{} throughout ({} samples)", g->id.bus_id, st.max, st.count));
    }
  }
  if (!raised.empty()) s.evidence.push_back("raised: " + finding_lines(v, raised));
  s.evidence.push_back("PCIe replay counters are not in the history");
  s.status = dropped || !raised.empty() ? SuspectStatus::supported : SuspectStatus::ruled_out;
  return s;
}

bool memory_xid(int code) {
  static const std::set<int> k = {48, 63, 64, 92, 94, 95, 140};
  return k.contains(code);
}

Suspect memory(const ReportData& d) {
  View v(d);
  Suspect s;
  bool any = false, bad = false;
  for (std::string_view c : {"ecc_uncorrected_volatile", "remapped_rows_uncorrectable", "remapped_rows_failure",
                             "retired_pages_pending"}) {
    for (const auto& [g, st] : v.stats(c)) {
      any = true;
      bool risen = c == "ecc_uncorrected_volatile" || c == "remapped_rows_uncorrectable" ? st.last > st.first || st.max > 0
                                                                                          : st.max > 0;
      if (risen) {
        bad = true;
        s.evidence.push_back(fmt::format("{}: {} {} → {} (max {})", g->id.bus_id, c, st.first, st.last, st.max));
      }
    }
  }
  auto raised = v.findings({"memory.ecc", "xid.memory"});
  std::vector<std::string> xids;
  v.before([&](const store::EventRow& e) {
    if (!is(e, HistoryEvent::xid)) return;
    auto dj = detail(e);
    if (dj.contains("code") && dj["code"].is_number_integer() && memory_xid(dj["code"].get<int>()))
      xids.push_back(fmt::format("Xid {} on {} at {}", dj["code"].get<int>(), e.gpu, v.when(e.ts_ms / 1000)));
  });
  if (!raised.empty()) s.evidence.push_back("raised: " + finding_lines(v, raised));
  for (std::size_t i = 0; i < xids.size() && i < 5; ++i) s.evidence.push_back(xids[i]);
  if (bad || !raised.empty() || !xids.empty()) {
    s.status = SuspectStatus::supported;
  } else if (any) {
    s.status = SuspectStatus::ruled_out;
    s.evidence.push_back("no uncorrectable ECC error, remapping failure or pending retirement before " + v.what);
  } else {
    s.evidence.push_back("no ECC counters in the samples (ECC off, or the dumps do not print them)");
  }
  return s;
}

Suspect xids(const ReportData& d) {
  View v(d);
  Suspect s;
  std::map<std::pair<int, std::string>, std::pair<int, std::int64_t>> seen;  // (code, gpu) -> (count, first ts)
  int off_bus = 0, the_loss = 0;
  v.before([&](const store::EventRow& e) {
    // Xid 79 (or the bus message without a number) at the failure is the loss as the kernel saw it, not its cause.
    bool symptom_time = v.incident && e.ts_ms / 1000 >= v.onset_s - 60;
    if (is(e, HistoryEvent::fallen_off_bus)) symptom_time ? ++the_loss : ++off_bus;
    if (!is(e, HistoryEvent::xid)) return;
    auto dj = detail(e);
    if (!dj.contains("code") || !dj["code"].is_number_integer()) return;
    if (dj["code"].get<int>() == 79 && symptom_time) {
      ++the_loss;
      return;
    }
    auto [it, fresh] = seen.try_emplace({dj["code"].get<int>(), e.gpu}, 0, e.ts_ms / 1000);
    ++it->second.first;
  });
  if (the_loss)
    s.evidence.push_back(fmt::format("the kernel reported the loss itself: {} Xid 79 / fallen-off-the-bus message(s) "
                                     "at {}",
                                     the_loss, v.what));
  bool critical = off_bus > 0;
  for (const auto& [k, n] : seen) {
    auto info = model::xid_info(k.first);
    if (info.severity == model::Severity::critical) critical = true;
    s.evidence.push_back(fmt::format("Xid {} ({}) ×{} on {}, first at {}", k.first, info.meaning, n.first,
                                     k.second.empty() ? "an unnamed GPU" : k.second, v.when(n.second)));
    if (s.evidence.size() >= 8) break;
  }
  if (off_bus) s.evidence.push_back(fmt::format("{} \"fallen off the bus\" message(s) without an Xid", off_bus));
  if (!seen.empty() || off_bus) {
    s.status = critical ? SuspectStatus::supported : SuspectStatus::remains;
    return s;
  }
  if (v.watched(true)) {
    s.status = SuspectStatus::ruled_out;
    s.evidence.push_back(fmt::format("watch followed the kernel log through the window: no {}Xid before {}",
                                     the_loss ? "other " : "", v.what));
  } else {
    s.evidence.push_back(v.not_watched(true) +
                         ": the history has no kernel log for this window (`gpudoctor import kernel-log FILE` adds one)");
  }
  return s;
}

Suspect persistence(const ReportData& d) {
  View v(d);
  Suspect s;
  auto pm = v.stats("persistence_mode");
  std::vector<std::string> off, on;
  for (const auto& [g, st] : pm) {
    if (st.min == 0) {
      off.push_back(g->id.bus_id);
      s.evidence.push_back(d.resolution == "raw"
                               ? fmt::format("{}: persistence mode off in {} of {} samples before {}", g->id.bus_id,
                                             st.count - st.count_nonzero, st.count, v.what)
                               : fmt::format("{}: persistence mode off before {} (roll-ups: minimum 0)", g->id.bus_id,
                                             v.what));
    } else {
      on.push_back(g->id.bus_id);
    }
  }
  if (!on.empty()) s.evidence.push_back(fmt::format("persistence mode on throughout on {}", util::join(on, ", ")));
  std::vector<std::string> changes;
  auto change = [&](const store::EventRow& e) {
    if (!is(e, HistoryEvent::persistence_changed) || e.ts_ms / 1000 > v.at_s) return;
    auto dj = detail(e);
    changes.push_back(fmt::format("{} turned {} at {}", e.gpu, str(dj, "to"), v.when(e.ts_ms / 1000)));
  };
  for (const auto& e : d.earlier) change(e);
  for (const auto& e : d.events) change(e);
  for (std::size_t i = changes.size() > 3 ? changes.size() - 3 : 0; i < changes.size(); ++i)
    s.evidence.push_back(changes[i]);
  auto raised = v.findings({"persistence.off"});
  if (!raised.empty()) s.evidence.push_back("raised: " + finding_lines(v, raised));
  // What an init storm leaves in the history: NVML or nvidia-smi that stops answering.
  int hangs = 0, empty = 0, none = 0;
  v.before([&](const store::EventRow& e) {
    hangs += is(e, HistoryEvent::nvml_hung);
    empty += is(e, HistoryEvent::nvidia_smi_empty);
    none += is(e, HistoryEvent::nvidia_smi_no_devices);
  });
  std::vector<std::string> stalls;
  if (hangs) stalls.push_back(fmt::format("{} NVML hang(s)", hangs));
  if (empty) stalls.push_back(fmt::format("{} empty nvidia-smi dump(s) (nvidia-smi hung)", empty));
  if (none) stalls.push_back(fmt::format("{} \"No devices were found\"", none));
  if (!stalls.empty()) s.evidence.push_back("before " + v.what + ": " + util::join(stalls, ", "));
  // Driver initialisations: the ones watch's own NVML worker made (each start), with how long nvmlInit took.
  int inits = 0;
  double slowest = 0;
  v.before([&](const store::EventRow& e) {
    if (!is(e, HistoryEvent::nvml_initialised)) return;
    ++inits;
    auto dj = detail(e);
    if (dj.contains("init_ms") && dj["init_ms"].is_number()) slowest = std::max(slowest, dj["init_ms"].get<double>());
  });
  bool slow_init = slowest >= 1000;
  if (inits)
    s.evidence.push_back(fmt::format("NVML initialised {} time(s) by watch in the window, the slowest in {:.1f} s{}",
                                     inits, slowest / 1000,
                                     slow_init ? " (a driver bringing the GPUs up for each client)" : ""));
  s.evidence.push_back("initialisations by other processes are not in the history (`gpudoctor check` counts the "
                       "kernel log's marks; `churn` measures them)");
  if (pm.empty() && raised.empty()) {
    s.evidence.insert(s.evidence.begin(), "no persistence mode samples before " + v.what);
    return s;
  }
  if (off.empty() && raised.empty()) {
    s.status = SuspectStatus::ruled_out;
    return s;
  }
  // Off is the cause only where something failed the way an init storm fails.
  bool failed = (d.anchor.event && (is(*d.anchor.event, HistoryEvent::gpu_lost) ||
                                    is(*d.anchor.event, HistoryEvent::nvml_hung) ||
                                    is(*d.anchor.event, HistoryEvent::nvidia_smi_no_devices) ||
                                    is(*d.anchor.event, HistoryEvent::nvidia_smi_empty))) ||
                !stalls.empty() || slow_init;
  s.status = failed ? SuspectStatus::supported : SuspectStatus::remains;
  if (failed)
    s.evidence.push_back("with persistence off the driver initialises and tears the GPU down for every process: "
                         "the known cause of GPUs lost under many short-lived GPU processes");
  return s;
}

Suspect driver(const ReportData& d) {
  View v(d);
  Suspect s;
  auto change = [&](const store::EventRow& e) {
    if (!is(e, HistoryEvent::driver_changed) || e.ts_ms / 1000 > v.at_s) return;
    auto dj = detail(e);
    s.evidence.push_back(fmt::format("driver {} → {} at {}", str(dj, "from"), str(dj, "to"), v.when(e.ts_ms / 1000)));
  };
  for (const auto& e : d.earlier) change(e);
  std::size_t earlier = s.evidence.size();
  for (const auto& e : d.events) change(e);
  bool in_window = s.evidence.size() > earlier;
  auto raised = v.findings({"driver.version_mismatch", "libs.version_mismatch", "kernel_log.api_mismatch",
                            "libs.stale_ldcache", "libs.empty_file"});
  if (!raised.empty()) s.evidence.push_back("raised: " + finding_lines(v, raised));
  if (in_window || !raised.empty()) {
    s.status = SuspectStatus::supported;
    return s;
  }
  bool sampled = false;
  for (const auto& g : d.gpus) sampled = sampled || g.last_sample_before;
  if (v.watched()) {
    s.status = SuspectStatus::ruled_out;
    s.evidence.push_back("watch ran through the window: no driver change, no version-mismatch finding");
  } else if (sampled) {
    s.status = SuspectStatus::ruled_out;
    s.evidence.push_back("one driver version in every sample of the window");
  } else {
    s.evidence.push_back("no samples before " + v.what);
  }
  return s;
}

Suspect inventory(const ReportData& d) {
  View v(d);
  Suspect s;
  std::vector<std::string> swaps;
  bool swap_in_window = false;
  auto change = [&](const store::EventRow& e, bool window) {
    if (!is(e, HistoryEvent::inventory_changed) || e.ts_ms / 1000 > v.at_s) return;
    auto dj = detail(e);
    std::string from = dj.contains("old") && dj["old"].is_object() ? str(dj["old"], "uuid") : "";
    std::string to = dj.contains("new") && dj["new"].is_object() ? str(dj["new"], "uuid") : "";
    swaps.push_back(fmt::format("{}: {} replaced by {} at {}", e.gpu, from, to, v.when(e.ts_ms / 1000)));
    swap_in_window = swap_in_window || window;
  };
  for (const auto& e : d.earlier) change(e, false);
  for (const auto& e : d.events) change(e, true);
  for (std::size_t i = swaps.size() > 4 ? swaps.size() - 4 : 0; i < swaps.size(); ++i) s.evidence.push_back(swaps[i]);
  // Losses grouped into incidents (within a minute of each other), each with the cards it took.
  std::vector<std::pair<std::int64_t, std::set<std::string>>> incidents;
  auto loss = [&](const store::EventRow& e) {
    if (!is(e, HistoryEvent::gpu_lost) || e.ts_ms / 1000 > v.at_s) return;
    auto u = str(detail(e), "uuid");
    std::int64_t t = e.ts_ms / 1000;
    if (incidents.empty() || t - incidents.back().first > 60) incidents.push_back({t, {}});
    incidents.back().second.insert(u.empty() ? e.gpu : u);
  };
  for (const auto& e : d.earlier) loss(e);
  for (const auto& e : d.events) loss(e);
  std::set<std::string> cards;
  std::size_t together = 0;
  for (const auto& [t, c] : incidents) {
    cards.insert(c.begin(), c.end());
    together = std::max(together, c.size());
  }
  if (together >= 2) {
    s.status = SuspectStatus::ruled_out;
    s.evidence.push_back(fmt::format("{} GPUs were lost together: a cause shared by the node (driver, workload, "
                                     "power), not one card",
                                     together));
  } else if (incidents.size() >= 2 && cards.size() >= 2) {
    s.status = swap_in_window ? SuspectStatus::remains : SuspectStatus::ruled_out;
    s.evidence.push_back(fmt::format("{} losses on {} different cards up to {}: the failure followed the node, "
                                     "not a card",
                                     incidents.size(), cards.size(), v.what));
  } else if (swap_in_window) {
    s.status = SuspectStatus::supported;
    s.evidence.push_back("a card changed in the window: check its seating and power cables");
  } else {
    s.evidence.push_back(incidents.empty() ? "no loss recorded before " + v.what
                                           : "every loss recorded was of one card: a broken card is not ruled out");
  }
  return s;
}

Suspect stuck(const ReportData& d) {
  View v(d);
  Suspect s;
  auto raised = v.findings({"driver.stuck_tasks", "kernel_log.driver_stall"});
  int hangs = 0;
  v.before([&](const store::EventRow& e) { hangs += is(e, HistoryEvent::nvml_hung); });
  if (!raised.empty()) s.evidence.push_back("raised: " + finding_lines(v, raised));
  if (hangs) s.evidence.push_back(fmt::format("{} NVML call(s) did not return before the deadline", hangs));
  if (!raised.empty()) {
    s.status = SuspectStatus::supported;
  } else if (hangs) {
    s.evidence.push_back("a hung call alone does not show a process stuck in the driver (no D-state task or kernel "
                         "stall report was raised)");
  } else if (v.watched()) {
    s.status = SuspectStatus::ruled_out;
    s.evidence.push_back("watch ran through the window: no task stuck in the driver, no NVML hang");
  } else {
    s.evidence.push_back(v.not_watched() + ": processes in the driver were not looked at");
  }
  return s;
}

constexpr SuspectRule k_suspects[] = {
    {"thermal", "Overheating",
     "max temperature per GPU against its own slowdown/shutdown thresholds, thermal clock-event reasons (0x20, "
     "0x40), fan speed, thermal findings",
     thermal},
    {"power", "Power", "draw against the enforced limit, HW power brake (0x80) and power-cap reasons", power},
    {"pcie", "PCIe link", "link width drops, pcie.link_degraded findings", pcie},
    {"memory", "Memory errors",
     "uncorrectable ECC counters, row remapping failures, pending page retirement, memory Xids", memory},
    {"xid", "Xids before the event", "Xid and fallen-off-the-bus events before it, by code and GPU", xids},
    {"persistence", "Persistence mode off (init storm)",
     "persistence mode in the samples and its changes, persistence.off findings, NVML/nvidia-smi hangs, NVML "
     "initialisations watch made and how long they took",
     persistence},
    {"driver", "Driver or library version",
     "driver changes, driver.version_mismatch, libs.version_mismatch, kernel_log.api_mismatch findings", driver},
    {"inventory", "A broken card (inventory)", "cards swapped at a bus id, losses on different cards", inventory},
    {"stuck_processes", "Processes stuck in the driver",
     "driver.stuck_tasks and kernel_log.driver_stall findings (NVML hangs are listed, not taken as proof)", stuck},
};

}  // namespace

std::string_view suspect_status_name(SuspectStatus s) {
  switch (s) {
    case SuspectStatus::ruled_out: return "ruled_out";
    case SuspectStatus::remains: return "remains";
    case SuspectStatus::supported: return "supported";
  }
  return "?";
}

std::span<const SuspectRule> suspect_table() { return k_suspects; }

Verdict judge(const ReportData& r) {
  Verdict v;
  std::vector<std::string> yes, no;
  for (const auto& rule : k_suspects) {
    Suspect s = rule.judge(r);
    s.name = std::string(rule.name);
    s.title = std::string(rule.title);
    if (s.status == SuspectStatus::supported) yes.push_back(s.title);
    if (s.status == SuspectStatus::ruled_out) no.push_back(s.title);
    v.suspects.push_back(std::move(s));
  }
  std::string lower_no = util::join(no, ", ");
  if (!yes.empty())
    v.summary = fmt::format("Supported by the data: {}.{}", util::join(yes, "; "),
                            no.empty() ? "" : fmt::format(" Ruled out: {}.", lower_no));
  else
    v.summary = fmt::format("No usual suspect is supported by the data.{}",
                            no.empty() ? "" : fmt::format(" Ruled out: {}.", lower_no));
  return v;
}

}  // namespace gd::report
