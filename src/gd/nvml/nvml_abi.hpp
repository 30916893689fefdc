// The subset of NVML's C ABI that gpudoctor and the simulator use, declared by
// the project itself (no NVIDIA header needed to build). Facts from nvml.h
// (return codes, enum values, struct layouts for LP64); pinned at compile time
// to NVIDIA's nvml.h 11.8 (NVML_API_VERSION 11) by tests/abi/abi_pin.cpp
// (docs/abi-pin.md), where the names newer than that header are checked not to
// collide with it. Shared by the dlopen binding and the simulator.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {

typedef int nvmlReturn_t;  // C enum, 4 bytes on Linux
typedef struct nvmlDevice_st* nvmlDevice_t;
typedef struct nvmlEventSet_st* nvmlEventSet_t;
typedef struct nvmlGpmSample_st* nvmlGpmSample_t;  // GPM sample buffers (nvmlGpmSampleAlloc)
typedef int nvmlEnableState_t;  // 0 disabled, 1 enabled
typedef int nvmlTemperatureSensors_t;
typedef int nvmlTemperatureThresholds_t;
typedef int nvmlClockType_t;
typedef int nvmlPstates_t;
typedef int nvmlMemoryErrorType_t;
typedef int nvmlEccCounterType_t;

struct nvmlPciInfo_t {  // layout of _v2/_v3: 68 bytes
  char busIdLegacy[16];
  unsigned int domain;
  unsigned int bus;
  unsigned int device;
  unsigned int pciDeviceId;  // (device id << 16) | vendor id, e.g. 0x233010DE
  unsigned int pciSubSystemId;
  char busId[32];  // "%08X:%02X:%02X.0"
};

struct nvmlMemory_t {  // v1: bytes
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

struct nvmlUtilization_t {  // percent
  unsigned int gpu;
  unsigned int memory;
};

struct nvmlEventData_t {  // filled by nvmlEventSetWait_v2; the plain (v1) call fills the first 24 bytes
  nvmlDevice_t device;
  unsigned long long eventType;  // one nvmlEventType* bit
  unsigned long long eventData;  // XidCriticalError: the Xid (999 = unknown Xid)
  unsigned int gpuInstanceId;    // MIG; 0xFFFFFFFF otherwise
  unsigned int computeInstanceId;
};

// ---- what real clients (pynvml, gpustat, nvtop, Slurm's gpu_nvml.so) use;
// the simulator exports them, gpudoctor's own binding does not call them ----

struct nvmlMemory_v2_t {  // nvmlDeviceGetMemoryInfo_v2; version = NVML_STRUCT_VERSION(Memory, 2)
  unsigned int version;
  unsigned long long total;
  unsigned long long reserved;
  unsigned long long free;
  unsigned long long used;
};

struct nvmlBAR1Memory_t {
  unsigned long long bar1Total;
  unsigned long long bar1Free;
  unsigned long long bar1Used;
};

struct nvmlProcessInfo_v1_t {  // the plain nvmlDevice{Compute,Graphics,MPSCompute}RunningProcesses
  unsigned int pid;
  unsigned long long usedGpuMemory;
};

struct nvmlProcessInfo_v2_t {  // _v2; _v3 fills the same layout (nvmlProcessInfo_t)
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;  // 0xFFFFFFFF without MIG
  unsigned int computeInstanceId;
};
typedef nvmlProcessInfo_v2_t nvmlProcessInfo_t;

struct nvmlDeviceAttributes_t {  // nvmlDeviceGetAttributes_v2
  unsigned int multiprocessorCount;
  unsigned int sharedCopyEngineCount;
  unsigned int sharedDecoderCount;
  unsigned int sharedEncoderCount;
  unsigned int sharedJpegCount;
  unsigned int sharedOfaCount;
  unsigned int gpuInstanceSliceCount;
  unsigned int computeInstanceSliceCount;
  unsigned long long memorySizeMB;
};

struct nvmlProcessUtilizationSample_t {  // nvmlDeviceGetProcessUtilization
  unsigned int pid;
  unsigned long long timeStamp;  // CPU time, microseconds
  unsigned int smUtil;
  unsigned int memUtil;
  unsigned int encUtil;
  unsigned int decUtil;
};

}  // extern "C"

