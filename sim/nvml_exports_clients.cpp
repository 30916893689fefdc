// The NVML functions real clients call beyond gpudoctor's own queries:
// pynvml, gpustat, nvtop and Slurm's gpu_nvml.so (docs/simulator.md, "For
// real clients"). Each answers as the real library documents (nvml.h): a
// null output is INVALID_ARGUMENT, a fact the scenario does not give is
// NOT_SUPPORTED, list queries report the size they need with
// INSUFFICIENT_SIZE. Not built into the legacy library (an old driver).

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nvml_export_helpers.hpp"

namespace gd::sim {
namespace {

using namespace gd::nvml;
using namespace gd::sim::exports;

constexpr unsigned long long k_value_not_available = ~0ull;  // NVML_VALUE_NOT_AVAILABLE as unsigned long long
constexpr unsigned k_no_instance = 0xFFFFFFFFu;              // gpuInstanceId / computeInstanceId without MIG
constexpr unsigned k_max_mig_devices = 7;                    // A100 / H100: seven 1g slices

template <class Info>
nvmlReturn_t running_processes(const char* symbol, nvmlDevice_t device, unsigned* count, Info* infos,
                               GpuProcess::Kind kind) {
  // A full GPU's handle lists every process, a MIG device handle the ones on it;
  // a process on a MIG device carries its instance ids.
  return mig_aware_query(symbol, device, [&](const DeviceContext& c) {
    std::vector<const GpuProcess*> procs;
    for (const auto& p : c.gpu.client.processes)
      if (p.kind == kind && (!c.mig || p.mig_device == static_cast<unsigned>(c.mig_index))) procs.push_back(&p);
    return fill_list(count, infos, procs.size(), [&](Info& out, std::size_t i) {
      out = Info{};
      out.pid = procs[i]->pid;
      out.usedGpuMemory = procs[i]->used_bytes.value_or(k_value_not_available);
      if constexpr (sizeof(Info) > sizeof(nvmlProcessInfo_v1_t)) {
        const auto& migs = c.gpu.client.mig_devices;
        auto m = procs[i]->mig_device;
        out.gpuInstanceId = m && *m < migs.size() ? migs[*m].gpu_instance_id : k_no_instance;
        out.computeInstanceId = m && *m < migs.size() ? migs[*m].compute_instance_id : k_no_instance;
      }
    });
  });
}

// "0000:3b:00.0", "00000000:3B:00.0" or "3b:00.0" (domain 0), hex, any case.
std::optional<PciAddress> parse_pci_bus_id(std::string_view s) {
  auto part = [](std::string_view t, std::size_t max_digits) -> std::optional<unsigned> {
    if (t.empty() || t.size() > max_digits) return std::nullopt;
    unsigned n = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), n, 16);
    if (ec != std::errc() || ptr != t.data() + t.size()) return std::nullopt;
    return n;
  };
  std::size_t dot = s.rfind('.');
  if (dot == std::string_view::npos || !part(s.substr(dot + 1), 1)) return std::nullopt;
  std::string_view head = s.substr(0, dot);
  std::size_t c2 = head.rfind(':');
  if (c2 == std::string_view::npos) return std::nullopt;
  std::size_t c1 = head.rfind(':', c2 == 0 ? std::string_view::npos : c2 - 1);
  auto device = part(head.substr(c2 + 1), 2);
  auto bus = part(c1 == std::string_view::npos ? head.substr(0, c2) : head.substr(c1 + 1, c2 - c1 - 1), 2);
  auto domain = c1 == std::string_view::npos ? std::optional<unsigned>(0) : part(head.substr(0, c1), 8);
  if (!device || !bus || !domain || *device > 0x1f) return std::nullopt;
  return PciAddress{*domain, *bus, *device};
}

nvmlReturn_t handle_by_pci(const char* symbol, const char* bus_id, nvmlDevice_t* device) {
  auto want = bus_id ? parse_pci_bus_id(bus_id) : std::nullopt;  // unparsable: INVALID_ARGUMENT
  return guarded([&] {
    return Simulator::instance().handle_where(
        symbol,
        [&](const Gpu& g) {
          return want && g.pci.domain == want->domain && g.pci.bus == want->bus && g.pci.device == want->device;
        },
        want ? device : nullptr);
  });
}

// The application clocks now: those set through this simulator (the state
// file, shared by processes) or the scenario's.
struct AppClocks {
  std::optional<unsigned> graphics, mem;
};
AppClocks app_clocks(const DeviceContext& c) {
  AppClocks out{c.gpu.client.app_graphics_mhz, c.gpu.client.app_mem_mhz};
  auto set = setting(c, "applications_clocks");
  if (!set || !set->is_object()) return out;
  if (auto g = set->find("graphics"); g != set->end() && g->is_number_unsigned()) out.graphics = g->get<unsigned>();
  if (auto m = set->find("mem"); m != set->end() && m->is_number_unsigned()) out.mem = m->get<unsigned>();
  return out;
}

nvmlReturn_t store_app_clocks(const DeviceContext& c, std::optional<unsigned> mem, std::optional<unsigned> graphics) {
  return store_setting(c, "applications_clocks",
                       mem && graphics ? nlohmann::json{{"graphics", *graphics}, {"mem", *mem}} : nlohmann::json());
}

// NVML_RESTRICTED_API_SET_APPLICATION_CLOCKS: restricted to root by default
// (`nvidia-smi -acp UNRESTRICTED` lifts it); kept in the state file.
bool app_clocks_restricted(const DeviceContext& c) {
  return setting_or<bool>(c, "app_clocks_restricted", std::optional<bool>(true)).value_or(true);
}

nvmlReturn_t pick_clock(nvmlClockType_t type, std::optional<unsigned> graphics, std::optional<unsigned> mem,
                        unsigned* mhz) {
  if (!mhz) return k_invalid_argument;
  switch (type) {
    case k_clock_graphics:
    case k_clock_sm:  // the SM application clock follows the graphics one
      return put(mhz, graphics);
    case k_clock_mem:
      return put(mhz, mem);
    case 3:
      return k_not_supported;  // NVML_CLOCK_VIDEO: not modelled
    default:
      return k_invalid_argument;
  }
}

