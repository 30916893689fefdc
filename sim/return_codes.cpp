#include "return_codes.hpp"

#include <array>

namespace gd::sim {
namespace {

struct ReturnCode {
  int code;
  std::string_view name;  // without the NVML_ERROR_ / NVML_ prefix
  const char* message;    // what nvmlErrorString returns: the real 535 library's texts (tested against it)
};

constexpr std::array k_return_codes{
    ReturnCode{0, "SUCCESS", "Success"},
    ReturnCode{1, "UNINITIALIZED", "Uninitialized"},
    ReturnCode{2, "INVALID_ARGUMENT", "Invalid Argument"},
    ReturnCode{3, "NOT_SUPPORTED", "Not Supported"},
    ReturnCode{4, "NO_PERMISSION", "Insufficient Permissions"},
    ReturnCode{5, "ALREADY_INITIALIZED", "Already Initialized"},
    ReturnCode{6, "NOT_FOUND", "Not Found"},
    ReturnCode{7, "INSUFFICIENT_SIZE", "Insufficient Size"},
    ReturnCode{8, "INSUFFICIENT_POWER", "Insufficient External Power"},
    ReturnCode{9, "DRIVER_NOT_LOADED", "Driver Not Loaded"},
    ReturnCode{10, "TIMEOUT", "Timeout"},
    ReturnCode{11, "IRQ_ISSUE", "Interrupt Request Issue"},
    ReturnCode{12, "LIBRARY_NOT_FOUND", "NVML Shared Library Not Found"},
    ReturnCode{13, "FUNCTION_NOT_FOUND", "Function Not Found"},
    ReturnCode{14, "CORRUPTED_INFOROM", "Corrupted infoROM"},
    ReturnCode{15, "GPU_IS_LOST", "GPU is lost"},
    ReturnCode{16, "RESET_REQUIRED", "GPU requires reset"},
    ReturnCode{17, "OPERATING_SYSTEM", "GPU access blocked by the operating system"},
    ReturnCode{18, "LIB_RM_VERSION_MISMATCH", "Driver/library version mismatch"},
    ReturnCode{19, "IN_USE", "In use by another client"},
    ReturnCode{20, "MEMORY", "Insufficient Memory"},
    ReturnCode{21, "NO_DATA", "No data"},
    ReturnCode{22, "VGPU_ECC_NOT_SUPPORTED", "vGPU ECC not supported"},
    ReturnCode{23, "INSUFFICIENT_RESOURCES", "Insufficient Resources"},
    ReturnCode{24, "FREQ_NOT_SUPPORTED", "Invalid Frequency"},
    ReturnCode{25, "ARGUMENT_VERSION_MISMATCH", "Argument version mismatch"},
    ReturnCode{26, "DEPRECATED", "Requested functionality has been deprecated"},
    ReturnCode{27, "NOT_READY", "System is not in ready state"},
    // Newer than the 535 library, which names them "Unknown Error" too.
    ReturnCode{28, "GPU_NOT_FOUND", "Unknown Error"},
    ReturnCode{29, "INVALID_STATE", "Unknown Error"},
    ReturnCode{30, "RESET_TYPE_NOT_SUPPORTED", "Unknown Error"},
    ReturnCode{999, "UNKNOWN", "Unknown Error"},
};

std::string_view strip_prefix(std::string_view name) {
  for (std::string_view prefix : {"NVML_ERROR_", "NVML_"}) {
    if (name.substr(0, prefix.size()) == prefix) return name.substr(prefix.size());
  }
  return name;
}

}  // namespace

const char* error_string(int code) {
  for (const ReturnCode& rc : k_return_codes) {
    if (rc.code == code) return rc.message;
  }
  return "Unknown Error";
}

std::optional<int> parse_return_name(std::string_view name) {
  std::string_view bare = strip_prefix(name);
  for (const ReturnCode& rc : k_return_codes) {
    if (rc.name == bare) return rc.code;
  }
  return std::nullopt;
}

}  // namespace gd::sim
