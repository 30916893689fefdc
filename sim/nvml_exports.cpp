// The exported NVML C functions. Each one translates its arguments, asks the
// Simulator, and never lets an exception cross the C ABI.
//
// Built twice: normally, and with GD_SIM_LEGACY for an old driver that lacks
// the versioned (_v2, _v3) symbols and the newer queries.

#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "nvml_export_helpers.hpp"
#include "return_codes.hpp"
#include "state.hpp"

namespace gd::sim {
namespace {

using namespace gd::nvml;
using namespace gd::sim::exports;

// Fills what the real library's version of the call fills and nothing else:
// v1 skips pciSubSystemId, v1 and v2 never write the 32-byte busId (only
// _v3 does); busIdLegacy is always written.
nvmlReturn_t get_pci_info(const char* symbol, nvmlDevice_t device, nvmlPciInfo_t* pci, int version) {
  return device_query(symbol, device, [&](const DeviceContext& c) {
    if (!pci) return k_invalid_argument;
    nvmlPciInfo_t full = pci_info(c.gpu);
    std::memcpy(pci->busIdLegacy, full.busIdLegacy, sizeof pci->busIdLegacy);
    pci->domain = full.domain;
    pci->bus = full.bus;
    pci->device = full.device;
    pci->pciDeviceId = full.pciDeviceId;
    if (version >= 2) pci->pciSubSystemId = full.pciSubSystemId;
    if (version >= 3) std::memcpy(pci->busId, full.busId, sizeof pci->busId);
    return k_success;
  });
}

// Selects the clock of `type` from `clocks`; INVALID_ARGUMENT for an unknown type.
nvmlReturn_t get_clock(const ClocksMhz& clocks, nvmlClockType_t type, unsigned* mhz) {
  switch (type) {
    case k_clock_graphics:
      return put(mhz, clocks.graphics);
    case k_clock_sm:
      return put(mhz, clocks.sm);
    case k_clock_mem:
      return put(mhz, clocks.mem);
    case 3:
      return mhz ? k_not_supported : k_invalid_argument;  // NVML_CLOCK_VIDEO: not modelled
    default:
      return k_invalid_argument;
  }
}

// The persistence mode: the state file's value when it has one for this GPU.
nvmlReturn_t get_persistence(const DeviceContext& c, nvmlEnableState_t* mode) {
  if (!mode) return k_invalid_argument;
  if (!c.gpu.persistence_mode) return k_not_supported;
  StateFile file(c.scenario.state_file);
  Result<State> state = file.load();
  if (!state) {
    complain(file.path().string(), state.error().message);
    return k_unknown;
  }
  *mode = state->persistence(c.gpu.uuid).value_or(*c.gpu.persistence_mode) ? 1 : 0;
  return k_success;
}

nvmlReturn_t set_persistence(const DeviceContext& c, nvmlEnableState_t mode) {
  if (mode != 0 && mode != 1) return k_invalid_argument;
  if (!c.gpu.persistence_mode) return k_not_supported;
  StateFile file(c.scenario.state_file);
  Result<State> state = file.update([&](State& s) { s.set_persistence(c.gpu.uuid, mode == 1); });
  if (!state) {
    complain(file.path().string(), state.error().message);
    return k_unknown;
  }
  return k_success;
}

}  // namespace
}  // namespace gd::sim

using namespace gd::sim;
using namespace gd::sim::exports;
using namespace gd::nvml;

// ---- system ---------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlInit() { return init(__func__); }
#ifndef GD_SIM_LEGACY
GD_SIM_EXPORT nvmlReturn_t nvmlInit_v2() { return init(__func__); }
#endif
GD_SIM_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned /*flags*/) { return init(__func__); }

GD_SIM_EXPORT nvmlReturn_t nvmlShutdown() {
  return guarded([] { return Simulator::instance().shutdown("nvmlShutdown"); });
}

GD_SIM_EXPORT const char* nvmlErrorString(nvmlReturn_t result) { return error_string(result); }