nvmlReturn_t current_clock(const DeviceContext& c, nvmlClockType_t type, unsigned* mhz) {
  const ClocksMhz& now = c.gpu.clocks_mhz;
  return pick_clock(type, type == k_clock_sm ? now.sm : now.graphics, now.mem, mhz);
}

// Sets the bits of `cpus` (or one bit) in a caller's array of `words` unsigned longs.
nvmlReturn_t fill_bitmask(unsigned words, unsigned long* set, const std::vector<unsigned>& bits) {
  if (words == 0 || !set) return k_invalid_argument;
  std::fill(set, set + words, 0ul);
  constexpr unsigned k_bits = sizeof(unsigned long) * 8;
  for (unsigned b : bits)
    if (b / k_bits < words) set[b / k_bits] |= 1ul << (b % k_bits);
  return k_success;
}

}  // namespace
}  // namespace gd::sim

using namespace gd::sim;
using namespace gd::sim::exports;
using namespace gd::nvml;

// ---- handles, identity ------------------------------------------------------------

// A MIG device handle: its index under the parent (nvml.h).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned* index) {
  return mig_aware_query(__func__, device, [&](const DeviceContext& c) {
    return put(index, std::optional<unsigned>(c.mig ? static_cast<unsigned>(c.mig_index) : c.enumeration));
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char* uuid, nvmlDevice_t* device) {
  return guarded([&] {
    return Simulator::instance().handle_where(
        __func__, [&](const Gpu& g) { return uuid && g.uuid == uuid; }, uuid ? device : nullptr);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetHandleBySerial(const char* serial, nvmlDevice_t* device) {
  return guarded([&] {
    return Simulator::instance().handle_where(
        __func__, [&](const Gpu& g) { return serial && g.serial && *g.serial == serial; }, serial ? device : nullptr);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char* bus_id, nvmlDevice_t* device) {
  return handle_by_pci(__func__, bus_id, device);
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char* bus_id, nvmlDevice_t* device) {
  return handle_by_pci(__func__, bus_id, device);
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t device, int* brand) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(brand, c.gpu.client.brand); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, unsigned* arch) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(arch, c.gpu.client.architecture); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int* major, int* minor) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!major || !minor) return k_invalid_argument;
    if (!c.gpu.client.cc_major) return k_not_supported;
    *major = *c.gpu.client.cc_major;
    *minor = *c.gpu.client.cc_minor;
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetVbiosVersion(nvmlDevice_t device, char* version, unsigned length) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put_string(version, length, c.gpu.client.vbios_version); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetBoardPartNumber(nvmlDevice_t device, char* part, unsigned length) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put_string(part, length, c.gpu.client.board_part_number);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetInforomImageVersion(nvmlDevice_t device, char* version, unsigned length) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put_string(version, length, c.gpu.client.inforom_image_version);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetBoardId(nvmlDevice_t device, unsigned* id) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(id, c.gpu.client.board_id); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, int* mode) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put(mode, setting_or<int>(c, "compute_mode", c.gpu.client.compute_mode));
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetNumGpuCores(nvmlDevice_t device, unsigned* cores) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(cores, c.gpu.client.num_gpu_cores); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t device, unsigned* width) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(width, c.gpu.client.memory_bus_width); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetBusType(nvmlDevice_t device, unsigned* type) {
  return device_query(__func__, device, [&](const DeviceContext&) {
    return put(type, std::optional<unsigned>(2));  // NVML_BUS_TYPE_PCIE: every modelled GPU sits on PCIe
  });
}

// ---- memory, load --------------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t* memory) {
  return mig_aware_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!memory) return k_invalid_argument;
    if (memory->version != k_memory_v2_version) return k_argument_version_mismatch;
    if (c.mig) {
      memory->total = c.mig->memory_total_bytes;
      memory->reserved = 0;
      memory->used = c.mig->memory_used_bytes;
      memory->free = memory->total - memory->used;
      return k_success;
    }
    if (!c.gpu.memory_total_bytes) return k_not_supported;
    std::uint64_t reserved = c.gpu.client.memory_reserved_bytes.value_or(0);
    memory->total = *c.gpu.memory_total_bytes;
    memory->reserved = reserved;
    memory->used = c.gpu.memory_used_bytes + reserved;  // "used" includes "reserved" (nvml.h)
    memory->free = memory->total - memory->used;
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetBAR1MemoryInfo(nvmlDevice_t device, nvmlBAR1Memory_t* bar1) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!bar1) return k_invalid_argument;
    if (!c.gpu.client.bar1_total_bytes) return k_not_supported;
    bar1->bar1Total = *c.gpu.client.bar1_total_bytes;
    bar1->bar1Used = std::min<unsigned long long>(2u << 20, bar1->bar1Total);  // the driver's own mappings
    bar1->bar1Free = bar1->bar1Total - bar1->bar1Used;
    return k_success;
  });
}

// One export per record version and kind of process: the plain name fills v1, _v2/_v3 the 24-byte record.
#define GD_RUNNING_PROCESSES(name, info, kind)                                          \
  GD_SIM_EXPORT nvmlReturn_t name(nvmlDevice_t device, unsigned* count, info* infos) { \
    return running_processes(#name, device, count, infos, GpuProcess::Kind::kind);     \
  }
GD_RUNNING_PROCESSES(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t, compute)
GD_RUNNING_PROCESSES(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_v2_t, compute)
GD_RUNNING_PROCESSES(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t, compute)
GD_RUNNING_PROCESSES(nvmlDeviceGetGraphicsRunningProcesses, nvmlProcessInfo_v1_t, graphics)
GD_RUNNING_PROCESSES(nvmlDeviceGetGraphicsRunningProcesses_v2, nvmlProcessInfo_v2_t, graphics)
GD_RUNNING_PROCESSES(nvmlDeviceGetGraphicsRunningProcesses_v3, nvmlProcessInfo_t, graphics)
GD_RUNNING_PROCESSES(nvmlDeviceGetMPSComputeRunningProcesses, nvmlProcessInfo_v1_t, mps)
GD_RUNNING_PROCESSES(nvmlDeviceGetMPSComputeRunningProcesses_v2, nvmlProcessInfo_v2_t, mps)
GD_RUNNING_PROCESSES(nvmlDeviceGetMPSComputeRunningProcesses_v3, nvmlProcessInfo_t, mps)

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
                                                           nvmlProcessUtilizationSample_t* samples, unsigned* count,
                                                           unsigned long long last_seen_us) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!count) return k_invalid_argument;
    std::vector<const GpuProcess*> busy;
    for (const auto& p : c.gpu.client.processes)
      if (p.sm_util || p.mem_util) busy.push_back(&p);
    long long stamp = now_us();
    if (busy.empty() || static_cast<unsigned long long>(stamp) <= last_seen_us) return k_not_found;
    if (!samples || *count < busy.size()) {
      *count = static_cast<unsigned>(busy.size());
      return k_insufficient_size;
    }
    for (std::size_t i = 0; i < busy.size(); ++i)
      samples[i] = {busy[i]->pid, static_cast<unsigned long long>(stamp), busy[i]->sm_util.value_or(0),
                    busy[i]->mem_util.value_or(0), 0, 0};
    *count = static_cast<unsigned>(busy.size());
    return k_success;
  });
}

