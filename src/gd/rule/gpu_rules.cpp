// gpu.none, gpu.fell_off_bus, gpu.count
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "gd/model/json_io.hpp"
#include "gd/model/nvml_return.hpp"
#include "gd/rule/facts.hpp"
#include "gd/util/strings.hpp"
#include "gd/rule/kernel_log_facts.hpp"
#include "gd/rule/rule.hpp"
#include "gd/util/time.hpp"

namespace gd::rule {

using model::Finding;
using model::Severity;

namespace {

using model::is_lost;

// NVML indices whose handle or any query came back GPU_IS_LOST / RESET_REQUIRED.
std::vector<std::string> lost_index_evidence(const model::Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& g : s.nvml.gpus) {
    if (g.handle_return != 0) {
      out.push_back(fmt::format("NVML GPU index {}: nvmlDeviceGetHandleByIndex -> {}", g.index,
                                model::nvml_return_label(g.handle_return)));
      continue;
    }
    for (const auto& [call, code] : g.call_errors)
      if (is_lost(code))
        out.push_back(fmt::format("NVML GPU index {} ({}): {} -> {}", g.index, g.bus_id.value_or("?"), call,
                                  model::nvml_return_label(code)));
  }
  return out;
}

// Seed's cause: persistence off (or unknown with no daemon) on this node.
bool persistence_off(const model::Snapshot& s) {
  if (persistenced_running(s)) return false;
  bool any_on = std::any_of(s.nvml.gpus.begin(), s.nvml.gpus.end(),
                            [](const model::NvmlGpu& g) { return g.persistence_mode.value_or(false); });
  return !any_on;
}

// The latest change of this boot with which `gpudoctor fix` turned persistence on.
const model::ChangeRecord* persistence_fix_this_boot(const model::Snapshot& s) {
  const auto& st = s.state;
  for (auto it = st.changes.rbegin(); it != st.changes.rend(); ++it) {
    if (it->finding != "persistence.off") continue;
    bool this_boot = st.boot_id && !it->boot_id.empty()
                         ? it->boot_id == *st.boot_id
                         : st.boot_time_unix_s && it->ts_unix_s >= *st.boot_time_unix_s;
    if (this_boot) return &*it;
  }
  return nullptr;
}

// When the kernel log says this GPU fell off the bus in this boot (the latest time).
std::optional<std::int64_t> loss_time(const model::Snapshot& s, const std::optional<std::string>& bus) {
  std::optional<std::int64_t> t;
  if (!bus) return t;
  for (const auto* e : fallen_off_events(s, *bus))
    if (e->boot == 0 && e->unix_s) t = std::max(t.value_or(*e->unix_s), *e->unix_s);
  return t;
}

// The latest loss of this GPU that watch recorded in this boot (with the persistence mode it had).
const model::HistoryMark* history_loss(const model::Snapshot& s, const std::optional<std::string>& bus) {
  const model::HistoryMark* out = nullptr;
  for (const auto& m : s.state.history)
    if (bus && m.type == "gpu_lost" && m.bus_id == *bus) out = &m;
  return out;
}

void seed_cause(const model::Snapshot& s, Finding& f, const model::ChangeRecord* fixed) {
  std::string when;
  const auto* hist = history_loss(s, f.gpu);
  if (hist && hist->persistence_mode == "off") {
    when = fmt::format("watch recorded the loss at {} with persistence off{}. ", util::format_utc(hist->ts_ms / 1000),
                       fixed ? fmt::format("; gpudoctor fix turned persistence on at {}",
                                           util::format_utc(fixed->ts_unix_s))
                             : std::string());
    f.evidence.push_back(fmt::format("watch history: gpu_lost at {}, persistence off",
                                     util::format_utc(hist->ts_ms / 1000)));
  } else if (fixed) {
    auto lost = loss_time(s, f.gpu);
    when = lost ? fmt::format("The GPU was lost at {} while persistence was off; gpudoctor fix turned persistence on "
                              "at {}, after the loss. ",
                              util::format_utc(*lost), util::format_utc(fixed->ts_unix_s))
                : fmt::format("Persistence was off until gpudoctor fix turned it on at {} (the time of the loss is "
                              "not in the kernel log; nothing says it came after). ",
                              util::format_utc(fixed->ts_unix_s));
  }
  f.cause = when +
            (fixed ? "Persistence mode was off and nvidia-persistenced was not running, so the driver initialised the "
                     "GPUs for every process that opened them and tore them down when it exited."
                   : "Persistence mode is off and nvidia-persistenced is not running, so the driver initialises the "
                     "GPUs for every process that opens them and tears them down when it exits.") +
            " Workloads that launch many short GPU "
            "processes (autotuners, test suites, per-job health checks) repeat this cycle thousands of times; this is "
            "the known way such a node loses GPUs until reboot (nvidia-smi hangs, then 'No devices were found' while "
            "lspci still lists the cards). Overheating, failing cards or the driver version are not required for it.";
  if (fixed) {
    f.evidence.push_back(fmt::format("gpudoctor fix at {}: {} (before: {})", util::format_utc(fixed->ts_unix_s),
                                     fixed->detail, fixed->before.empty() ? "?" : fixed->before));
    f.fix = {"Reboot the node: a GPU that fell off the bus cannot be recovered without one",
             "Persistence is on now (gpudoctor fix); after the reboot verify it stays on: gpudoctor check"};
  } else {
    f.evidence.push_back("nvidia-persistenced is not running; persistence mode is off");
    f.fix = {"Reboot the node: a GPU that fell off the bus cannot be recovered without one",
             "After the reboot, keep the GPUs initialised: sudo systemctl enable --now nvidia-persistenced",
             "Verify: gpudoctor check (persistence.off must be ok)"};
  }
}

void explain(const model::Snapshot& s, Finding& f) {
  f.needs_root = true;
  f.needs_reboot = true;
  const model::ChangeRecord* fixed = persistence_off(s) ? nullptr : persistence_fix_this_boot(s);
  auto lost = loss_time(s, f.gpu);
  const auto* hist = history_loss(s, f.gpu);
  if (!lost && hist) lost = hist->ts_ms / 1000;
  bool lost_after_fix = fixed && lost && *lost > fixed->ts_unix_s;
  bool off_at_loss = hist && hist->persistence_mode == "off";
  bool on_at_loss = hist && hist->persistence_mode == "on";
  if (persistence_off(s) || off_at_loss || (fixed && !lost_after_fix && !on_at_loss)) {
    seed_cause(s, f, fixed);
  } else {
    f.cause =
        "The GPU stopped answering the driver. NVIDIA names power delivery, overheating, seating and system "
        "firmware as the usual causes; the kernel log's Xid 79 lines show when it happened.";
    if (on_at_loss)
      f.cause = fmt::format("watch recorded the loss at {} with persistence on: the per-process init/teardown "
                            "pattern does not explain it. ",
                            util::format_utc(hist->ts_ms / 1000)) +
                f.cause;
    else if (lost_after_fix)
      f.cause = fmt::format("The GPU was lost at {}, after gpudoctor fix turned persistence on at {}: the "
                            "per-process init/teardown pattern does not explain it. ",
                            util::format_utc(*lost), util::format_utc(fixed->ts_unix_s)) +
                f.cause;
    f.fix = {"Reboot the node to recover the GPU",
             "If it recurs: check power cables and PSU, cooling, reseat the card, update the system BIOS; "
             "replace the card if it keeps failing"};
  }
  if (lost) f.evidence.push_back(fmt::format("kernel log: lost at {}", util::format_utc(*lost)));
  for (const auto& m : s.kernel_log.init_marks)
    if (f.gpu && m.bus_id == *f.gpu && m.boot == 0 && m.lines > 1)
      f.evidence.push_back(fmt::format("kernel log, this boot: {} 'GPU at PCI:{}' lines: the driver initialised this "
                                       "GPU anew at least {} times (it prints that line once per initialisation, "
                                       "before its first Xid)",
                                       m.lines, m.bus_id, m.lines));
  if (auto e = init_time_evidence(s)) f.evidence.push_back(*e);
}

// GPUs for this host's driver (inside a container: the ones given to it) that NVML has no record of.
std::vector<const model::PciGpu*> unanswered_pci_gpus(const model::Snapshot& s) {
  auto a = account_gpus(s);
  std::set<std::string> ids(a.unanswered.begin(), a.unanswered.end());
  std::vector<const model::PciGpu*> out;
  for (const auto& g : s.pci.gpus)
    if (ids.count(g.bus_id)) out.push_back(&g);
  return out;
}

std::string pci_list(const model::Snapshot& s) {
  std::vector<std::string> ids;
  for (const auto& g : s.pci.gpus) ids.push_back(g.bus_id);
  return fmt::format("PCI bus: {} NVIDIA GPU(s): {}", ids.size(), util::join_capped(ids, ", "));
}

constexpr std::size_t k_max_lost_lines = 8;  // per finding: one finding per lost GPU already names each

// The evidence lines every lost GPU's finding shares (made once: one finding per GPU each naming every GPU
// was quadratic).
std::vector<std::string> lost_shared_evidence(const model::Snapshot& s) {
  return {pci_list(s), fmt::format("NVML device count: {}; NVML answers for: {}", s.nvml.device_count.value_or(0),
                                   util::join_capped(nvml_bus_ids(s), ", "))};
}

Finding lost_finding(const model::Snapshot& s, const model::PciGpu& g, const std::vector<std::string>& shared,
                     const std::vector<std::string>& lost) {
  Finding f;
  f.severity = Severity::critical;
  f.gpu = g.bus_id;
  f.summary = fmt::format("GPU {} has fallen off the bus: it is on PCI but the driver does not answer for it", g.bus_id);
  f.evidence = shared;
  f.evidence.push_back(g.driver.empty() ? fmt::format("{}: no driver bound (the nvidia probe failed or gave up)", g.bus_id)
                                        : fmt::format("{}: bound to {}", g.bus_id, g.driver));
  for (std::size_t i = 0; i < lost.size() && i < k_max_lost_lines; ++i) f.evidence.push_back(lost[i]);
  if (lost.size() > k_max_lost_lines)
    f.evidence.push_back(fmt::format("... and {} more lost GPU(s)", lost.size() - k_max_lost_lines));
  for (auto& l : events_evidence(fallen_off_events(s, g.bus_id))) f.evidence.push_back(std::move(l));
  explain(s, f);
  return f;
}

// GPUs this boot's kernel log says fell off the bus, NVML has no data for,
// and no finding of this rule already names (out[first..]: NVML hung or failed).
void fell_off_in_kernel_log(const model::Snapshot& s, std::vector<Finding>& out, std::size_t first) {
  auto answered = nvml_bus_ids(s);
  std::set<std::string> answering(answered.begin(), answered.end()), named;
  for (auto it = out.begin() + static_cast<std::ptrdiff_t>(first); it != out.end(); ++it)
    if (it->gpu) named.insert(*it->gpu);
  for (const auto& bus : fallen_off_this_boot(s)) {
    if (answering.count(bus) || named.count(bus)) continue;
    Finding f;
    f.severity = Severity::critical;
    f.gpu = bus;
    f.summary = fmt::format("GPU {} fell off the bus in this boot (kernel log) and NVML has no data for it", bus);
    f.evidence = events_evidence(fallen_off_events(s, bus));
    std::string answers = answered.empty() ? "no GPU" : util::join_capped(answered, ", ");
    f.evidence.push_back(fmt::format("NVML: {}; answers for: {}", model::nvml_state_name(s.nvml.state), answers));
    explain(s, f);
    out.push_back(std::move(f));
  }
}

}  // namespace

