// The CUDA driver API function table, resolved by dlopen/dlsym from a given
// file (libcuda.so.1). The _v2 names are tried before the plain ones, as cuda.h
// maps them. Only cuInit, cuDriverGetVersion and cuDeviceGetCount are required;
// a missing optional symbol is null and listed in `missing`.
#pragma once

#include <string>
#include <vector>

#include "gd/cuda/cuda_abi.hpp"
#include "gd/util/result.hpp"

namespace gd::cuda {

template <class F>
struct Sym {
  F fn = nullptr;
  const char* name = "";  // the symbol actually resolved (or the preferred one when missing)
  explicit operator bool() const { return fn != nullptr; }
};

struct CudaApi {
  void* handle = nullptr;
  Sym<InitFn> init;
  Sym<DriverGetVersionFn> driver_version;
  Sym<DeviceGetCountFn> device_count;
  Sym<DeviceGetFn> device_get;
  Sym<DeviceGetNameFn> device_name;
  Sym<DeviceGetPciBusIdFn> device_bus_id;
  Sym<PrimaryCtxRetainFn> primary_ctx_retain;
  Sym<PrimaryCtxReleaseFn> primary_ctx_release;
  Sym<CtxCreateFn> ctx_create;
  Sym<CtxDestroyFn> ctx_destroy;
  Sym<CtxSetCurrentFn> ctx_set_current;
  Sym<MemAllocFn> mem_alloc;
  Sym<MemFreeFn> mem_free;
  Sym<GetErrorTextFn> error_name, error_string;
  std::vector<std::string> missing;  // optional symbols not exported
};

// dlopens path (RTLD_NOW | RTLD_LOCAL) and resolves the table. Error when the
// file cannot be loaded (missing, 0 bytes, not ELF: dlerror's text) or lacks a
// required symbol.
Result<CudaApi> load_cuda(const std::string& path);

// "CUDA_ERROR_NO_DEVICE" / "no CUDA-capable device is detected" from the
// library itself (cuGetErrorName / cuGetErrorString); "" when it has no text.
std::string error_name(const CudaApi& api, CUresult r);
std::string error_string(const CudaApi& api, CUresult r);

}  // namespace gd::cuda
