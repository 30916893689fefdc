#include "gd/nvml/nvml_api.hpp"

#include <dlfcn.h>

#include <initializer_list>

#include <fmt/format.h>

namespace gd::nvml {

namespace {

template <class F>
Sym<F> resolve(void* h, std::initializer_list<const char*> names, std::vector<std::string>& missing) {
  for (const char* n : names) {
    if (void* p = ::dlsym(h, n)) return Sym<F>{reinterpret_cast<F>(p), n};
  }
  missing.emplace_back(*names.begin());
  return Sym<F>{nullptr, *names.begin()};
}

}  // namespace

Result<NvmlApi> load_nvml(const std::string& path) {
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = ::dlerror();
    return make_error(e ? e : fmt::format("{}: cannot be loaded", path));
  }
  NvmlApi a;
  a.handle = h;
  auto& m = a.missing;
  a.init = resolve<InitFn>(h, {"nvmlInit_v2", "nvmlInit"}, m);
  a.shutdown = resolve<ShutdownFn>(h, {"nvmlShutdown"}, m);
  a.count = resolve<CountFn>(h, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"}, m);
  a.handle_by_index = resolve<HandleByIndexFn>(h, {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"}, m);
  for (const auto& req : {a.init.fn != nullptr, a.shutdown.fn != nullptr, a.count.fn != nullptr,
                          a.handle_by_index.fn != nullptr}) {
    if (!req) return make_error(fmt::format("{}: lacks required NVML symbols ({})", path, fmt::join(m, ", ")));
  }
  a.driver_version = resolve<SystemStringFn>(h, {"nvmlSystemGetDriverVersion"}, m);
  a.nvml_version = resolve<SystemStringFn>(h, {"nvmlSystemGetNVMLVersion"}, m);
  a.cuda_version = resolve<SystemIntFn>(h, {"nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"}, m);
  a.pci_info = resolve<DevicePciFn>(h, {"nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo"}, m);
  a.name = resolve<DeviceStringFn>(h, {"nvmlDeviceGetName"}, m);
  a.uuid = resolve<DeviceStringFn>(h, {"nvmlDeviceGetUUID"}, m);
  a.serial = resolve<DeviceStringFn>(h, {"nvmlDeviceGetSerial"}, m);
  a.minor = resolve<DeviceUintFn>(h, {"nvmlDeviceGetMinorNumber"}, m);
  a.persistence = resolve<DeviceEnableFn>(h, {"nvmlDeviceGetPersistenceMode"}, m);
  a.set_persistence = resolve<DeviceSetEnableFn>(h, {"nvmlDeviceSetPersistenceMode"}, m);
  a.temperature = resolve<DeviceTempFn>(h, {"nvmlDeviceGetTemperature"}, m);
  a.temp_threshold = resolve<DeviceTempThresholdFn>(h, {"nvmlDeviceGetTemperatureThreshold"}, m);
  a.power_usage = resolve<DeviceUintFn>(h, {"nvmlDeviceGetPowerUsage"}, m);
  a.power_limit = resolve<DeviceUintFn>(h, {"nvmlDeviceGetEnforcedPowerLimit"}, m);
  a.energy = resolve<DeviceUllFn>(h, {"nvmlDeviceGetTotalEnergyConsumption"}, m);
  a.memory = resolve<DeviceMemoryFn>(h, {"nvmlDeviceGetMemoryInfo"}, m);
  a.utilization = resolve<DeviceUtilFn>(h, {"nvmlDeviceGetUtilizationRates"}, m);
  a.clock = resolve<DeviceClockFn>(h, {"nvmlDeviceGetClockInfo"}, m);
  a.max_clock = resolve<DeviceClockFn>(h, {"nvmlDeviceGetMaxClockInfo"}, m);
  a.clock_reasons = resolve<DeviceUllFn>(
      h, {"nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"}, m);
  a.pstate = resolve<DevicePstateFn>(h, {"nvmlDeviceGetPerformanceState"}, m);
  a.fan = resolve<DeviceUintFn>(h, {"nvmlDeviceGetFanSpeed"}, m);
  a.ecc_mode = resolve<DeviceEccModeFn>(h, {"nvmlDeviceGetEccMode"}, m);
  a.ecc_count = resolve<DeviceEccCountFn>(h, {"nvmlDeviceGetTotalEccErrors"}, m);
  a.retired_pending = resolve<DeviceEnableFn>(h, {"nvmlDeviceGetRetiredPagesPendingStatus"}, m);
  a.remapped_rows = resolve<DeviceRemappedRowsFn>(h, {"nvmlDeviceGetRemappedRows"}, m);
  a.field_values = resolve<DeviceFieldValuesFn>(h, {"nvmlDeviceGetFieldValues"}, m);
  a.pcie_gen = resolve<DeviceUintFn>(h, {"nvmlDeviceGetCurrPcieLinkGeneration"}, m);
  a.pcie_width = resolve<DeviceUintFn>(h, {"nvmlDeviceGetCurrPcieLinkWidth"}, m);
  a.pcie_max_gen = resolve<DeviceUintFn>(h, {"nvmlDeviceGetMaxPcieLinkGeneration"}, m);
  a.pcie_max_width = resolve<DeviceUintFn>(h, {"nvmlDeviceGetMaxPcieLinkWidth"}, m);
  a.event_set_create = resolve<EventSetCreateFn>(h, {"nvmlEventSetCreate"}, m);
  a.event_set_free = resolve<EventSetFreeFn>(h, {"nvmlEventSetFree"}, m);
  a.supported_events = resolve<DeviceUllFn>(h, {"nvmlDeviceGetSupportedEventTypes"}, m);
  a.register_events = resolve<DeviceRegisterEventsFn>(h, {"nvmlDeviceRegisterEvents"}, m);
  a.event_wait = resolve<EventSetWaitFn>(h, {"nvmlEventSetWait_v2", "nvmlEventSetWait"}, m);
  return a;
}

}  // namespace gd::nvml