GD_SIM_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned length) {
  return system_query(__func__, [&](const Scenario& s) { return put_string(version, length, s.driver_version); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char* version, unsigned length) {
  return library_query(__func__, [&](const Scenario& s) { return put_string(version, length, s.nvml_version); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* version) {
  return system_query(__func__, [&](const Scenario& s) { return put(version, s.cuda_driver_version); });
}
#ifndef GD_SIM_LEGACY
GD_SIM_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* version) {
  return system_query(__func__, [&](const Scenario& s) { return put(version, s.cuda_driver_version); });
}
#endif

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned* count) {
  return system_query(__func__,
                      [&](const Scenario& s) { return put(count, std::optional<std::size_t>(Simulator::visible_count(s))); });
}
#ifndef GD_SIM_LEGACY
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned* count) {
  return system_query(__func__,
                      [&](const Scenario& s) { return put(count, std::optional<std::size_t>(Simulator::visible_count(s))); });
}
#endif

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned index, nvmlDevice_t* device) {
  return handle_by_index(__func__, index, device);
}
#ifndef GD_SIM_LEGACY
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t* device) {
  return handle_by_index(__func__, index, device);
}
#endif

// ---- identity ---------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  return get_pci_info(__func__, device, pci, 1);
}
#ifndef GD_SIM_LEGACY
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  return get_pci_info(__func__, device, pci, 2);
}
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t* pci) {
  return get_pci_info(__func__, device, pci, 3);
}
#endif

// A MIG device handle: "<GPU name> MIG <profile>" and the MIG device's own UUID.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned length) {
  return mig_aware_query(__func__, device, [&](const DeviceContext& c) {
    return put_string(name, length, c.mig ? c.gpu.name + " MIG " + c.mig->profile : c.gpu.name);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char* uuid, unsigned length) {
  return mig_aware_query(__func__, device, [&](const DeviceContext& c) {
    return put_string(uuid, length, c.mig ? c.mig->uuid : c.gpu.uuid);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char* serial, unsigned length) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put_string(serial, length, c.gpu.serial); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned* minor) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(minor, c.gpu.minor); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, nvmlEnableState_t* mode) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return get_persistence(c, mode); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetPersistenceMode(nvmlDevice_t device, nvmlEnableState_t mode) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return set_persistence(c, mode); });
}

// ---- thermal, power ----------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensor,
                                                    unsigned* temp) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (sensor != 0) return k_invalid_argument;  // only NVML_TEMPERATURE_GPU exists
    return put(temp, c.gpu.temperature_c);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t device, nvmlTemperatureThresholds_t threshold,
                                                             unsigned* temp) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (threshold == k_temp_threshold_shutdown) return put(temp, c.gpu.shutdown_temp_c);
    if (threshold == k_temp_threshold_slowdown) return put(temp, c.gpu.slowdown_temp_c);
    return temp ? k_not_supported : k_invalid_argument;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned* power) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(power, c.gpu.power_mw); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned* limit) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(limit, power_limit_mw(c)); });
}

#ifndef GD_SIM_LEGACY
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long* energy) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(energy, c.gpu.energy_mj); });
}
#endif

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned* speed) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(speed, c.gpu.fan_percent); });
}

// ---- load, clocks --------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t* memory) {
  return mig_aware_query(__func__, device, [&](const DeviceContext& c) {
    if (!memory) return k_invalid_argument;
    if (c.mig) {  // the MIG device's own memory
      memory->total = c.mig->memory_total_bytes;
      memory->used = c.mig->memory_used_bytes;
      memory->free = memory->total - memory->used;
      return k_success;
    }
    if (!c.gpu.memory_total_bytes) return k_not_supported;
    memory->total = *c.gpu.memory_total_bytes;
    memory->used = c.gpu.memory_used_bytes;
    memory->free = memory->total - memory->used;
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t* utilization) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!utilization) return k_invalid_argument;
    if (!c.gpu.utilization_gpu) return k_not_supported;
    utilization->gpu = *c.gpu.utilization_gpu;
    utilization->memory = c.gpu.utilization_memory;
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned* clock) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return get_clock(c.gpu.clocks_mhz, type, clock); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type, unsigned* clock) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return get_clock(c.gpu.max_clocks_mhz, type, clock); });
}

#ifndef GD_SIM_LEGACY
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long* reasons) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(reasons, c.gpu.clock_event_reasons); });
}
#endif

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long* reasons) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return put(reasons, c.gpu.clock_event_reasons); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t* pstate) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(pstate, c.gpu.pstate); });
}