static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t layout");
static_assert(sizeof(nvmlBAR1Memory_t) == 24, "nvmlBAR1Memory_t layout");
static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t layout");
static_assert(sizeof(nvmlProcessInfo_v2_t) == 24, "nvmlProcessInfo_v2_t layout");
static_assert(sizeof(nvmlDeviceAttributes_t) == 40, "nvmlDeviceAttributes_t layout");
static_assert(sizeof(nvmlProcessUtilizationSample_t) == 32, "nvmlProcessUtilizationSample_t layout");

static_assert(sizeof(nvmlEventData_t) == 32, "nvmlEventData_t layout");
static_assert(offsetof(nvmlEventData_t, eventData) == 16, "nvmlEventData_t.eventData offset");
static_assert(offsetof(nvmlEventData_t, gpuInstanceId) == 24, "nvmlEventData_t.gpuInstanceId offset");
static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t layout");
static_assert(offsetof(nvmlPciInfo_t, busId) == 36, "nvmlPciInfo_t.busId offset");
static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t layout");
static_assert(sizeof(nvmlUtilization_t) == 8, "nvmlUtilization_t layout");

namespace gd::nvml {

// nvmlReturn_t values (NVML_SUCCESS, NVML_ERROR_*).
inline constexpr int k_success = 0;
inline constexpr int k_uninitialized = 1;
inline constexpr int k_invalid_argument = 2;
inline constexpr int k_not_supported = 3;
inline constexpr int k_no_permission = 4;
inline constexpr int k_not_found = 6;
inline constexpr int k_insufficient_size = 7;
inline constexpr int k_driver_not_loaded = 9;
inline constexpr int k_timeout = 10;
inline constexpr int k_library_not_found = 12;
inline constexpr int k_function_not_found = 13;
inline constexpr int k_gpu_is_lost = 15;
inline constexpr int k_reset_required = 16;
inline constexpr int k_lib_rm_version_mismatch = 18;
inline constexpr int k_unknown = 999;

// Buffer sizes including NUL.
inline constexpr unsigned k_system_version_len = 80;
inline constexpr unsigned k_device_name_len = 96;
inline constexpr unsigned k_device_uuid_len = 96;
inline constexpr unsigned k_device_serial_len = 30;

// nvmlTemperatureThresholds_t
inline constexpr int k_temp_threshold_shutdown = 0;
inline constexpr int k_temp_threshold_slowdown = 1;
// nvmlClockType_t
inline constexpr int k_clock_graphics = 0;
inline constexpr int k_clock_sm = 1;
inline constexpr int k_clock_mem = 2;
// nvmlMemoryErrorType_t / nvmlEccCounterType_t
inline constexpr int k_memory_error_corrected = 0;
inline constexpr int k_memory_error_uncorrected = 1;
inline constexpr int k_ecc_counter_volatile = 0;
inline constexpr int k_ecc_counter_aggregate = 1;

// Struct versions: NVML_STRUCT_VERSION(data, ver) = sizeof | ver << 24.
inline constexpr unsigned k_memory_v2_version = static_cast<unsigned>(sizeof(nvmlMemory_v2_t)) | (2u << 24);
// More buffer sizes (with NUL) and limits.
inline constexpr unsigned k_device_pci_bus_id_len = 32;
inline constexpr unsigned k_device_vbios_version_len = 32;
inline constexpr unsigned k_device_part_number_len = 80;
inline constexpr unsigned k_device_inforom_version_len = 16;
inline constexpr unsigned k_nvlink_max_links = 18;  // NVML_NVLINK_MAX_LINKS
// nvmlClockId_t (nvmlDeviceGetClock)
inline constexpr int k_clock_id_current = 0;
inline constexpr int k_clock_id_app_clock_target = 1;
inline constexpr int k_clock_id_app_clock_default = 2;
inline constexpr int k_clock_id_customer_boost_max = 3;
// nvmlPcieUtilCounter_t
inline constexpr int k_pcie_util_tx_bytes = 0;
inline constexpr int k_pcie_util_rx_bytes = 1;
// nvmlAffinityScope_t
inline constexpr unsigned k_affinity_scope_node = 0;
inline constexpr unsigned k_affinity_scope_socket = 1;
// MIG modes
inline constexpr unsigned k_device_mig_disable = 0;
inline constexpr unsigned k_device_mig_enable = 1;

// nvmlEventType* bits (unsigned long long)
inline constexpr unsigned long long k_event_type_xid_critical_error = 0x8;

// Function pointer types, one per symbol gpudoctor resolves. The symbol name
// to dlsym is given beside each in nvml_symbols.hpp.
using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using ErrorStringFn = const char* (*)(nvmlReturn_t);
using SystemStringFn = nvmlReturn_t (*)(char*, unsigned);
using SystemIntFn = nvmlReturn_t (*)(int*);
using CountFn = nvmlReturn_t (*)(unsigned*);
using HandleByIndexFn = nvmlReturn_t (*)(unsigned, nvmlDevice_t*);
using DeviceStringFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned);
using DeviceUintFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned*);
using DeviceUllFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned long long*);
using DeviceEnableFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlEnableState_t*);
using DeviceSetEnableFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlEnableState_t);
using DevicePciFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlPciInfo_t*);
using DeviceTempFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlTemperatureSensors_t, unsigned*);
using DeviceTempThresholdFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlTemperatureThresholds_t, unsigned*);
using DeviceMemoryFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*);
using DeviceUtilFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlUtilization_t*);
using DeviceClockFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlClockType_t, unsigned*);
using DevicePstateFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlPstates_t*);
using DeviceEccModeFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlEnableState_t*, nvmlEnableState_t*);
using DeviceEccCountFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlMemoryErrorType_t, nvmlEccCounterType_t,
                                          unsigned long long*);
