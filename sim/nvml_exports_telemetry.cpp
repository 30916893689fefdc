// Telemetry real clients read beyond the plain readings (docs/simulator.md,
// "For real clients"): the driver's sample buffers, clock-violation times,
// thermal sensor settings, clock monitors, dynamic P-state utilisation,
// located ECC counters and the row-remapper histogram, GPU performance
// monitoring (GPM, Hopper and later), encoder capacity/statistics and frame
// buffer capture. Every value derives from the scenario's readings at the
// moment of the call; what the scenario does not give is NOT_SUPPORTED, as
// in the other export files. Prototypes: nvml.h (libnvidia-ml-dev 11.8).

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>

#include "nvml_export_helpers.hpp"

// What an nvmlGpmSample_t points at: the readings at the moment of nvmlGpmSampleGet.
struct nvmlGpmSample_st {
  bool filled = false;
  bool mig = false;  // taken with nvmlGpmMigSampleGet: per-instance metrics are not modelled
  unsigned gpu = 0;
  long long time_us = 0;
  std::optional<unsigned> graphics_util;
  std::optional<unsigned> pcie_tx_kbps, pcie_rx_kbps;
};

namespace gd::sim {
namespace {

using namespace gd::nvml;
using namespace gd::sim::exports;


// ---- the driver's sample buffers (nvmlDeviceGetSamples) ----

constexpr long long k_sample_period_us = 167000;  // one sample per period
constexpr unsigned k_buffer_samples = 120;        // 20 s of history

// nvmlSamplingType_t: TOTAL_POWER (mW), GPU/MEMORY/ENC/DEC utilisation (%), PROCESSOR/MEMORY clock (MHz).
std::optional<unsigned> sampled_reading(const DeviceContext& c, int type, nvmlReturn_t& rc) {
  rc = k_success;
  const Gpu& g = c.gpu;
  switch (type) {
    case 0: return g.power_mw;
    case 1: return g.utilization_gpu;
    case 2: return g.utilization_gpu ? std::optional<unsigned>(g.utilization_memory) : std::nullopt;
    case 3: return g.client.encoder_util;
    case 4: return g.client.decoder_util;
    case 5: return g.clocks_mhz.graphics;
    case 6: return g.clocks_mhz.mem;
    default: rc = k_invalid_argument; return std::nullopt;
  }
}

// ---- clock violations (nvmlDeviceGetViolationStatus) ----

// nvmlClocksEventReason* bits behind each nvmlPerfPolicyType_t.
std::optional<unsigned long long> policy_reasons(int policy) {
  switch (policy) {
    case 0: return 0x4 | 0x80;    // POWER: SW power cap, HW power brake
    case 1: return 0x20 | 0x40;   // THERMAL: SW and HW thermal slowdown
    case 2: return 0x10;          // SYNC_BOOST
    case 3: return 0x8;           // BOARD_LIMIT: HW slowdown
    case 4: return 0x1;           // LOW_UTILIZATION: GPU idle
    case 5: return 0x0;           // RELIABILITY: no reason bit; never modelled as active
    case 10: return 0x1 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80;  // TOTAL_APP_CLOCKS: any limiter
    case 11: return 0x4 | 0x8 | 0x20 | 0x40 | 0x80;               // TOTAL_BASE_CLOCKS: power and thermal
    default: return std::nullopt;
  }
}

// When this process first asked: a reason active now is taken to have held since.
long long first_asked_us() {
  static const long long t = now_us();
  return t;
}

// ---- GPU performance monitoring ----

std::mutex g_gpm_mutex;
std::set<nvmlGpmSample_st*> g_gpm_samples;  // allocated and not yet freed

nvmlGpmSample_st* known_sample(nvmlGpmSample_t s) {
  return g_gpm_samples.count(s) ? s : nullptr;
}

nvmlReturn_t take_sample(const DeviceContext& c, nvmlGpmSample_t sample, bool mig) {
  std::lock_guard lock(g_gpm_mutex);
  nvmlGpmSample_st* s = known_sample(sample);
  if (!s) return k_invalid_argument;
  s->filled = true;
  s->mig = mig;
  s->gpu = c.index;
  s->time_us = now_us();
  s->graphics_util = c.gpu.utilization_gpu;
  s->pcie_tx_kbps = c.gpu.client.pcie_tx_kbps;
  s->pcie_rx_kbps = c.gpu.client.pcie_rx_kbps;
  return k_success;
}

// nvmlGpmMetricId_t ids nvml.h defines (1-7, 9-13, 20-21, 30-37, 40-47, 50, 60-97).
bool known_metric(unsigned id) {
  return (id >= 1 && id <= 7) || (id >= 9 && id <= 13) || id == 20 || id == 21 || (id >= 30 && id <= 37) ||
         (id >= 40 && id <= 47) || id == 50 || (id >= 60 && id <= 97);
}

// The mean of a reading over the interval between two samples; nullopt when either lacks it.
std::optional<double> mean(const std::optional<unsigned>& a, const std::optional<unsigned>& b) {
  if (!a || !b) return std::nullopt;
  return (static_cast<double>(*a) + static_cast<double>(*b)) / 2.0;
}

// The metrics the scenario's readings give: graphics activity (%) and PCIe
// traffic (MiB/s); every other metric (SM occupancy, tensor pipes, per-engine
// and NvLink bandwidth) is not in a scenario: NOT_SUPPORTED.
void compute_metric(nvmlGpmMetric_t& m, const nvmlGpmSample_st& a, const nvmlGpmSample_st& b) {
  m.metricInfo = {};  // nvml.h: "can be NULL if not defined"
  m.value = 0;
  if (!known_metric(m.metricId)) {
    m.nvmlReturn = k_invalid_argument;
    return;
  }
  std::optional<double> v;
  if (!a.mig && !b.mig) {
    if (m.metricId == 1) v = mean(a.graphics_util, b.graphics_util);
    auto mib = [](std::optional<double> kbps) { return kbps ? std::optional<double>(*kbps / 1024.0) : std::nullopt; };
    if (m.metricId == 20) v = mib(mean(a.pcie_tx_kbps, b.pcie_tx_kbps));
    if (m.metricId == 21) v = mib(mean(a.pcie_rx_kbps, b.pcie_rx_kbps));
  }
  m.nvmlReturn = v ? k_success : k_not_supported;
  if (v) m.value = *v;
}

nvmlReturn_t codec_present(const DeviceContext& c) {
  return c.gpu.client.encoder_util ? k_success : k_not_supported;
}

}  // namespace
}  // namespace gd::sim

