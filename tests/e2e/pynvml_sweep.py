#!/usr/bin/env python3
"""A broad pynvml sweep: calls NVIDIA's Python binding (Debian python3-pynvml)
for every device and prints every answer as JSON, an error as "ERR:<name>".
Run under `gpudoctor sim SCENARIO --` by real_clients_test.py, which compares
each value with the scenario. Usage: pynvml_sweep.py
"""
import ctypes
import json
import os
import sys
import time

import pynvml as N


def err_name(e):
    for name in dir(N):
        if name.startswith("NVML_ERROR_") and getattr(N, name) == e.value:
            return name[len("NVML_ERROR_"):]
    return f"CODE_{e.value}"


def ask(fn, *args):
    try:
        v = fn(*args)
    except N.NVMLError as e:
        return "ERR:" + err_name(e)
    return v


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def plain(v):
    """ctypes structures and arrays as JSON values."""
    if isinstance(v, (int, float, str)) or v is None:
        return text(v)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, ctypes._SimpleCData):
        return plain(v.value)
    if type(v).__name__ == "nvmlFriendlyObject":
        return {k: plain(x) for k, x in vars(v).items()}
    if hasattr(v, "_fields_"):
        return {f[0]: plain(getattr(v, f[0])) for f in v._fields_}
    try:
        return [plain(x) for x in v]
    except TypeError:
        return str(v)