using EventSetCreateFn = nvmlReturn_t (*)(nvmlEventSet_t*);
using EventSetFreeFn = nvmlReturn_t (*)(nvmlEventSet_t);
using DeviceRegisterEventsFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned long long, nvmlEventSet_t);
using EventSetWaitFn = nvmlReturn_t (*)(nvmlEventSet_t, nvmlEventData_t*, unsigned);  // timeout in ms
using DeviceRemappedRowsFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned*, unsigned*, unsigned*, unsigned*);

// The value of a field or a sample; which member is valid says a nvmlValueType_t.
union nvmlValue_t {
  double dVal;
  unsigned uiVal;
  unsigned long ulVal;
  unsigned long long ullVal;
  long long sllVal;
  int siVal;
  unsigned short usVal;
};

// nvmlDeviceGetFieldValues(dev, count, values): 40-byte records, one per field.
struct nvmlFieldValue_t {
  unsigned fieldId;
  unsigned scopeId;
  long long timestamp;
  long long latencyUsec;
  int valueType;  // nvmlValueType_t: DOUBLE 0, UINT 1, ULONG 2, ULONGLONG 3, SLONGLONG 4, SINT 5, USHORT 6
  nvmlReturn_t nvmlReturn;
  nvmlValue_t value;
};
static_assert(sizeof(nvmlFieldValue_t) == 40, "nvmlFieldValue_t layout");
using DeviceFieldValuesFn = nvmlReturn_t (*)(nvmlDevice_t, int, nvmlFieldValue_t*);
inline constexpr unsigned k_fi_dev_get_gpu_recovery_action = 230;  // NVML_FI_DEV_GET_GPU_RECOVERY_ACTION
inline constexpr int k_value_type_uint = 1;
inline constexpr int k_value_type_ulong = 2;
inline constexpr int k_value_type_ulonglong = 3;
inline constexpr int k_value_type_sint = 5;  // NVML_VALUE_TYPE_SIGNED_INT: newer than nvml.h 11.8

// ---- telemetry and board queries real clients make (the simulator's
// nvml_exports_telemetry.cpp, nvml_exports_board.cpp); pinned like the rest ----