using namespace gd::sim;
using namespace gd::sim::exports;
using namespace gd::nvml;

// ---- sample buffers --------------------------------------------------------------------------

// The last 20 s at one sample per 167 ms, each the reading now (the scenario
// gives no history); timestamps on a fixed grid, so a client polling with its
// last timestamp gets only the samples after it, and NOT_FOUND when none is newer.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetSamples(nvmlDevice_t device, int type, unsigned long long last_seen_us,
                                                int* value_type, unsigned* count, nvmlSample_t* samples) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    nvmlReturn_t rc;
    auto reading = sampled_reading(c, type, rc);
    if (rc != k_success) return rc;
    if (!count || !value_type || (samples && *count == 0)) return k_invalid_argument;
    if (mig_on(c) && type >= 1 && type <= 4) return k_not_supported;  // nvml.h: not on MIG-enabled GPUs
    if (!reading) return k_not_supported;
    long long newest = now_us() / k_sample_period_us * k_sample_period_us;
    long long oldest = newest - (k_buffer_samples - 1) * k_sample_period_us;
    long long first = std::max<long long>(oldest, static_cast<long long>(last_seen_us) / k_sample_period_us *
                                                          k_sample_period_us + k_sample_period_us);
    unsigned available = first > newest ? 0 : static_cast<unsigned>((newest - first) / k_sample_period_us + 1);
    if (available == 0) return k_not_found;
    *value_type = k_value_type_uint;
    if (!samples) {
      *count = available;
      return k_success;
    }
    unsigned n = std::min(*count, available);
    long long t = newest - static_cast<long long>(n - 1) * k_sample_period_us;  // the latest n, oldest first
    for (unsigned i = 0; i < n; ++i, t += k_sample_period_us) {
      samples[i] = nvmlSample_t{};
      samples[i].timeStamp = static_cast<unsigned long long>(t);
      samples[i].sampleValue.uiVal = *reading;
    }
    *count = n;
    return k_success;
  });
}