// Encoder or decoder utilisation (percent) and the sampling period.
static nvmlReturn_t codec_utilization(const char* symbol, nvmlDevice_t device, unsigned* util, unsigned* sampling_us,
                                      std::optional<unsigned> ClientFacts::*reading) {
  return device_query(symbol, device, [&](const DeviceContext& c) {
    if (!util || !sampling_us) return k_invalid_argument;
    const auto& value = c.gpu.client.*reading;
    if (!value) return k_not_supported;
    *util = *value;
    *sampling_us = c.gpu.client.codec_sampling_us;
    return k_success;
  });
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned* util,
                                                           unsigned* sampling_us) {
  return codec_utilization(__func__, device, util, sampling_us, &ClientFacts::encoder_util);
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned* util,
                                                           unsigned* sampling_us) {
  return codec_utilization(__func__, device, util, sampling_us, &ClientFacts::decoder_util);
}

// ---- PCIe ------------------------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t device, int counter, unsigned* kbps) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (counter == k_pcie_util_tx_bytes) return put(kbps, c.gpu.client.pcie_tx_kbps);
    if (counter == k_pcie_util_rx_bytes) return put(kbps, c.gpu.client.pcie_rx_kbps);
    return k_invalid_argument;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPcieReplayCounter(nvmlDevice_t device, unsigned* value) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(value, c.gpu.client.pcie_replay_counter); });
}

// ---- clocks, power ---------------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetApplicationsClock(nvmlDevice_t device, nvmlClockType_t type, unsigned* mhz) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    AppClocks now = app_clocks(c);
    return pick_clock(type, now.graphics, now.mem, mhz);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(nvmlDevice_t device, nvmlClockType_t type,
                                                                 unsigned* mhz) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return pick_clock(type, c.gpu.client.default_app_graphics_mhz, c.gpu.client.default_app_mem_mhz, mhz);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMaxCustomerBoostClock(nvmlDevice_t device, nvmlClockType_t type,
                                                              unsigned* mhz) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    const ClocksMhz& max = c.gpu.max_clocks_mhz;
    return pick_clock(type, type == k_clock_sm ? max.sm : max.graphics, max.mem, mhz);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetClock(nvmlDevice_t device, nvmlClockType_t type, int clock_id,
                                              unsigned* mhz) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    const ClocksMhz& max = c.gpu.max_clocks_mhz;
    switch (clock_id) {
      case k_clock_id_current:
        return current_clock(c, type, mhz);
      case k_clock_id_app_clock_target: {
        AppClocks now = app_clocks(c);
        return pick_clock(type, now.graphics, now.mem, mhz);
      }
      case k_clock_id_app_clock_default:
        return pick_clock(type, c.gpu.client.default_app_graphics_mhz, c.gpu.client.default_app_mem_mhz, mhz);
      case k_clock_id_customer_boost_max:
        return pick_clock(type, type == k_clock_sm ? max.sm : max.graphics, max.mem, mhz);
      default:
        return k_invalid_argument;
    }
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetSupportedMemoryClocks(nvmlDevice_t device, unsigned* count, unsigned* mhz) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    const auto& list = c.gpu.client.supported_mem_mhz;
    if (list.empty()) return count ? k_not_supported : k_invalid_argument;
    return fill_list(count, mhz, list.size(), [&](unsigned& out, std::size_t i) { out = list[i]; });
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetSupportedGraphicsClocks(nvmlDevice_t device, unsigned mem_mhz,
                                                                unsigned* count, unsigned* mhz) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    const auto& mem = c.gpu.client.supported_mem_mhz;
    const auto& list = c.gpu.client.supported_graphics_mhz;
    if (!count) return k_invalid_argument;
    if (mem.empty() || list.empty()) return k_not_supported;
    if (std::find(mem.begin(), mem.end(), mem_mhz) == mem.end()) return k_not_found;
    return fill_list(count, mhz, list.size(), [&](unsigned& out, std::size_t i) { out = list[i]; });
  });
}

// Needs root, as on a real node without `nvidia-smi -acp UNRESTRICTED`; the
// pair must be one the GPU lists. Kept in the state file for every process.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetApplicationsClocks(nvmlDevice_t device, unsigned mem_mhz,
                                                           unsigned graphics_mhz) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    const auto& mem = c.gpu.client.supported_mem_mhz;
    const auto& gfx = c.gpu.client.supported_graphics_mhz;
    if (mem.empty() || gfx.empty()) return k_not_supported;
    if (::geteuid() != 0 && app_clocks_restricted(c)) return k_no_permission;
    if (std::find(mem.begin(), mem.end(), mem_mhz) == mem.end() ||
        std::find(gfx.begin(), gfx.end(), graphics_mhz) == gfx.end())
      return k_invalid_argument;
    return store_app_clocks(c, mem_mhz, graphics_mhz);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceResetApplicationsClocks(nvmlDevice_t device) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (c.gpu.client.supported_mem_mhz.empty()) return k_not_supported;
    if (::geteuid() != 0 && app_clocks_restricted(c)) return k_no_permission;
    return store_app_clocks(c, std::nullopt, std::nullopt);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned* limit) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(limit, power_limit_mw(c)); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device, unsigned* limit) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(limit, c.gpu.client.power_default_limit_mw); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimitConstraints(nvmlDevice_t device, unsigned* min_limit,
                                                                        unsigned* max_limit) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!min_limit || !max_limit) return k_invalid_argument;
    if (!c.gpu.client.power_min_limit_mw || !c.gpu.client.power_max_limit_mw) return k_not_supported;
    *min_limit = *c.gpu.client.power_min_limit_mw;
    *max_limit = *c.gpu.client.power_max_limit_mw;
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementMode(nvmlDevice_t device, nvmlEnableState_t* mode) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put(mode, enable_state(c.gpu.power_limit_mw ? std::optional<bool>(true) : std::nullopt));
  });
}

