// NVML families and features that do not exist on the nodes the simulator
// models — a bare-metal datacenter node (V100, H100) with the regular (not
// vGPU-host) driver, no S-class unit, no MIG instance, no excluded GPU —
// answered as the real library answers there, so a client that asks
// (pynvml's nvidia-smi-like sweeps do) gets the real "there is none" instead
// of FUNCTION_NOT_FOUND:
//   - features of other boards: Kepler auto boost, GK110 operation modes,
//     laptops' power source, Windows driver models, vGPU/passthrough
//     virtualisation modes, settable thresholds, clock (VF) offsets, NvLink
//     low-power thresholds: NOT_SUPPORTED.
//   - S-class units: nvmlUnitGetCount is 0; a unit handle was never handed
//     out, so every unit call is INVALID_ARGUMENT.
//   - vGPU: device queries (capabilities, scheduler, licensing) and the
//     driver's vGPU capabilities are NOT_SUPPORTED (not a vGPU host); type and
//     instance ids were never handed out: INVALID_ARGUMENT.
//   - MIG instance management (profiles, placements, create/destroy):
//     NOT_SUPPORTED; with MIG on, the scenario's MIG devices are fixed and
//     reached through nvmlDeviceGetMigDeviceHandleByIndex; GPU/compute
//     instance handles are never handed out: INVALID_ARGUMENT.
//   - excluded GPUs: none; HICs: none.
// Every call still checks init (UNINITIALIZED), the device handle, faults and
// lost GPUs like any other. Prototypes: nvml.h (libnvidia-ml-dev 11.8).

#include "nvml_export_helpers.hpp"

namespace {

using namespace gd::sim;
using namespace gd::sim::exports;
using namespace gd::nvml;

using Handle = void*;  // nvmlUnit_t, nvmlGpuInstance_t, nvmlComputeInstance_t: opaque pointers
using Ptr = void*;     // an output the call never reaches

nvmlReturn_t on_device(const char* symbol, nvmlDevice_t device, nvmlReturn_t rc) {
  return device_query(symbol, device, [rc](const DeviceContext&) { return rc; });
}
nvmlReturn_t on_system(const char* symbol, nvmlReturn_t rc) {
  return system_query(symbol, [rc](const Scenario&) { return rc; });
}

}  // namespace