// ---- clock violations --------------------------------------------------------------------------

// Time below the requested clocks for each limiter: a limiter whose reason bit
// the scenario has set now counts from this process's first question (the
// scenario keeps no history); one that is not set has never held.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetViolationStatus(nvmlDevice_t device, int policy, nvmlViolationTime_t* time) {
  long long since = first_asked_us();
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    auto bits = policy_reasons(policy);
    if (!bits || !time) return k_invalid_argument;
    if (!c.gpu.clock_event_reasons) return k_not_supported;
    long long now = now_us();
    time->referenceTime = static_cast<unsigned long long>(now);
    time->violationTime = (*c.gpu.clock_event_reasons & *bits) ? static_cast<unsigned long long>(now - since) * 1000 : 0;
    return k_success;
  });
}

// ---- thermal sensor, clock monitors, adaptive clocking, dynamic P-states -----------------------

// One sensor, the GPU's internal one (NVML_THERMAL_CONTROLLER_GPU_INTERNAL,
// target GPU): its range is 0 °C to the shutdown threshold. Sensor 0 or
// NVML_THERMAL_TARGET_ALL (15); another index: INVALID_ARGUMENT.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetThermalSettings(nvmlDevice_t device, unsigned sensor,
                                                        nvmlGpuThermalSettings_t* settings) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!settings || (sensor != 0 && sensor != 15)) return k_invalid_argument;
    if (!c.gpu.temperature_c || !c.gpu.shutdown_temp_c) return k_not_supported;
    *settings = nvmlGpuThermalSettings_t{};
    settings->count = 1;
    settings->sensor[0] = {1, 0, static_cast<int>(*c.gpu.shutdown_temp_c), static_cast<int>(*c.gpu.temperature_c), 1};
    return k_success;
  });
}

// Ampere and later, root only: no clock domain has faulted on a simulated GPU.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetClkMonStatus(nvmlDevice_t device, nvmlClkMonStatus_t* status) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!status) return k_invalid_argument;
    if (!at_least_arch(c, k_arch_ampere)) return k_not_supported;
    if (::geteuid() != 0) return k_no_permission;
    *status = nvmlClkMonStatus_t{};
    return k_success;
  });
}

// Hopper clocks adaptively (NVML_ADAPTIVE_CLOCKING_INFO_STATUS_ENABLED); earlier GPUs: NOT_SUPPORTED.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetAdaptiveClockInfoStatus(nvmlDevice_t device, unsigned* status) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!status) return k_invalid_argument;
    if (!at_least_arch(c, k_arch_hopper)) return k_not_supported;
    *status = 1;
    return k_success;
  });
}

// The utilisation domains: GPU (the GPU utilisation), FB (memory), VID (the
// busier of encoder and decoder); BUS is not modelled (not present). The
// P-state thresholds are the driver's tuning, not in a scenario: 0.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetDynamicPstatesInfo(nvmlDevice_t device, nvmlGpuDynamicPstatesInfo_t* info) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!info) return k_invalid_argument;
    if (!c.gpu.utilization_gpu) return k_not_supported;
    *info = nvmlGpuDynamicPstatesInfo_t{};
    info->utilization[0] = {1, *c.gpu.utilization_gpu, 0, 0};
    info->utilization[1] = {1, c.gpu.utilization_memory, 0, 0};
    const ClientFacts& f = c.gpu.client;
    if (f.encoder_util || f.decoder_util)
      info->utilization[2] = {1, std::max(f.encoder_util.value_or(0), f.decoder_util.value_or(0)), 0, 0};
    return k_success;
  });
}

