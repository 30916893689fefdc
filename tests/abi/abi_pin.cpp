// The project's own NVML and CUDA ABI declarations (src/gd/nvml/nvml_abi.hpp,
// src/gd/cuda/cuda_abi.hpp), pinned to NVIDIA's real headers (nvml.h of
// libnvidia-ml-dev, cuda.h of nvidia-cuda-dev, both 11.8, unpacked by
// scripts/fetch-nvidia). Compiling this file is the test: every struct size,
// alignment and field offset, every return code, enum value, buffer size,
// field id and event bit, and the type of every function gpudoctor resolves
// (for each symbol name it resolves it by) must agree, or the build fails
// naming what differs. docs/abi-pin.md shows it failing on purpose.
//
// NVIDIA's headers are included inside `namespace real` after the project's:
// the project's types are global and have the same names.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <type_traits>

#include "gd/cuda/cuda_abi.hpp"
#include "gd/nvml/nvml_abi.hpp"

struct nvmlDevice_st;  // opaque, as in NVIDIA's headers
struct nvmlEventSet_st;
struct CUctx_st;

// Declares the old unversioned prototypes too (nvmlInit, ..._v2 of PCI info)
// instead of mapping those names to the versioned ones by macro: the binding
// falls back to them on an old library, so they are pinned as well.
#define NVML_NO_UNVERSIONED_FUNC_DEFS
namespace real {
#include <cuda.h>
#include <nvml.h>
}  // namespace real