// ---- topology: CPU and memory affinity, NvLink ------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinity(nvmlDevice_t device, unsigned words, unsigned long* cpus) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (c.gpu.client.cpus.empty()) return words && cpus ? k_not_supported : k_invalid_argument;
    return fill_bitmask(words, cpus, c.gpu.client.cpus);
  });
}

// The scenario gives the CPUs of the GPU's NUMA node; a socket holds the same
// CPUs on the modelled nodes (one NUMA node per socket).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinityWithinScope(nvmlDevice_t device, unsigned words,
                                                               unsigned long* cpus, unsigned scope) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (scope != k_affinity_scope_node && scope != k_affinity_scope_socket) return k_invalid_argument;
    if (c.gpu.client.cpus.empty()) return words && cpus ? k_not_supported : k_invalid_argument;
    return fill_bitmask(words, cpus, c.gpu.client.cpus);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryAffinity(nvmlDevice_t device, unsigned words, unsigned long* nodes,
                                                       unsigned scope) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (scope != k_affinity_scope_node && scope != k_affinity_scope_socket) return k_invalid_argument;
    if (!c.gpu.client.numa_node) return words && nodes ? k_not_supported : k_invalid_argument;
    return fill_bitmask(words, nodes, {*c.gpu.client.numa_node});
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t device, unsigned link, nvmlEnableState_t* active) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    nvmlReturn_t rc;
    const NvLink* l = nvlink(c, link, rc);
    if (!l) return rc;
    return put(active, std::optional<int>(l->active ? 1 : 0));
  });
}

// Fills the remote end's PCI info, 32-byte busId included (Slurm matches it
// against nvmlDeviceGetPciInfo_v3's busId of its GPUs).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t device, unsigned link,
                                                               nvmlPciInfo_t* pci) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    nvmlReturn_t rc;
    const NvLink* l = nvlink(c, link, rc);
    if (!l) return rc;
    if (!pci) return k_invalid_argument;
    if (!l->remote) return k_not_supported;
    Gpu remote;
    remote.pci = *l->remote;
    remote.pci_device_id = l->remote_device_id;
    remote.pci_subsystem_id = 0;
    *pci = pci_info(remote);
    return k_success;
  });
}

// ---- MIG ----------------------------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned* current, unsigned* pending) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!current || !pending) return k_invalid_argument;
    if (!c.gpu.client.mig_mode) return k_not_supported;
    *current = mig_on(c) ? k_device_mig_enable : k_device_mig_disable;
    *pending = setting_or<bool>(c, "mig_mode_pending", c.gpu.client.mig_mode_pending).value_or(false)
                   ? k_device_mig_enable
                   : k_device_mig_disable;
    return k_success;
  });
}

// "Returns zero if MIG is not supported or enabled" (nvml.h).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMaxMigDeviceCount(nvmlDevice_t device, unsigned* count) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put(count, std::optional<unsigned>(mig_on(c) ? k_max_mig_devices : 0));
  });
}

// The scenario's MIG devices of a GPU in MIG mode, by index; NOT_FOUND past
// them (or with MIG off), INVALID_ARGUMENT past the 7 a GPU can have.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMigDeviceHandleByIndex(nvmlDevice_t device, unsigned index,
                                                               nvmlDevice_t* mig) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!mig || index >= k_max_mig_devices) return k_invalid_argument;
    if (!c.gpu.client.mig_mode) return k_not_supported;
    // MIG turned on by nvmlDeviceSetMigMode has no instances yet; turned off, none are left.
    bool scenario_on = *c.gpu.client.mig_mode;
    if (!mig_on(c) || !scenario_on || index >= c.gpu.client.mig_devices.size()) return k_not_found;
    *mig = Simulator::instance().mig_handle(c, index);
    return k_success;
  });
}

// Only a MIG device handle has instance ids; a full GPU's handle is INVALID_ARGUMENT
// on a MIG-capable GPU, NOT_SUPPORTED on one without MIG.
static nvmlReturn_t instance_id(const char* symbol, nvmlDevice_t device, unsigned* id, bool compute) {
  return mig_aware_query(symbol, device, [&](const DeviceContext& c) {
    if (!id) return k_invalid_argument;
    if (c.mig) {
      *id = compute ? c.mig->compute_instance_id : c.mig->gpu_instance_id;
      return k_success;
    }
    return c.gpu.client.mig_mode ? k_invalid_argument : k_not_supported;
  });
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetGpuInstanceId(nvmlDevice_t device, unsigned* id) {
  return instance_id(__func__, device, id, false);
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetComputeInstanceId(nvmlDevice_t device, unsigned* id) {
  return instance_id(__func__, device, id, true);
}

// "This API currently only supports MIG device handles" (nvml.h).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetAttributes_v2(nvmlDevice_t device, nvmlDeviceAttributes_t* attributes) {
  return mig_aware_query(__func__, device, [&](const DeviceContext& c) {
    if (!attributes) return k_invalid_argument;
    if (!c.mig) return k_not_supported;
    *attributes = nvmlDeviceAttributes_t{};
    attributes->multiprocessorCount = c.mig->multiprocessor_count;
    attributes->gpuInstanceSliceCount = c.mig->slices;
    attributes->computeInstanceSliceCount = c.mig->slices;
    attributes->memorySizeMB = c.mig->memory_total_bytes >> 20;
    return k_success;
  });
}

// ---- inforom, display, ECC defaults, reasons, PCIe speeds, fans -------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetInforomVersion(nvmlDevice_t device, int object, char* version,
                                                       unsigned length) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (object < 0 || object > 2) return k_invalid_argument;  // NVML_INFOROM_OEM, _ECC, _POWER
    return put_string(version, length, c.gpu.client.inforom_versions[object]);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetInforomConfigurationChecksum(nvmlDevice_t device, unsigned* checksum) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(checksum, c.gpu.client.inforom_checksum); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceValidateInforom(nvmlDevice_t device) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!c.gpu.client.inforom_image_version) return k_not_supported;
    return c.gpu.client.inforom_corrupted ? 14 /* NVML_ERROR_CORRUPTED_INFOROM */ : k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetDisplayMode(nvmlDevice_t device, nvmlEnableState_t* mode) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(mode, enable_state(c.gpu.client.display)); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetDisplayActive(nvmlDevice_t device, nvmlEnableState_t* active) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(active, enable_state(c.gpu.client.display)); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetVirtualizationMode(nvmlDevice_t device, int* mode) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(mode, c.gpu.client.virtualization_mode); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetDefaultEccMode(nvmlDevice_t device, nvmlEnableState_t* mode) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put(mode, enable_state(c.gpu.client.ecc_default ? c.gpu.client.ecc_default : c.gpu.ecc_mode));
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetSupportedClocksThrottleReasons(nvmlDevice_t device,
                                                                      unsigned long long* reasons) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(reasons, c.gpu.client.supported_event_reasons); });
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetSupportedClocksEventReasons(nvmlDevice_t device, unsigned long long* reasons) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(reasons, c.gpu.client.supported_event_reasons); });
}

