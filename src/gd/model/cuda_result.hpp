// Names and meanings of CUresult codes (CUDA driver API, cuda.h), for
// evidence text. Codes of the runtime API (libcudart) that users quote next to
// them are named as such, e.g. 35 cudaErrorInsufficientDriver.
#pragma once

#include <string>
#include <string_view>

namespace gd::model {

// "CUDA_ERROR_NO_DEVICE"; "CUresult <n>" for codes the table does not know.
std::string cuda_result_name(int code);
// What the code means for an operator, one sentence.
std::string_view cuda_result_meaning(int code);
// "NO_DEVICE (100)" style label used in summaries.
std::string cuda_result_label(int code);

}  // namespace gd::model
