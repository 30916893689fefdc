// Hardware health from NVML readings: thermal.*, pcie.link_degraded, memory.*
#include <algorithm>

#include <fmt/format.h>

#include "gd/rule/facts.hpp"
#include "gd/rule/rule.hpp"

namespace gd::rule {

using model::Finding;
using model::NvmlGpu;
using model::Severity;

namespace {

// Clock-event reason bits (nvmlClocksEventReason*).
constexpr std::uint64_t k_hw_slowdown = 0x8;
constexpr std::uint64_t k_sw_thermal = 0x20;
constexpr std::uint64_t k_hw_thermal = 0x40;
constexpr std::uint64_t k_hw_power_brake = 0x80;
constexpr unsigned k_fan_stopped_hot_celsius = 60;

std::string gpu_label(const NvmlGpu& g) { return g.bus_id.value_or(fmt::format("index {}", g.index)); }

Finding for_gpu(const NvmlGpu& g, Severity sev) {
  Finding f;
  f.severity = sev;
  f.gpu = g.bus_id;
  return f;
}

std::vector<const NvmlGpu*> answering(const model::Snapshot& s) {
  std::vector<const NvmlGpu*> out;
  for (const auto& g : s.nvml.gpus)
    if (g.handle_return == 0) out.push_back(&g);
  return out;
}

std::vector<std::string> reason_names(std::uint64_t bits) {
  std::vector<std::string> out;
  if (bits & k_hw_slowdown) out.emplace_back("HW slowdown (0x8)");
  if (bits & k_sw_thermal) out.emplace_back("SW thermal slowdown (0x20)");
  if (bits & k_hw_thermal) out.emplace_back("HW thermal slowdown (0x40)");
  if (bits & k_hw_power_brake) out.emplace_back("HW power brake (0x80)");
  return out;
}

// The all-clear, counting only the GPUs whose readings the rule had (`read`);
// the others are named, never counted as fine.
void ok_summary(const model::Snapshot& s, const std::string& what, size_t flagged, std::vector<Finding>& out,
                bool (*read)(const NvmlGpu&) = nullptr, std::string_view reading = "") {
  auto gpus = answering(s);
  if (flagged || gpus.empty()) return;
  std::vector<std::string> unread;
  for (const auto* g : gpus)
    if (read && !read(*g)) unread.push_back(gpu_label(*g));
  Finding f;
  if (unread.empty())
    f.summary = fmt::format("{} ({} GPU(s))", what, gpus.size());
  else if (unread.size() == gpus.size())
    f.summary = fmt::format("Not judged: no GPU's {} could be read ({} GPU(s))", reading, gpus.size());
  else
    f.summary = fmt::format("{} ({} of {} GPU(s); {} not read on {})", what, gpus.size() - unread.size(), gpus.size(),
                            reading, fmt::join(unread, ", "));
  out.push_back(std::move(f));
}

}  // namespace

void rule_thermal_hot(const RuleInput& in, std::vector<Finding>& out) {
  size_t flagged = 0;
  for (const auto* g : answering(in.snap)) {
    if (!g->temp_celsius || !g->temp_slowdown_celsius) continue;
    unsigned t = *g->temp_celsius;
    bool shutdown = g->temp_shutdown_celsius && t >= *g->temp_shutdown_celsius;
    if (t < *g->temp_slowdown_celsius && !shutdown) continue;
    ++flagged;
    auto f = for_gpu(*g, shutdown ? Severity::critical : Severity::warning);
    f.summary = fmt::format("GPU {} is at {} °C, at or above its {} threshold", gpu_label(*g), t,
                            shutdown ? "shutdown" : "slowdown");
    f.evidence.push_back(fmt::format("temperature {} °C; slowdown threshold {} °C; shutdown threshold {}", t,
                                     *g->temp_slowdown_celsius,
                                     g->temp_shutdown_celsius ? fmt::format("{} °C", *g->temp_shutdown_celsius)
                                                              : std::string("not reported")));
    if (g->fan_percent) f.evidence.push_back(fmt::format("fan {} %", *g->fan_percent));
    f.cause = "Cooling cannot keep up: blocked airflow, a failed chassis or GPU fan, high inlet temperature, or "
              "a sustained load above what the cooling was sized for.";
    f.fix = {"Check fans and airflow (BMC sensor readings: ipmitool sdr type Fan)",
             "Check the inlet temperature and the rack's cooling", "Reduce the load until it is fixed"};
    out.push_back(std::move(f));
  }
  ok_summary(in.snap, "Temperatures below the slowdown thresholds", flagged, out,
             [](const NvmlGpu& g) { return g.temp_celsius.has_value() && g.temp_slowdown_celsius.has_value(); },
             "temperature or slowdown threshold");
}

void rule_thermal_throttled(const RuleInput& in, std::vector<Finding>& out) {
  for (const auto* g : answering(in.snap)) {
    if (!g->clock_event_reasons) continue;
    auto names = reason_names(*g->clock_event_reasons);
    if (names.empty()) continue;
    bool hw = *g->clock_event_reasons & (k_hw_slowdown | k_hw_thermal | k_hw_power_brake);
    auto f = for_gpu(*g, hw ? Severity::critical : Severity::warning);
    f.summary = fmt::format("GPU {} is slowed down by {}", gpu_label(*g), fmt::join(names, ", "));
    f.evidence.push_back(fmt::format("clock event reasons 0x{:x}", *g->clock_event_reasons));
    if (g->temp_celsius) f.evidence.push_back(fmt::format("temperature {} °C", *g->temp_celsius));
    if (g->clock_graphics_mhz && g->clock_graphics_max_mhz)
      f.evidence.push_back(fmt::format("graphics clock {} of {} MHz", *g->clock_graphics_mhz, *g->clock_graphics_max_mhz));
    f.cause = (*g->clock_event_reasons & k_hw_power_brake)
                  ? "The external power brake signal is asserted: the power supply or the board's power delivery "
                    "cannot sustain the load."
                  : "The GPU protects itself from heat (thermal) or an electrical fault (HW slowdown): cooling or "
                    "power delivery is failing.";
    f.fix = {"Check cooling (fans, airflow, inlet temperature) and power (PSU status, cables)",
             "If it persists at idle: inspect or replace the card"};
    out.push_back(std::move(f));
  }
}

void rule_thermal_fan_stopped(const RuleInput& in, std::vector<Finding>& out) {
  for (const auto* g : answering(in.snap)) {
    if (!g->fan_percent || *g->fan_percent != 0 || !g->temp_celsius || *g->temp_celsius < k_fan_stopped_hot_celsius)
      continue;
    auto f = for_gpu(*g, Severity::warning);
    f.summary = fmt::format("GPU {} is at {} °C while its fan reads 0 %", gpu_label(*g), *g->temp_celsius);
    f.evidence.push_back(fmt::format("fan 0 %, temperature {} °C (threshold {} °C)", *g->temp_celsius,
                                     k_fan_stopped_hot_celsius));
    f.cause = "The GPU's fan has stopped or is not reporting (a dead fan, a loose connector).";
    f.fix = {"Inspect the fan; replace it or the card"};
    out.push_back(std::move(f));
  }
}

void rule_pcie_link_degraded(const RuleInput& in, std::vector<Finding>& out) {
  size_t flagged = 0;
  for (const auto& p : in.snap.pci.gpus) {
    if (!p.current_link_width || !p.max_link_width || *p.current_link_width >= *p.max_link_width) continue;
    if (*p.current_link_width == 0) continue;  // a lost GPU reads 0; gpu.fell_off_bus covers it
    ++flagged;
    Finding f;
    f.severity = Severity::warning;
    f.gpu = p.bus_id;
    f.summary = fmt::format("GPU {} runs its PCIe link at x{} of x{}", p.bus_id, *p.current_link_width,
                            *p.max_link_width);
    f.evidence.push_back(fmt::format("/sys/bus/pci/devices/{}/current_link_width = {}, max_link_width = {}", p.bus_id,
                                     *p.current_link_width, *p.max_link_width));
    f.cause = "The link trained at fewer lanes: a badly seated card or riser, a damaged slot or cable, or a BIOS "
              "bifurcation setting. (Link speed drops at idle are normal power saving and are not reported.)";
    f.fix = {"Reseat the card or riser; try another slot", "Check the BIOS PCIe bifurcation settings"};
    out.push_back(std::move(f));
  }
  if (!in.snap.pci.gpus.empty() && !flagged) {
    Finding f;
    f.summary = fmt::format("PCIe links at full width ({} GPU(s))", in.snap.pci.gpus.size());
    out.push_back(std::move(f));
  }
}

void rule_memory_ecc(const RuleInput& in, std::vector<Finding>& out) {
  size_t flagged = 0;
  for (const auto* g : answering(in.snap)) {
    std::vector<std::string> ev;
    Severity sev = Severity::ok;
    std::string summary, cause;
    std::vector<std::string> fix;
    if (g->ecc_uncorrected_volatile.value_or(0) > 0) {
      sev = Severity::critical;
      summary = fmt::format("GPU {} had {} uncorrectable (double-bit) ECC error(s) since the last reset",
                            gpu_label(*g), *g->ecc_uncorrected_volatile);
      ev.push_back(fmt::format("ECC uncorrected volatile = {}", *g->ecc_uncorrected_volatile));
    }
    if (g->remapped_rows_failure.value_or(false)) {
      sev = Severity::critical;
      summary = fmt::format("GPU {} failed to remap a memory row: replace the card", gpu_label(*g));
      ev.push_back("remapped rows: failure occurred = yes");
      fix.emplace_back("Drain the GPU and have the card replaced (row-remap failure is NVIDIA's RMA criterion)");
    }
    if (g->remapped_rows_pending.value_or(false) || g->retired_pages_pending.value_or(false)) {
      if (sev == Severity::ok) {
        sev = Severity::warning;
        summary = fmt::format("GPU {} has memory repairs pending: a GPU reset applies them", gpu_label(*g));
      }
      if (g->remapped_rows_pending.value_or(false))
        ev.push_back(fmt::format("remapped rows pending = yes (uncorrectable rows {})",
                                 g->remapped_rows_uncorrectable.value_or(0)));
      if (g->retired_pages_pending.value_or(false)) ev.push_back("retired pages pending = yes");
      fix.emplace_back("Drain the GPU, then reset it: sudo nvidia-smi -r -i " + gpu_label(*g) + " (or reboot)");
    }
    if (sev == Severity::ok) continue;
    ++flagged;
    auto f = for_gpu(*g, sev);
    f.summary = summary;
    f.evidence = ev;
    if (g->ecc_uncorrected_aggregate)
      f.evidence.push_back(fmt::format("ECC uncorrected aggregate (lifetime) = {}", *g->ecc_uncorrected_aggregate));
    f.cause = "Uncorrectable memory errors were detected; the GPU retires the page or remaps the row, which takes "
              "effect after a reset. Repeated errors or a failed remap mean failing memory.";
    if (fix.empty()) fix.emplace_back("Drain the GPU and reset it; replace the card if errors recur");
    f.fix = fix;
    f.needs_root = true;
    out.push_back(std::move(f));
  }
  ok_summary(in.snap, "No uncorrectable ECC errors or pending memory repairs", flagged, out);
}

}  // namespace gd::rule

