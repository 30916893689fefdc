// ABI pin: the project's own NVML and CUDA driver ABI declarations
// (src/gd/nvml/nvml_abi.hpp, src/gd/cuda/cuda_abi.hpp) checked against
// NVIDIA's real headers (nvml.h of libnvidia-ml-dev 11.8, cuda.h of
// nvidia-cuda-dev 11.8, unpacked by scripts/fetch-nvidia into
// build/nvidia/root/usr/include). Compiling this file is the test; main() does
// nothing. It static_asserts:
//
//  1. structs: for every struct the project declares, sizeof and alignof, and
//     for every field its offset, size and type (compared by shape, below);
//     nvmlFieldValue_t's value union member by member; the scalar and handle
//     typedefs (nvmlReturn_t and the enum typedefs 4 bytes, CUdevice,
//     CUdeviceptr, the opaque handles the same type as NVIDIA's).
//  2. constants: every gd::nvml::k_* and gd::cuda::k_* the headers define
//     (return codes, enum values, buffer sizes, event bit, struct version).
//  3. function types: for every (type, symbol) pair that nvml_api.cpp and
//     cuda_api.cpp resolve with dlsym, including the _v2/_v3 names and the
//     plain fallbacks, the project's function-pointer type against the real
//     prototype of that symbol: parameter count, return type, each parameter.
//
// Ids newer than the 11.8 headers (field 230, CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER,
// nvmlDeviceGetCurrentClocksEventReasons, the union members siVal/usVal) are
// detected: pinned when a header has them, and otherwise only checked not to
// collide with what the header has. docs/abi-pin.md shows the test failing.
//
// Technique: the project's types are global and have NVIDIA's names, so the
// project's headers are included first (NVIDIA's macros cannot rewrite them)
// and NVIDIA's inside namespace nv::real. The C headers they include are
// included first at global scope, so their include guards make the nested
// includes no-ops.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <tuple>
#include <type_traits>

#include "gd/cuda/cuda_abi.hpp"
#include "gd/nvml/nvml_abi.hpp"

struct nvmlDevice_st;  // opaque; NVIDIA's typedefs name these same global structs
struct nvmlEventSet_st;
struct nvmlGpmSample_st;
struct CUctx_st;

namespace nv {
// Stand-ins for names newer than the 11.8 headers: unqualified lookup from
// inside nv::real finds the header's own declaration when it has one, this
// otherwise.
struct absent_t {};
constexpr absent_t CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER{};
constexpr absent_t nvmlDeviceGetCurrentClocksEventReasons{};

// nvml.h: declare the unversioned prototypes (nvmlInit, nvmlDeviceGetPciInfo,
// ...) instead of #defining those names to the versioned ones, so the plain
// names the binding falls back to are pinned to their own prototypes.
#define NVML_NO_UNVERSIONED_FUNC_DEFS
// cuda.h: the same for libcuda. Only in this mode does cuda.h declare the
// legacy prototypes (cuCtxCreate, cuCtxDestroy, cuDevicePrimaryCtxRelease,
// the 32-bit cuMemAlloc/cuMemFree) besides the _v2 ones, and #undef its
// name-mapping macros at the end. It also switches the stream APIs to their
// _ptds/_ptsz names, none of which gpudoctor uses.
#define __CUDA_API_VERSION_INTERNAL 1
namespace real {
#include <cuda.h>
#include <nvml.h>
}  // namespace real
#undef __CUDA_API_VERSION_INTERNAL
// The plain names pinned below must be NVIDIA's own prototypes, not macros
// for the versioned ones.
#if defined(nvmlInit) || defined(nvmlDeviceGetCount) || defined(nvmlDeviceGetHandleByIndex) || \
    defined(nvmlDeviceGetPciInfo) || defined(nvmlEventSetWait) || defined(cuCtxCreate) ||      \
    defined(cuCtxDestroy) || defined(cuDevicePrimaryCtxRelease) || defined(cuMemAlloc) || defined(cuMemFree)
#error "nvml.h/cuda.h still map the plain names to the versioned ones; the legacy prototypes are not pinned"
#endif

// Evaluated inside nv::real, where unqualified names are NVIDIA's.
namespace real::probe {
template <class T>
constexpr bool present(T) {
  return !std::is_same_v<T, absent_t>;
}
template <class T>
constexpr long long value_or(T v, long long fallback) {
  if constexpr (std::is_same_v<T, absent_t>)
    return fallback;
  else
    return static_cast<long long>(v);
}
inline constexpr bool has_call_requires_newer_driver = present(CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER);
inline constexpr long long call_requires_newer_driver = value_or(CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, -1);
using clocks_event_reasons_t = decltype(&nvmlDeviceGetCurrentClocksEventReasons);
// NVML_STRUCT_VERSION names nvmlMemory_v2_t unqualified: here it is NVIDIA's.
inline constexpr unsigned long long memory_v2_version = nvmlMemory_v2;
}  // namespace real::probe
}  // namespace nv
namespace real = nv::real;

