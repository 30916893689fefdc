#include "gd/model/nvml_return.hpp"

#include <fmt/format.h>

namespace gd::model {

namespace {

struct ReturnInfo {
  int code;
  std::string_view name;
  std::string_view meaning;
};

constexpr ReturnInfo k_returns[] = {
    {0, "NVML_SUCCESS", "the call succeeded"},
    {1, "NVML_ERROR_UNINITIALIZED", "NVML was not initialised first"},
    {2, "NVML_ERROR_INVALID_ARGUMENT", "an argument was invalid"},
    {3, "NVML_ERROR_NOT_SUPPORTED", "this GPU or driver does not support the query"},
    {4, "NVML_ERROR_NO_PERMISSION", "the caller lacks permission (device node modes, cgroup device rules)"},
    {5, "NVML_ERROR_ALREADY_INITIALIZED", "already initialised (deprecated code)"},
    {6, "NVML_ERROR_NOT_FOUND", "the requested object was not found"},
    {7, "NVML_ERROR_INSUFFICIENT_SIZE", "a buffer was too small"},
    {8, "NVML_ERROR_INSUFFICIENT_POWER", "a GPU's external power cables are not connected properly"},
    {9, "NVML_ERROR_DRIVER_NOT_LOADED", "the NVIDIA kernel driver is not loaded"},
    {10, "NVML_ERROR_TIMEOUT", "the driver timed out"},
    {11, "NVML_ERROR_IRQ_ISSUE", "the kernel detected an interrupt problem with a GPU"},
    {12, "NVML_ERROR_LIBRARY_NOT_FOUND", "a library NVML needs (e.g. libcuda) was not found"},
    {13, "NVML_ERROR_FUNCTION_NOT_FOUND", "a function is missing from the loaded library (stale or mixed library versions)"},
    {14, "NVML_ERROR_CORRUPTED_INFOROM", "the GPU's infoROM is corrupted"},
    {15, "NVML_ERROR_GPU_IS_LOST", "the GPU has fallen off the bus or has otherwise become inaccessible"},
    {16, "NVML_ERROR_RESET_REQUIRED", "the GPU needs a reset before it can be used again"},
    {17, "NVML_ERROR_OPERATING_SYSTEM", "the operating system (or cgroups) blocked the call"},
    {18, "NVML_ERROR_LIB_RM_VERSION_MISMATCH", "the user-space driver library and the loaded kernel module are different versions"},
    {19, "NVML_ERROR_IN_USE", "the GPU is in use"},
    {20, "NVML_ERROR_MEMORY", "insufficient memory"},
    {21, "NVML_ERROR_NO_DATA", "no data"},
    {22, "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED", "ECC is not supported with vGPU"},
    {23, "NVML_ERROR_INSUFFICIENT_RESOURCES", "insufficient resources"},
    {24, "NVML_ERROR_FREQ_NOT_SUPPORTED", "frequency not supported"},
    {25, "NVML_ERROR_ARGUMENT_VERSION_MISMATCH", "the struct version passed does not match the library"},
    {26, "NVML_ERROR_DEPRECATED", "the call is deprecated"},
    {27, "NVML_ERROR_NOT_READY", "the system is not ready"},
    {28, "NVML_ERROR_GPU_NOT_FOUND", "the GPU was not found"},
    {29, "NVML_ERROR_INVALID_STATE", "invalid state"},
    {30, "NVML_ERROR_RESET_TYPE_NOT_SUPPORTED", "reset type not supported"},
    {999, "NVML_ERROR_UNKNOWN", "an unknown internal error"},
};

const ReturnInfo* find(int code) {
  for (const auto& r : k_returns)
    if (r.code == code) return &r;
  return nullptr;
}

}  // namespace

std::string nvml_return_name(int code) {
  if (const auto* r = find(code)) return std::string(r->name);
  return fmt::format("NVML_RETURN_{}", code);
}

std::string_view nvml_return_meaning(int code) {
  if (const auto* r = find(code)) return r->meaning;
  return "a return code this version of gpudoctor does not know";
}

std::string nvml_return_label(int code) {
  std::string name = nvml_return_name(code);
  constexpr std::string_view prefix = "NVML_ERROR_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  return fmt::format("{} ({})", name, code);
}

}  // namespace gd::model
