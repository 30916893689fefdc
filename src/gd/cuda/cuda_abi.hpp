// The subset of the CUDA driver API (libcuda.so.1) that gpudoctor uses,
// declared by the project itself (no NVIDIA header). Facts: cuda.h (CUresult
// values, LP64 handle types, the _v2 symbol names the header maps the plain
// names to since CUDA 3.2/4.0/11.0). Shared by the dlopen binding and the
// simulator, which exports exactly these symbols.
#pragma once

#include <cstddef>

extern "C" {

typedef int CUresult;                    // C enum, 4 bytes on Linux
typedef int CUdevice;                    // a device ordinal (CUdevice_v1)
typedef struct CUctx_st* CUcontext;      // opaque
typedef unsigned long long CUdeviceptr;  // CUdeviceptr_v2: 64-bit device address

}  // extern "C"

static_assert(sizeof(CUdeviceptr) == 8, "CUdeviceptr is 64-bit");

namespace gd::cuda {

// CUresult values a user meets (cuda.h, CUDA_SUCCESS / CUDA_ERROR_*).
inline constexpr int k_success = 0;
inline constexpr int k_invalid_value = 1;
inline constexpr int k_out_of_memory = 2;
inline constexpr int k_not_initialized = 3;  // cuInit failed or not called (runtime: cudaErrorInitializationError 3)
inline constexpr int k_deinitialized = 4;
inline constexpr int k_stub_library = 34;  // the toolkit's stubs/libcuda.so was loaded instead of the driver's
// 35 is NOT a CUresult: it is the runtime API's cudaErrorInsufficientDriver
// (libcudart finds no libcuda, or cuDriverGetVersion is older than the runtime).
// cuInit itself succeeds on an old driver; the driver API's own signals are a
// low cuDriverGetVersion, CALL_REQUIRES_NEWER_DRIVER (36, newer cuda.h) for a
// call the driver lacks, and 803/804 when a newer forward-compatible libcuda
// (cuda-compat) meets the old kernel module.
inline constexpr int k_runtime_insufficient_driver = 35;
inline constexpr int k_call_requires_newer_driver = 36;
inline constexpr int k_device_unavailable = 46;  // exclusive-process mode, device busy
inline constexpr int k_no_device = 100;
inline constexpr int k_invalid_device = 101;
inline constexpr int k_invalid_context = 201;
inline constexpr int k_operating_system = 304;
inline constexpr int k_not_permitted = 800;
inline constexpr int k_not_supported = 801;
inline constexpr int k_system_not_ready = 802;                // NVSwitch systems: fabric manager not running
inline constexpr int k_system_driver_mismatch = 803;          // libcuda version != kernel module version
inline constexpr int k_compat_not_supported_on_device = 804;  // forward-compat libcuda on an unsupported GPU
inline constexpr int k_unknown = 999;

// Buffer length cuDeviceGetPCIBusId needs: "dddd:bb:dd.f" or with an 8-digit domain, plus NUL.
inline constexpr int k_pci_bus_id_len = 32;
inline constexpr int k_device_name_len = 256;

// Function pointer types, one per symbol gpudoctor resolves (name beside each).
using InitFn = CUresult (*)(unsigned flags);                      // cuInit (flags must be 0)
using DriverGetVersionFn = CUresult (*)(int* version);            // cuDriverGetVersion: 1000*major + 10*minor
using DeviceGetCountFn = CUresult (*)(int* count);                // cuDeviceGetCount
using DeviceGetFn = CUresult (*)(CUdevice* device, int ordinal);  // cuDeviceGet
using DeviceGetNameFn = CUresult (*)(char* name, int len, CUdevice device);         // cuDeviceGetName
using DeviceGetPciBusIdFn = CUresult (*)(char* bus_id, int len, CUdevice device);   // cuDeviceGetPCIBusId
using PrimaryCtxRetainFn = CUresult (*)(CUcontext* ctx, CUdevice device);           // cuDevicePrimaryCtxRetain
using PrimaryCtxReleaseFn = CUresult (*)(CUdevice device);                          // cuDevicePrimaryCtxRelease_v2
using CtxCreateFn = CUresult (*)(CUcontext* ctx, unsigned flags, CUdevice device);  // cuCtxCreate_v2 (made current)
using CtxDestroyFn = CUresult (*)(CUcontext ctx);                                   // cuCtxDestroy_v2
using CtxSetCurrentFn = CUresult (*)(CUcontext ctx);                                // cuCtxSetCurrent
using MemAllocFn = CUresult (*)(CUdeviceptr* ptr, std::size_t bytes);               // cuMemAlloc_v2 (current context)
using MemFreeFn = CUresult (*)(CUdeviceptr ptr);                                    // cuMemFree_v2
using GetErrorTextFn = CUresult (*)(CUresult error, const char** text);             // cuGetErrorName, cuGetErrorString

}  // namespace gd::cuda
