#include "gd/model/nvml_return.hpp"

#include <fmt/format.h>

namespace gd::model {

namespace {

struct ReturnInfo {
  NvmlReturn value;
  std::string_view name;
  std::string_view meaning;
};

constexpr ReturnInfo k_returns[] = {
    {NvmlReturn::success, "NVML_SUCCESS", "the call succeeded"},
    {NvmlReturn::uninitialized, "NVML_ERROR_UNINITIALIZED", "NVML was not initialised first"},
    {NvmlReturn::invalid_argument, "NVML_ERROR_INVALID_ARGUMENT", "an argument was invalid"},
    {NvmlReturn::not_supported, "NVML_ERROR_NOT_SUPPORTED", "this GPU or driver does not support the query"},
    {NvmlReturn::no_permission, "NVML_ERROR_NO_PERMISSION", "the caller lacks permission (device node modes, cgroup device rules)"},
    {NvmlReturn::already_initialized, "NVML_ERROR_ALREADY_INITIALIZED", "already initialised (deprecated code)"},
    {NvmlReturn::not_found, "NVML_ERROR_NOT_FOUND", "the requested object was not found"},
    {NvmlReturn::insufficient_size, "NVML_ERROR_INSUFFICIENT_SIZE", "a buffer was too small"},
    {NvmlReturn::insufficient_power, "NVML_ERROR_INSUFFICIENT_POWER", "a GPU's external power cables are not connected properly"},
    {NvmlReturn::driver_not_loaded, "NVML_ERROR_DRIVER_NOT_LOADED", "the NVIDIA kernel driver is not loaded"},
    {NvmlReturn::timeout, "NVML_ERROR_TIMEOUT", "the driver timed out"},
    {NvmlReturn::irq_issue, "NVML_ERROR_IRQ_ISSUE", "the kernel detected an interrupt problem with a GPU"},
    {NvmlReturn::library_not_found, "NVML_ERROR_LIBRARY_NOT_FOUND", "a library NVML needs (e.g. libcuda) was not found"},
    {NvmlReturn::function_not_found, "NVML_ERROR_FUNCTION_NOT_FOUND", "a function is missing from the loaded library (stale or mixed library versions)"},
    {NvmlReturn::corrupted_inforom, "NVML_ERROR_CORRUPTED_INFOROM", "the GPU's infoROM is corrupted"},
    {NvmlReturn::gpu_is_lost, "NVML_ERROR_GPU_IS_LOST", "the GPU has fallen off the bus or has otherwise become inaccessible"},
    {NvmlReturn::reset_required, "NVML_ERROR_RESET_REQUIRED", "the GPU needs a reset before it can be used again"},
    {NvmlReturn::operating_system, "NVML_ERROR_OPERATING_SYSTEM", "the operating system (or cgroups) blocked the call"},
    {NvmlReturn::lib_rm_version_mismatch, "NVML_ERROR_LIB_RM_VERSION_MISMATCH", "the user-space driver library and the loaded kernel module are different versions"},
    {NvmlReturn::in_use, "NVML_ERROR_IN_USE", "the GPU is in use"},
    {NvmlReturn::memory, "NVML_ERROR_MEMORY", "insufficient memory"},
    {NvmlReturn::no_data, "NVML_ERROR_NO_DATA", "no data"},
    {NvmlReturn::vgpu_ecc_not_supported, "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED", "ECC is not supported with vGPU"},
    {NvmlReturn::insufficient_resources, "NVML_ERROR_INSUFFICIENT_RESOURCES", "insufficient resources"},
    {NvmlReturn::freq_not_supported, "NVML_ERROR_FREQ_NOT_SUPPORTED", "frequency not supported"},
    {NvmlReturn::argument_version_mismatch, "NVML_ERROR_ARGUMENT_VERSION_MISMATCH", "the struct version passed does not match the library"},
    {NvmlReturn::deprecated, "NVML_ERROR_DEPRECATED", "the call is deprecated"},
    {NvmlReturn::not_ready, "NVML_ERROR_NOT_READY", "the system is not ready"},
    {NvmlReturn::gpu_not_found, "NVML_ERROR_GPU_NOT_FOUND", "the GPU was not found"},
    {NvmlReturn::invalid_state, "NVML_ERROR_INVALID_STATE", "invalid state"},
    {NvmlReturn::reset_type_not_supported, "NVML_ERROR_RESET_TYPE_NOT_SUPPORTED", "reset type not supported"},
    {NvmlReturn::unknown, "NVML_ERROR_UNKNOWN", "an unknown internal error"},
};

const ReturnInfo* find(int code) {
  for (const auto& r : k_returns)
    if (model::code(r.value) == code) return &r;
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