void rule_gpu_none(const RuleInput& in, std::vector<Finding>& out) {
  if (!no_nvidia_gpu(in.snap)) return;
  Finding f;
  f.summary = "No NVIDIA GPU on this node: none on the PCI bus and no NVIDIA driver loaded.";
  f.evidence.push_back("/sys/bus/pci/devices: no function with vendor 0x10de and a display/3D class");
  out.push_back(std::move(f));
}

namespace {

void fell_off_from_nvml(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (no_nvidia_gpu(s) || !s.driver.nvidia_loaded || !nvml_answered(s)) return;
  auto lost = lost_index_evidence(s);
  auto missing = unanswered_pci_gpus(s);
  if (s.nvml.state == model::NvmlState::hung) {
    // Enumeration stopped early: GPUs not visited yet are no evidence; keep
    // only those the driver itself failed to bind.
    std::erase_if(missing, [](const model::PciGpu* g) { return !g->driver.empty(); });
  }
  auto shared = lost_shared_evidence(s);
  for (const auto* g : missing) out.push_back(lost_finding(s, *g, shared, lost));
  if (missing.empty() && !lost.empty()) {
    Finding f;
    f.severity = Severity::critical;
    f.summary = fmt::format("NVML reports {} lost GPU(s)", lost.size());
    f.evidence = lost;
    explain(s, f);
    out.push_back(std::move(f));
  }
  if (missing.empty() && lost.empty() && s.nvml.state == model::NvmlState::ok) {
    Finding f;
    f.summary = accounting_text(account_gpus(s));
    out.push_back(std::move(f));
  }
}

}  // namespace