def device(h):
    d = {}
    q = lambda key, fn, *a: d.__setitem__(key, plain(ask(fn, h, *a)))
    q("name", N.nvmlDeviceGetName)
    q("uuid", N.nvmlDeviceGetUUID)
    q("serial", N.nvmlDeviceGetSerial)
    q("index", N.nvmlDeviceGetIndex)
    q("minor", N.nvmlDeviceGetMinorNumber)
    q("pci", N.nvmlDeviceGetPciInfo)
    q("persistence", N.nvmlDeviceGetPersistenceMode)
    q("temperature", N.nvmlDeviceGetTemperature, N.NVML_TEMPERATURE_GPU)
    q("temp_shutdown", N.nvmlDeviceGetTemperatureThreshold, N.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN)
    q("temp_slowdown", N.nvmlDeviceGetTemperatureThreshold, N.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)
    q("power", N.nvmlDeviceGetPowerUsage)
    q("enforced_limit", N.nvmlDeviceGetEnforcedPowerLimit)
    q("limit", N.nvmlDeviceGetPowerManagementLimit)
    q("default_limit", N.nvmlDeviceGetPowerManagementDefaultLimit)
    q("limit_constraints", N.nvmlDeviceGetPowerManagementLimitConstraints)
    q("power_mode", N.nvmlDeviceGetPowerManagementMode)
    q("energy", N.nvmlDeviceGetTotalEnergyConsumption)
    q("fan", N.nvmlDeviceGetFanSpeed)
    q("memory", N.nvmlDeviceGetMemoryInfo)
    q("memory_v2", N.nvmlDeviceGetMemoryInfo, N.nvmlMemory_v2)
    q("bar1", N.nvmlDeviceGetBAR1MemoryInfo)
    q("utilization", N.nvmlDeviceGetUtilizationRates)
    q("encoder", N.nvmlDeviceGetEncoderUtilization)
    q("decoder", N.nvmlDeviceGetDecoderUtilization)
    for name, t in (("graphics", N.NVML_CLOCK_GRAPHICS), ("sm", N.NVML_CLOCK_SM), ("mem", N.NVML_CLOCK_MEM)):
        q(f"clock_{name}", N.nvmlDeviceGetClockInfo, t)
        q(f"max_clock_{name}", N.nvmlDeviceGetMaxClockInfo, t)
        q(f"app_clock_{name}", N.nvmlDeviceGetApplicationsClock, t)
        q(f"default_app_clock_{name}", N.nvmlDeviceGetDefaultApplicationsClock, t)
        q(f"boost_clock_{name}", N.nvmlDeviceGetMaxCustomerBoostClock, t)
        q(f"clock_current_{name}", N.nvmlDeviceGetClock, t, N.NVML_CLOCK_ID_CURRENT)
    q("supported_mem_clocks", N.nvmlDeviceGetSupportedMemoryClocks)
    mem = d["supported_mem_clocks"]
    d["supported_graphics_clocks"] = plain(ask(N.nvmlDeviceGetSupportedGraphicsClocks, h, mem[0])) \
        if isinstance(mem, list) and mem else mem
    q("supported_graphics_clocks_bad_mem", N.nvmlDeviceGetSupportedGraphicsClocks, 1)
    q("pstate", N.nvmlDeviceGetPerformanceState)
    q("clock_event_reasons", N.nvmlDeviceGetCurrentClocksThrottleReasons)
    q("ecc_mode", N.nvmlDeviceGetEccMode)
    q("ecc_uncorrected_volatile", N.nvmlDeviceGetTotalEccErrors, N.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
      N.NVML_VOLATILE_ECC)
    q("retired_pending", N.nvmlDeviceGetRetiredPagesPendingStatus)
    q("remapped_rows", N.nvmlDeviceGetRemappedRows)
    q("pcie_gen", N.nvmlDeviceGetCurrPcieLinkGeneration)
    q("pcie_width", N.nvmlDeviceGetCurrPcieLinkWidth)
    q("pcie_max_gen", N.nvmlDeviceGetMaxPcieLinkGeneration)
    q("pcie_max_width", N.nvmlDeviceGetMaxPcieLinkWidth)
    q("pcie_tx", N.nvmlDeviceGetPcieThroughput, N.NVML_PCIE_UTIL_TX_BYTES)
    q("pcie_rx", N.nvmlDeviceGetPcieThroughput, N.NVML_PCIE_UTIL_RX_BYTES)
    q("pcie_replay", N.nvmlDeviceGetPcieReplayCounter)
    q("brand", N.nvmlDeviceGetBrand)
    q("architecture", N.nvmlDeviceGetArchitecture)
    q("compute_capability", N.nvmlDeviceGetCudaComputeCapability)
    q("vbios", N.nvmlDeviceGetVbiosVersion)
    q("part_number", N.nvmlDeviceGetBoardPartNumber)
    q("mig_mode", N.nvmlDeviceGetMigMode)
    q("max_mig", N.nvmlDeviceGetMaxMigDeviceCount)
    q("cpu_affinity", N.nvmlDeviceGetCpuAffinity, 64)
    q("memory_affinity", N.nvmlDeviceGetMemoryAffinity, 1, N.NVML_AFFINITY_SCOPE_NODE)
    d["nvlink_state"] = [plain(ask(N.nvmlDeviceGetNvLinkState, h, i)) for i in range(N.NVML_NVLINK_MAX_LINKS + 1)]
    d["nvlink_remote"] = [plain(ask(N.nvmlDeviceGetNvLinkRemotePciInfo, h, i)) for i in range(N.NVML_NVLINK_MAX_LINKS)]
    q("compute_processes", N.nvmlDeviceGetComputeRunningProcesses)
    q("graphics_processes", N.nvmlDeviceGetGraphicsRunningProcesses)
    q("attributes", N.nvmlDeviceGetAttributes)
    q("compute_mode", N.nvmlDeviceGetComputeMode)
    q("cores", N.nvmlDeviceGetNumGpuCores)
    q("bus_width", N.nvmlDeviceGetMemoryBusWidth)
    q("bus_type", N.nvmlDeviceGetBusType)
    q("process_utilization", N.nvmlDeviceGetProcessUtilization, 0)
    q("inforom_image", N.nvmlDeviceGetInforomImageVersion)
    q("inforom_oem", N.nvmlDeviceGetInforomVersion, N.NVML_INFOROM_OEM)
    q("inforom_ecc", N.nvmlDeviceGetInforomVersion, N.NVML_INFOROM_ECC)
    q("inforom_power", N.nvmlDeviceGetInforomVersion, N.NVML_INFOROM_POWER)
    q("inforom_valid", N.nvmlDeviceValidateInforom)
    q("display_mode", N.nvmlDeviceGetDisplayMode)
    q("display_active", N.nvmlDeviceGetDisplayActive)
    q("driver_model", N.nvmlDeviceGetDriverModel)
    q("virtualization_mode", N.nvmlDeviceGetVirtualizationMode)
    q("default_ecc", N.nvmlDeviceGetDefaultEccMode)
    q("supported_reasons", N.nvmlDeviceGetSupportedClocksThrottleReasons)
    q("power_state", N.nvmlDeviceGetPowerState)
    q("pcie_speed", N.nvmlDeviceGetPcieSpeed)
    q("pcie_link_max_speed", N.nvmlDeviceGetPcieLinkMaxSpeed)
    q("fan_v2", N.nvmlDeviceGetFanSpeed_v2, 0)
    q("retired_sbe", N.nvmlDeviceGetRetiredPages, N.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS)
    q("accounting_mode", N.nvmlDeviceGetAccountingMode)
    q("multi_gpu_board", N.nvmlDeviceGetMultiGpuBoard)
    q("is_mig_handle", N.nvmlDeviceIsMigDeviceHandle)
    q("nvlink_version_0", N.nvmlDeviceGetNvLinkVersion, 0)
    q("nvlink_remote_type_0", N.nvmlDeviceGetNvLinkRemoteDeviceType, 0)
    q("nvlink_replay_errors_0", N.nvmlDeviceGetNvLinkErrorCounter, 0, N.NVML_NVLINK_ERROR_DL_REPLAY)
    q("supported_vgpus", N.nvmlDeviceGetSupportedVgpus)
    q("encoder_sessions", N.nvmlDeviceGetEncoderSessions)
    q("auto_boost", N.nvmlDeviceGetAutoBoostedClocksEnabled)
    q("operation_mode", N.nvmlDeviceGetGpuOperationMode)
    q("power_source", N.nvmlDeviceGetPowerSource)
    q("supported_pstates", N.nvmlDeviceGetSupportedPerformanceStates)
    q("api_restriction_app_clocks", N.nvmlDeviceGetAPIRestriction, N.NVML_RESTRICTED_API_SET_APPLICATION_CLOCKS)
    q("bridge_count", lambda hh: N.nvmlDeviceGetBridgeChipInfo(hh).bridgeCount)
    gsp_on, gsp_default = ctypes.c_uint(), ctypes.c_uint()
    d["gsp_mode"] = plain(ask(lambda hh: (N.nvmlDeviceGetGspFirmwareMode(hh, ctypes.byref(gsp_on),
                                                                          ctypes.byref(gsp_default)),
                                          [gsp_on.value, gsp_default.value])[1], h))
    gsp_version = ctypes.create_string_buffer(64)
    d["gsp_version"] = plain(ask(lambda hh: (N.nvmlDeviceGetGspFirmwareVersion(hh, gsp_version),
                                             gsp_version.value)[1], h))
    lo_mhz, hi_mhz = ctypes.c_uint(), ctypes.c_uint()
    d["pstate_graphics_range"] = plain(ask(lambda hh: (N.nvmlDeviceGetMinMaxClockOfPState(
        hh, N.NVML_CLOCK_GRAPHICS, 0, ctypes.byref(lo_mhz), ctypes.byref(hi_mhz)), [lo_mhz.value, hi_mhz.value])[1], h))
    fv = ask(N.nvmlDeviceGetFieldValues, h, [230])
    d["field_230"] = fv if isinstance(fv, str) else {"return": fv[0].nvmlReturn, "timestamp": fv[0].timestamp}
    for key, fn in (("by_uuid", N.nvmlDeviceGetHandleByUUID), ("by_serial", N.nvmlDeviceGetHandleBySerial),
                    ("by_pci", N.nvmlDeviceGetHandleByPciBusId)):
        arg = {"by_uuid": d["uuid"], "by_serial": d["serial"], "by_pci": d["pci"]["busId"]
               if isinstance(d["pci"], dict) else ""}[key]
        hh = ask(fn, arg) if isinstance(arg, str) and not arg.startswith("ERR:") else "ERR:SKIPPED"
        d[key] = hh if isinstance(hh, str) else ask(N.nvmlDeviceGetIndex, hh)
    d.update(telemetry_and_board(h))
    return d