// Deprecated alias of the performance state (nvml.h).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPowerState(nvmlDevice_t device, nvmlPstates_t* pstate) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(pstate, c.gpu.pstate); });
}

// NVML_PCIE_LINK_MAX_SPEED_*: 1 = 2500 MBPS per lane (gen 1) ... 6 = 64000 (gen 6).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPcieLinkMaxSpeed(nvmlDevice_t device, unsigned* speed) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    auto gen = c.gpu.pcie.max_gen;
    return put(speed, gen && *gen >= 1 && *gen <= 6 ? gen : std::nullopt);
  });
}

// The current link speed in MBPS per lane: 2500, 5000, 8000, 16000, 32000, 64000.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPcieSpeed(nvmlDevice_t device, unsigned* mbps) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    constexpr unsigned k_mbps[] = {2500, 5000, 8000, 16000, 32000, 64000};
    auto gen = c.gpu.pcie.gen;
    return put(mbps, gen && *gen >= 1 && *gen <= 6 ? std::optional<unsigned>(k_mbps[*gen - 1]) : std::nullopt);
  });
}

// Fan `fan` (one fan modelled, index 0): its speed; the target speed is what
// nvmlDeviceSetFanSpeed_v2 set (state file under `target_key`), else the speed.
static nvmlReturn_t fan_speed(const char* symbol, nvmlDevice_t device, unsigned fan, unsigned* speed,
                              const char* target_key = nullptr) {
  return device_query(symbol, device, [&](const DeviceContext& c) {
    if (!c.gpu.fan_percent) return speed ? k_not_supported : k_invalid_argument;
    if (fan != 0) return k_invalid_argument;
    return put(speed, target_key ? setting_or<unsigned>(c, target_key, c.gpu.fan_percent) : c.gpu.fan_percent);
  });
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed_v2(nvmlDevice_t device, unsigned fan, unsigned* speed) {
  return fan_speed(__func__, device, fan, speed);
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetTargetFanSpeed(nvmlDevice_t device, unsigned fan, unsigned* speed) {
  return fan_speed(__func__, device, fan, speed, "fan_target_percent");
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetEncoderSessions(nvmlDevice_t device, unsigned* count, void* sessions) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!c.gpu.client.encoder_util) return count ? k_not_supported : k_invalid_argument;
    return fill_list(count, static_cast<char*>(sessions), 0, [](char&, std::size_t) {});  // no session modelled
  });
}

// ---- retired pages, accounting, board ----------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetRetiredPages(nvmlDevice_t device, int cause, unsigned* count,
                                                     unsigned long long* addresses) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (cause < 0 || cause > 1) return k_invalid_argument;
    if (!c.gpu.client.retired_pages) return count ? k_not_supported : k_invalid_argument;
    const auto& list = (*c.gpu.client.retired_pages)[cause];
    return fill_list(count, addresses, list.size(), [&](unsigned long long& out, std::size_t i) { out = list[i]; });
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetAccountingMode(nvmlDevice_t device, nvmlEnableState_t* mode) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put(mode, enable_state(setting_or<bool>(c, "accounting_mode", c.gpu.client.accounting_mode)));
  });
}

// The driver's circular buffer of accounted processes holds 4000 entries.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetAccountingBufferSize(nvmlDevice_t device, unsigned* size) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put(size, c.gpu.client.accounting_mode ? std::optional<unsigned>(4000) : std::nullopt);
  });
}

// No process has ended under accounting in a simulated node.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetAccountingPids(nvmlDevice_t device, unsigned* count, unsigned* pids) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!c.gpu.client.accounting_mode) return count ? k_not_supported : k_invalid_argument;
    return fill_list(count, pids, 0, [](unsigned&, std::size_t) {});
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetAccountingStats(nvmlDevice_t device, unsigned /*pid*/, void* stats) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!stats) return k_invalid_argument;
    return c.gpu.client.accounting_mode ? k_not_found : k_not_supported;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMultiGpuBoard(nvmlDevice_t device, unsigned* multi) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put(multi, c.gpu.client.multi_gpu_board ? std::optional<unsigned>(*c.gpu.client.multi_gpu_board ? 1 : 0)
                                                    : std::nullopt);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetIrqNum(nvmlDevice_t device, unsigned* irq) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(irq, c.gpu.client.irq); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned* is_mig) {
  return mig_aware_query(__func__, device, [&](const DeviceContext& c) {
    return put(is_mig, std::optional<unsigned>(c.mig ? 1 : 0));
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetDeviceHandleFromMigDeviceHandle(nvmlDevice_t mig, nvmlDevice_t* device) {
  return mig_aware_query(__func__, mig, [&](const DeviceContext& c) {
    if (!c.mig || !device) return k_invalid_argument;  // a full GPU's handle is not a MIG device handle
    *device = Simulator::instance().gpu_handle(c);
    return k_success;
  });
}

// ---- NvLink details ------------------------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkVersion(nvmlDevice_t device, unsigned link, unsigned* version) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    nvmlReturn_t rc;
    if (!nvlink(c, link, rc)) return rc;
    return put(version, c.gpu.client.nvlink_version);
  });
}

