#include "gd/store/gpu_metrics.hpp"

#include <cmath>

namespace gd::store {

namespace {

using model::NvmlGpu;
using Opt = std::optional<std::int64_t>;

template <class T>
Opt i64(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}
Opt milli(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  return static_cast<std::int64_t>(std::llround(*v * 1000.0));
}

constexpr double k_mib = 1.0 / (1024.0 * 1024.0);

constexpr GpuMetric k_metrics[] = {
    {"temp_celsius", "gpudoctor_gpu_temperature_celsius", "gauge", "GPU core temperature.", 1, "DCGM_FI_DEV_GPU_TEMP",
     1, [](const NvmlGpu& g) { return i64(g.temp_celsius); }},
    {"power_milliwatts", "gpudoctor_gpu_power_watts", "gauge", "Power draw of the board.", 1e-3,
     "DCGM_FI_DEV_POWER_USAGE", 1e-3, [](const NvmlGpu& g) { return milli(g.power_watts); }},
    {"power_limit_milliwatts", "gpudoctor_gpu_power_limit_watts", "gauge", "Enforced power limit.", 1e-3, "", 0,
     [](const NvmlGpu& g) { return milli(g.power_limit_watts); }},
    {"energy_millijoules", "gpudoctor_gpu_energy_joules_total", "counter", "Energy used since the driver loaded.", 1e-3,
     "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 1, [](const NvmlGpu& g) { return i64(g.energy_millijoules); }},
    {"util_gpu_percent", "gpudoctor_gpu_utilization_ratio", "gauge",
     "Fraction of the last sample period a kernel ran on the GPU.", 0.01, "DCGM_FI_DEV_GPU_UTIL", 1,
     [](const NvmlGpu& g) { return i64(g.util_gpu_percent); }},
    {"util_mem_percent", "gpudoctor_gpu_memory_utilization_ratio", "gauge",
     "Fraction of the last sample period device memory was read or written.", 0.01, "DCGM_FI_DEV_MEM_COPY_UTIL", 1,
     [](const NvmlGpu& g) { return i64(g.util_mem_percent); }},
    {"mem_used_bytes", "gpudoctor_gpu_memory_used_bytes", "gauge", "Device memory in use.", 1, "DCGM_FI_DEV_FB_USED",
     k_mib, [](const NvmlGpu& g) { return i64(g.mem_used_bytes); }},
    {"mem_total_bytes", "gpudoctor_gpu_memory_total_bytes", "gauge", "Device memory installed.", 1, "", 0,
     [](const NvmlGpu& g) { return i64(g.mem_total_bytes); }},
    {"clock_sm_mhz", "gpudoctor_gpu_sm_clock_hertz", "gauge", "SM clock.", 1e6, "DCGM_FI_DEV_SM_CLOCK", 1,
     [](const NvmlGpu& g) { return i64(g.clock_sm_mhz); }},
    {"clock_mem_mhz", "gpudoctor_gpu_memory_clock_hertz", "gauge", "Memory clock.", 1e6, "DCGM_FI_DEV_MEM_CLOCK", 1,
     [](const NvmlGpu& g) { return i64(g.clock_mem_mhz); }},
    {"clock_graphics_mhz", "gpudoctor_gpu_graphics_clock_hertz", "gauge", "Graphics clock.", 1e6, "", 0,
     [](const NvmlGpu& g) { return i64(g.clock_graphics_mhz); }},
    {"clock_event_reasons", "gpudoctor_gpu_clock_event_reasons", "gauge",
     "NVML clock event (throttle) reason bitmask: 0x20 SW thermal, 0x40 HW thermal, 0x4 SW power cap.", 1, "", 0,
     [](const NvmlGpu& g) { return i64(g.clock_event_reasons); }},
    {"pstate", "gpudoctor_gpu_performance_state", "gauge", "Performance state (0 fastest, 15 slowest, 32 unknown).", 1,
     "", 0, [](const NvmlGpu& g) { return i64(g.pstate); }},
    {"fan_percent", "gpudoctor_gpu_fan_speed_ratio", "gauge", "Fan speed as a fraction of its maximum.", 0.01,
     "DCGM_FI_DEV_FAN_SPEED", 1, [](const NvmlGpu& g) { return i64(g.fan_percent); }},
    {"pcie_gen", "gpudoctor_gpu_pcie_link_generation", "gauge", "Current PCIe link generation.", 1,
     "DCGM_FI_DEV_PCIE_LINK_GEN", 1, [](const NvmlGpu& g) { return i64(g.pcie_gen); }},
    {"pcie_width", "gpudoctor_gpu_pcie_link_width", "gauge", "Current PCIe link width (lanes).", 1,
     "DCGM_FI_DEV_PCIE_LINK_WIDTH", 1, [](const NvmlGpu& g) { return i64(g.pcie_width); }},
    {"persistence_mode", "gpudoctor_gpu_persistence_mode", "gauge", "1 when persistence mode is on.", 1, "", 0,
     [](const NvmlGpu& g) { return i64(g.persistence_mode); }},
    {"ecc_corrected_volatile", "gpudoctor_gpu_ecc_corrected_errors_total", "counter",
     "Corrected ECC errors since the driver loaded.", 1, "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", 1,
     [](const NvmlGpu& g) { return i64(g.ecc_corrected_volatile); }},
    {"ecc_uncorrected_volatile", "gpudoctor_gpu_ecc_uncorrected_errors_total", "counter",
     "Uncorrected ECC errors since the driver loaded.", 1, "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", 1,
     [](const NvmlGpu& g) { return i64(g.ecc_uncorrected_volatile); }},
    {"ecc_uncorrected_aggregate", "gpudoctor_gpu_ecc_uncorrected_lifetime_errors_total", "counter",
     "Uncorrected ECC errors over the GPU's life.", 1, "DCGM_FI_DEV_ECC_DBE_AGG_TOTAL", 1,
     [](const NvmlGpu& g) { return i64(g.ecc_uncorrected_aggregate); }},
    {"remapped_rows_correctable", "gpudoctor_gpu_remapped_rows_correctable", "gauge",
     "Rows remapped for correctable errors.", 1, "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", 1,
     [](const NvmlGpu& g) { return i64(g.remapped_rows_correctable); }},
    {"remapped_rows_uncorrectable", "gpudoctor_gpu_remapped_rows_uncorrectable", "gauge",
     "Rows remapped for uncorrectable errors.", 1, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", 1,
     [](const NvmlGpu& g) { return i64(g.remapped_rows_uncorrectable); }},
    {"remapped_rows_failure", "gpudoctor_gpu_row_remap_failure", "gauge", "1 when a row remapping failed.", 1,
     "DCGM_FI_DEV_ROW_REMAP_FAILURE", 1, [](const NvmlGpu& g) { return i64(g.remapped_rows_failure); }},
    {"retired_pages_pending", "gpudoctor_gpu_retired_pages_pending", "gauge",
     "1 when retired pages wait for a reset to take effect.", 1, "", 0,
     [](const NvmlGpu& g) { return i64(g.retired_pages_pending); }},
};

}  // namespace

std::span<const GpuMetric> gpu_metrics() { return k_metrics; }

std::optional<std::size_t> metric_index(std::string_view column) {
  for (std::size_t i = 0; i < std::size(k_metrics); ++i)
    if (k_metrics[i].column == column) return i;
  return std::nullopt;
}

}  // namespace gd::store