// A device query answering `rc` (after init, handle, fault and loss checks).
#define GD_DEVICE(name, rc, ...) \
  GD_SIM_EXPORT nvmlReturn_t name(nvmlDevice_t device, __VA_ARGS__) { return on_device(#name, device, rc); }
// A call on an id or handle this library never handed out.
#define GD_NONE(name, ...) \
  GD_SIM_EXPORT nvmlReturn_t name(__VA_ARGS__) { return on_system(#name, k_invalid_argument); }

// A device query whose NULL outputs are INVALID_ARGUMENT, else `rc`.
#define GD_DEVICE_OUT2(name, rc, T1, T2)                                                          \
  GD_SIM_EXPORT nvmlReturn_t name(nvmlDevice_t device, T1* a, T2* b) {                           \
    return device_query(#name, device, [&](const DeviceContext&) { return a && b ? rc : k_invalid_argument; }); \
  }

// ---- features of other boards -------------------------------------------------------

GD_DEVICE_OUT2(nvmlDeviceGetAutoBoostedClocksEnabled, k_not_supported, nvmlEnableState_t, nvmlEnableState_t)
GD_DEVICE(nvmlDeviceSetAutoBoostedClocksEnabled, k_not_supported, nvmlEnableState_t)
GD_DEVICE(nvmlDeviceSetDefaultAutoBoostedClocksEnabled, k_not_supported, nvmlEnableState_t, unsigned)
GD_DEVICE_OUT2(nvmlDeviceGetGpuOperationMode, k_not_supported, int, int)
GD_DEVICE(nvmlDeviceSetGpuOperationMode, k_not_supported, int)
GD_DEVICE_OUT2(nvmlDeviceGetDriverModel, k_not_supported, int, int)  // Windows only (WDDM/TCC)
GD_DEVICE(nvmlDeviceSetDriverModel, k_not_supported, int, unsigned)
GD_DEVICE(nvmlDeviceSetVirtualizationMode, k_not_supported, int)
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetPowerSource(nvmlDevice_t device, int* source) {
  return on_device(__func__, device, source ? k_not_supported : k_invalid_argument);
}
// Only the GPU_MAX and acoustic thresholds are settable, and only on boards that offer them.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetTemperatureThreshold(nvmlDevice_t device, int type, int* temp) {
  return on_device(__func__, device, !temp || type < 0 || type > 6 ? k_invalid_argument : k_not_supported);
}

// Clock offsets are an overclocking feature of GeForce/workstation boards;
// datacenter boards do not offer them.
GD_DEVICE(nvmlDeviceGetGpcClkVfOffset, k_not_supported, Ptr)
GD_DEVICE(nvmlDeviceGetMemClkVfOffset, k_not_supported, Ptr)
GD_DEVICE(nvmlDeviceGetGpcClkMinMaxVfOffset, k_not_supported, Ptr, Ptr)
GD_DEVICE(nvmlDeviceGetMemClkMinMaxVfOffset, k_not_supported, Ptr, Ptr)
GD_DEVICE(nvmlDeviceSetGpcClkVfOffset, k_not_supported, int)
GD_DEVICE(nvmlDeviceSetMemClkVfOffset, k_not_supported, int)
// NvLink low-power (L1) thresholds: not modelled on the simulated links.
GD_DEVICE(nvmlDeviceSetNvLinkDeviceLowPowerThreshold, k_not_supported, Ptr)

// ---- S-class units ------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlUnitGetCount(unsigned* count) {
  return system_query(__func__, [&](const Scenario&) { return put(count, std::optional<unsigned>(0)); });
}
GD_NONE(nvmlUnitGetHandleByIndex, unsigned, Ptr)
GD_NONE(nvmlUnitGetUnitInfo, Handle, Ptr)
GD_NONE(nvmlUnitGetLedState, Handle, Ptr)
GD_NONE(nvmlUnitGetPsuInfo, Handle, Ptr)
GD_NONE(nvmlUnitGetTemperature, Handle, unsigned, Ptr)
GD_NONE(nvmlUnitGetFanSpeedInfo, Handle, Ptr)
GD_NONE(nvmlUnitGetDevices, Handle, Ptr, Ptr)
GD_NONE(nvmlUnitSetLedState, Handle, int)

// ---- excluded GPUs, HICs ----------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlGetExcludedDeviceCount(unsigned* count) {
  return system_query(__func__, [&](const Scenario&) { return put(count, std::optional<unsigned>(0)); });
}
GD_NONE(nvmlGetExcludedDeviceInfoByIndex, unsigned, Ptr)

GD_SIM_EXPORT nvmlReturn_t nvmlSystemGetHicVersion(unsigned* count, Ptr) {
  return system_query(__func__, [&](const Scenario&) { return put(count, std::optional<unsigned>(0)); });
}

// ---- vGPU: not a vGPU host ------------------------------------------------------------

GD_DEVICE(nvmlDeviceGetHostVgpuMode, k_not_supported, Ptr)
GD_DEVICE(nvmlDeviceGetSupportedVgpus, k_not_supported, Ptr, Ptr)
GD_DEVICE(nvmlDeviceGetCreatableVgpus, k_not_supported, Ptr, Ptr)
GD_DEVICE(nvmlDeviceGetActiveVgpus, k_not_supported, Ptr, Ptr)
GD_DEVICE(nvmlDeviceGetVgpuMetadata, k_not_supported, Ptr, Ptr)
GD_DEVICE(nvmlDeviceGetPgpuMetadataString, k_not_supported, Ptr, Ptr)
GD_DEVICE(nvmlDeviceGetVgpuUtilization, k_not_supported, unsigned long long, Ptr, Ptr, Ptr)
GD_DEVICE(nvmlDeviceGetVgpuProcessUtilization, k_not_supported, unsigned long long, Ptr, Ptr)
GD_DEVICE(nvmlDeviceGetVgpuCapabilities, k_not_supported, int, Ptr)
GD_DEVICE(nvmlDeviceGetVgpuSchedulerCapabilities, k_not_supported, Ptr)
GD_DEVICE(nvmlDeviceGetVgpuSchedulerLog, k_not_supported, Ptr)
GD_DEVICE(nvmlDeviceGetVgpuSchedulerState, k_not_supported, Ptr)
GD_DEVICE(nvmlDeviceGetGridLicensableFeatures_v4, k_not_supported, Ptr)  // vGPU software licensing
GD_SIM_EXPORT nvmlReturn_t nvmlGetVgpuDriverCapabilities(int, Ptr) { return on_system(__func__, k_not_supported); }
// The vGPU manager's version range: not a vGPU host.
GD_SIM_EXPORT nvmlReturn_t nvmlGetVgpuVersion(Ptr, Ptr) { return on_system(__func__, k_not_supported); }
GD_SIM_EXPORT nvmlReturn_t nvmlSetVgpuVersion(Ptr) { return on_system(__func__, k_not_supported); }
GD_NONE(nvmlGetVgpuCompatibility, Ptr, Ptr, Ptr)  // no vGPU or pGPU metadata can exist here
GD_SIM_EXPORT nvmlReturn_t nvmlVgpuTypeGetMaxInstances(nvmlDevice_t device, unsigned, Ptr) {
  return on_device(__func__, device, k_invalid_argument);  // no vGPU type id exists here
}
GD_NONE(nvmlVgpuTypeGetClass, unsigned, Ptr, Ptr)
GD_NONE(nvmlVgpuTypeGetName, unsigned, Ptr, Ptr)
GD_NONE(nvmlVgpuTypeGetGpuInstanceProfileId, unsigned, Ptr)
GD_NONE(nvmlVgpuTypeGetDeviceID, unsigned, Ptr, Ptr)
GD_NONE(nvmlVgpuTypeGetFramebufferSize, unsigned, Ptr)
GD_NONE(nvmlVgpuTypeGetNumDisplayHeads, unsigned, Ptr)
GD_NONE(nvmlVgpuTypeGetResolution, unsigned, unsigned, Ptr, Ptr)
GD_NONE(nvmlVgpuTypeGetLicense, unsigned, Ptr, unsigned)
GD_NONE(nvmlVgpuTypeGetFrameRateLimit, unsigned, Ptr)
GD_NONE(nvmlVgpuTypeGetMaxInstancesPerVm, unsigned, Ptr)
GD_NONE(nvmlVgpuTypeGetCapabilities, unsigned, int, Ptr)
GD_NONE(nvmlVgpuInstanceGetMdevUUID, unsigned, Ptr, unsigned)
GD_NONE(nvmlVgpuInstanceGetVmID, unsigned, Ptr, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceGetUUID, unsigned, Ptr, unsigned)
GD_NONE(nvmlVgpuInstanceGetVmDriverVersion, unsigned, Ptr, unsigned)
GD_NONE(nvmlVgpuInstanceGetFbUsage, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceGetLicenseStatus, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceGetLicenseInfo_v2, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceGetType, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceGetFrameRateLimit, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceGetEccMode, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceGetEncoderCapacity, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceSetEncoderCapacity, unsigned, unsigned)
GD_NONE(nvmlVgpuInstanceGetEncoderStats, unsigned, Ptr, Ptr, Ptr)
GD_NONE(nvmlVgpuInstanceGetEncoderSessions, unsigned, Ptr, Ptr)
GD_NONE(nvmlVgpuInstanceGetFBCStats, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceGetFBCSessions, unsigned, Ptr, Ptr)
GD_NONE(nvmlVgpuInstanceGetGpuInstanceId, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceGetGpuPciId, unsigned, Ptr, Ptr)
GD_NONE(nvmlVgpuInstanceGetMetadata, unsigned, Ptr, Ptr)
GD_NONE(nvmlVgpuInstanceGetAccountingMode, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceGetAccountingPids, unsigned, Ptr, Ptr)
GD_NONE(nvmlVgpuInstanceGetAccountingStats, unsigned, unsigned, Ptr)
GD_NONE(nvmlVgpuInstanceClearAccountingPids, unsigned)

// ---- MIG instances (none) ---------------------------------------------------------------

GD_DEVICE(nvmlDeviceGetGpuInstanceProfileInfo, k_not_supported, unsigned, Ptr)
GD_DEVICE(nvmlDeviceGetGpuInstanceProfileInfoV, k_not_supported, unsigned, Ptr)
GD_DEVICE(nvmlDeviceGetGpuInstancePossiblePlacements_v2, k_not_supported, unsigned, Ptr, Ptr)
GD_DEVICE(nvmlDeviceGetGpuInstanceRemainingCapacity, k_not_supported, unsigned, Ptr)
GD_DEVICE(nvmlDeviceCreateGpuInstance, k_not_supported, unsigned, Ptr)
GD_DEVICE(nvmlDeviceCreateGpuInstanceWithPlacement, k_not_supported, unsigned, const void*, Ptr)
GD_DEVICE(nvmlDeviceGetGpuInstances, k_not_supported, unsigned, Ptr, Ptr)
GD_DEVICE(nvmlDeviceGetGpuInstanceById, k_not_supported, unsigned, Ptr)
GD_NONE(nvmlGpuInstanceDestroy, Handle)
GD_NONE(nvmlGpuInstanceGetInfo, Handle, Ptr)
GD_NONE(nvmlGpuInstanceGetComputeInstanceProfileInfo, Handle, unsigned, unsigned, Ptr)
GD_NONE(nvmlGpuInstanceGetComputeInstanceProfileInfoV, Handle, unsigned, unsigned, Ptr)
GD_NONE(nvmlGpuInstanceGetComputeInstanceRemainingCapacity, Handle, unsigned, Ptr)
GD_NONE(nvmlGpuInstanceCreateComputeInstance, Handle, unsigned, Ptr)
GD_NONE(nvmlGpuInstanceGetComputeInstances, Handle, unsigned, Ptr, Ptr)
GD_NONE(nvmlGpuInstanceGetComputeInstancePossiblePlacements, Handle, unsigned, Ptr, Ptr)
GD_NONE(nvmlGpuInstanceCreateComputeInstanceWithPlacement, Handle, unsigned, const void*, Ptr)
GD_NONE(nvmlGpuInstanceGetComputeInstanceById, Handle, unsigned, Ptr)
GD_NONE(nvmlComputeInstanceDestroy, Handle)
GD_NONE(nvmlComputeInstanceGetInfo_v2, Handle, Ptr)