// NVML_NVLINK_DEVICE_TYPE_GPU (0) when the far end is a GPU of this node,
// SWITCH (2) for an NVSwitch (PCI device 0x22A3 / 0x1AF1), else UNKNOWN (0xFF).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemoteDeviceType(nvmlDevice_t device, unsigned link, int* type) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    nvmlReturn_t rc;
    const NvLink* l = nvlink(c, link, rc);
    if (!l) return rc;
    if (!type) return k_invalid_argument;
    bool gpu = l->remote && std::any_of(c.scenario.gpus.begin(), c.scenario.gpus.end(), [&](const Gpu& g) {
      return g.pci.domain == l->remote->domain && g.pci.bus == l->remote->bus && g.pci.device == l->remote->device;
    });
    unsigned id = l->remote_device_id >> 16;
    *type = gpu ? 0 : (id == 0x22A3 || id == 0x1AF1) ? 2 : 0xFF;
    return k_success;
  });
}

// The data-link error counters (replay, recovery, CRC flit, CRC data, ECC data): 0 on a healthy link.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkErrorCounter(nvmlDevice_t device, unsigned link, int counter,
                                                           unsigned long long* value) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    nvmlReturn_t rc;
    if (!nvlink(c, link, rc)) return rc;
    if (counter < 0 || counter > 4) return k_invalid_argument;
    return put(value, std::optional<unsigned long long>(0));
  });
}

// ---- processes by pid --------------------------------------------------------------------------------

// The name of a process on this host (/proc/PID/comm, as the real library
// reads it); NOT_FOUND when there is none.
GD_SIM_EXPORT nvmlReturn_t nvmlSystemGetProcessName(unsigned pid, char* name, unsigned length) {
  return system_query(__func__, [&](const Scenario&) -> nvmlReturn_t {
    if (!name || length == 0) return k_invalid_argument;
    std::string path = "/proc/" + std::to_string(pid) + "/comm";
    std::FILE* f = std::fopen(path.c_str(), "re");
    if (!f) return k_not_found;
    char buf[64] = {};
    std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    std::string comm(buf, n);
    while (!comm.empty() && comm.back() == '\n') comm.pop_back();
    return put_string(name, length, comm);
  });
}

// ---- settings: root only, kept in the state file for every process -------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetPowerManagementLimit(nvmlDevice_t device, unsigned limit_mw) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    const ClientFacts& f = c.gpu.client;
    if (!f.power_min_limit_mw || !f.power_max_limit_mw) return k_not_supported;
    if (::geteuid() != 0) return k_no_permission;
    if (limit_mw < *f.power_min_limit_mw || limit_mw > *f.power_max_limit_mw) return k_invalid_argument;
    return store_setting(c, "power_limit_mw", limit_mw);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetComputeMode(nvmlDevice_t device, int mode) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!c.gpu.client.compute_mode) return k_not_supported;
    if (mode < 0 || mode > 3 || mode == 1) return k_invalid_argument;  // 1: EXCLUSIVE_THREAD, no longer accepted
    if (::geteuid() != 0) return k_no_permission;
    return store_setting(c, "compute_mode", mode);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetAccountingMode(nvmlDevice_t device, nvmlEnableState_t mode) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!c.gpu.client.accounting_mode) return k_not_supported;
    if (mode != 0 && mode != 1) return k_invalid_argument;
    if (::geteuid() != 0) return k_no_permission;
    return store_setting(c, "accounting_mode", mode == 1);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceClearAccountingPids(nvmlDevice_t device) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!c.gpu.client.accounting_mode) return k_not_supported;
    return ::geteuid() == 0 ? k_success : k_no_permission;  // nothing is accounted in a simulated node
  });
}


// ---- board, fans, GSP, performance states --------------------------------------------------

// A single-GPU board has no bridge chip: bridgeCount 0 (the 128-entry table left as it is).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetBridgeChipInfo(nvmlDevice_t device, unsigned char* hierarchy) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!hierarchy) return k_invalid_argument;
    if (c.gpu.client.multi_gpu_board.value_or(false)) return k_not_supported;  // bridges are not modelled
    *hierarchy = 0;
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetNumFans(nvmlDevice_t device, unsigned* fans) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put(fans, c.gpu.fan_percent ? std::optional<unsigned>(1) : std::nullopt);
  });
}

// GSP firmware runs on Turing and later with the open (or GSP-enabled) module.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetGspFirmwareMode(nvmlDevice_t device, unsigned* enabled, unsigned* default_mode) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!enabled || !default_mode) return k_invalid_argument;
    if (!c.gpu.client.gsp_firmware) return k_not_supported;
    *enabled = *default_mode = *c.gpu.client.gsp_firmware ? 1 : 0;
    return k_success;
  });
}

// The firmware's version is the driver's (NVML_GSP_FIRMWARE_VERSION_BUF_SIZE 64).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetGspFirmwareVersion(nvmlDevice_t device, char* version) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!version) return k_invalid_argument;
    if (!c.gpu.client.gsp_firmware.value_or(false)) return k_not_supported;
    return put_string(version, 64, c.scenario.driver_version);
  });
}

// The one performance state modelled, then NVML_PSTATE_UNKNOWN (32) to fill
// the array; `size` is in bytes (nvml.h) and must hold NVML_MAX_GPU_PERF_PSTATES (16).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetSupportedPerformanceStates(nvmlDevice_t device, int* pstates, unsigned size) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!pstates) return k_invalid_argument;
    if (!c.gpu.pstate) return k_not_supported;
    std::size_t n = size / sizeof(int);
    if (n < 16) return k_insufficient_size;
    std::fill(pstates, pstates + n, 32);
    pstates[0] = *c.gpu.pstate;
    return k_success;
  });
}

