// Names and meanings of nvmlReturn_t codes (NVML API 13), for evidence text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gd::model {

// nvmlReturn_t, as nvml.h numbers it (the ABI test pins each value).
enum class NvmlReturn : int {
  success = 0,
  uninitialized = 1,
  invalid_argument = 2,
  not_supported = 3,
  no_permission = 4,
  already_initialized = 5,
  not_found = 6,
  insufficient_size = 7,
  insufficient_power = 8,
  driver_not_loaded = 9,
  timeout = 10,
  irq_issue = 11,
  library_not_found = 12,
  function_not_found = 13,
  corrupted_inforom = 14,
  gpu_is_lost = 15,
  reset_required = 16,
  operating_system = 17,
  lib_rm_version_mismatch = 18,
  in_use = 19,
  memory = 20,
  no_data = 21,
  vgpu_ecc_not_supported = 22,
  insufficient_resources = 23,
  freq_not_supported = 24,
  argument_version_mismatch = 25,
  deprecated = 26,
  not_ready = 27,
  gpu_not_found = 28,
  invalid_state = 29,
  reset_type_not_supported = 30,
  unknown = 999,
};
constexpr int code(NvmlReturn r) { return static_cast<int>(r); }
constexpr bool is(std::optional<int> code_value, NvmlReturn r) { return code_value && *code_value == code(r); }
// GPU_IS_LOST or RESET_REQUIRED: the GPU is gone until a reset or reboot.
constexpr bool is_lost(int code_value) {
  return code_value == code(NvmlReturn::gpu_is_lost) || code_value == code(NvmlReturn::reset_required);
}

// A query that failed in a way that only says "this GPU or driver does not have
// it" (NOT_SUPPORTED, FUNCTION_NOT_FOUND on an older driver, NO_DATA, VGPU_ECC_NOT_SUPPORTED,
// FREQ_NOT_SUPPORTED): the value is absent, not unread.
constexpr bool is_absent_feature(int code_value) {
  return code_value == code(NvmlReturn::not_supported) || code_value == code(NvmlReturn::function_not_found) ||
         code_value == code(NvmlReturn::no_data) || code_value == code(NvmlReturn::vgpu_ecc_not_supported) ||
         code_value == code(NvmlReturn::freq_not_supported);
}

// "NVML_ERROR_GPU_IS_LOST"; "NVML_RETURN_<n>" for codes NVML does not define.
std::string nvml_return_name(int code);
// What the code means for an operator, one sentence.
std::string_view nvml_return_meaning(int code);
// "GPU_IS_LOST (15)" style label used in evidence lines.
std::string nvml_return_label(int code);

}  // namespace gd::model