// ---- located ECC counters, row-remapper histogram ----------------------------------------------

namespace {
// The scenario's counters are device-memory (DRAM) errors: every other
// location reads 0. Needs ECC on. NOT_SUPPORTED when the scenario lacks the counter.
nvmlReturn_t located_ecc(const DeviceContext& c, int error_type, int counter_type, int location,
                         unsigned long long* count) {
  bool valid_error = error_type == k_memory_error_corrected || error_type == k_memory_error_uncorrected;
  bool valid_counter = counter_type == k_ecc_counter_volatile || counter_type == k_ecc_counter_aggregate;
  if (!valid_error || !valid_counter || location < 0 || location > 7 || !count) return k_invalid_argument;
  if (!c.gpu.ecc_mode.value_or(false)) return k_not_supported;
  auto total = ecc_count(c, error_type, counter_type);
  if (!total) return k_not_supported;
  *count = location == 2 ? *total : 0;  // NVML_MEMORY_LOCATION_DRAM / DEVICE_MEMORY
  return k_success;
}
}  // namespace

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryErrorCounter(nvmlDevice_t device, int error_type, int counter_type,
                                                           int location, unsigned long long* count) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return located_ecc(c, error_type, counter_type, location, count);
  });
}

// Deprecated: L1, L2, device memory, register file.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetDetailedEccErrors(nvmlDevice_t device, int error_type, int counter_type,
                                                          nvmlEccErrorCounts_t* counts) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!counts) return k_invalid_argument;
    unsigned long long dram = 0;
    if (auto rc = located_ecc(c, error_type, counter_type, 2, &dram); rc != k_success) return rc;
    *counts = nvmlEccErrorCounts_t{0, 0, dram, 0};
    return k_success;
  });
}

// Banks by the remap rows they have left: every remapped row (correctable or
// not) used one row of its own bank ("high"), a remap failure left one bank
// with none; the rest have all ("max"). Needs the scenario's `remap_banks`.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetRowRemapperHistogram(nvmlDevice_t device,
                                                             nvmlRowRemapperHistogramValues_t* values) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!values) return k_invalid_argument;
    const auto& rows = c.gpu.remapped_rows;
    auto banks = c.gpu.client.remap_banks;
    if (!rows || !banks) return k_not_supported;
    unsigned none = rows->failure ? 1 : 0;
    unsigned high = std::min(*banks - none, rows->correctable + rows->uncorrectable);
    *values = nvmlRowRemapperHistogramValues_t{*banks - none - high, high, 0, 0, none};
    return k_success;
  });
}

// ---- GPU performance monitoring (Hopper and later) ----------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlGpmQueryDeviceSupport(nvmlDevice_t device, nvmlGpmSupport_t* support) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!support) return k_invalid_argument;
    if (support->version != 1) return k_argument_version_mismatch;  // NVML_GPM_SUPPORT_VERSION
    support->isSupportedDevice = at_least_arch(c, k_arch_hopper) ? 1 : 0;
    return k_success;
  });
}

