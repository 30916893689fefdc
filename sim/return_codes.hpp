// nvmlReturn_t values by name and their nvmlErrorString texts: one table, used
// by the exported nvmlErrorString and by the scenario's "return" fields.
#pragma once

#include <optional>
#include <string_view>

namespace gd::sim {

// The text real NVML's nvmlErrorString gives for `code`; "Unknown Error" for
// codes it does not know. The pointer stays valid for the life of the process.
const char* error_string(int code);

// Parses "GPU_IS_LOST", "NVML_ERROR_GPU_IS_LOST", "SUCCESS" or "NVML_SUCCESS"
// (case-sensitive, as written in nvml.h); nullopt for any other name.
std::optional<int> parse_return_name(std::string_view name);

}  // namespace gd::sim
