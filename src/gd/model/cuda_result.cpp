#include "gd/model/cuda_result.hpp"

#include <fmt/format.h>

namespace gd::model {

namespace {

struct ResultInfo {
  CudaResult value;
  std::string_view name;
  std::string_view meaning;
};

constexpr ResultInfo k_results[] = {
    {CudaResult::success, "CUDA_SUCCESS", "the call succeeded"},
    {CudaResult::invalid_value, "CUDA_ERROR_INVALID_VALUE", "an argument was invalid"},
    {CudaResult::out_of_memory, "CUDA_ERROR_OUT_OF_MEMORY", "the GPU has not enough free memory"},
    {CudaResult::not_initialized, "CUDA_ERROR_NOT_INITIALIZED", "the CUDA driver could not be initialised (or was used after fork())"},
    {CudaResult::deinitialized, "CUDA_ERROR_DEINITIALIZED", "the CUDA driver is shutting down"},
    {CudaResult::stub_library, "CUDA_ERROR_STUB_LIBRARY", "the CUDA toolkit's stub libcuda.so was loaded instead of the driver's library"},
    {CudaResult::runtime_insufficient_driver, "cudaErrorInsufficientDriver (runtime API)",
     "the installed driver is older than the CUDA runtime needs (a runtime-API code; no CUresult has this value)"},
    {CudaResult::call_requires_newer_driver, "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER", "the call needs a newer CUDA driver than the one installed"},
    {CudaResult::device_unavailable, "CUDA_ERROR_DEVICE_UNAVAILABLE", "the GPU is busy or unavailable (exclusive-process mode, or in use)"},
    {CudaResult::no_device, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CudaResult::invalid_device, "CUDA_ERROR_INVALID_DEVICE", "the device ordinal is not valid"},
    {CudaResult::invalid_context, "CUDA_ERROR_INVALID_CONTEXT", "the context is not valid"},
    {CudaResult::operating_system, "CUDA_ERROR_OPERATING_SYSTEM", "an operating-system call failed"},
    {CudaResult::not_permitted, "CUDA_ERROR_NOT_PERMITTED", "the operation is not permitted"},
    {CudaResult::not_supported, "CUDA_ERROR_NOT_SUPPORTED", "the operation is not supported"},
    {CudaResult::system_not_ready, "CUDA_ERROR_SYSTEM_NOT_READY", "the system is not yet initialised (NVSwitch fabric not up)"},
    {CudaResult::system_driver_mismatch, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
     "the user-space CUDA driver (libcuda) and the loaded kernel module are different versions"},
    {CudaResult::compat_not_supported_on_device, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
     "forward-compatible CUDA (cuda-compat) was attempted on a GPU that does not support it"},
    {CudaResult::unknown, "CUDA_ERROR_UNKNOWN", "an unknown internal error"},
};

const ResultInfo* find(int code) {
  for (const auto& r : k_results)
    if (model::code(r.value) == code) return &r;
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
  if (code == model::code(CudaResult::runtime_insufficient_driver)) return "INSUFFICIENT_DRIVER (35)";
  return fmt::format("{}", name);
}

}  // namespace gd::model
