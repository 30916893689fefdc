// xid.fallen_off_bus, xid.memory, xid.gsp, xid.nvlink, xid.critical, xid.app_error,
// kernel_log.api_mismatch, kernel_log.adapter_init_failed, kernel_log.gpu_reset
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "gd/model/xid_catalog.hpp"
#include "gd/rule/facts.hpp"
#include "gd/rule/kernel_log_facts.hpp"
#include "gd/rule/rule.hpp"
#include "gd/rule/xid_judge.hpp"

namespace gd::rule {

using model::Finding;
using model::KernelEvent;
using model::KernelEventKind;
using model::Severity;

namespace {

enum class Family { none, fallen_off_bus, memory, gsp, nvlink, critical, app_error };

Family family_of(const KernelEvent& e) {
  if (is_fallen_off(e)) return Family::fallen_off_bus;
  if (e.kind != KernelEventKind::xid || !e.xid) return Family::none;
  int x = *e.xid;
  if (x == 48 || x == 63 || x == 64 || x == 92 || x == 94 || x == 95 || x == 140 || x == 168 || x == 171 || x == 172)
    return Family::memory;
  if (x == 119 || x == 120) return Family::gsp;
  if (x == 74 || x == 136 || (x >= 144 && x <= 150) || x == 155) return Family::nvlink;
  return model::xid_info(x).severity == Severity::critical ? Family::critical : Family::app_error;
}

using Groups = std::map<std::string, std::vector<const KernelEvent*>>;  // bus id ("" = none) -> events

Groups group_by_gpu(const model::Snapshot& s, Family family) {
  Groups out;
  for (const auto& e : s.kernel_log.events)
    if (family_of(e) == family) out[e.bus_id.value_or("")].push_back(&e);
  return out;
}

// "this boot", "the previous boot", "this boot and the previous one", ...
std::string boots_text(const std::vector<const KernelEvent*>& events) {
  std::set<int> boots;
  for (const auto* e : events) boots.insert(e->boot.value_or(0));
  if (boots.size() == 1) return *boots.begin() == 0 ? "this boot" : fmt::format("the {}", boot_label(*boots.begin()));
  if (boots.size() == 2 && *boots.rbegin() == 0 && *boots.begin() == -1) return "this boot and the previous one";
  return fmt::format("{} boots", boots.size());
}

// "Xid 48 (double-bit ECC error) x3, Xid 63 (...)" in first-seen order.
// (Labels name only the Xid and its count when short is set.)
std::string codes_text(const std::vector<const KernelEvent*>& events, bool short_labels = false) {
  std::vector<std::pair<std::string, int>> counts;
  for (const auto* e : events) {
    auto info = model::kernel_event_info(*e);
    std::string label = e->xid && e->kind == KernelEventKind::xid    ? (short_labels ? fmt::format("Xid {}", *e->xid)
                                                                      : fmt::format("Xid {} ({})", *e->xid, info.meaning))
                        : e->kind == KernelEventKind::fallen_off_bus ? std::string("a 'fallen off the bus' message")
                                                      : std::string(info.mnemonic);
    auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == label; });
    if (it == counts.end())
      counts.emplace_back(label, 1);
    else
      ++it->second;
  }
  std::vector<std::string> parts;
  for (const auto& [label, n] : counts) parts.push_back(n > 1 ? fmt::format("{} x{}", label, n) : label);
  return fmt::format("{}", fmt::join(parts, ", "));
}

// The catalogue's cause and advice per code; the needs-root/reboot flags from the judged actions.
void add_catalogue(const std::vector<const KernelEvent*>& events, model::XidAction worst, Finding& f) {
  std::vector<std::string> causes, mnemonics;
  for (const auto* e : events) {
    auto info = model::kernel_event_info(*e);
    if (std::find(mnemonics.begin(), mnemonics.end(), info.mnemonic) != mnemonics.end()) continue;
    mnemonics.emplace_back(info.mnemonic);
    std::string cause = e->kind == KernelEventKind::xid ? fmt::format("Xid {} {}: {}.", info.first, info.mnemonic, info.meaning)
                                         : fmt::format("{}: {}.", info.mnemonic, info.meaning);
    if (std::find(causes.begin(), causes.end(), cause) == causes.end()) causes.push_back(cause);
    if (std::find(f.fix.begin(), f.fix.end(), info.advice) == f.fix.end()) f.fix.emplace_back(info.advice);
  }
  f.cause = fmt::format("{}", fmt::join(causes, " "));
  f.needs_root = worst >= model::XidAction::reset_gpu;
  f.needs_reboot = worst == model::XidAction::reboot;
}

