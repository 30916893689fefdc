#include "gd/rule/facts.hpp"

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gd/model/nvml_return.hpp"

namespace gd::rule {

namespace {
constexpr double k_cold_init_ms = 500;  // real cold starts: 1-3 s per GPU (the seed's node: 4-5 s)
constexpr double k_warm_init_ms = 100;
}  // namespace

bool has_pci_gpus(const model::Snapshot& s) { return !s.pci.gpus.empty(); }

bool no_nvidia_gpu(const model::Snapshot& s) {
  if (has_pci_gpus(s) || s.driver.nvidia_loaded || !s.driver.gpus.empty()) return false;
  if (s.nvml.state == model::NvmlState::ok && s.nvml.device_count.value_or(0) > 0) return false;
  return true;
}

bool nvml_answered(const model::Snapshot& s) {
  return s.nvml.init_return == 0 && (s.nvml.state == model::NvmlState::ok || s.nvml.state == model::NvmlState::hung);
}

std::vector<std::string> nvml_bus_ids(const model::Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& g : s.nvml.gpus)
    if (g.handle_return == 0 && g.bus_id) out.push_back(*g.bus_id);
  return out;
}

GpuAccounting account_gpus(const model::Snapshot& s) {
  GpuAccounting a;
  auto ids = nvml_bus_ids(s);
  std::set<std::string> answered(ids.begin(), ids.end());
  std::set<std::string> given;
  for (const auto& g : s.driver.gpus) given.insert(g.bus_id);
  a.on_pci = s.pci.gpus.size();
  for (const auto& g : s.pci.gpus) {
    if (answered.count(g.bus_id)) a.answering.push_back(g.bus_id);
    else if (!g.driver.empty() && g.driver != "nvidia") a.other_driver.push_back(fmt::format("{} ({})", g.bus_id, g.driver));
    else if (s.container.inside && !given.count(g.bus_id)) a.not_given.push_back(g.bus_id);
    else a.unanswered.push_back(g.bus_id);
  }
  return a;
}

std::string accounting_text(const GpuAccounting& a) {
  std::string out = a.answering.size() == a.on_pci && a.on_pci > 0
                        ? fmt::format("All {} GPU(s) on the PCI bus answer through NVML", a.on_pci)
                        : fmt::format("{} of {} GPU(s) on the PCI bus answer through NVML", a.answering.size(), a.on_pci);
  if (!a.other_driver.empty())
    out += fmt::format("; {} bound to another driver: {}", a.other_driver.size(), fmt::join(a.other_driver, ", "));
  if (!a.not_given.empty())
    out += fmt::format("; {} not given to this container: {}", a.not_given.size(), fmt::join(a.not_given, ", "));
  if (!a.unanswered.empty())
    out += fmt::format("; {} not answering: {}", a.unanswered.size(), fmt::join(a.unanswered, ", "));
  return out;
}

bool nvml_answers_for(const model::Snapshot& s, std::string_view bus_id) {
  if (!nvml_answered(s)) return false;
  for (const auto& g : s.nvml.gpus) {
    if (g.handle_return != 0 || g.bus_id != bus_id) continue;
    for (const auto& [call, code] : g.call_errors)
      if (model::is_lost(code)) return false;
    return true;
  }
  return false;
}

std::vector<const model::LibEntry*> dangling_alternatives_links(const model::Snapshot& s) {
  std::vector<const model::LibEntry*> out;
  for (const auto& e : s.libs.entries) {
    if (e.resolved) continue;
    bool via = e.path.starts_with("/etc/alternatives/");
    for (const auto& hop : e.hops) via = via || hop.starts_with("/etc/alternatives/");
    if (via) out.push_back(&e);
  }
  return out;
}

bool persistenced_running(const model::Snapshot& s) { return s.persistenced.process_alive; }

std::string format_ms(double ms) {
  if (ms >= 1000) return fmt::format("{:.2f} s", ms / 1000);
  return fmt::format("{:.0f} ms", ms);
}

std::optional<std::string> init_time_evidence(const model::Snapshot& s) {
  if (!s.nvml.init_ms) return std::nullopt;
  std::string took = format_ms(*s.nvml.init_ms);
  if (s.nvml.init_return && *s.nvml.init_return != 0)
    return fmt::format("nvmlInit failed after {} (returned {})", took, model::nvml_return_name(*s.nvml.init_return));
  bool any_off = false, all_on = !s.nvml.gpus.empty();
  for (const auto& g : s.nvml.gpus) {
    if (!g.persistence_mode) all_on = false;
    else if (!*g.persistence_mode) any_off = true, all_on = false;
  }
  if (any_off && !persistenced_running(s))
    return fmt::format("nvmlInit took {}: with persistence off the driver initialised the GPUs for this process (a "
                       "cold start, paid by every process that opens them)",
                       took);
  if (all_on || persistenced_running(s))
    return fmt::format("nvmlInit took {}: persistence keeps the GPUs initialised (a warm start){}", took,
                       *s.nvml.init_ms >= k_cold_init_ms ? "; slow for one" : "");
  // Persistence unknown: a cold start costs 1-3 s per GPU on real drivers, a warm one tens of ms.
  if (*s.nvml.init_ms >= k_cold_init_ms)
    return fmt::format("nvmlInit took {}: slow, as when the driver initialises the GPUs for this process", took);
  if (*s.nvml.init_ms < k_warm_init_ms)
    return fmt::format("nvmlInit took {}: fast, as when the GPUs were already initialised", took);
  return fmt::format("nvmlInit took {}: cannot tell a cold start from a warm one (persistence mode unknown)", took);
}

std::optional<std::string> user_space_version(const model::Snapshot& s) {
  if (s.nvml.library.file_version) return s.nvml.library.file_version;
  // "12.535.261.03" (nvmlSystemGetNVMLVersion: the NVML API, then the driver's version).
  if (s.nvml.nvml_version) {
    auto dot = s.nvml.nvml_version->find('.');
    if (dot != std::string::npos && dot + 1 < s.nvml.nvml_version->size()) return s.nvml.nvml_version->substr(dot + 1);
  }
  return std::nullopt;
}

}  // namespace gd::rule
