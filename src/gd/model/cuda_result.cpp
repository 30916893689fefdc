#include "gd/model/cuda_result.hpp"

#include <fmt/format.h>

namespace gd::model {

namespace {

struct ResultInfo {
  int code;
  std::string_view name;
  std::string_view meaning;
};

constexpr ResultInfo k_results[] = {
    {0, "CUDA_SUCCESS", "the call succeeded"},
    {1, "CUDA_ERROR_INVALID_VALUE", "an argument was invalid"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "the GPU has not enough free memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "the CUDA driver could not be initialised (or was used after fork())"},
    {4, "CUDA_ERROR_DEINITIALIZED", "the CUDA driver is shutting down"},
    {34, "CUDA_ERROR_STUB_LIBRARY", "the CUDA toolkit's stub libcuda.so was loaded instead of the driver's library"},
    {35, "cudaErrorInsufficientDriver (runtime API)",
     "the installed driver is older than the CUDA runtime needs (a runtime-API code; no CUresult has this value)"},
    {36, "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER", "the call needs a newer CUDA driver than the one installed"},
    {46, "CUDA_ERROR_DEVICE_UNAVAILABLE", "the GPU is busy or unavailable (exclusive-process mode, or in use)"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "the device ordinal is not valid"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "the context is not valid"},
    {304, "CUDA_ERROR_OPERATING_SYSTEM", "an operating-system call failed"},
    {800, "CUDA_ERROR_NOT_PERMITTED", "the operation is not permitted"},
    {801, "CUDA_ERROR_NOT_SUPPORTED", "the operation is not supported"},
    {802, "CUDA_ERROR_SYSTEM_NOT_READY", "the system is not yet initialised (NVSwitch fabric not up)"},
    {803, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
     "the user-space CUDA driver (libcuda) and the loaded kernel module are different versions"},
    {804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
     "forward-compatible CUDA (cuda-compat) was attempted on a GPU that does not support it"},
    {999, "CUDA_ERROR_UNKNOWN", "an unknown internal error"},
};

const ResultInfo* find(int code) {
  for (const auto& r : k_results)
    if (r.code == code) return &r;
  return nullptr;
}

}  // namespace

std::string cuda_result_name(int code) {
  if (const auto* r = find(code)) return std::string(r->name);
  return fmt::format("CUresult {}", code);
}

std::string_view cuda_result_meaning(int code) {
  if (const auto* r = find(code)) return r->meaning;
  return "a return code this version of gpudoctor does not know";
}

std::string cuda_result_label(int code) {
  std::string name = cuda_result_name(code);
  for (std::string_view prefix : {"CUDA_ERROR_", "CUDA_"})
    if (name.rfind(prefix, 0) == 0) return fmt::format("{} ({})", name.substr(prefix.size()), code);
  if (code == 35) return "INSUFFICIENT_DRIVER (35)";
  return fmt::format("{}", name);
}

}  // namespace gd::model