// ---- memory health -------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t* current,
                                                nvmlEnableState_t* pending) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!current || !pending) return k_invalid_argument;
    if (!c.gpu.ecc_mode) return k_not_supported;
    *current = *enable_state(c.gpu.ecc_mode);
    *pending = *enable_state(setting_or<bool>(c, "ecc_mode_pending", c.gpu.ecc_mode_pending));  // nvmlDeviceSetEccMode
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, nvmlMemoryErrorType_t error_type,
                                                       nvmlEccCounterType_t counter_type, unsigned long long* count) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    bool valid_error = error_type == k_memory_error_corrected || error_type == k_memory_error_uncorrected;
    bool valid_counter = counter_type == k_ecc_counter_volatile || counter_type == k_ecc_counter_aggregate;
    if (!valid_error || !valid_counter) return k_invalid_argument;
    return put(count, ecc_count(c, error_type, counter_type));
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(nvmlDevice_t device, nvmlEnableState_t* is_pending) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put(is_pending, enable_state(c.gpu.retired_pages_pending));
  });
}

#ifndef GD_SIM_LEGACY
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetRemappedRows(nvmlDevice_t device, unsigned* correctable,
                                                     unsigned* uncorrectable, unsigned* is_pending,
                                                     unsigned* failure_occurred) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (!correctable || !uncorrectable || !is_pending || !failure_occurred) return k_invalid_argument;
    if (!c.gpu.remapped_rows) return k_not_supported;
    const RemappedRows& rows = *c.gpu.remapped_rows;
    *correctable = rows.correctable;
    *uncorrectable = rows.uncorrectable;
    *is_pending = rows.pending ? 1 : 0;
    *failure_occurred = rows.failure ? 1 : 0;
    return k_success;
  });
}

// Field values: only NVML_FI_DEV_GET_GPU_RECOVERY_ACTION (230) is modelled;
// every other id comes back with its own NOT_SUPPORTED, as on a real driver.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int count, nvmlFieldValue_t* values) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    if (count < 0 || (count > 0 && !values)) return k_invalid_argument;
    long long now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    for (int i = 0; i < count; ++i) {
      nvmlFieldValue_t& v = values[i];
      v.timestamp = now_us;  // CPU time of the reading, microseconds since the epoch
      v.latencyUsec = 0;
      if (v.fieldId == gd::nvml::k_fi_dev_get_gpu_recovery_action && c.gpu.recovery_action) {
        v.valueType = gd::nvml::k_value_type_uint;
        v.value.uiVal = *c.gpu.recovery_action;
        v.nvmlReturn = k_success;
      } else {
        v.nvmlReturn = k_not_supported;
      }
    }
    return k_success;
  });
}
#endif

// ---- PCIe link ----------------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned* gen) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(gen, c.gpu.pcie.gen); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned* width) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(width, c.gpu.pcie.width); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t device, unsigned* gen) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(gen, c.gpu.pcie.max_gen); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t device, unsigned* width) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(width, c.gpu.pcie.max_width); });
}

// ---- events ----------------------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t* set) {
  return guarded([&] { return Simulator::instance().event_set_create(__func__, set); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
  return guarded([&] { return Simulator::instance().event_set_free(__func__, set); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetSupportedEventTypes(nvmlDevice_t device, unsigned long long* types) {
  return device_query(__func__, device, [&](const DeviceContext& c) {
    return put(types, std::optional<unsigned long long>(c.gpu.event_types));
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long types,
                                                    nvmlEventSet_t set) {
  return guarded([&] { return Simulator::instance().register_events(__func__, device, types, set); });
}

GD_SIM_EXPORT nvmlReturn_t nvmlEventSetWait(nvmlEventSet_t set, nvmlEventData_t* data, unsigned timeout_ms) {
  return guarded([&] { return Simulator::instance().event_set_wait(__func__, set, data, timeout_ms, false); });
}
#ifndef GD_SIM_LEGACY
GD_SIM_EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t* data, unsigned timeout_ms) {
  return guarded([&] { return Simulator::instance().event_set_wait(__func__, set, data, timeout_ms, true); });
}
#endif
