#include "cuda_return_codes.hpp"

#include <array>

namespace gd::sim {
namespace {

struct CudaResult {
  int code;
  std::string_view name;  // without the CUDA_ERROR_ / CUDA_ prefix
  const char* full_name;  // what cuGetErrorName returns
  const char* message;    // what cuGetErrorString returns
};

constexpr std::array k_results{
    CudaResult{0, "SUCCESS", "CUDA_SUCCESS", "no error"},
    CudaResult{1, "INVALID_VALUE", "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    CudaResult{2, "OUT_OF_MEMORY", "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    CudaResult{3, "NOT_INITIALIZED", "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    CudaResult{4, "DEINITIALIZED", "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    CudaResult{34, "STUB_LIBRARY", "CUDA_ERROR_STUB_LIBRARY", "CUDA driver is a stub library"},
    CudaResult{36, "CALL_REQUIRES_NEWER_DRIVER", "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER",
               "API call requires a newer CUDA driver"},
    CudaResult{46, "DEVICE_UNAVAILABLE", "CUDA_ERROR_DEVICE_UNAVAILABLE",
               "CUDA-capable device(s) is/are busy or unavailable"},
    CudaResult{100, "NO_DEVICE", "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    CudaResult{101, "INVALID_DEVICE", "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    CudaResult{201, "INVALID_CONTEXT", "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    CudaResult{304, "OPERATING_SYSTEM", "CUDA_ERROR_OPERATING_SYSTEM",
               "OS call failed or operation not supported on this OS"},
    CudaResult{400, "INVALID_HANDLE", "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    CudaResult{800, "NOT_PERMITTED", "CUDA_ERROR_NOT_PERMITTED", "operation not permitted"},
    CudaResult{801, "NOT_SUPPORTED", "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    CudaResult{802, "SYSTEM_NOT_READY", "CUDA_ERROR_SYSTEM_NOT_READY", "system not yet initialized"},
    CudaResult{803, "SYSTEM_DRIVER_MISMATCH", "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
               "system has unsupported display driver / cuda driver combination"},
    CudaResult{804, "COMPAT_NOT_SUPPORTED_ON_DEVICE", "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
               "forward compatibility was attempted on non supported HW"},
    CudaResult{999, "UNKNOWN", "CUDA_ERROR_UNKNOWN", "unknown error"},
};

const CudaResult* find(int code) {
  for (const CudaResult& r : k_results)
    if (r.code == code) return &r;
  return nullptr;
}

std::string_view strip_prefix(std::string_view name) {
  for (std::string_view prefix : {"CUDA_ERROR_", "CUDA_"}) {
    if (name.substr(0, prefix.size()) == prefix) return name.substr(prefix.size());
  }
  return name;
}

}  // namespace

const char* cuda_error_name(int code) {
  const CudaResult* r = find(code);
  return r ? r->full_name : nullptr;
}

const char* cuda_error_string(int code) {
  const CudaResult* r = find(code);
  return r ? r->message : nullptr;
}

std::optional<int> parse_cuda_result_name(std::string_view name) {
  std::string_view bare = strip_prefix(name);
  for (const CudaResult& r : k_results)
    if (r.name == bare) return r.code;
  return std::nullopt;
}

int cuda_result_for_nvml_init(int nvml_code) {
  switch (nvml_code) {
    case 0:
      return 0;
    case 4:  // NO_PERMISSION: the device nodes cannot be opened
    case 9:  // DRIVER_NOT_LOADED
      return 100;
    case 18:  // LIB_RM_VERSION_MISMATCH
      return 803;
    default:
      return 999;
  }
}

}  // namespace gd::sim
