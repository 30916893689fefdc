// Names and meanings of CUresult codes (CUDA driver API, cuda.h), for
// evidence text. Codes of the runtime API (libcudart) that users quote next to
// them are named as such, e.g. 35 cudaErrorInsufficientDriver.
#pragma once

#include <string>
#include <string_view>

namespace gd::model {

// CUresult, as cuda.h numbers it (and 35, the runtime API's
// cudaErrorInsufficientDriver, which users quote beside them).
enum class CudaResult : int {
  success = 0,
  invalid_value = 1,
  out_of_memory = 2,
  not_initialized = 3,
  deinitialized = 4,
  stub_library = 34,
  runtime_insufficient_driver = 35,
  call_requires_newer_driver = 36,
  device_unavailable = 46,
  no_device = 100,
  invalid_device = 101,
  invalid_context = 201,
  operating_system = 304,
  not_permitted = 800,
  not_supported = 801,
  system_not_ready = 802,
  system_driver_mismatch = 803,
  compat_not_supported_on_device = 804,
  unknown = 999,
};
constexpr int code(CudaResult r) { return static_cast<int>(r); }

// "CUDA_ERROR_NO_DEVICE"; "CUresult <n>" for codes the table does not know.
std::string cuda_result_name(int code);
// What the code means for an operator, one sentence.
std::string_view cuda_result_meaning(int code);
// "NO_DEVICE (100)" style label used in summaries.
std::string cuda_result_label(int code);

}  // namespace gd::model