// In the modelled state: graphics/SM from the lowest to the highest supported
// graphics clock, memory at its one clock.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMinMaxClockOfPState(nvmlDevice_t device, nvmlClockType_t type, int pstate,
                                                            unsigned* min_mhz, unsigned* max_mhz) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!min_mhz || !max_mhz) return k_invalid_argument;
    if (!c.gpu.pstate || pstate != *c.gpu.pstate) return k_not_supported;
    const auto& list = type == k_clock_mem ? c.gpu.client.supported_mem_mhz : c.gpu.client.supported_graphics_mhz;
    if (type != k_clock_graphics && type != k_clock_sm && type != k_clock_mem) return k_invalid_argument;
    if (list.empty()) return k_not_supported;
    *min_mhz = list.back();
    *max_mhz = list.front();
    return k_success;
  });
}

// As nvmlDeviceGetRetiredPages, with the time of each retirement: the
// scenario gives none, so 0 (unknown) for each listed page.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetRetiredPages_v2(nvmlDevice_t device, int cause, unsigned* count,
                                                        unsigned long long* addresses, unsigned long long* timestamps) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (cause < 0 || cause > 1) return k_invalid_argument;
    if (!c.gpu.client.retired_pages) return count ? k_not_supported : k_invalid_argument;
    const auto& list = (*c.gpu.client.retired_pages)[cause];
    if (!list.empty() && count && *count >= list.size() && !timestamps) return k_invalid_argument;
    return fill_list(count, addresses, list.size(), [&](unsigned long long& out, std::size_t i) {
      out = list[i];
      timestamps[i] = 0;
    });
  });
}

// ---- settings (root), kept in the state file -----------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetEccMode(nvmlDevice_t device, nvmlEnableState_t mode) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!c.gpu.ecc_mode) return k_not_supported;
    if (mode != 0 && mode != 1) return k_invalid_argument;
    if (::geteuid() != 0) return k_no_permission;
    return store_setting(c, "ecc_mode_pending", mode == 1);  // takes effect at the next reboot: the pending mode
  });
}

// Locked clocks: a range within what the GPU supports.
static nvmlReturn_t lock_clocks(const DeviceContext& c, const char* key, const std::vector<unsigned>& supported,
                                std::optional<std::pair<unsigned, unsigned>> range) {
  if (supported.empty()) return k_not_supported;
  if (::geteuid() != 0) return k_no_permission;
  if (range && (range->first > range->second || range->second > supported.front() || range->first < supported.back()))
    return k_invalid_argument;
  return store_setting(c, key, range ? nlohmann::json{range->first, range->second} : nlohmann::json());
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetGpuLockedClocks(nvmlDevice_t device, unsigned min_mhz, unsigned max_mhz) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return lock_clocks(c, "gpu_locked_clocks", c.gpu.client.supported_graphics_mhz, std::pair{min_mhz, max_mhz});
  });
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceResetGpuLockedClocks(nvmlDevice_t device) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return lock_clocks(c, "gpu_locked_clocks", c.gpu.client.supported_graphics_mhz, std::nullopt);
  });
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetMemoryLockedClocks(nvmlDevice_t device, unsigned min_mhz, unsigned max_mhz) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return lock_clocks(c, "memory_locked_clocks", c.gpu.client.supported_mem_mhz, std::pair{min_mhz, max_mhz});
  });
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceResetMemoryLockedClocks(nvmlDevice_t device) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return lock_clocks(c, "memory_locked_clocks", c.gpu.client.supported_mem_mhz, std::nullopt);
  });
}

// NVML_RESTRICTED_API_SET_APPLICATION_CLOCKS (0); SET_AUTO_BOOSTED_CLOCKS (1) has no auto boost here.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetAPIRestriction(nvmlDevice_t device, int api, nvmlEnableState_t* restricted) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!restricted || api < 0 || api > 1) return k_invalid_argument;
    if (api == 1 || c.gpu.client.supported_mem_mhz.empty()) return k_not_supported;
    *restricted = app_clocks_restricted(c) ? 1 : 0;
    return k_success;
  });
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetAPIRestriction(nvmlDevice_t device, int api, nvmlEnableState_t restricted) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (api < 0 || api > 1 || (restricted != 0 && restricted != 1)) return k_invalid_argument;
    if (api == 1 || c.gpu.client.supported_mem_mhz.empty()) return k_not_supported;
    if (::geteuid() != 0) return k_no_permission;
    return store_setting(c, "app_clocks_restricted", restricted == 1);
  });
}

// ---- CPU affinity of the calling thread ------------------------------------------------------------

// Binds the calling thread to the GPU's CPUs that exist on this host (sched_setaffinity, as the real library).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetCpuAffinity(nvmlDevice_t device) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (c.gpu.client.cpus.empty()) return k_not_supported;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned cpu : c.gpu.client.cpus)
      if (cpu < CPU_SETSIZE) CPU_SET(cpu, &set);
    return ::sched_setaffinity(0, sizeof set, &set) == 0 ? k_success : k_unknown;
  });
}

// Back to every CPU of this host.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceClearCpuAffinity(nvmlDevice_t device) {
  return device_query(__func__, device, [&](const DeviceContext&) {
    cpu_set_t set;
    CPU_ZERO(&set);
    long n = ::sysconf(_SC_NPROCESSORS_CONF);
    for (long cpu = 0; cpu < n && cpu < CPU_SETSIZE; ++cpu) CPU_SET(static_cast<int>(cpu), &set);
    return ::sched_setaffinity(0, sizeof set, &set) == 0 ? k_success : k_unknown;
  });
}


// ---- PCIe topology and peer-to-peer -------------------------------------------------------------
//
// From the scenario's layout: the same GPU is INTERNAL (0), GPUs naming the
// same `pcie_switch` SINGLE (10), on the same NUMA node NODE (40), else
// SYSTEM (50); without a NUMA node for either, the topology is not known
// (NOT_SUPPORTED). HOSTBRIDGE/MULTIPLE are not modelled.