Finding group_finding(const model::Snapshot& s, Family family, const std::string& bus,
                      const std::vector<const KernelEvent*>& events) {
  Finding f;
  if (!bus.empty()) f.gpu = bus;
  // Judged in context (bursts, sympathetic 45, the 154's action, 48 with 171/172, the 13 workflow).
  auto verdicts = judge_events(s.kernel_log, s.driver.kernel_version);
  std::vector<std::string> notes;
  auto worst = model::XidAction::ignore;
  for (const auto* e : events) {
    const auto& v = verdicts[static_cast<std::size_t>(e - s.kernel_log.events.data())];
    f.severity = std::max(f.severity, v.severity);
    worst = std::max(worst, v.action);
    if (!v.note.empty() && std::find(notes.begin(), notes.end(), v.note) == notes.end() && notes.size() < 6)
      notes.push_back(v.note);
  }
  std::string who = bus.empty() ? "A GPU (not named)" : fmt::format("GPU {}", bus);
  if (family == Family::fallen_off_bus)
    f.summary =
        fmt::format("{} fell off the bus in {} (kernel log: {}, last at {})", who, boots_text(events),
                    codes_text(events, true), events.back()->timestamp.empty() ? "?" : events.back()->timestamp);
  else
    f.summary = fmt::format("{}: {} in {} (kernel log)", who, codes_text(events), boots_text(events));
  f.evidence = events_evidence(events);
  for (const auto& n : notes) f.evidence.push_back("judged in context: " + n);
  if (auto it = s.kernel_log.gpu_uuids.find(bus); it != s.kernel_log.gpu_uuids.end())
    f.evidence.push_back(fmt::format("kernel log: {} is {}", bus, it->second));
  add_catalogue(events, worst, f);
  bool this_boot = std::any_of(events.begin(), events.end(), [](const auto* e) { return e->boot.value_or(0) == 0; });
  if (family == Family::fallen_off_bus && this_boot && !bus.empty() && nvml_answers_for(s, bus)) {
    // A GPU that fell off the bus does not answer again before a reboot or reset.
    f.severity = Severity::warning;
    f.summary += "; NVML answers for it now, so the log is likely from another boot";
    f.evidence.push_back(fmt::format("NVML answers for {} now (handle and PCI info, no GPU_IS_LOST)", bus));
    f.cause = "A GPU that fell off the bus stays lost until a reboot or GPU reset, yet this one answers: the "
              "log's boot boundaries were not recognised (a saved log without 'Linux version' or '-- Boot' "
              "lines?) or the GPU was reset since. " + f.cause;
  }
  bool all_earlier = std::all_of(events.begin(), events.end(), [](const auto* e) { return e->boot.value_or(0) < 0; });
  if (all_earlier) {
    f.cause +=
        " It happened before the last reboot, which reset the GPU; a recurrence points at the hardware, "
        "its power or cooling.";
    f.needs_root = false;
    f.needs_reboot = false;
    f.earlier_boots_only = true;
  }
  return f;
}

void run_family(const RuleInput& in, Family family, std::vector<Finding>& out) {
  for (const auto& [bus, events] : group_by_gpu(in.snap, family))
    out.push_back(group_finding(in.snap, family, bus, events));
}

bool kernel_log_read(const model::Snapshot& s) {
  return !s.kernel_log.source.empty() && s.kernel_log.unavailable.empty();
}

// The token after marker in text ("has the version " -> "535.54.03").
std::string version_after(std::string_view text, std::string_view marker) {
  auto at = text.find(marker);
  if (at == std::string_view::npos) return "?";
  std::string_view rest = text.substr(at + marker.size());
  auto end = rest.find_first_of(" ,\t");
  std::string_view v = rest.substr(0, end);
  while (!v.empty() && v.back() == '.') v.remove_suffix(1);
  return v.empty() ? "?" : std::string(v);
}

}  // namespace

void rule_xid_fallen_off_bus(const RuleInput& in, std::vector<Finding>& out) {
  run_family(in, Family::fallen_off_bus, out);
}
void rule_xid_memory(const RuleInput& in, std::vector<Finding>& out) {
  run_family(in, Family::memory, out);
}
void rule_xid_gsp(const RuleInput& in, std::vector<Finding>& out) { run_family(in, Family::gsp, out); }
void rule_xid_nvlink(const RuleInput& in, std::vector<Finding>& out) {
  run_family(in, Family::nvlink, out);
}
void rule_xid_app_error(const RuleInput& in, std::vector<Finding>& out) {
  run_family(in, Family::app_error, out);
}

