// The exported CUDA driver API functions of the fake libcuda.so.1. Each one
// translates its arguments, asks the CudaSimulator, and never lets an
// exception cross the C ABI (any internal failure is CUDA_ERROR_UNKNOWN).
// Only the _v2 names exist for calls whose v1 ABI differs (32-bit
// CUdeviceptr); calls whose v1 ABI is the same are exported under both names.

#include <cstdio>
#include <cstring>
#include <string>

#include "cuda_return_codes.hpp"
#include "cuda_simulator.hpp"

#define GD_SIM_EXPORT extern "C" __attribute__((visibility("default")))

namespace gd::sim {
namespace {

namespace cu = gd::cuda;

template <class Body>
CUresult guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (...) {
    return cu::k_unknown;
  }
}

CudaSimulator& sim() { return CudaSimulator::instance(); }

// Copies `text` into `buf` of `len` bytes, truncating like cuDeviceGetName.
CUresult put_truncated(char* buf, int len, const std::string& text) {
  if (!buf || len <= 0) return cu::k_invalid_value;
  std::size_t n = std::min(text.size(), static_cast<std::size_t>(len - 1));
  std::memcpy(buf, text.data(), n);
  buf[n] = '\0';
  return cu::k_success;
}

// "0000:3B:00.0" (domain at least 4 hex digits, uppercase, function 0), as
// cuDeviceGetPCIBusId writes it; INVALID_VALUE when `len` cannot hold it.
CUresult put_bus_id(char* buf, int len, const Gpu& gpu) {
  char text[48];
  int n = std::snprintf(text, sizeof text, "%04X:%02X:%02X.0", gpu.pci.domain, gpu.pci.bus, gpu.pci.device);
  if (!buf || len <= n) return cu::k_invalid_value;
  std::memcpy(buf, text, static_cast<std::size_t>(n) + 1);
  return cu::k_success;
}

CUresult put_text(const char* text, const char** out) {
  if (!out) return cu::k_invalid_value;
  *out = text;
  return text ? cu::k_success : cu::k_invalid_value;
}

}  // namespace
}  // namespace gd::sim

using namespace gd::sim;

GD_SIM_EXPORT CUresult cuInit(unsigned flags) {
  return guarded([&] { return sim().init(flags); });
}

GD_SIM_EXPORT CUresult cuDriverGetVersion(int* version) {
  return guarded([&] { return sim().driver_version(version); });
}

GD_SIM_EXPORT CUresult cuDeviceGetCount(int* count) {
  return guarded([&] { return sim().device_count(count); });
}

GD_SIM_EXPORT CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  return guarded([&] { return sim().device_get(device, ordinal); });
}

GD_SIM_EXPORT CUresult cuDeviceGetName(char* name, int len, CUdevice device) {
  return guarded([&, symbol = __func__] {
    return sim().device_call(symbol, device, [&](const Gpu& g) { return put_truncated(name, len, g.name); });
  });
}

GD_SIM_EXPORT CUresult cuDeviceGetPCIBusId(char* bus_id, int len, CUdevice device) {
  return guarded([&, symbol = __func__] {
    return sim().device_call(symbol, device, [&](const Gpu& g) { return put_bus_id(bus_id, len, g); });
  });
}

GD_SIM_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* ctx, CUdevice device) {
  return guarded([&] { return sim().primary_ctx_retain(ctx, device); });
}

GD_SIM_EXPORT CUresult cuDevicePrimaryCtxRelease(CUdevice device) {
  return guarded([&, symbol = __func__] { return sim().primary_ctx_release(symbol, device); });
}

GD_SIM_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice device) {
  return guarded([&, symbol = __func__] { return sim().primary_ctx_release(symbol, device); });
}

GD_SIM_EXPORT CUresult cuCtxCreate(CUcontext* ctx, unsigned flags, CUdevice device) {
  return guarded([&, symbol = __func__] { return sim().ctx_create(symbol, ctx, flags, device); });
}

GD_SIM_EXPORT CUresult cuCtxCreate_v2(CUcontext* ctx, unsigned flags, CUdevice device) {
  return guarded([&, symbol = __func__] { return sim().ctx_create(symbol, ctx, flags, device); });
}

GD_SIM_EXPORT CUresult cuCtxDestroy(CUcontext ctx) {
  return guarded([&, symbol = __func__] { return sim().ctx_destroy(symbol, ctx); });
}

GD_SIM_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx) {
  return guarded([&, symbol = __func__] { return sim().ctx_destroy(symbol, ctx); });
}

GD_SIM_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  return guarded([&] { return sim().ctx_set_current(ctx); });
}

GD_SIM_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* ptr, std::size_t bytes) {
  return guarded([&, symbol = __func__] { return sim().mem_alloc(symbol, ptr, bytes); });
}

GD_SIM_EXPORT CUresult cuMemFree_v2(CUdeviceptr ptr) {
  return guarded([&, symbol = __func__] { return sim().mem_free(symbol, ptr); });
}

GD_SIM_EXPORT CUresult cuGetErrorName(CUresult error, const char** name) {
  return put_text(cuda_error_name(error), name);
}

GD_SIM_EXPORT CUresult cuGetErrorString(CUresult error, const char** text) {
  return put_text(cuda_error_string(error), text);
}
