// The NVML function table, resolved by dlopen/dlsym from a given file. Suffixed
// symbols (_v2, _v3) are tried first, then the plain names; optional symbols
// may be missing (null) and are then treated as NOT_SUPPORTED.
#pragma once

#include <string>
#include <vector>

#include "gd/nvml/nvml_abi.hpp"
#include "gd/util/result.hpp"

namespace gd::nvml {

template <class F>
struct Sym {
  F fn = nullptr;
  const char* name = "";  // the symbol actually resolved (or the preferred one when missing)
  explicit operator bool() const { return fn != nullptr; }
};

struct NvmlApi {
  void* handle = nullptr;
  Sym<InitFn> init;
  Sym<ShutdownFn> shutdown;
  Sym<SystemStringFn> driver_version, nvml_version;
  Sym<SystemIntFn> cuda_version;
  Sym<CountFn> count;
  Sym<HandleByIndexFn> handle_by_index;
  Sym<DevicePciFn> pci_info;
  Sym<DeviceStringFn> name, uuid, serial;
  Sym<DeviceUintFn> minor;
  Sym<DeviceEnableFn> persistence;
  Sym<DeviceTempFn> temperature;
  Sym<DeviceTempThresholdFn> temp_threshold;
  Sym<DeviceUintFn> power_usage, power_limit;
  Sym<DeviceUllFn> energy;
  Sym<DeviceMemoryFn> memory;
  Sym<DeviceUtilFn> utilization;
  Sym<DeviceClockFn> clock, max_clock;
  Sym<DeviceUllFn> clock_reasons;
  Sym<DevicePstateFn> pstate;
  Sym<DeviceUintFn> fan;
  Sym<DeviceEccModeFn> ecc_mode;
  Sym<DeviceEccCountFn> ecc_count;
  Sym<DeviceEnableFn> retired_pending;
  Sym<DeviceRemappedRowsFn> remapped_rows;
  Sym<DeviceFieldValuesFn> field_values;
  Sym<DeviceUintFn> pcie_gen, pcie_width, pcie_max_gen, pcie_max_width;
  Sym<DeviceSetEnableFn> set_persistence;
  Sym<EventSetCreateFn> event_set_create;
  Sym<EventSetFreeFn> event_set_free;
  Sym<DeviceUllFn> supported_events;
  Sym<DeviceRegisterEventsFn> register_events;
  Sym<EventSetWaitFn> event_wait;    // _v2, else the plain name (fills the first 24 bytes)
  std::vector<std::string> missing;  // optional symbols not exported
};

// dlopens path (RTLD_NOW | RTLD_LOCAL) and resolves the table. Error when the
// file cannot be loaded or lacks a required symbol (init, shutdown, count,
// handle by index), with dlerror's text.
Result<NvmlApi> load_nvml(const std::string& path);

}  // namespace gd::nvml