// Sample buffers: plain memory, needing no init (like the real library's);
// faults apply as to every call.
GD_SIM_EXPORT nvmlReturn_t nvmlGpmSampleAlloc(nvmlGpmSample_t* sample) {
  return library_query(__func__, [&](const Scenario&) -> nvmlReturn_t {
    if (!sample) return k_invalid_argument;
    std::lock_guard lock(g_gpm_mutex);
    *sample = *g_gpm_samples.insert(new nvmlGpmSample_st{}).first;
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlGpmSampleFree(nvmlGpmSample_t sample) {
  return library_query(__func__, [&](const Scenario&) -> nvmlReturn_t {
    std::lock_guard lock(g_gpm_mutex);
    if (!known_sample(sample)) return k_invalid_argument;
    g_gpm_samples.erase(sample);
    delete sample;
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlGpmSampleGet(nvmlDevice_t device, nvmlGpmSample_t sample) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!at_least_arch(c, k_arch_hopper)) return k_not_supported;
    return take_sample(c, sample, false);
  });
}

// A GPU instance's sample: MIG on and `gpu_instance_id` one of the scenario's
// MIG devices; per-instance metrics are not in a scenario (NOT_SUPPORTED each).
GD_SIM_EXPORT nvmlReturn_t nvmlGpmMigSampleGet(nvmlDevice_t device, unsigned gpu_instance_id, nvmlGpmSample_t sample) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!at_least_arch(c, k_arch_hopper) || !mig_on(c)) return k_not_supported;
    const auto& migs = c.gpu.client.mig_devices;
    if (std::none_of(migs.begin(), migs.end(), [&](const MigDevice& m) { return m.gpu_instance_id == gpu_instance_id; }))
      return k_not_found;
    return take_sample(c, sample, true);
  });
}

// Metrics between two samples of one GPU, the second taken after the first.
GD_SIM_EXPORT nvmlReturn_t nvmlGpmMetricsGet(nvmlGpmMetricsGet_t* get) {
  return system_query(__func__, [&](const Scenario&) -> nvmlReturn_t {
    if (!get) return k_invalid_argument;
    if (get->version != 1) return k_argument_version_mismatch;  // NVML_GPM_METRICS_GET_VERSION
    if (get->numMetrics > 98) return k_invalid_argument;
    std::lock_guard lock(g_gpm_mutex);
    const nvmlGpmSample_st* a = known_sample(get->sample1);
    const nvmlGpmSample_st* b = known_sample(get->sample2);
    if (!a || !b || !a->filled || !b->filled || a->gpu != b->gpu || b->time_us < a->time_us) return k_invalid_argument;
    for (unsigned i = 0; i < get->numMetrics; ++i) compute_metric(get->metrics[i], *a, *b);
    return k_success;
  });
}

// ---- encoder capacity and statistics, frame buffer capture -----------------------------------------

// The share of the encoder not in use (H264 or HEVC); no encoder reading: NOT_SUPPORTED.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetEncoderCapacity(nvmlDevice_t device, int type, unsigned* capacity) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!capacity || (type != 0 && type != 1)) return k_invalid_argument;
    if (auto rc = codec_present(c); rc != k_success) return rc;
    *capacity = 100 - std::min(100u, *c.gpu.client.encoder_util);
    return k_success;
  });
}

// No encoder session is modelled (nvmlDeviceGetEncoderSessions lists none): zeros.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetEncoderStats(nvmlDevice_t device, unsigned* sessions, unsigned* fps,
                                                     unsigned* latency_us) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!sessions || !fps || !latency_us) return k_invalid_argument;
    if (auto rc = codec_present(c); rc != k_success) return rc;
    *sessions = *fps = *latency_us = 0;
    return k_success;
  });
}

// No frame buffer capture session on a headless datacenter GPU.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetFBCStats(nvmlDevice_t device, nvmlFBCStats_t* stats) {
  return device_query(__func__, device, [&](const DeviceContext&) -> nvmlReturn_t {
    if (!stats) return k_invalid_argument;
    *stats = nvmlFBCStats_t{};
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetFBCSessions(nvmlDevice_t device, unsigned* count, void* sessions) {
  return device_query(__func__, device, [&](const DeviceContext&) {
    return fill_list(count, static_cast<char*>(sessions), 0, [](char&, std::size_t) {});
  });
}
