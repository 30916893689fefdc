#include "gd/cuda/cuda_api.hpp"

#include <dlfcn.h>

#include <cstring>
#include <initializer_list>

#include <fmt/format.h>

namespace gd::cuda {

namespace {

template <class F>
Sym<F> resolve(void* h, std::initializer_list<const char*> names, std::vector<std::string>& missing) {
  for (const char* n : names) {
    if (void* p = ::dlsym(h, n)) return Sym<F>{reinterpret_cast<F>(p), n};
  }
  missing.emplace_back(*names.begin());
  return Sym<F>{nullptr, *names.begin()};
}

std::string text(const Sym<GetErrorTextFn>& fn, CUresult r) {
  const char* s = nullptr;
  if (!fn || fn.fn(r, &s) != k_success || !s) return "";
  return std::string(s, strnlen(s, 256));
}

}  // namespace

Result<CudaApi> load_cuda(const std::string& path) {
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = ::dlerror();
    return make_error(e ? e : fmt::format("{}: cannot be loaded", path));
  }
  CudaApi a;
  a.handle = h;
  auto& m = a.missing;
  a.init = resolve<InitFn>(h, {"cuInit"}, m);
  a.driver_version = resolve<DriverGetVersionFn>(h, {"cuDriverGetVersion"}, m);
  a.device_count = resolve<DeviceGetCountFn>(h, {"cuDeviceGetCount"}, m);
  if (!a.init || !a.driver_version || !a.device_count)
    return make_error(fmt::format("{}: lacks required CUDA driver symbols ({})", path, fmt::join(m, ", ")));
  a.device_get = resolve<DeviceGetFn>(h, {"cuDeviceGet"}, m);
  a.device_name = resolve<DeviceGetNameFn>(h, {"cuDeviceGetName"}, m);
  a.device_bus_id = resolve<DeviceGetPciBusIdFn>(h, {"cuDeviceGetPCIBusId"}, m);
  a.primary_ctx_retain = resolve<PrimaryCtxRetainFn>(h, {"cuDevicePrimaryCtxRetain"}, m);
  a.primary_ctx_release =
      resolve<PrimaryCtxReleaseFn>(h, {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}, m);
  a.ctx_create = resolve<CtxCreateFn>(h, {"cuCtxCreate_v2", "cuCtxCreate"}, m);
  a.ctx_destroy = resolve<CtxDestroyFn>(h, {"cuCtxDestroy_v2", "cuCtxDestroy"}, m);
  a.ctx_set_current = resolve<CtxSetCurrentFn>(h, {"cuCtxSetCurrent"}, m);
  a.mem_alloc = resolve<MemAllocFn>(h, {"cuMemAlloc_v2"}, m);  // the plain names take 32-bit pointers
  a.mem_free = resolve<MemFreeFn>(h, {"cuMemFree_v2"}, m);
  a.error_name = resolve<GetErrorTextFn>(h, {"cuGetErrorName"}, m);
  a.error_string = resolve<GetErrorTextFn>(h, {"cuGetErrorString"}, m);
  return a;
}

std::string error_name(const CudaApi& api, CUresult r) { return text(api.error_name, r); }
std::string error_string(const CudaApi& api, CUresult r) { return text(api.error_string, r); }

}  // namespace gd::cuda