class FabricInfo(ctypes.Structure):
    """nvmlGpuFabricInfo_t as NVIDIA's headers lay it out (a 16-byte cluster UUID);
    pynvml 11.525's c_nvmlGpuFabricInfo_t declares 80 bytes and misreads the rest."""
    _fields_ = [("clusterUuid", ctypes.c_ubyte * 16), ("status", ctypes.c_uint), ("cliqueId", ctypes.c_uint),
                ("state", ctypes.c_ubyte)]


class ClkMonStatus(ctypes.Structure):  # pynvml has no class of its own for it
    _fields_ = [("bGlobalStatus", ctypes.c_uint), ("clkMonListSize", ctypes.c_uint),
                ("clkMonList", (ctypes.c_uint * 2) * 32)]


def call(name, *args):
    """A raw call through pynvml's function table: the return code, or ERR:<name>."""
    rc = N._nvmlGetFunctionPointer(name)(*args)
    return rc if rc == 0 else "ERR:" + err_name(N.NVMLError(rc))


def telemetry_and_board(h):
    """The telemetry, board and fabric queries (sim/nvml_exports_telemetry.cpp, nvml_exports_board.cpp)."""
    d = {}
    q = lambda key, fn, *a: d.__setitem__(key, plain(ask(fn, h, *a)))

    def samples(kind):
        vtype, got = N.nvmlDeviceGetSamples(h, kind, 0)
        return [vtype, len(got), sorted({x.sampleValue.uiVal for x in got})]
    q("samples_power", lambda hh: samples(N.NVML_TOTAL_POWER_SAMPLES))
    q("samples_gpu_util", lambda hh: samples(N.NVML_GPU_UTILIZATION_SAMPLES))

    def after_last(hh):  # a poll with the newest timestamp: nothing newer, or the one sample since
        _, got = N.nvmlDeviceGetSamples(hh, N.NVML_TOTAL_POWER_SAMPLES, 0)
        r = ask(N.nvmlDeviceGetSamples, hh, N.NVML_TOTAL_POWER_SAMPLES, got[-1].timeStamp)
        return r == "ERR:NOT_FOUND" or len(r[1]) <= 1
    q("samples_after_last_none_or_one", after_last)
    q("samples_bad_type", lambda hh: N.nvmlDeviceGetSamples(hh, 99, 0))
    for name, policy in (("power", N.NVML_PERF_POLICY_POWER), ("thermal", N.NVML_PERF_POLICY_THERMAL),
                         ("low_util", N.NVML_PERF_POLICY_LOW_UTILIZATION)):
        q(f"violation_{name}", lambda hh, p=policy: (lambda v: [v.violationTime > 0,
                                                               abs(v.referenceTime / 1e6 - time.time()) < 60])(
            N.nvmlDeviceGetViolationStatus(hh, p)))
    q("violation_bad_policy", N.nvmlDeviceGetViolationStatus, 7)

    def thermal(hh):
        t = N.c_nvmlGpuThermalSettings_t()
        N.nvmlDeviceGetThermalSettings(hh, 0, ctypes.byref(t))
        s0 = t.sensor[0]
        return [t.count, s0.controller, s0.defaultMinTemp, s0.defaultMaxTemp, s0.currentTemp, s0.target]
    q("thermal_settings", thermal)
    clk = ClkMonStatus()
    d["clkmon"] = plain(ask(lambda hh: [call("nvmlDeviceGetClkMonStatus", hh, ctypes.byref(clk)),
                                        clk.bGlobalStatus, clk.clkMonListSize], h))
    q("adaptive_clock", N.nvmlDeviceGetAdaptiveClockInfoStatus)

    def pstates(hh):
        info = N.c_nvmlGpuDynamicPstatesInfo_t()
        N.nvmlDeviceGetDynamicPstatesInfo(hh, ctypes.byref(info))
        return [[u.bIsPresent, u.percentage] for u in info.utilization[:4]]
    q("dynamic_pstates", pstates)
    q("mem_error_dram", N.nvmlDeviceGetMemoryErrorCounter, N.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, N.NVML_VOLATILE_ECC,
      N.NVML_MEMORY_LOCATION_DRAM)
    q("mem_error_l1", N.nvmlDeviceGetMemoryErrorCounter, N.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, N.NVML_VOLATILE_ECC,
      N.NVML_MEMORY_LOCATION_L1_CACHE)
    q("detailed_ecc", N.nvmlDeviceGetDetailedEccErrors, N.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, N.NVML_VOLATILE_ECC)
    q("remap_histogram", N.nvmlDeviceGetRowRemapperHistogram)
    q("gpm_supported", lambda hh: N.nvmlGpmQueryDeviceSupport(hh).isSupportedDevice)

    def gpm(hh):
        s1, s2 = N.nvmlGpmSampleAlloc(), N.nvmlGpmSampleAlloc()
        try:
            N.nvmlGpmSampleGet(hh, s1)
            time.sleep(0.05)
            N.nvmlGpmSampleGet(hh, s2)
            mg = N.c_nvmlGpmMetricsGet_t()
            mg.version, mg.numMetrics, mg.sample1, mg.sample2 = N.NVML_GPM_METRICS_GET_VERSION, 5, s1, s2
            for i, metric in enumerate((1, 20, 21, 3, 8)):  # graphics util, PCIe TX/RX, SM occupancy, no such id
                mg.metrics[i].metricId = metric
            N.nvmlGpmMetricsGet(mg)
            return [[mg.metrics[i].nvmlReturn, round(mg.metrics[i].value, 3)] for i in range(5)]
        finally:
            N.nvmlGpmSampleFree(s1)
            N.nvmlGpmSampleFree(s2)
    q("gpm_metrics", gpm)
    q("encoder_capacity", N.nvmlDeviceGetEncoderCapacity, N.NVML_ENCODER_QUERY_H264)
    q("encoder_stats", N.nvmlDeviceGetEncoderStats)
    q("fbc_stats", N.nvmlDeviceGetFBCStats)
    q("fbc_sessions", N.nvmlDeviceGetFBCSessions)
    q("same_board_self", N.nvmlDeviceOnSameBoard, h)
    fabric = FabricInfo()
    d["fabric"] = plain(ask(lambda hh: [call("nvmlDeviceGetGpuFabricInfo", hh, ctypes.byref(fabric)),
                                        fabric.status, fabric.state, sum(fabric.clusterUuid)], h))
    q("gpu_max_pcie_gen", N.nvmlDeviceGetGpuMaxPcieLinkGeneration)
    for name, cap in (("p2p", N.NVML_NVLINK_CAP_P2P_SUPPORTED), ("sysmem", N.NVML_NVLINK_CAP_SYSMEM_ACCESS),
                      ("valid", N.NVML_NVLINK_CAP_VALID)):
        q(f"nvlink_cap_{name}_0", N.nvmlDeviceGetNvLinkCapability, 0, cap)
    q("nvlink_util_counter_0", N.nvmlDeviceGetNvLinkUtilizationCounter, 0, 0)
    q("reset_nvlink_errors_0", N.nvmlDeviceResetNvLinkErrorCounters, 0)
    policy = ctypes.c_uint()
    d["fan_policy"] = plain(ask(lambda hh: N.nvmlDeviceGetFanControlPolicy_v2(hh, 0, ctypes.byref(policy)), h))
    lo, hi = ctypes.c_uint(), ctypes.c_uint()
    d["min_max_fan"] = plain(ask(lambda hh: N.nvmlDeviceGetMinMaxFanSpeed(hh, ctypes.byref(lo), ctypes.byref(hi)), h))
    q("gpc_vf_offset", N.nvmlDeviceGetGpcClkVfOffset)
    q("vgpu_capability", N.nvmlDeviceGetVgpuCapabilities, 0)
    q("clear_field_230", lambda hh: [v.nvmlReturn for v in N.nvmlDeviceClearFieldValues(hh, [230])])
    return d