namespace {

// ---- shapes: the two sides' types live in different namespaces -------------------------------
//
// A type is reduced to a shape: a C enum to int (the project declares those as
// int: 4 bytes, passed as an int), every other arithmetic type exactly as it is
// (int and unsigned differ), the same-named struct/union of both sides to the
// project's, pointers, arrays, const and function types part by part. The
// opaque handles need no mapping: both sides' nvmlDevice_t is struct nvmlDevice_st*.

template <class T, class = void>
struct Shape {
  using type = T;
};
template <class T>
using shape_t = typename Shape<T>::type;
template <class T>
struct Shape<T, std::enable_if_t<std::is_enum_v<T> && !std::is_const_v<T>>> {
  static_assert(sizeof(T) == sizeof(int), "a C enum of nvml.h/cuda.h is not int-sized");
  using type = int;
};
template <class T>
struct Shape<T*> {
  using type = shape_t<T>*;
};
template <class T>
struct Shape<const T> {
  using type = const shape_t<T>;
};
template <class T, size_t N>
struct Shape<T[N]> {
  using type = shape_t<T>[N];
};
template <class R, class... A>
struct Shape<R (*)(A...)> {
  using type = shape_t<R> (*)(shape_t<A>...);
};

using FieldValueUnion = decltype(gd::nvml::nvmlFieldValue_t::value);  // the project's anonymous union

#define SAME_TYPE(ours, theirs) \
  template <>                   \
  struct Shape<theirs> {        \
    using type = ours;          \
  };
SAME_TYPE(nvmlPciInfo_t, real::nvmlPciInfo_t)
SAME_TYPE(nvmlMemory_t, real::nvmlMemory_t)
SAME_TYPE(nvmlMemory_v2_t, real::nvmlMemory_v2_t)
SAME_TYPE(nvmlBAR1Memory_t, real::nvmlBAR1Memory_t)
SAME_TYPE(nvmlUtilization_t, real::nvmlUtilization_t)
SAME_TYPE(nvmlEventData_t, real::nvmlEventData_t)
SAME_TYPE(nvmlProcessInfo_v1_t, real::nvmlProcessInfo_v1_t)
SAME_TYPE(nvmlProcessInfo_v2_t, real::nvmlProcessInfo_v2_t)
SAME_TYPE(nvmlProcessInfo_t, real::nvmlProcessInfo_t)  // the project's is a typedef of _v2
SAME_TYPE(nvmlDeviceAttributes_t, real::nvmlDeviceAttributes_t)
SAME_TYPE(nvmlProcessUtilizationSample_t, real::nvmlProcessUtilizationSample_t)
SAME_TYPE(gd::nvml::nvmlFieldValue_t, real::nvmlFieldValue_t)
SAME_TYPE(FieldValueUnion, real::nvmlValue_t)
SAME_TYPE(gd::nvml::nvmlSample_t, real::nvmlSample_t)
SAME_TYPE(gd::nvml::nvmlViolationTime_t, real::nvmlViolationTime_t)
SAME_TYPE(gd::nvml::nvmlGpuThermalSettings_t, real::nvmlGpuThermalSettings_t)
SAME_TYPE(gd::nvml::nvmlClkMonFaultInfo_t, real::nvmlClkMonFaultInfo_t)
SAME_TYPE(gd::nvml::nvmlClkMonStatus_t, real::nvmlClkMonStatus_t)
SAME_TYPE(gd::nvml::nvmlGpuDynamicPstatesInfo_t, real::nvmlGpuDynamicPstatesInfo_t)
SAME_TYPE(gd::nvml::nvmlRowRemapperHistogramValues_t, real::nvmlRowRemapperHistogramValues_t)
SAME_TYPE(gd::nvml::nvmlEccErrorCounts_t, real::nvmlEccErrorCounts_t)
SAME_TYPE(gd::nvml::nvmlFBCStats_t, real::nvmlFBCStats_t)
SAME_TYPE(gd::nvml::nvmlNvLinkUtilizationControl_t, real::nvmlNvLinkUtilizationControl_t)
SAME_TYPE(gd::nvml::nvmlGpmSupport_t, real::nvmlGpmSupport_t)
SAME_TYPE(gd::nvml::nvmlGpmMetric_t, real::nvmlGpmMetric_t)
SAME_TYPE(gd::nvml::nvmlGpmMetricsGet_t, real::nvmlGpmMetricsGet_t)
// nvml.h's anonymous member structs, to the project's named ones.
SAME_TYPE(gd::nvml::nvmlGpuThermalSensor_t, std::remove_extent_t<decltype(real::nvmlGpuThermalSettings_t::sensor)>)
SAME_TYPE(gd::nvml::nvmlGpuUtilizationDomain_t,
          std::remove_extent_t<decltype(real::nvmlGpuDynamicPstatesInfo_t::utilization)>)
SAME_TYPE(gd::nvml::nvmlGpmMetricInfo_t, decltype(real::nvmlGpmMetric_t::metricInfo))

// ---- 1. structs: size, alignment; every field's offset, size and type ---------------------------

#define PIN_STRUCT(ours, theirs)                                                                    \
  static_assert(sizeof(ours) == sizeof(theirs), "size of " #ours " differs from " #theirs);         \
  static_assert(alignof(ours) == alignof(theirs), "alignment of " #ours " differs from " #theirs)
#define PIN_FIELD(ours, theirs, field)                                                                      \
  static_assert(offsetof(ours, field) == offsetof(theirs, field), "offset of " #ours "." #field " differs"); \
  static_assert(sizeof(ours::field) == sizeof(theirs::field), "size of " #ours "." #field " differs");      \
  static_assert(std::is_same_v<shape_t<decltype(ours::field)>, shape_t<decltype(theirs::field)>>,           \
                "type of " #ours "." #field " differs")

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

// nvmlProcessInfo_t (what the _v3 process calls fill): the project makes it a
// typedef of nvmlProcessInfo_v2_t; nvml.h 11.8 has a struct of its own
// (nvmlProcessInfo_st) with the same fields, pinned here field by field.
PIN_STRUCT(nvmlProcessInfo_t, real::nvmlProcessInfo_t);
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

using nvmlFieldValue_ours = gd::nvml::nvmlFieldValue_t;
PIN_STRUCT(nvmlFieldValue_ours, real::nvmlFieldValue_t);
PIN_FIELD(nvmlFieldValue_ours, real::nvmlFieldValue_t, fieldId);
PIN_FIELD(nvmlFieldValue_ours, real::nvmlFieldValue_t, scopeId);
PIN_FIELD(nvmlFieldValue_ours, real::nvmlFieldValue_t, timestamp);
PIN_FIELD(nvmlFieldValue_ours, real::nvmlFieldValue_t, latencyUsec);
PIN_FIELD(nvmlFieldValue_ours, real::nvmlFieldValue_t, valueType);
PIN_FIELD(nvmlFieldValue_ours, real::nvmlFieldValue_t, nvmlReturn);
PIN_FIELD(nvmlFieldValue_ours, real::nvmlFieldValue_t, value);

// Telemetry and board structs the simulator fills for real clients.
using nvmlSample_t_ours = gd::nvml::nvmlSample_t;
PIN_STRUCT(nvmlSample_t_ours, real::nvmlSample_t);
PIN_FIELD(nvmlSample_t_ours, real::nvmlSample_t, timeStamp);
PIN_FIELD(nvmlSample_t_ours, real::nvmlSample_t, sampleValue);
using nvmlViolationTime_t_ours = gd::nvml::nvmlViolationTime_t;
PIN_STRUCT(nvmlViolationTime_t_ours, real::nvmlViolationTime_t);
PIN_FIELD(nvmlViolationTime_t_ours, real::nvmlViolationTime_t, referenceTime);
PIN_FIELD(nvmlViolationTime_t_ours, real::nvmlViolationTime_t, violationTime);
using nvmlGpuThermalSettings_t_ours = gd::nvml::nvmlGpuThermalSettings_t;
PIN_STRUCT(nvmlGpuThermalSettings_t_ours, real::nvmlGpuThermalSettings_t);
PIN_FIELD(nvmlGpuThermalSettings_t_ours, real::nvmlGpuThermalSettings_t, count);
PIN_FIELD(nvmlGpuThermalSettings_t_ours, real::nvmlGpuThermalSettings_t, sensor);
using nvmlClkMonFaultInfo_t_ours = gd::nvml::nvmlClkMonFaultInfo_t;
PIN_STRUCT(nvmlClkMonFaultInfo_t_ours, real::nvmlClkMonFaultInfo_t);
PIN_FIELD(nvmlClkMonFaultInfo_t_ours, real::nvmlClkMonFaultInfo_t, clkApiDomain);
PIN_FIELD(nvmlClkMonFaultInfo_t_ours, real::nvmlClkMonFaultInfo_t, clkDomainFaultMask);
using nvmlClkMonStatus_t_ours = gd::nvml::nvmlClkMonStatus_t;
PIN_STRUCT(nvmlClkMonStatus_t_ours, real::nvmlClkMonStatus_t);
PIN_FIELD(nvmlClkMonStatus_t_ours, real::nvmlClkMonStatus_t, bGlobalStatus);
PIN_FIELD(nvmlClkMonStatus_t_ours, real::nvmlClkMonStatus_t, clkMonListSize);
PIN_FIELD(nvmlClkMonStatus_t_ours, real::nvmlClkMonStatus_t, clkMonList);
using nvmlGpuDynamicPstatesInfo_t_ours = gd::nvml::nvmlGpuDynamicPstatesInfo_t;
PIN_STRUCT(nvmlGpuDynamicPstatesInfo_t_ours, real::nvmlGpuDynamicPstatesInfo_t);
PIN_FIELD(nvmlGpuDynamicPstatesInfo_t_ours, real::nvmlGpuDynamicPstatesInfo_t, flags);
PIN_FIELD(nvmlGpuDynamicPstatesInfo_t_ours, real::nvmlGpuDynamicPstatesInfo_t, utilization);
using nvmlRowRemapperHistogramValues_t_ours = gd::nvml::nvmlRowRemapperHistogramValues_t;
PIN_STRUCT(nvmlRowRemapperHistogramValues_t_ours, real::nvmlRowRemapperHistogramValues_t);
PIN_FIELD(nvmlRowRemapperHistogramValues_t_ours, real::nvmlRowRemapperHistogramValues_t, max);
PIN_FIELD(nvmlRowRemapperHistogramValues_t_ours, real::nvmlRowRemapperHistogramValues_t, high);
PIN_FIELD(nvmlRowRemapperHistogramValues_t_ours, real::nvmlRowRemapperHistogramValues_t, partial);
PIN_FIELD(nvmlRowRemapperHistogramValues_t_ours, real::nvmlRowRemapperHistogramValues_t, low);
PIN_FIELD(nvmlRowRemapperHistogramValues_t_ours, real::nvmlRowRemapperHistogramValues_t, none);
using nvmlEccErrorCounts_t_ours = gd::nvml::nvmlEccErrorCounts_t;
PIN_STRUCT(nvmlEccErrorCounts_t_ours, real::nvmlEccErrorCounts_t);
PIN_FIELD(nvmlEccErrorCounts_t_ours, real::nvmlEccErrorCounts_t, l1Cache);
PIN_FIELD(nvmlEccErrorCounts_t_ours, real::nvmlEccErrorCounts_t, l2Cache);
PIN_FIELD(nvmlEccErrorCounts_t_ours, real::nvmlEccErrorCounts_t, deviceMemory);
PIN_FIELD(nvmlEccErrorCounts_t_ours, real::nvmlEccErrorCounts_t, registerFile);
using nvmlFBCStats_t_ours = gd::nvml::nvmlFBCStats_t;
PIN_STRUCT(nvmlFBCStats_t_ours, real::nvmlFBCStats_t);
PIN_FIELD(nvmlFBCStats_t_ours, real::nvmlFBCStats_t, sessionsCount);
PIN_FIELD(nvmlFBCStats_t_ours, real::nvmlFBCStats_t, averageFPS);
PIN_FIELD(nvmlFBCStats_t_ours, real::nvmlFBCStats_t, averageLatency);
using nvmlNvLinkUtilizationControl_t_ours = gd::nvml::nvmlNvLinkUtilizationControl_t;
PIN_STRUCT(nvmlNvLinkUtilizationControl_t_ours, real::nvmlNvLinkUtilizationControl_t);
PIN_FIELD(nvmlNvLinkUtilizationControl_t_ours, real::nvmlNvLinkUtilizationControl_t, units);
PIN_FIELD(nvmlNvLinkUtilizationControl_t_ours, real::nvmlNvLinkUtilizationControl_t, pktfilter);
using nvmlGpmSupport_t_ours = gd::nvml::nvmlGpmSupport_t;
PIN_STRUCT(nvmlGpmSupport_t_ours, real::nvmlGpmSupport_t);
PIN_FIELD(nvmlGpmSupport_t_ours, real::nvmlGpmSupport_t, version);
PIN_FIELD(nvmlGpmSupport_t_ours, real::nvmlGpmSupport_t, isSupportedDevice);
using nvmlGpmMetric_t_ours = gd::nvml::nvmlGpmMetric_t;
PIN_STRUCT(nvmlGpmMetric_t_ours, real::nvmlGpmMetric_t);
PIN_FIELD(nvmlGpmMetric_t_ours, real::nvmlGpmMetric_t, metricId);
PIN_FIELD(nvmlGpmMetric_t_ours, real::nvmlGpmMetric_t, nvmlReturn);
PIN_FIELD(nvmlGpmMetric_t_ours, real::nvmlGpmMetric_t, value);
PIN_FIELD(nvmlGpmMetric_t_ours, real::nvmlGpmMetric_t, metricInfo);
using nvmlGpmMetricsGet_t_ours = gd::nvml::nvmlGpmMetricsGet_t;
PIN_STRUCT(nvmlGpmMetricsGet_t_ours, real::nvmlGpmMetricsGet_t);
PIN_FIELD(nvmlGpmMetricsGet_t_ours, real::nvmlGpmMetricsGet_t, version);
PIN_FIELD(nvmlGpmMetricsGet_t_ours, real::nvmlGpmMetricsGet_t, numMetrics);
PIN_FIELD(nvmlGpmMetricsGet_t_ours, real::nvmlGpmMetricsGet_t, sample1);
PIN_FIELD(nvmlGpmMetricsGet_t_ours, real::nvmlGpmMetricsGet_t, sample2);
PIN_FIELD(nvmlGpmMetricsGet_t_ours, real::nvmlGpmMetricsGet_t, metrics);
using nvmlGpuThermalSensor_t_ours = gd::nvml::nvmlGpuThermalSensor_t;
using ThermalSensor_real = std::remove_extent_t<decltype(real::nvmlGpuThermalSettings_t::sensor)>;
PIN_STRUCT(nvmlGpuThermalSensor_t_ours, ThermalSensor_real);
PIN_FIELD(nvmlGpuThermalSensor_t_ours, ThermalSensor_real, controller);
PIN_FIELD(nvmlGpuThermalSensor_t_ours, ThermalSensor_real, defaultMinTemp);
PIN_FIELD(nvmlGpuThermalSensor_t_ours, ThermalSensor_real, defaultMaxTemp);
PIN_FIELD(nvmlGpuThermalSensor_t_ours, ThermalSensor_real, currentTemp);
PIN_FIELD(nvmlGpuThermalSensor_t_ours, ThermalSensor_real, target);
using nvmlGpuUtilizationDomain_t_ours = gd::nvml::nvmlGpuUtilizationDomain_t;
using UtilizationDomain_real = std::remove_extent_t<decltype(real::nvmlGpuDynamicPstatesInfo_t::utilization)>;
PIN_STRUCT(nvmlGpuUtilizationDomain_t_ours, UtilizationDomain_real);
PIN_FIELD(nvmlGpuUtilizationDomain_t_ours, UtilizationDomain_real, bIsPresent);
PIN_FIELD(nvmlGpuUtilizationDomain_t_ours, UtilizationDomain_real, percentage);
PIN_FIELD(nvmlGpuUtilizationDomain_t_ours, UtilizationDomain_real, incThreshold);
PIN_FIELD(nvmlGpuUtilizationDomain_t_ours, UtilizationDomain_real, decThreshold);
using nvmlGpmMetricInfo_t_ours = gd::nvml::nvmlGpmMetricInfo_t;
using GpmMetricInfo_real = decltype(real::nvmlGpmMetric_t::metricInfo);
PIN_STRUCT(nvmlGpmMetricInfo_t_ours, GpmMetricInfo_real);
PIN_FIELD(nvmlGpmMetricInfo_t_ours, GpmMetricInfo_real, shortName);
PIN_FIELD(nvmlGpmMetricInfo_t_ours, GpmMetricInfo_real, longName);
PIN_FIELD(nvmlGpmMetricInfo_t_ours, GpmMetricInfo_real, unit);

// The value union (nvmlValue_t): the members nvml.h 11.8 has.
PIN_STRUCT(FieldValueUnion, real::nvmlValue_t);
PIN_FIELD(FieldValueUnion, real::nvmlValue_t, dVal);
PIN_FIELD(FieldValueUnion, real::nvmlValue_t, uiVal);
PIN_FIELD(FieldValueUnion, real::nvmlValue_t, ulVal);
PIN_FIELD(FieldValueUnion, real::nvmlValue_t, ullVal);
PIN_FIELD(FieldValueUnion, real::nvmlValue_t, sllVal);
// siVal (int) and usVal (unsigned short) are newer than nvml.h 11.8 (whose
// nvmlValueType_t ends at SIGNED_LONG_LONG = 4). Pinned when the header has
// them; without, they must fit in the union at offset 0 without growing it
// (sizeof/alignof of the union are pinned above).
template <class U>
constexpr bool has_siVal = requires { &U::siVal; };
template <class U>
constexpr bool has_usVal = requires { &U::usVal; };
template <class U>
constexpr bool siVal_agrees() {
  if constexpr (has_siVal<U>)
    return std::is_same_v<shape_t<decltype(U::siVal)>, int> && offsetof(U, siVal) == 0;
  else
    return sizeof(int) <= sizeof(U) && offsetof(FieldValueUnion, siVal) == 0;
}
template <class U>
constexpr bool usVal_agrees() {
  if constexpr (has_usVal<U>)
    return std::is_same_v<shape_t<decltype(U::usVal)>, unsigned short> && offsetof(U, usVal) == 0;
  else
    return sizeof(unsigned short) <= sizeof(U) && offsetof(FieldValueUnion, usVal) == 0;
}
static_assert(std::is_same_v<decltype(FieldValueUnion::siVal), int> && siVal_agrees<real::nvmlValue_t>(),
              "nvmlValue_t.siVal differs");
static_assert(std::is_same_v<decltype(FieldValueUnion::usVal), unsigned short> && usVal_agrees<real::nvmlValue_t>(),
              "nvmlValue_t.usVal differs");

// Scalar and handle typedefs.
static_assert(sizeof(nvmlReturn_t) == 4 && sizeof(real::nvmlReturn_t) == 4, "nvmlReturn_t is not 4 bytes");
static_assert(sizeof(nvmlEnableState_t) == sizeof(real::nvmlEnableState_t), "nvmlEnableState_t size");
static_assert(sizeof(nvmlTemperatureSensors_t) == sizeof(real::nvmlTemperatureSensors_t), "nvmlTemperatureSensors_t size");
static_assert(sizeof(nvmlTemperatureThresholds_t) == sizeof(real::nvmlTemperatureThresholds_t),
              "nvmlTemperatureThresholds_t size");
static_assert(sizeof(nvmlClockType_t) == sizeof(real::nvmlClockType_t), "nvmlClockType_t size");
static_assert(sizeof(nvmlPstates_t) == sizeof(real::nvmlPstates_t), "nvmlPstates_t size");
static_assert(sizeof(nvmlMemoryErrorType_t) == sizeof(real::nvmlMemoryErrorType_t), "nvmlMemoryErrorType_t size");
static_assert(sizeof(nvmlEccCounterType_t) == sizeof(real::nvmlEccCounterType_t), "nvmlEccCounterType_t size");
static_assert(sizeof(CUresult) == 4 && sizeof(real::CUresult) == 4, "CUresult is not 4 bytes");
static_assert(std::is_same_v<nvmlDevice_t, real::nvmlDevice_t>, "nvmlDevice_t differs");
static_assert(std::is_same_v<nvmlEventSet_t, real::nvmlEventSet_t>, "nvmlEventSet_t differs");
static_assert(std::is_same_v<CUcontext, real::CUcontext>, "CUcontext differs");
static_assert(std::is_same_v<CUdevice, real::CUdevice>, "CUdevice differs");
static_assert(std::is_same_v<CUdeviceptr, real::CUdeviceptr>, "CUdeviceptr differs (the 64-bit CUdeviceptr_v2)");

// ---- 2. constants -----------------------------------------------------------------------------

namespace n = gd::nvml;
namespace c = gd::cuda;
#define PIN(ours, theirs) \
  static_assert(static_cast<long long>(ours) == static_cast<long long>(theirs), #ours " != " #theirs)

// nvmlReturn_t
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

// Buffer sizes and limits (nvml.h #defines them, so no real:: prefix).
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

// Enum values
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
PIN(n::k_value_type_uint, real::NVML_VALUE_TYPE_UNSIGNED_INT);
PIN(n::k_value_type_ulong, real::NVML_VALUE_TYPE_UNSIGNED_LONG);
PIN(n::k_value_type_ulonglong, real::NVML_VALUE_TYPE_UNSIGNED_LONG_LONG);
// k_value_type_sint (5) is newer than the 11.8 header, whose last value type is SIGNED_LONG_LONG (4).
static_assert(n::k_value_type_sint > real::NVML_VALUE_TYPE_SIGNED_LONG_LONG, "value type 5 collides with nvml.h");
PIN(n::k_event_type_xid_critical_error, nvmlEventTypeXidCriticalError);
PIN(n::k_memory_v2_version, real::probe::memory_v2_version);  // NVML_STRUCT_VERSION(Memory, 2) of NVIDIA's struct

// Field 230, NVML_FI_DEV_GET_GPU_RECOVERY_ACTION, is newer than nvml.h 11.8
// (whose field ids end below NVML_FI_MAX = 167). Pinned when the header has
// it; with 11.8 only checked not to collide with a field id it defines.
#ifdef NVML_FI_DEV_GET_GPU_RECOVERY_ACTION
PIN(n::k_fi_dev_get_gpu_recovery_action, NVML_FI_DEV_GET_GPU_RECOVERY_ACTION);
#else
static_assert(NVML_FI_MAX <= n::k_fi_dev_get_gpu_recovery_action,
              "n::k_fi_dev_get_gpu_recovery_action collides with a field id nvml.h defines (NVML_FI_MAX)");
#endif

// CUresult
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
// CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER is newer than cuda.h 11.8 (which goes
// from STUB_LIBRARY = 34 to DEVICE_UNAVAILABLE = 46): pinned when the header has it.
static_assert(!real::probe::has_call_requires_newer_driver ||
                  c::k_call_requires_newer_driver == real::probe::call_requires_newer_driver,
              "c::k_call_requires_newer_driver != real::CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER");
// c::k_runtime_insufficient_driver (35) is deliberately not pinned: it is the
// runtime API's cudaErrorInsufficientDriver, not a CUresult, and cuda.h has no
// name for it. c::k_pci_bus_id_len and c::k_device_name_len are caller-chosen
// buffer sizes; cuda.h defines no constants for them.

// ---- 3. function types: the project's type against the prototype of each symbol it resolves ----
//
// For each (type, dlsym name) pair of nvml_api.cpp and cuda_api.cpp: the
// number of parameters, the return type and each parameter, by shape.

template <class F>
struct Fn;
template <class R, class... A>
struct Fn<R (*)(A...)> {
  using ret = R;
  static constexpr size_t arity = sizeof...(A);
  template <size_t I>
  using param = std::tuple_element_t<I, std::tuple<A...>>;
};
template <class Ours, class Theirs>
constexpr bool same_arity = Fn<Ours>::arity == Fn<Theirs>::arity;
template <class Ours, class Theirs>
constexpr bool same_ret = std::is_same_v<shape_t<typename Fn<Ours>::ret>, shape_t<typename Fn<Theirs>::ret>>;
template <class Ours, class Theirs, size_t I>
constexpr bool same_param() {
  if constexpr (I >= Fn<Ours>::arity || I >= Fn<Theirs>::arity)
    return true;  // the arity assertion reports this
  else
    return std::is_same_v<shape_t<typename Fn<Ours>::template param<I>>,
                          shape_t<typename Fn<Theirs>::template param<I>>>;
}

#define PIN_SIG(ours, symbol, where)                                                                          \
  static_assert(same_arity<ours, decltype(&real::symbol)>,                                                    \
                #ours " vs " #symbol " (" where "): the number of parameters differs");                       \
  static_assert(same_ret<ours, decltype(&real::symbol)>, #ours " vs " #symbol " (" where "): return type differs"); \
  static_assert(same_param<ours, decltype(&real::symbol), 0>(), #ours " vs " #symbol " (" where "): parameter 1 differs"); \
  static_assert(same_param<ours, decltype(&real::symbol), 1>(), #ours " vs " #symbol " (" where "): parameter 2 differs"); \
  static_assert(same_param<ours, decltype(&real::symbol), 2>(), #ours " vs " #symbol " (" where "): parameter 3 differs"); \
  static_assert(same_param<ours, decltype(&real::symbol), 3>(), #ours " vs " #symbol " (" where "): parameter 4 differs"); \
  static_assert(same_param<ours, decltype(&real::symbol), 4>(), #ours " vs " #symbol " (" where "): parameter 5 differs"); \
  static_assert(Fn<ours>::arity <= 5, "PIN_SIG checks 5 parameters; " #ours " has more")
#define PIN_FN(ours, symbol) PIN_SIG(n::ours, symbol, "nvml.h")
#define PIN_CU(ours, symbol) PIN_SIG(c::ours, symbol, "cuda.h")

// nvml_api.cpp, in its order; where it tries several names, each of them.
PIN_FN(InitFn, nvmlInit_v2);
PIN_FN(InitFn, nvmlInit);
PIN_FN(ShutdownFn, nvmlShutdown);
PIN_FN(CountFn, nvmlDeviceGetCount_v2);
PIN_FN(CountFn, nvmlDeviceGetCount);
PIN_FN(HandleByIndexFn, nvmlDeviceGetHandleByIndex_v2);
PIN_FN(HandleByIndexFn, nvmlDeviceGetHandleByIndex);
PIN_FN(SystemStringFn, nvmlSystemGetDriverVersion);
PIN_FN(SystemStringFn, nvmlSystemGetNVMLVersion);
PIN_FN(SystemIntFn, nvmlSystemGetCudaDriverVersion_v2);
PIN_FN(SystemIntFn, nvmlSystemGetCudaDriverVersion);
PIN_FN(DevicePciFn, nvmlDeviceGetPciInfo_v3);
PIN_FN(DevicePciFn, nvmlDeviceGetPciInfo_v2);
PIN_FN(DevicePciFn, nvmlDeviceGetPciInfo);
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
PIN_FN(EventSetWaitFn, nvmlEventSetWait);
// Not resolved by nvml_api.cpp, but declared beside the others (the simulator exports it).
PIN_FN(ErrorStringFn, nvmlErrorString);
// nvmlDeviceGetCurrentClocksEventReasons (tried first for clock_reasons) is
// newer than nvml.h 11.8: pinned when the header declares it.
template <class Ours, class Theirs>
constexpr bool absent_or_same_shape() {
  if constexpr (std::is_same_v<Theirs, const nv::absent_t*>)
    return true;
  else
    return std::is_same_v<shape_t<Ours>, shape_t<Theirs>>;
}
static_assert(absent_or_same_shape<n::DeviceUllFn, real::probe::clocks_event_reasons_t>(),
              "n::DeviceUllFn is not the type of nvmlDeviceGetCurrentClocksEventReasons (nvml.h)");

// cuda_api.cpp, in its order; where it tries several names, each of them.
PIN_CU(InitFn, cuInit);
PIN_CU(DriverGetVersionFn, cuDriverGetVersion);
PIN_CU(DeviceGetCountFn, cuDeviceGetCount);
PIN_CU(DeviceGetFn, cuDeviceGet);
PIN_CU(DeviceGetNameFn, cuDeviceGetName);
PIN_CU(DeviceGetPciBusIdFn, cuDeviceGetPCIBusId);
PIN_CU(PrimaryCtxRetainFn, cuDevicePrimaryCtxRetain);
PIN_CU(PrimaryCtxReleaseFn, cuDevicePrimaryCtxRelease_v2);
PIN_CU(PrimaryCtxReleaseFn, cuDevicePrimaryCtxRelease);  // legacy prototype
PIN_CU(CtxCreateFn, cuCtxCreate_v2);
PIN_CU(CtxCreateFn, cuCtxCreate);  // legacy prototype
PIN_CU(CtxDestroyFn, cuCtxDestroy_v2);
PIN_CU(CtxDestroyFn, cuCtxDestroy);  // legacy prototype
PIN_CU(CtxSetCurrentFn, cuCtxSetCurrent);
PIN_CU(MemAllocFn, cuMemAlloc_v2);
PIN_CU(MemFreeFn, cuMemFree_v2);
PIN_CU(GetErrorTextFn, cuGetErrorName);
PIN_CU(GetErrorTextFn, cuGetErrorString);
// Why cuda_api.cpp resolves only the _v2 memory names: the plain symbols take
// the 32-bit CUdeviceptr_v1 and an unsigned int size.
static_assert(!std::is_same_v<shape_t<c::MemAllocFn>, shape_t<decltype(&real::cuMemAlloc)>>,
              "c::MemAllocFn unexpectedly matches the legacy 32-bit cuMemAlloc");
static_assert(!std::is_same_v<shape_t<c::MemFreeFn>, shape_t<decltype(&real::cuMemFree)>>,
              "c::MemFreeFn unexpectedly matches the legacy 32-bit cuMemFree");

}  // namespace

int main() { return 0; }  // the test is that this file compiled