namespace {

std::optional<int> topology_level(const Gpu& a, unsigned ia, const Gpu& b, unsigned ib) {
  if (ia == ib) return 0;
  if (a.client.pcie_switch && a.client.pcie_switch == b.client.pcie_switch) return 10;
  if (!a.client.numa_node || !b.client.numa_node) return std::nullopt;
  return *a.client.numa_node == *b.client.numa_node ? 40 : 50;
}

// Both GPUs reach each other over NvLink: a direct link, or links to the same NVSwitch.
bool nvlink_peers(const Gpu& a, const Gpu& b) {
  auto same = [](const PciAddress& x, const PciAddress& y) {
    return x.domain == y.domain && x.bus == y.bus && x.device == y.device;
  };
  for (const auto& la : a.client.nvlinks) {
    if (!la.active || !la.remote) continue;
    if (same(*la.remote, b.pci)) return true;
    for (const auto& lb : b.client.nvlinks)
      if (lb.active && lb.remote && same(*la.remote, *lb.remote)) return true;
  }
  return false;
}

// Fills the handles of `gpus` the way nvml.h's topology queries do: *count 0
// asks for the number; otherwise up to *count handles, and *count says how many.
nvmlReturn_t fill_handles(unsigned* count, nvmlDevice_t* out, const std::vector<unsigned>& gpus) {
  if (!count) return k_invalid_argument;
  if (*count == 0) {
    *count = static_cast<unsigned>(gpus.size());
    return k_success;
  }
  if (!out) return k_invalid_argument;
  unsigned n = std::min<unsigned>(*count, static_cast<unsigned>(gpus.size()));
  for (unsigned i = 0; i < n; ++i) out[i] = Simulator::instance().handle_at(gpus[i]);
  *count = n;
  return k_success;
}

}  // namespace

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t device1, nvmlDevice_t device2,
                                                               int* level) {
  return device_query(__func__, device1, [&](const DeviceContext& c) -> nvmlReturn_t {
    auto other = Simulator::instance().gpu_of(device2);
    if (!other || !level) return k_invalid_argument;
    if (c.scenario.lost[*other]) return k_gpu_is_lost;
    auto l = topology_level(c.gpu, c.index, c.scenario.gpus[*other], *other);
    if (!l) return k_not_supported;
    *level = *l;
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetTopologyNearestGpus(nvmlDevice_t device, int level, unsigned* count,
                                                            nvmlDevice_t* devices) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (level != 0 && level != 10 && level != 20 && level != 30 && level != 40 && level != 50)
      return k_invalid_argument;
    if (!c.gpu.client.numa_node) return k_not_supported;
    std::vector<unsigned> near;
    for (unsigned i = 0; i < c.scenario.gpus.size(); ++i) {
      if (i == c.index || c.scenario.lost[i]) continue;
      auto l = topology_level(c.gpu, c.index, c.scenario.gpus[i], i);
      if (l && *l <= level) near.push_back(i);
    }
    return fill_handles(count, devices, near);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlSystemGetTopologyGpuSet(unsigned cpu, unsigned* count, nvmlDevice_t* devices) {
  return system_query(__func__, [&](const Scenario& s) -> nvmlReturn_t {
    std::vector<unsigned> set;
    for (unsigned i = 0; i < s.gpus.size(); ++i) {
      const auto& cpus = s.gpus[i].client.cpus;
      if (!s.lost[i] && std::find(cpus.begin(), cpus.end(), cpu) != cpus.end()) set.push_back(i);
    }
    return fill_handles(count, devices, set);
  });
}

// NVML_P2P_CAPS_INDEX_READ/WRITE/NVLINK/ATOMICS/PROP. NvLink peers (direct or
// through one NVSwitch): every capability OK. Over PCIe: read/write OK within
// a NUMA node, IOH_TOPOLOGY_NOT_SUPPORTED (3) across sockets; NvLink and
// atomics NOT_SUPPORTED (5).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t device1, nvmlDevice_t device2, int index,
                                                  int* status) {
  return device_query(__func__, device1, [&](const DeviceContext& c) -> nvmlReturn_t {
    auto other = Simulator::instance().gpu_of(device2);
    if (!other || !status || index < 0 || index > 4) return k_invalid_argument;
    if (c.scenario.lost[*other]) return k_gpu_is_lost;
    const Gpu& peer = c.scenario.gpus[*other];
    if (nvlink_peers(c.gpu, peer)) {
      *status = 0;
      return k_success;
    }
    auto l = topology_level(c.gpu, c.index, peer, *other);
    if (!l) return k_not_supported;
    bool pcie_capability = index == 0 || index == 1 || index == 4;
    *status = !pcie_capability ? 5 : *l <= 40 ? 0 : 3;
    return k_success;
  });
}


// ---- MIG mode and ECC counters, settable (root) ------------------------------------------------

// Sets the pending mode and activates it with a GPU reset, which fails with
// IN_USE while processes run on the GPU (*activation then says so; the mode
// stays pending). Kept in the state file.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetMigMode(nvmlDevice_t device, unsigned mode, nvmlReturn_t* activation) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!c.gpu.client.mig_mode) return k_not_supported;
    if (!activation || (mode != k_device_mig_disable && mode != k_device_mig_enable)) return k_invalid_argument;
    if (::geteuid() != 0) return k_no_permission;
    if (auto rc = store_setting(c, "mig_mode_pending", mode == k_device_mig_enable); rc != k_success) return rc;
    if (!c.gpu.client.processes.empty()) {
      *activation = 19;  // NVML_ERROR_IN_USE: the reset needs an idle GPU
      return k_success;
    }
    *activation = store_setting(c, "mig_mode", mode == k_device_mig_enable);
    return k_success;
  });
}

// Volatile counters (0) or aggregate ones (1) read 0 afterwards.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceClearEccErrorCounts(nvmlDevice_t device, nvmlEccCounterType_t counter) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (counter != k_ecc_counter_volatile && counter != k_ecc_counter_aggregate) return k_invalid_argument;
    if (!c.gpu.ecc_mode.value_or(false)) return k_not_supported;
    if (::geteuid() != 0) return k_no_permission;
    return store_setting(c, counter == k_ecc_counter_volatile ? "ecc_volatile_cleared" : "ecc_aggregate_cleared", true);
  });
}
