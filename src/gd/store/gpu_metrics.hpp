// The table of per-GPU metrics `watch` samples: one row per quantity, naming
// its history column (also `history --metric`), its Prometheus name and unit,
// and how it is read from an NVML GPU record. Values are stored as integers in
// the column's unit (milliwatts, MHz, percent) so SQLite packs them tightly.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "gd/model/snapshot.hpp"

namespace gd::store {

struct GpuMetric {
  std::string_view column;  // DB column and `history --metric` name: "temp_celsius"
  std::string_view prom;    // Prometheus name: "gpudoctor_gpu_temperature_celsius"
  std::string_view type;    // "gauge" | "counter"
  std::string_view help;
  double prom_scale;      // stored integer × prom_scale = the Prometheus value (base units)
  std::string_view dcgm;  // dcgm-exporter's name for --metrics-compat dcgm ("" when none)
  double dcgm_scale;      // stored integer × dcgm_scale = dcgm-exporter's value
  std::optional<std::int64_t> (*get)(const model::NvmlGpu&);
};

std::span<const GpuMetric> gpu_metrics();

// Index of the metric whose column is `column`, or nullopt.
std::optional<std::size_t> metric_index(std::string_view column);

}  // namespace gd::store