void rule_xid_critical(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  run_family(in, Family::critical, out);
  bool any = std::any_of(s.kernel_log.events.begin(), s.kernel_log.events.end(),
                         [](const KernelEvent& e) { return family_of(e) != Family::none; });
  if (any || !kernel_log_read(s) || no_nvidia_gpu(s)) return;
  Finding f;
  f.summary = fmt::format("No Xid or fallen-off-bus event in the kernel log ({}; {}, {} lines)", s.kernel_log.window,
                          s.kernel_log.source, s.kernel_log.lines_scanned);
  if (s.kernel_log.incomplete) {
    // Only part of the log was read before the time limit: the rest may hold anything.
    f.severity = Severity::warning;
    f.summary = fmt::format("No Xid or fallen-off-bus event in the part of the kernel log read before the time limit "
                            "({}, {} lines); the rest was not read",
                            s.kernel_log.source, s.kernel_log.lines_scanned);
    f.evidence = s.kernel_log.problems;
    f.fix = {"Read the log with more time (--timeout) or a narrower window (--since 2h), or pass the relevant part "
             "with --kernel-log"};
  }
  out.push_back(std::move(f));
}

void rule_kernel_log_api_mismatch(const RuleInput& in, std::vector<Finding>& out) {
  std::vector<const KernelEvent*> events;
  for (const auto& e : in.snap.kernel_log.events)
    if (e.kind == KernelEventKind::api_mismatch) events.push_back(&e);
  if (events.empty()) return;
  const auto& last = *events.back();
  Finding f;
  for (const auto* e : events) f.severity = std::max(f.severity, current_severity(*e));
  f.summary = fmt::format("The kernel module refused a client of another driver version ({} vs module {}) in {}",
                          version_after(last.message, "has the version "),
                          version_after(last.message, "kernel module has the version "), boots_text(events));
  f.evidence = events_evidence(events);
  f.cause =
      "User-space driver libraries of one version talked to a loaded kernel module of another: the driver "
      "was upgraded (or half-upgraded) without a reboot, or two driver versions are installed side by side.";
  f.fix = {
      "Reboot (or stop all GPU clients and reload the modules: sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset "
      "nvidia && sudo modprobe nvidia)",
      "Keep one driver version installed; hold the driver packages (apt-mark hold) against unattended upgrades"};
  f.needs_root = true;
  f.needs_reboot = f.severity == Severity::critical;
  out.push_back(std::move(f));
}

void rule_kernel_log_adapter_init_failed(const RuleInput& in, std::vector<Finding>& out) {
  Groups groups;
  for (const auto& e : in.snap.kernel_log.events)
    if (e.kind == KernelEventKind::rm_init_failed || e.kind == KernelEventKind::gsp_failed ||
        e.kind == KernelEventKind::probe_failed)
      groups[e.bus_id.value_or("")].push_back(&e);
  for (const auto& [bus, events] : groups) {
    Finding f = group_finding(in.snap, Family::none, bus, events);
    // RmInitAdapter's fields: the stage that failed and the status it failed with.
    for (const auto* e : events) {
      if (!e->rm_stage || f.evidence.size() > 12) continue;
      auto stage = model::rm_init_stage_name(*e->rm_stage);
      auto status = model::nv_status_name(*e->rm_status);
      std::string line = fmt::format("RmInitAdapter failed at stage {:#x} ({}) with status {:#x} ({})", *e->rm_stage,
                                     stage.empty() ? "not in gpudoctor's table" : stage, *e->rm_status,
                                     status.empty() ? "not in gpudoctor's table" : status);
      if (std::find(f.evidence.begin(), f.evidence.end(), line) == f.evidence.end()) f.evidence.push_back(line);
    }
    bool firmware = std::any_of(events.begin(), events.end(), [](const KernelEvent* e) {
      return e->kind == KernelEventKind::gsp_failed || (e->rm_stage && *e->rm_stage >= 0x60 && *e->rm_stage <= 0x62);
    });
    if (firmware)
      f.fix.emplace_back(
          "Check the GSP firmware files exist for the loaded driver version "
          "(/lib/firmware/nvidia/<version>/gsp_*.bin) and belong to the same driver package");
    else
      f.fix.emplace_back(
          "Check that the BIOS maps the GPU's BARs (Above 4G decoding) and that the card is seated and powered");
    out.push_back(std::move(f));
  }
}

void rule_kernel_log_gpu_reset(const RuleInput& in, std::vector<Finding>& out) {
  Groups groups;
  for (const auto& e : in.snap.kernel_log.events)
    if (e.kind == KernelEventKind::gpu_reset) groups[e.bus_id.value_or("")].push_back(&e);
  for (const auto& [bus, events] : groups) out.push_back(group_finding(in.snap, Family::none, bus, events));
}

}  // namespace gd::rule