void rule_gpu_fell_off_bus(const RuleInput& in, std::vector<Finding>& out) {
  std::size_t first = out.size();
  fell_off_from_nvml(in, out);
  fell_off_in_kernel_log(in.snap, out, first);
}

void rule_gpu_count(const RuleInput& in, std::vector<Finding>& out) {
  if (!in.expect_gpus) return;
  const auto& s = in.snap;
  unsigned expected = *in.expect_gpus;
  auto a = account_gpus(s);
  // Inside a container the PCI bus shows the host's GPUs; the ones given to it are what it has.
  auto present = static_cast<unsigned>(s.container.inside ? s.driver.gpus.size() : a.on_pci - a.other_driver.size());
  auto answering = static_cast<unsigned>(a.answering.size());
  Finding f;
  f.evidence.push_back(fmt::format("--expect-gpus {}", expected));
  f.evidence.push_back(pci_list(s));
  f.evidence.push_back(accounting_text(a));
  if (present == expected && answering == expected) {
    f.summary = fmt::format("{} GPU(s) expected, {} present and answering", expected, expected);
  } else {
    f.severity = Severity::critical;
    f.summary = fmt::format("{} GPU(s) expected, {} {}, {} answering through NVML", expected, present,
                            s.container.inside ? "given to this container" : "on the PCI bus for this host's driver",
                            answering);
    std::vector<std::string> why;
    if (present < expected && a.on_pci < expected)
      why.emplace_back("GPUs are missing from the PCI bus: not seated, not powered, disabled in firmware, or (in a "
                       "VM) not passed through");
    if (!a.other_driver.empty())
      why.push_back(fmt::format("{} bound to another driver ({}): passed to a VM (vfio-pci) or claimed by nouveau, "
                                "not usable by this host's NVIDIA driver",
                                a.other_driver.size() == 1 ? "one is" : fmt::format("{} are", a.other_driver.size()),
                                fmt::join(a.other_driver, ", ")));
    if (!a.not_given.empty())
      why.push_back(fmt::format("this container was given {} of the host's {} GPU(s)", s.driver.gpus.size(), a.on_pci));
    if (!a.unanswered.empty())
      why.push_back(fmt::format("{} on the bus do not answer the driver: see gpu.fell_off_bus",
                                fmt::join(a.unanswered, ", ")));
    if (why.empty()) why.emplace_back("the GPUs present differ from the number expected");
    f.cause = fmt::format("{}.", fmt::join(why, "; "));
    f.fix = {"Compare with the other findings (gpu.fell_off_bus, driver.*) for the GPUs that do not answer",
             "If GPUs are absent from PCI: check BIOS settings, power and seating, or the VM's device assignment",
             "If a GPU is bound to vfio-pci on purpose, expect that many fewer: --expect-gpus N"};
  }
  out.push_back(std::move(f));
}

}  // namespace gd::rule