struct nvmlSample_t {  // nvmlDeviceGetSamples
  unsigned long long timeStamp;  // CPU time, microseconds
  nvmlValue_t sampleValue;
};
struct nvmlViolationTime_t {  // nvmlDeviceGetViolationStatus
  unsigned long long referenceTime;  // CPU time, microseconds
  unsigned long long violationTime;  // nanoseconds
};
struct nvmlGpuThermalSensor_t {  // one of nvmlGpuThermalSettings_t's sensors (anonymous in nvml.h)
  int controller;  // nvmlThermalController_t
  int defaultMinTemp;
  int defaultMaxTemp;
  int currentTemp;
  int target;  // nvmlThermalTarget_t
};
struct nvmlGpuThermalSettings_t {  // nvmlDeviceGetThermalSettings
  unsigned int count;
  nvmlGpuThermalSensor_t sensor[3];  // NVML_MAX_THERMAL_SENSORS_PER_GPU
};
struct nvmlClkMonFaultInfo_t {
  unsigned int clkApiDomain;
  unsigned int clkDomainFaultMask;
};
struct nvmlClkMonStatus_t {  // nvmlDeviceGetClkMonStatus
  unsigned int bGlobalStatus;
  unsigned int clkMonListSize;
  nvmlClkMonFaultInfo_t clkMonList[32];  // MAX_CLK_DOMAINS
};
struct nvmlGpuUtilizationDomain_t {  // one of nvmlGpuDynamicPstatesInfo_t's domains (anonymous in nvml.h)
  unsigned int bIsPresent;
  unsigned int percentage;
  unsigned int incThreshold;
  unsigned int decThreshold;
};
struct nvmlGpuDynamicPstatesInfo_t {  // nvmlDeviceGetDynamicPstatesInfo
  unsigned int flags;
  nvmlGpuUtilizationDomain_t utilization[8];  // NVML_MAX_GPU_UTILIZATIONS: GPU, FB, VID, BUS, ...
};
struct nvmlRowRemapperHistogramValues_t {  // banks by remaining remap capacity
  unsigned int max;
  unsigned int high;
  unsigned int partial;
  unsigned int low;
  unsigned int none;
};
struct nvmlEccErrorCounts_t {  // nvmlDeviceGetDetailedEccErrors (deprecated)
  unsigned long long l1Cache;
  unsigned long long l2Cache;
  unsigned long long deviceMemory;
  unsigned long long registerFile;
};
struct nvmlFBCStats_t {  // nvmlDeviceGetFBCStats
  unsigned int sessionsCount;
  unsigned int averageFPS;
  unsigned int averageLatency;
};
struct nvmlNvLinkUtilizationControl_t {
  int units;      // nvmlNvLinkUtilizationCountUnits_t
  int pktfilter;  // nvmlNvLinkUtilizationCountPktTypes_t (a bit mask)
};
struct nvmlGpmSupport_t {  // nvmlGpmQueryDeviceSupport
  unsigned int version;    // NVML_GPM_SUPPORT_VERSION (1)
  unsigned int isSupportedDevice;
};
struct nvmlGpmMetricInfo_t {  // nvmlGpmMetric_t's metricInfo (anonymous in nvml.h); may be NULL
  char* shortName;
  char* longName;
  char* unit;
};
struct nvmlGpmMetric_t {
  unsigned int metricId;  // nvmlGpmMetricId_t
  nvmlReturn_t nvmlReturn;
  double value;
  nvmlGpmMetricInfo_t metricInfo;
};
struct nvmlGpmMetricsGet_t {  // nvmlGpmMetricsGet
  unsigned int version;       // NVML_GPM_METRICS_GET_VERSION (1)
  unsigned int numMetrics;
  nvmlGpmSample_t sample1;
  nvmlGpmSample_t sample2;
  nvmlGpmMetric_t metrics[98];  // NVML_GPM_METRIC_MAX
};
// nvmlDeviceGetGpuFabricInfo (R525+, newer than nvml.h 11.8; layout from
// NVIDIA's later headers: a 16-byte cluster UUID, NVML_GPU_FABRIC_UUID_LEN).
// pynvml 11.525 declares clusterUuid as 80 bytes: it misreads the fields after it.
struct nvmlGpuFabricInfo_t {
  unsigned char clusterUuid[16];
  nvmlReturn_t status;
  unsigned int cliqueId;  // "partitionId" in R525
  unsigned char state;    // nvmlGpuFabricState_t: NVML_GPU_FABRIC_STATE_*
};
static_assert(sizeof(nvmlGpuFabricInfo_t) == 28, "nvmlGpuFabricInfo_t layout");

}  // namespace gd::nvml
