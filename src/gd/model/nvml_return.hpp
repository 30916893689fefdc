// Names and meanings of nvmlReturn_t codes (NVML API 13), for evidence text.
#pragma once

#include <string>
#include <string_view>

namespace gd::model {

// "NVML_ERROR_GPU_IS_LOST"; "NVML_RETURN_<n>" for codes NVML does not define.
std::string nvml_return_name(int code);
// What the code means for an operator, one sentence.
std::string_view nvml_return_meaning(int code);
// "GPU_IS_LOST (15)" style label used in evidence lines.
std::string nvml_return_label(int code);

}  // namespace gd::model