namespace {

// ---- structs: size, alignment, every field's offset and size -----------------------------

#define PIN_STRUCT(ours, theirs)                                                   \
  static_assert(sizeof(ours) == sizeof(theirs), "size of " #ours " differs from nvml.h/cuda.h"); \
  static_assert(alignof(ours) == alignof(theirs), "alignment of " #ours " differs")
#define PIN_FIELD(ours, theirs, field)                                                          \
  static_assert(offsetof(ours, field) == offsetof(theirs, field), "offset of " #ours "." #field " differs"); \
  static_assert(sizeof(ours::field) == sizeof(theirs::field), "size of " #ours "." #field " differs")

PIN_STRUCT(nvmlPciInfo_t, real::nvmlPciInfo_t);
PIN_FIELD(nvmlPciInfo_t, real::nvmlPciInfo_t, busIdLegacy);
PIN_FIELD(nvmlPciInfo_t, real::nvmlPciInfo_t, domain);
PIN_FIELD(nvmlPciInfo_t, real::nvmlPciInfo_t, bus);
PIN_FIELD(nvmlPciInfo_t, real::nvmlPciInfo_t, device);
PIN_FIELD(nvmlPciInfo_t, real::nvmlPciInfo_t, pciDeviceId);
PIN_FIELD(nvmlPciInfo_t, real::nvmlPciInfo_t, pciSubSystemId);
PIN_FIELD(nvmlPciInfo_t, real::nvmlPciInfo_t, busId);

PIN_STRUCT(nvmlMemory_t, real::nvmlMemory_t);
PIN_FIELD(nvmlMemory_t, real::nvmlMemory_t, total);
PIN_FIELD(nvmlMemory_t, real::nvmlMemory_t, free);
PIN_FIELD(nvmlMemory_t, real::nvmlMemory_t, used);

PIN_STRUCT(nvmlMemory_v2_t, real::nvmlMemory_v2_t);
PIN_FIELD(nvmlMemory_v2_t, real::nvmlMemory_v2_t, version);
PIN_FIELD(nvmlMemory_v2_t, real::nvmlMemory_v2_t, total);
PIN_FIELD(nvmlMemory_v2_t, real::nvmlMemory_v2_t, reserved);
PIN_FIELD(nvmlMemory_v2_t, real::nvmlMemory_v2_t, free);
PIN_FIELD(nvmlMemory_v2_t, real::nvmlMemory_v2_t, used);

PIN_STRUCT(nvmlBAR1Memory_t, real::nvmlBAR1Memory_t);
PIN_FIELD(nvmlBAR1Memory_t, real::nvmlBAR1Memory_t, bar1Total);
PIN_FIELD(nvmlBAR1Memory_t, real::nvmlBAR1Memory_t, bar1Free);
PIN_FIELD(nvmlBAR1Memory_t, real::nvmlBAR1Memory_t, bar1Used);

PIN_STRUCT(nvmlUtilization_t, real::nvmlUtilization_t);
PIN_FIELD(nvmlUtilization_t, real::nvmlUtilization_t, gpu);
PIN_FIELD(nvmlUtilization_t, real::nvmlUtilization_t, memory);

PIN_STRUCT(nvmlEventData_t, real::nvmlEventData_t);
PIN_FIELD(nvmlEventData_t, real::nvmlEventData_t, device);
PIN_FIELD(nvmlEventData_t, real::nvmlEventData_t, eventType);
PIN_FIELD(nvmlEventData_t, real::nvmlEventData_t, eventData);
PIN_FIELD(nvmlEventData_t, real::nvmlEventData_t, gpuInstanceId);
PIN_FIELD(nvmlEventData_t, real::nvmlEventData_t, computeInstanceId);

PIN_STRUCT(nvmlProcessInfo_v1_t, real::nvmlProcessInfo_v1_t);
PIN_FIELD(nvmlProcessInfo_v1_t, real::nvmlProcessInfo_v1_t, pid);
PIN_FIELD(nvmlProcessInfo_v1_t, real::nvmlProcessInfo_v1_t, usedGpuMemory);
PIN_STRUCT(nvmlProcessInfo_v2_t, real::nvmlProcessInfo_v2_t);
PIN_FIELD(nvmlProcessInfo_v2_t, real::nvmlProcessInfo_v2_t, pid);
PIN_FIELD(nvmlProcessInfo_v2_t, real::nvmlProcessInfo_v2_t, usedGpuMemory);
PIN_FIELD(nvmlProcessInfo_v2_t, real::nvmlProcessInfo_v2_t, gpuInstanceId);
PIN_FIELD(nvmlProcessInfo_v2_t, real::nvmlProcessInfo_v2_t, computeInstanceId);
PIN_STRUCT(nvmlProcessInfo_t, real::nvmlProcessInfo_t);  // what _v3 fills
PIN_FIELD(nvmlProcessInfo_t, real::nvmlProcessInfo_t, pid);
PIN_FIELD(nvmlProcessInfo_t, real::nvmlProcessInfo_t, usedGpuMemory);
PIN_FIELD(nvmlProcessInfo_t, real::nvmlProcessInfo_t, gpuInstanceId);
PIN_FIELD(nvmlProcessInfo_t, real::nvmlProcessInfo_t, computeInstanceId);

PIN_STRUCT(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t);
PIN_FIELD(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t, multiprocessorCount);
PIN_FIELD(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t, sharedCopyEngineCount);
PIN_FIELD(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t, sharedDecoderCount);
PIN_FIELD(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t, sharedEncoderCount);
PIN_FIELD(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t, sharedJpegCount);
PIN_FIELD(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t, sharedOfaCount);
PIN_FIELD(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t, gpuInstanceSliceCount);
PIN_FIELD(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t, computeInstanceSliceCount);
PIN_FIELD(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t, memorySizeMB);

PIN_STRUCT(nvmlProcessUtilizationSample_t, real::nvmlProcessUtilizationSample_t);
PIN_FIELD(nvmlProcessUtilizationSample_t, real::nvmlProcessUtilizationSample_t, pid);
PIN_FIELD(nvmlProcessUtilizationSample_t, real::nvmlProcessUtilizationSample_t, timeStamp);
PIN_FIELD(nvmlProcessUtilizationSample_t, real::nvmlProcessUtilizationSample_t, smUtil);
PIN_FIELD(nvmlProcessUtilizationSample_t, real::nvmlProcessUtilizationSample_t, memUtil);
PIN_FIELD(nvmlProcessUtilizationSample_t, real::nvmlProcessUtilizationSample_t, encUtil);
PIN_FIELD(nvmlProcessUtilizationSample_t, real::nvmlProcessUtilizationSample_t, decUtil);

using OurFieldValue = gd::nvml::nvmlFieldValue_t;
PIN_STRUCT(OurFieldValue, real::nvmlFieldValue_t);
PIN_FIELD(OurFieldValue, real::nvmlFieldValue_t, fieldId);
PIN_FIELD(OurFieldValue, real::nvmlFieldValue_t, scopeId);
PIN_FIELD(OurFieldValue, real::nvmlFieldValue_t, timestamp);
PIN_FIELD(OurFieldValue, real::nvmlFieldValue_t, latencyUsec);
PIN_FIELD(OurFieldValue, real::nvmlFieldValue_t, valueType);
PIN_FIELD(OurFieldValue, real::nvmlFieldValue_t, nvmlReturn);
PIN_FIELD(OurFieldValue, real::nvmlFieldValue_t, value);
static_assert(sizeof(OurFieldValue::value.dVal) == sizeof(real::nvmlValue_t::dVal), "nvmlValue_t.dVal");
static_assert(sizeof(OurFieldValue::value.ullVal) == sizeof(real::nvmlValue_t::ullVal), "nvmlValue_t.ullVal");

// Scalar and handle typedefs.
static_assert(sizeof(nvmlReturn_t) == sizeof(real::nvmlReturn_t), "nvmlReturn_t size");
static_assert(sizeof(nvmlEnableState_t) == sizeof(real::nvmlEnableState_t), "nvmlEnableState_t size");
static_assert(sizeof(nvmlTemperatureSensors_t) == sizeof(real::nvmlTemperatureSensors_t), "sensor type size");
static_assert(sizeof(nvmlTemperatureThresholds_t) == sizeof(real::nvmlTemperatureThresholds_t), "threshold size");
static_assert(sizeof(nvmlClockType_t) == sizeof(real::nvmlClockType_t), "nvmlClockType_t size");
static_assert(sizeof(nvmlPstates_t) == sizeof(real::nvmlPstates_t), "nvmlPstates_t size");
static_assert(sizeof(nvmlMemoryErrorType_t) == sizeof(real::nvmlMemoryErrorType_t), "memory error type size");
static_assert(sizeof(nvmlEccCounterType_t) == sizeof(real::nvmlEccCounterType_t), "ECC counter type size");
static_assert(sizeof(nvmlDevice_t) == sizeof(real::nvmlDevice_t), "nvmlDevice_t size");
static_assert(sizeof(CUresult) == sizeof(real::CUresult), "CUresult size");
static_assert(sizeof(CUdevice) == sizeof(real::CUdevice), "CUdevice size");
static_assert(sizeof(CUdeviceptr) == sizeof(real::CUdeviceptr), "CUdeviceptr size (the _v2 64-bit pointer)");
static_assert(sizeof(CUcontext) == sizeof(real::CUcontext), "CUcontext size");

// ---- constants ----------------------------------------------------------------------------

namespace n = gd::nvml;
#define PIN(ours, theirs) static_assert(static_cast<long long>(ours) == static_cast<long long>(theirs), #ours " != " #theirs)
PIN(n::k_success, real::NVML_SUCCESS);
PIN(n::k_uninitialized, real::NVML_ERROR_UNINITIALIZED);
PIN(n::k_invalid_argument, real::NVML_ERROR_INVALID_ARGUMENT);
PIN(n::k_not_supported, real::NVML_ERROR_NOT_SUPPORTED);
PIN(n::k_no_permission, real::NVML_ERROR_NO_PERMISSION);
PIN(n::k_not_found, real::NVML_ERROR_NOT_FOUND);
PIN(n::k_insufficient_size, real::NVML_ERROR_INSUFFICIENT_SIZE);
PIN(n::k_driver_not_loaded, real::NVML_ERROR_DRIVER_NOT_LOADED);
PIN(n::k_timeout, real::NVML_ERROR_TIMEOUT);
PIN(n::k_library_not_found, real::NVML_ERROR_LIBRARY_NOT_FOUND);
PIN(n::k_function_not_found, real::NVML_ERROR_FUNCTION_NOT_FOUND);
PIN(n::k_gpu_is_lost, real::NVML_ERROR_GPU_IS_LOST);
PIN(n::k_reset_required, real::NVML_ERROR_RESET_REQUIRED);
PIN(n::k_lib_rm_version_mismatch, real::NVML_ERROR_LIB_RM_VERSION_MISMATCH);
PIN(n::k_unknown, real::NVML_ERROR_UNKNOWN);

PIN(n::k_system_version_len, NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE);
PIN(n::k_system_version_len, NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE);
PIN(n::k_device_name_len, NVML_DEVICE_NAME_V2_BUFFER_SIZE);
PIN(n::k_device_uuid_len, NVML_DEVICE_UUID_V2_BUFFER_SIZE);
PIN(n::k_device_serial_len, NVML_DEVICE_SERIAL_BUFFER_SIZE);
PIN(n::k_device_pci_bus_id_len, NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE);
PIN(n::k_device_vbios_version_len, NVML_DEVICE_VBIOS_VERSION_BUFFER_SIZE);
PIN(n::k_device_part_number_len, NVML_DEVICE_PART_NUMBER_BUFFER_SIZE);
PIN(n::k_device_inforom_version_len, NVML_DEVICE_INFOROM_VERSION_BUFFER_SIZE);
PIN(n::k_nvlink_max_links, NVML_NVLINK_MAX_LINKS);

PIN(n::k_temp_threshold_shutdown, real::NVML_TEMPERATURE_THRESHOLD_SHUTDOWN);
PIN(n::k_temp_threshold_slowdown, real::NVML_TEMPERATURE_THRESHOLD_SLOWDOWN);
PIN(n::k_clock_graphics, real::NVML_CLOCK_GRAPHICS);
PIN(n::k_clock_sm, real::NVML_CLOCK_SM);
PIN(n::k_clock_mem, real::NVML_CLOCK_MEM);
PIN(n::k_memory_error_corrected, real::NVML_MEMORY_ERROR_TYPE_CORRECTED);
PIN(n::k_memory_error_uncorrected, real::NVML_MEMORY_ERROR_TYPE_UNCORRECTED);
PIN(n::k_ecc_counter_volatile, real::NVML_VOLATILE_ECC);
PIN(n::k_ecc_counter_aggregate, real::NVML_AGGREGATE_ECC);
PIN(n::k_clock_id_current, real::NVML_CLOCK_ID_CURRENT);
PIN(n::k_clock_id_app_clock_target, real::NVML_CLOCK_ID_APP_CLOCK_TARGET);
PIN(n::k_clock_id_app_clock_default, real::NVML_CLOCK_ID_APP_CLOCK_DEFAULT);
PIN(n::k_clock_id_customer_boost_max, real::NVML_CLOCK_ID_CUSTOMER_BOOST_MAX);
PIN(n::k_pcie_util_tx_bytes, real::NVML_PCIE_UTIL_TX_BYTES);
PIN(n::k_pcie_util_rx_bytes, real::NVML_PCIE_UTIL_RX_BYTES);
PIN(n::k_affinity_scope_node, NVML_AFFINITY_SCOPE_NODE);
PIN(n::k_affinity_scope_socket, NVML_AFFINITY_SCOPE_SOCKET);
PIN(n::k_device_mig_disable, NVML_DEVICE_MIG_DISABLE);
PIN(n::k_device_mig_enable, NVML_DEVICE_MIG_ENABLE);
PIN(n::k_event_type_xid_critical_error, nvmlEventTypeXidCriticalError);
PIN(n::k_value_type_uint, real::NVML_VALUE_TYPE_UNSIGNED_INT);
PIN(n::k_memory_v2_version, nvmlMemory_v2);
// NVML_FI_DEV_GET_GPU_RECOVERY_ACTION (230) is newer than this 11.8 header
// (it came with R570): the header's last field id must be below it, so the
// project's 230 cannot collide with a field this header knows.
static_assert(NVML_FI_MAX <= n::k_fi_dev_get_gpu_recovery_action, "field 230 collides with a field nvml.h defines");

namespace c = gd::cuda;
PIN(c::k_success, real::CUDA_SUCCESS);
PIN(c::k_invalid_value, real::CUDA_ERROR_INVALID_VALUE);
PIN(c::k_out_of_memory, real::CUDA_ERROR_OUT_OF_MEMORY);
PIN(c::k_not_initialized, real::CUDA_ERROR_NOT_INITIALIZED);
PIN(c::k_deinitialized, real::CUDA_ERROR_DEINITIALIZED);
PIN(c::k_stub_library, real::CUDA_ERROR_STUB_LIBRARY);
PIN(c::k_device_unavailable, real::CUDA_ERROR_DEVICE_UNAVAILABLE);
PIN(c::k_no_device, real::CUDA_ERROR_NO_DEVICE);
PIN(c::k_invalid_device, real::CUDA_ERROR_INVALID_DEVICE);
PIN(c::k_invalid_context, real::CUDA_ERROR_INVALID_CONTEXT);
PIN(c::k_operating_system, real::CUDA_ERROR_OPERATING_SYSTEM);
PIN(c::k_not_permitted, real::CUDA_ERROR_NOT_PERMITTED);
PIN(c::k_not_supported, real::CUDA_ERROR_NOT_SUPPORTED);
PIN(c::k_system_not_ready, real::CUDA_ERROR_SYSTEM_NOT_READY);
PIN(c::k_system_driver_mismatch, real::CUDA_ERROR_SYSTEM_DRIVER_MISMATCH);
PIN(c::k_compat_not_supported_on_device, real::CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE);
PIN(c::k_unknown, real::CUDA_ERROR_UNKNOWN);
// CALL_REQUIRES_NEWER_DRIVER (36) is newer than this 11.8 cuda.h; 35 is the
// runtime API's cudaErrorInsufficientDriver, deliberately not a CUresult:
// neither may collide with a CUresult this header defines.
static_assert(c::k_call_requires_newer_driver != real::CUDA_ERROR_STUB_LIBRARY &&
                  c::k_runtime_insufficient_driver != real::CUDA_ERROR_STUB_LIBRARY,
              "36/35 collide with a CUresult");

// ---- function types: the project's type for each symbol it resolves ---------------------------
//
// The two sides' types live in different namespaces, so each type is reduced
// to a shape: C enums to int (the project declares them as int), every other
// integer type exactly as it is, the same-named structs of both sides to one
// type, pointers and functions part by part.

template <class T, class = void>
struct Shape {
  using type = T;
};
template <class T>
using shape_t = typename Shape<T>::type;
template <class T>
struct Shape<T, std::enable_if_t<std::is_enum_v<T>>> {
  static_assert(sizeof(T) == sizeof(int), "a C enum of nvml.h/cuda.h is not int-sized");
  using type = int;  // a C enum is passed as an int; the project declares those as int
};
template <class T>
struct Shape<T*> {
  using type = shape_t<T>*;
};
template <class T>
struct Shape<const T> {
  using type = const shape_t<T>;
};
template <class R, class... A>
struct Shape<R (*)(A...)> {
  using type = shape_t<R> (*)(shape_t<A>...);
};
#define SAME_TYPE(ours, theirs) \
  template <>                   \
  struct Shape<theirs> {        \
    using type = ours;          \
  };
SAME_TYPE(nvmlPciInfo_t, real::nvmlPciInfo_t)
SAME_TYPE(nvmlMemory_t, real::nvmlMemory_t)
SAME_TYPE(nvmlUtilization_t, real::nvmlUtilization_t)
SAME_TYPE(nvmlEventData_t, real::nvmlEventData_t)
SAME_TYPE(gd::nvml::nvmlFieldValue_t, real::nvmlFieldValue_t)
// The opaque handles need no mapping: nvml.h's and cuda.h's `struct nvmlDevice_st*`
// (and the others) name the global structs declared above, so both sides'
// handle typedefs are the same type.
static_assert(std::is_same_v<nvmlDevice_t, real::nvmlDevice_t>, "nvmlDevice_t");
static_assert(std::is_same_v<nvmlEventSet_t, real::nvmlEventSet_t>, "nvmlEventSet_t");
static_assert(std::is_same_v<CUcontext, real::CUcontext>, "CUcontext");

#define PIN_FN(ours, symbol)                                                                   \
  static_assert(std::is_same_v<shape_t<n::ours>, shape_t<decltype(&real::symbol)>>,          \
                "the project's " #ours " is not the type of " #symbol " in nvml.h")
PIN_FN(InitFn, nvmlInit_v2);
PIN_FN(ShutdownFn, nvmlShutdown);
PIN_FN(ErrorStringFn, nvmlErrorString);
PIN_FN(CountFn, nvmlDeviceGetCount_v2);
PIN_FN(HandleByIndexFn, nvmlDeviceGetHandleByIndex_v2);
PIN_FN(SystemStringFn, nvmlSystemGetDriverVersion);
PIN_FN(SystemStringFn, nvmlSystemGetNVMLVersion);
PIN_FN(SystemIntFn, nvmlSystemGetCudaDriverVersion_v2);
PIN_FN(SystemIntFn, nvmlSystemGetCudaDriverVersion);
PIN_FN(DevicePciFn, nvmlDeviceGetPciInfo_v3);
PIN_FN(DevicePciFn, nvmlDeviceGetPciInfo_v2);
PIN_FN(DeviceStringFn, nvmlDeviceGetName);
PIN_FN(DeviceStringFn, nvmlDeviceGetUUID);
PIN_FN(DeviceStringFn, nvmlDeviceGetSerial);
PIN_FN(DeviceUintFn, nvmlDeviceGetMinorNumber);
PIN_FN(DeviceEnableFn, nvmlDeviceGetPersistenceMode);
PIN_FN(DeviceSetEnableFn, nvmlDeviceSetPersistenceMode);
PIN_FN(DeviceTempFn, nvmlDeviceGetTemperature);
PIN_FN(DeviceTempThresholdFn, nvmlDeviceGetTemperatureThreshold);
PIN_FN(DeviceUintFn, nvmlDeviceGetPowerUsage);
PIN_FN(DeviceUintFn, nvmlDeviceGetEnforcedPowerLimit);
PIN_FN(DeviceUllFn, nvmlDeviceGetTotalEnergyConsumption);
PIN_FN(DeviceMemoryFn, nvmlDeviceGetMemoryInfo);
PIN_FN(DeviceUtilFn, nvmlDeviceGetUtilizationRates);
PIN_FN(DeviceClockFn, nvmlDeviceGetClockInfo);
PIN_FN(DeviceClockFn, nvmlDeviceGetMaxClockInfo);
PIN_FN(DeviceUllFn, nvmlDeviceGetCurrentClocksThrottleReasons);
PIN_FN(DevicePstateFn, nvmlDeviceGetPerformanceState);
PIN_FN(DeviceUintFn, nvmlDeviceGetFanSpeed);
PIN_FN(DeviceEccModeFn, nvmlDeviceGetEccMode);
PIN_FN(DeviceEccCountFn, nvmlDeviceGetTotalEccErrors);
PIN_FN(DeviceEnableFn, nvmlDeviceGetRetiredPagesPendingStatus);
PIN_FN(DeviceRemappedRowsFn, nvmlDeviceGetRemappedRows);
PIN_FN(DeviceFieldValuesFn, nvmlDeviceGetFieldValues);
PIN_FN(DeviceUintFn, nvmlDeviceGetCurrPcieLinkGeneration);
PIN_FN(DeviceUintFn, nvmlDeviceGetCurrPcieLinkWidth);
PIN_FN(DeviceUintFn, nvmlDeviceGetMaxPcieLinkGeneration);
PIN_FN(DeviceUintFn, nvmlDeviceGetMaxPcieLinkWidth);
PIN_FN(EventSetCreateFn, nvmlEventSetCreate);
PIN_FN(EventSetFreeFn, nvmlEventSetFree);
PIN_FN(DeviceUllFn, nvmlDeviceGetSupportedEventTypes);
PIN_FN(DeviceRegisterEventsFn, nvmlDeviceRegisterEvents);
PIN_FN(EventSetWaitFn, nvmlEventSetWait_v2);
// The plain names the binding falls back to on an old library.
PIN_FN(InitFn, nvmlInit);
PIN_FN(CountFn, nvmlDeviceGetCount);
PIN_FN(HandleByIndexFn, nvmlDeviceGetHandleByIndex);
PIN_FN(DevicePciFn, nvmlDeviceGetPciInfo);
PIN_FN(EventSetWaitFn, nvmlEventSetWait);
// nvmlDeviceGetCurrentClocksEventReasons is newer than this header (R535+);
// the same type as ...ThrottleReasons, pinned above.

#define PIN_CU(ours, symbol)                                                                 \
  static_assert(std::is_same_v<shape_t<c::ours>, shape_t<decltype(&real::symbol)>>,        \
                "the project's " #ours " is not the type of " #symbol " in cuda.h")
PIN_CU(InitFn, cuInit);
PIN_CU(DriverGetVersionFn, cuDriverGetVersion);
PIN_CU(DeviceGetCountFn, cuDeviceGetCount);
PIN_CU(DeviceGetFn, cuDeviceGet);
PIN_CU(DeviceGetNameFn, cuDeviceGetName);
PIN_CU(DeviceGetPciBusIdFn, cuDeviceGetPCIBusId);
PIN_CU(PrimaryCtxRetainFn, cuDevicePrimaryCtxRetain);
PIN_CU(PrimaryCtxReleaseFn, cuDevicePrimaryCtxRelease_v2);
PIN_CU(CtxCreateFn, cuCtxCreate_v2);
PIN_CU(CtxDestroyFn, cuCtxDestroy_v2);
PIN_CU(CtxSetCurrentFn, cuCtxSetCurrent);
PIN_CU(MemAllocFn, cuMemAlloc_v2);
PIN_CU(MemFreeFn, cuMemFree_v2);
PIN_CU(GetErrorTextFn, cuGetErrorName);
PIN_CU(GetErrorTextFn, cuGetErrorString);

}  // namespace

int main() { return 0; }  // the test is that this file compiled
