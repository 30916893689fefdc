// CUresult values by name, with the texts the real libcuda's cuGetErrorName
// and cuGetErrorString give: one table, used by the exported functions and by
// the scenario's "cuda" section.
#pragma once

#include <optional>
#include <string_view>

namespace gd::sim {

// "CUDA_ERROR_NO_DEVICE" / "no CUDA-capable device is detected"; nullptr for a
// code the table does not know (the real functions then fail with
// CUDA_ERROR_INVALID_VALUE). Pointers stay valid for the life of the process.
const char* cuda_error_name(int code);
const char* cuda_error_string(int code);

// Parses "NO_DEVICE", "CUDA_ERROR_NO_DEVICE", "SUCCESS" or "CUDA_SUCCESS"
// (case-sensitive, as in cuda.h); nullopt for any other name.
std::optional<int> parse_cuda_result_name(std::string_view name);

// What cuInit returns on a node whose nvmlInit fails with `nvml_code`: both
// libraries sit on the same kernel driver. DRIVER_NOT_LOADED (9) and
// NO_PERMISSION (4) -> NO_DEVICE (100); LIB_RM_VERSION_MISMATCH (18) ->
// SYSTEM_DRIVER_MISMATCH (803); anything else -> UNKNOWN (999).
int cuda_result_for_nvml_init(int nvml_code);

}  // namespace gd::sim