def drain_remove_rediscover(index):
    """Drains GPU `index` (persistence off first: IN_USE while on), removes it
    (not enumerated after the next init), rediscovers it; restores persistence."""
    h = N.nvmlDeviceGetHandleByIndex(index)
    pci = N.nvmlDeviceGetPciInfo(h)
    out = {"drain_with_persistence": ask(N.nvmlDeviceModifyDrainState, pci, 1)}
    N.nvmlDeviceSetPersistenceMode(h, 0)
    out["drain_state_before"] = ask(N.nvmlDeviceQueryDrainState, pci)
    out["drain"] = ask(N.nvmlDeviceModifyDrainState, pci, 1)
    out["drain_state_after"] = ask(N.nvmlDeviceQueryDrainState, pci)
    out["remove"] = ask(N.nvmlDeviceRemoveGpu, pci)
    N.nvmlShutdown()
    N.nvmlInit()
    out["count_after_remove"] = N.nvmlDeviceGetCount()
    out["discover"] = ask(N.nvmlDeviceDiscoverGpus, N.nvmlPciInfo_t())
    N.nvmlShutdown()
    N.nvmlInit()
    out["count_after_discover"] = N.nvmlDeviceGetCount()
    h = N.nvmlDeviceGetHandleByIndex(index)
    out["drain_state_rediscovered"] = ask(N.nvmlDeviceQueryDrainState, N.nvmlDeviceGetPciInfo(h))
    N.nvmlDeviceSetPersistenceMode(h, 1)
    return out


