#include "gd/rule/facts.hpp"

#include <fmt/format.h>

namespace gd::rule {

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

bool persistenced_running(const model::Snapshot& s) { return s.persistenced.process_alive; }

std::string format_ms(double ms) {
  if (ms >= 1000) return fmt::format("{:.2f} s", ms / 1000);
  return fmt::format("{:.0f} ms", ms);
}

std::optional<std::string> init_time_evidence(const model::Snapshot& s) {
  if (!s.nvml.init_ms) return std::nullopt;
  return fmt::format("nvmlInit took {} ({})", format_ms(*s.nvml.init_ms),
                     *s.nvml.init_ms >= 1000 ? "slow: the driver initialised the GPUs for this process"
                                             : "fast: the GPUs were already initialised");
}

std::optional<std::string> user_space_version(const model::Snapshot& s) {
  if (s.nvml.library.file_version) return s.nvml.library.file_version;
  return std::nullopt;
}

}  // namespace gd::rule
