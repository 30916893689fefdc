#include "fault.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>

namespace gd::sim {
namespace {

// Every exported symbol, in normalize_call() form.
constexpr std::string_view k_calls[] = {
    "nvmlInit",
    "nvmlShutdown",
    "nvmlSystemGetDriverVersion",
    "nvmlSystemGetNVMLVersion",
    "nvmlSystemGetCudaDriverVersion",
    "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetPciInfo",
    "nvmlDeviceGetName",
    "nvmlDeviceGetUUID",
    "nvmlDeviceGetSerial",
    "nvmlDeviceGetMinorNumber",
    "nvmlDeviceGetPersistenceMode",
    "nvmlDeviceSetPersistenceMode",
    "nvmlDeviceGetTemperature",
    "nvmlDeviceGetTemperatureThreshold",
    "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetEnforcedPowerLimit",
    "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetMemoryInfo",
    "nvmlDeviceGetUtilizationRates",
    "nvmlDeviceGetClockInfo",
    "nvmlDeviceGetMaxClockInfo",
    "nvmlDeviceGetCurrentClocksEventReasons",
    "nvmlDeviceGetPerformanceState",
    "nvmlDeviceGetFanSpeed",
    "nvmlDeviceGetEccMode",
    "nvmlDeviceGetTotalEccErrors",
    "nvmlDeviceGetRetiredPagesPendingStatus",
    "nvmlDeviceGetRemappedRows",
    "nvmlDeviceGetCurrPcieLinkGeneration",
    "nvmlDeviceGetCurrPcieLinkWidth",
    "nvmlDeviceGetMaxPcieLinkGeneration",
    "nvmlDeviceGetMaxPcieLinkWidth",
    "nvmlDeviceGetSupportedEventTypes",
    "nvmlDeviceRegisterEvents",
    "nvmlEventSetCreate",
    "nvmlEventSetWait",
    "nvmlEventSetFree",
    // For real clients (nvml_exports_clients.cpp, nvml_exports_absent.cpp).
    "nvmlDeviceClearEccErrorCounts",
    "nvmlDeviceSetMigMode",
    "nvmlDeviceGetP2PStatus",
    "nvmlDeviceGetTopologyCommonAncestor",
    "nvmlDeviceGetTopologyNearestGpus",
    "nvmlSystemGetTopologyGpuSet",
    "nvmlDeviceClearCpuAffinity",
    "nvmlDeviceGetAPIRestriction",
    "nvmlDeviceGetAutoBoostedClocksEnabled",
    "nvmlDeviceGetBridgeChipInfo",
    "nvmlDeviceGetGpuOperationMode",
    "nvmlDeviceGetGspFirmwareMode",
    "nvmlDeviceGetGspFirmwareVersion",
    "nvmlDeviceGetMinMaxClockOfPState",
    "nvmlDeviceGetNumFans",
    "nvmlDeviceGetPowerSource",
    "nvmlDeviceGetSupportedPerformanceStates",
    "nvmlDeviceResetGpuLockedClocks",
    "nvmlDeviceResetMemoryLockedClocks",
    "nvmlDeviceSetAPIRestriction",
    "nvmlDeviceSetAutoBoostedClocksEnabled",
    "nvmlDeviceSetCpuAffinity",
    "nvmlDeviceSetDefaultAutoBoostedClocksEnabled",
    "nvmlDeviceSetDriverModel",
    "nvmlDeviceSetEccMode",
    "nvmlDeviceSetGpuLockedClocks",
    "nvmlDeviceSetGpuOperationMode",
    "nvmlDeviceSetMemoryLockedClocks",
    "nvmlDeviceSetTemperatureThreshold",
    "nvmlDeviceSetVirtualizationMode",
    "nvmlGetVgpuCompatibility",
    "nvmlGetVgpuVersion",
    "nvmlSetVgpuVersion",
    "nvmlComputeInstanceDestroy",
    "nvmlComputeInstanceGetInfo",
    "nvmlDeviceClearAccountingPids",
    "nvmlDeviceCreateGpuInstance",
    "nvmlDeviceCreateGpuInstanceWithPlacement",
    "nvmlDeviceGetAccountingBufferSize",
    "nvmlDeviceGetAccountingMode",
    "nvmlDeviceGetAccountingPids",
    "nvmlDeviceGetAccountingStats",
    "nvmlDeviceGetActiveVgpus",
    "nvmlDeviceGetCreatableVgpus",
    "nvmlDeviceGetDefaultEccMode",
    "nvmlDeviceGetDeviceHandleFromMigDeviceHandle",
    "nvmlDeviceGetDisplayActive",
    "nvmlDeviceGetDisplayMode",
    "nvmlDeviceGetDriverModel",
    "nvmlDeviceGetEncoderSessions",
    "nvmlDeviceGetGpuInstanceById",
    "nvmlDeviceGetGpuInstancePossiblePlacements",
    "nvmlDeviceGetGpuInstanceProfileInfo",
    "nvmlDeviceGetGpuInstanceProfileInfoV",
    "nvmlDeviceGetGpuInstanceRemainingCapacity",
    "nvmlDeviceGetGpuInstances",
    "nvmlDeviceGetHostVgpuMode",
    "nvmlDeviceGetInforomConfigurationChecksum",
    "nvmlDeviceGetInforomVersion",
    "nvmlDeviceGetIrqNum",
    "nvmlDeviceGetMultiGpuBoard",
    "nvmlDeviceGetNvLinkErrorCounter",
    "nvmlDeviceGetNvLinkRemoteDeviceType",
    "nvmlDeviceGetNvLinkVersion",
    "nvmlDeviceGetPcieLinkMaxSpeed",
    "nvmlDeviceGetPcieSpeed",
    "nvmlDeviceGetPgpuMetadataString",
    "nvmlDeviceGetPowerState",
    "nvmlDeviceGetRetiredPages",
    "nvmlDeviceGetSupportedClocksEventReasons",
    "nvmlDeviceGetSupportedClocksThrottleReasons",
    "nvmlDeviceGetSupportedVgpus",
    "nvmlDeviceGetTargetFanSpeed",
    "nvmlDeviceGetVgpuMetadata",
    "nvmlDeviceGetVgpuProcessUtilization",
    "nvmlDeviceGetVgpuUtilization",
    "nvmlDeviceGetVirtualizationMode",
    "nvmlDeviceIsMigDeviceHandle",
    "nvmlDeviceSetAccountingMode",
    "nvmlDeviceSetComputeMode",
    "nvmlDeviceSetPowerManagementLimit",
    "nvmlDeviceValidateInforom",
    "nvmlErrorString",
    "nvmlGetExcludedDeviceCount",
    "nvmlGetExcludedDeviceInfoByIndex",
    "nvmlGpuInstanceCreateComputeInstance",
    "nvmlGpuInstanceDestroy",
    "nvmlGpuInstanceGetComputeInstanceById",
    "nvmlGpuInstanceGetComputeInstanceProfileInfo",
    "nvmlGpuInstanceGetComputeInstanceProfileInfoV",
    "nvmlGpuInstanceGetComputeInstanceRemainingCapacity",
    "nvmlGpuInstanceGetComputeInstances",
    "nvmlGpuInstanceGetInfo",
    "nvmlSystemGetHicVersion",
    "nvmlSystemGetProcessName",
    "nvmlUnitGetCount",
    "nvmlUnitGetDevices",
    "nvmlUnitGetFanSpeedInfo",
    "nvmlUnitGetHandleByIndex",
    "nvmlUnitGetLedState",
    "nvmlUnitGetPsuInfo",
    "nvmlUnitGetTemperature",
    "nvmlUnitGetUnitInfo",
    "nvmlUnitSetLedState",
    "nvmlVgpuInstanceClearAccountingPids",
    "nvmlVgpuInstanceGetAccountingMode",
    "nvmlVgpuInstanceGetAccountingPids",
    "nvmlVgpuInstanceGetAccountingStats",
    "nvmlVgpuInstanceGetEccMode",
    "nvmlVgpuInstanceGetEncoderCapacity",
    "nvmlVgpuInstanceGetEncoderSessions",
    "nvmlVgpuInstanceGetEncoderStats",
    "nvmlVgpuInstanceGetFBCSessions",
    "nvmlVgpuInstanceGetFBCStats",
    "nvmlVgpuInstanceGetFbUsage",
    "nvmlVgpuInstanceGetFrameRateLimit",
    "nvmlVgpuInstanceGetGpuInstanceId",
    "nvmlVgpuInstanceGetGpuPciId",
    "nvmlVgpuInstanceGetLicenseInfo",
    "nvmlVgpuInstanceGetLicenseStatus",
    "nvmlVgpuInstanceGetMdevUUID",
    "nvmlVgpuInstanceGetMetadata",
    "nvmlVgpuInstanceGetType",
    "nvmlVgpuInstanceGetUUID",
    "nvmlVgpuInstanceGetVmDriverVersion",
    "nvmlVgpuInstanceGetVmID",
    "nvmlVgpuInstanceSetEncoderCapacity",
    "nvmlVgpuTypeGetCapabilities",
    "nvmlVgpuTypeGetClass",
    "nvmlVgpuTypeGetDeviceID",
    "nvmlVgpuTypeGetFrameRateLimit",
    "nvmlVgpuTypeGetFramebufferSize",
    "nvmlVgpuTypeGetGpuInstanceProfileId",
    "nvmlVgpuTypeGetLicense",
    "nvmlVgpuTypeGetMaxInstances",
    "nvmlVgpuTypeGetMaxInstancesPerVm",
    "nvmlVgpuTypeGetName",
    "nvmlVgpuTypeGetNumDisplayHeads",
    "nvmlVgpuTypeGetResolution",
    "nvmlDeviceGetIndex",
    "nvmlDeviceGetHandleByUUID",
    "nvmlDeviceGetHandleBySerial",
    "nvmlDeviceGetHandleByPciBusId",
    "nvmlDeviceGetBrand",
    "nvmlDeviceGetArchitecture",
    "nvmlDeviceGetCudaComputeCapability",
    "nvmlDeviceGetVbiosVersion",
    "nvmlDeviceGetBoardPartNumber",
    "nvmlDeviceGetInforomImageVersion",
    "nvmlDeviceGetBoardId",
    "nvmlDeviceGetComputeMode",
    "nvmlDeviceGetNumGpuCores",
    "nvmlDeviceGetMemoryBusWidth",
    "nvmlDeviceGetBusType",
    "nvmlDeviceGetBAR1MemoryInfo",
    "nvmlDeviceGetComputeRunningProcesses",
    "nvmlDeviceGetGraphicsRunningProcesses",
    "nvmlDeviceGetMPSComputeRunningProcesses",
    "nvmlDeviceGetProcessUtilization",
    "nvmlDeviceGetEncoderUtilization",
    "nvmlDeviceGetDecoderUtilization",
    "nvmlDeviceGetPcieThroughput",
    "nvmlDeviceGetPcieReplayCounter",
    "nvmlDeviceGetApplicationsClock",
    "nvmlDeviceGetDefaultApplicationsClock",
    "nvmlDeviceGetMaxCustomerBoostClock",
    "nvmlDeviceGetClock",
    "nvmlDeviceGetSupportedMemoryClocks",
    "nvmlDeviceGetSupportedGraphicsClocks",
    "nvmlDeviceSetApplicationsClocks",
    "nvmlDeviceResetApplicationsClocks",
    "nvmlDeviceGetPowerManagementLimit",
    "nvmlDeviceGetPowerManagementDefaultLimit",
    "nvmlDeviceGetPowerManagementLimitConstraints",
    "nvmlDeviceGetPowerManagementMode",
    "nvmlDeviceGetCpuAffinity",
    "nvmlDeviceGetCpuAffinityWithinScope",
    "nvmlDeviceGetMemoryAffinity",
    "nvmlDeviceGetNvLinkState",
    "nvmlDeviceGetNvLinkRemotePciInfo",
    "nvmlDeviceGetMigMode",
    "nvmlDeviceGetMaxMigDeviceCount",
    "nvmlDeviceGetMigDeviceHandleByIndex",
    "nvmlDeviceGetGpuInstanceId",
    "nvmlDeviceGetComputeInstanceId",
    "nvmlDeviceGetAttributes",
    "nvmlDeviceGetFieldValues",
};

// Every faultable libcuda symbol, in normalize_call() form.
constexpr std::string_view k_cuda_calls[] = {
    "cuInit",           "cuDriverGetVersion",       "cuDeviceGetCount",          "cuDeviceGet",
    "cuDeviceGetName",  "cuDeviceGetPCIBusId",      "cuDevicePrimaryCtxRetain",  "cuDevicePrimaryCtxRelease",
    "cuCtxCreate",      "cuCtxDestroy",             "cuCtxSetCurrent",           "cuMemAlloc",
    "cuMemFree",
};

std::string_view strip_version_suffix(std::string_view symbol) {
  std::size_t pos = symbol.rfind("_v");
  if (pos == std::string_view::npos || pos + 2 == symbol.size()) return symbol;
  std::string_view digits = symbol.substr(pos + 2);
  bool all_digits = std::all_of(digits.begin(), digits.end(),
                                [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
  return all_digits ? symbol.substr(0, pos) : symbol;
}

}  // namespace

std::string normalize_call(std::string_view symbol) {
  std::string_view name = strip_version_suffix(symbol);
  if (name == "nvmlInitWithFlags") return "nvmlInit";
  if (name == "nvmlDeviceGetCurrentClocksThrottleReasons") return "nvmlDeviceGetCurrentClocksEventReasons";
  return std::string(name);
}

bool is_known_call(std::string_view name) {
  return std::find(std::begin(k_calls), std::end(k_calls), name) != std::end(k_calls);
}

bool is_known_cuda_call(std::string_view name) {
  return std::find(std::begin(k_cuda_calls), std::end(k_cuda_calls), name) != std::end(k_cuda_calls);
}

const Fault* find_fault(const std::vector<Fault>& faults, std::string_view symbol, std::optional<unsigned> gpu,
                        const SimTime& now) {
  std::string call = normalize_call(symbol);
  for (const Fault& fault : faults) {
    if (fault.gpu && fault.gpu != gpu) continue;
    if (fault.call != "*" && fault.call != call) continue;
    if (fault.after_ms > 0 &&
        std::chrono::steady_clock::now() - fault.loaded_at < std::chrono::milliseconds(fault.after_ms))
      continue;
    if (!fault.at.reached(now)) continue;
    if (fault.matched < fault.after_calls) {
      ++fault.matched;
      continue;
    }
    return &fault;
  }
  return nullptr;
}

}  // namespace gd::sim