def main():
    out = {}
    try:
        N.nvmlInit()
    except N.NVMLError as e:
        out["init"] = "ERR:" + err_name(e)
        print(json.dumps(out))
        return
    out["init"] = "ok"
    out["driver_version"] = plain(ask(N.nvmlSystemGetDriverVersion))
    out["nvml_version"] = plain(ask(N.nvmlSystemGetNVMLVersion))
    out["cuda_driver_version"] = ask(N.nvmlSystemGetCudaDriverVersion)
    out["count"] = ask(N.nvmlDeviceGetCount)
    out["by_uuid_absent"] = ask(N.nvmlDeviceGetHandleByUUID, "GPU-00000000-0000-0000-0000-000000000000")
    out["error_string_3"] = text(N.nvmlErrorString(3))
    out["unit_count"] = ask(N.nvmlUnitGetCount)
    out["excluded_count"] = ask(N.nvmlGetExcludedDeviceCount)
    out["own_process_name"] = text(ask(N.nvmlSystemGetProcessName, os.getpid()))
    out["gpus"] = [device(N.nvmlDeviceGetHandleByIndex(i)) for i in range(out["count"])]
    handles = [N.nvmlDeviceGetHandleByIndex(i) for i in range(out["count"])]
    index_of = lambda hs: sorted(N.nvmlDeviceGetIndex(x) for x in hs)
    out["topology"] = {
        "common_ancestor_0": [ask(N.nvmlDeviceGetTopologyCommonAncestor, handles[0], x) for x in handles],
        "nearest_0_single": plain(ask(lambda: index_of(N.nvmlDeviceGetTopologyNearestGpus(
            handles[0], N.NVML_TOPOLOGY_SINGLE)))),
        "nearest_0_node": plain(ask(lambda: index_of(N.nvmlDeviceGetTopologyNearestGpus(
            handles[0], N.NVML_TOPOLOGY_NODE)))),
        "gpu_set_cpu_0": plain(ask(lambda: index_of(N.nvmlSystemGetTopologyGpuSet(0)))),
        "p2p_nvlink_0": [ask(N.nvmlDeviceGetP2PStatus, handles[0], x, N.NVML_P2P_CAPS_INDEX_NVLINK) for x in handles],
    }
    # Settings (root): a limit, a compute mode and application clocks set on GPU 0, read back, reset.
    h = N.nvmlDeviceGetHandleByIndex(0)
    lo, hi = N.nvmlDeviceGetPowerManagementLimitConstraints(h)
    mem = N.nvmlDeviceGetSupportedMemoryClocks(h)[0]
    gfx = N.nvmlDeviceGetSupportedGraphicsClocks(h, mem)[-1]
    out["settings"] = {
        "set_limit": ask(N.nvmlDeviceSetPowerManagementLimit, h, lo),
        "limit_after": ask(N.nvmlDeviceGetPowerManagementLimit, h),
        "enforced_after": ask(N.nvmlDeviceGetEnforcedPowerLimit, h),
        "set_limit_too_high": ask(N.nvmlDeviceSetPowerManagementLimit, h, hi + 1),
        "set_compute_mode": ask(N.nvmlDeviceSetComputeMode, h, N.NVML_COMPUTEMODE_EXCLUSIVE_PROCESS),
        "compute_mode_after": ask(N.nvmlDeviceGetComputeMode, h),
        "set_app_clocks": ask(N.nvmlDeviceSetApplicationsClocks, h, mem, gfx),
        "app_graphics_after": ask(N.nvmlDeviceGetApplicationsClock, h, N.NVML_CLOCK_GRAPHICS),
        "set_app_clocks_bad": ask(N.nvmlDeviceSetApplicationsClocks, h, mem, gfx + 1),
        "reset_app_clocks": ask(N.nvmlDeviceResetApplicationsClocks, h),
        "app_graphics_reset": ask(N.nvmlDeviceGetApplicationsClock, h, N.NVML_CLOCK_GRAPHICS),
        "min_limit": lo, "lowest_graphics": gfx,
        "set_ecc_off": ask(N.nvmlDeviceSetEccMode, h, 0),
        "ecc_after": ask(N.nvmlDeviceGetEccMode, h),
        "lock_clocks": ask(N.nvmlDeviceSetGpuLockedClocks, h, gfx, mem and N.nvmlDeviceGetSupportedGraphicsClocks(h, mem)[0]),
        "lock_clocks_inverted": ask(N.nvmlDeviceSetGpuLockedClocks, h, gfx + 15, gfx),
        "reset_locked_clocks": ask(N.nvmlDeviceResetGpuLockedClocks, h),
        "set_cpu_affinity": ask(N.nvmlDeviceSetCpuAffinity, h),
        "affinity_after": sorted(os.sched_getaffinity(0)),
        "clear_cpu_affinity": ask(N.nvmlDeviceClearCpuAffinity, h),
        "affinity_cleared": sorted(os.sched_getaffinity(0)),
    }
    N.nvmlDeviceSetEccMode(h, 1)
    N.nvmlDeviceSetPowerManagementLimit(h, hi)
    out["drain"] = drain_remove_rediscover(out["count"] - 1)
    N.nvmlShutdown()
    out["shutdown_again"] = ask(N.nvmlShutdown)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