namespace gd::rule {

// NVML field 230 (nvmlDeviceGetFieldValues): the action the driver itself asks
// for after an error; Xid 154 in the kernel log announces each change.
void rule_gpu_recovery_action(const RuleInput& in, std::vector<Finding>& out) {
  struct Action {
    std::string_view name;
    Severity sev;
    std::string_view fix;
    bool reboot;
  };
  static constexpr Action k_actions[] = {
      {"none", Severity::ok, "", false},
      {"GPU reset", Severity::critical, "Drain the GPU, then reset it: sudo nvidia-smi -r -i {}", false},
      {"node reboot", Severity::critical, "Drain the node and reboot it", true},
      {"drain P2P", Severity::warning, "Stop peer-to-peer (NVLink/PCIe P2P) work on GPU {}; new work may start", false},
      {"drain and reset", Severity::critical, "Let running work on GPU {} finish, accept no new work, then reset it",
       false},
      {"recover IMEX domain", Severity::critical, "Recover the IMEX domain this GPU belongs to", false},
  };
  size_t flagged = 0, read = 0;
  for (const auto* g : answering(in.snap)) {
    if (!g->recovery_action) continue;
    ++read;
    unsigned v = *g->recovery_action;
    if (v == 0) continue;
    ++flagged;
    const Action* a = v < std::size(k_actions) ? &k_actions[v] : nullptr;
    auto f = for_gpu(*g, a ? a->sev : Severity::critical);
    f.summary = fmt::format("GPU {}: the driver's recovery action is '{}'", gpu_label(*g),
                            a ? std::string(a->name) : fmt::format("recovery action {}", v));
    f.evidence.push_back(fmt::format("NVML field 230 (GPU recovery action) = {}", v));
    for (const auto& e : in.snap.kernel_log.events)
      if (e.xid == 154 && e.bus_id == g->bus_id) f.evidence.push_back("kernel log: " + e.message);
    f.cause = "After an error the driver records what it takes to recover the GPU (Xid 154 announces a change); "
              "until that is done the GPU may refuse or corrupt work.";
    f.fix = {a ? fmt::format(fmt::runtime(a->fix), gpu_label(*g)) : std::string("See NVIDIA's Xid catalogue")};
    f.needs_root = true;
    f.needs_reboot = a && a->reboot;
    out.push_back(std::move(f));
  }
  if (read) ok_summary(in.snap, "The driver asks for no recovery action", flagged, out);
}

}  // namespace gd::rule
