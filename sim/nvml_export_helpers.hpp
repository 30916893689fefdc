// Helpers shared by the files that export NVML's C functions
// (nvml_exports.cpp: what gpudoctor calls; nvml_exports_clients.cpp: what
// real clients call). Each export translates arguments, asks the Simulator,
// and never lets an exception cross the C ABI.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>

#include "gd/nvml/nvml_abi.hpp"
#include "simulator.hpp"
#include "state.hpp"

#define GD_SIM_EXPORT extern "C" __attribute__((visibility("default")))

namespace gd::sim::exports {

using namespace gd::nvml;

// Runs `body`; any exception becomes NVML_ERROR_UNKNOWN.
template <class Body>
nvmlReturn_t guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (...) {
    return k_unknown;
  }
}

inline nvmlReturn_t init(const char* symbol) {
  return guarded([&] { return Simulator::instance().init(symbol); });
}

inline nvmlReturn_t system_query(const char* symbol, const SystemQuery& query) {
  return guarded([&] { return Simulator::instance().system_call(symbol, query); });
}

inline nvmlReturn_t device_query(const char* symbol, nvmlDevice_t device, const DeviceQuery& query) {
  return guarded([&] { return Simulator::instance().device_call(symbol, device, query); });
}

// A query nvml.h documents for MIG device handles too (name, UUID, index,
// memory, processes, attributes, instance ids): `query` sees c.mig set.
inline nvmlReturn_t mig_aware_query(const char* symbol, nvmlDevice_t device, const DeviceQuery& query) {
  return guarded([&] { return Simulator::instance().device_call(symbol, device, query, true); });
}

inline nvmlReturn_t handle_by_index(const char* symbol, unsigned index, nvmlDevice_t* device) {
  return guarded([&] { return Simulator::instance().handle_by_index(symbol, index, device); });
}

// Stores `value` in `*out`: INVALID_ARGUMENT for a null `out`, NOT_SUPPORTED
// when the scenario does not give the value.
template <class T, class U>
nvmlReturn_t put(T* out, const std::optional<U>& value) {
  if (!out) return k_invalid_argument;
  if (!value) return k_not_supported;
  *out = static_cast<T>(*value);
  return k_success;
}

// Copies `text` with its NUL into `buf`; INSUFFICIENT_SIZE when `len` is short.
inline nvmlReturn_t put_string(char* buf, unsigned len, const std::optional<std::string>& text) {
  if (!buf) return k_invalid_argument;
  if (!text) return k_not_supported;
  if (text->size() + 1 > len) return k_insufficient_size;
  std::memcpy(buf, text->c_str(), text->size() + 1);
  return k_success;
}

inline std::optional<int> enable_state(const std::optional<bool>& enabled) {
  if (!enabled) return std::nullopt;
  return *enabled ? 1 : 0;
}

// Formats into `dst` of `size` bytes, truncating like real NVML's fixed buffers.
template <class... Args>
void format_into(char* dst, std::size_t size, const char* format, Args... args) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, args...);
  std::size_t n = std::min(std::strlen(buf), size - 1);
  std::memcpy(dst, buf, n);
  dst[n] = '\0';
}

inline nvmlPciInfo_t pci_info(const Gpu& gpu) {
  nvmlPciInfo_t info{};
  const PciAddress& a = gpu.pci;
  format_into(info.busIdLegacy, sizeof info.busIdLegacy, "%04X:%02X:%02X.0", a.domain, a.bus, a.device);
  format_into(info.busId, sizeof info.busId, "%08X:%02X:%02X.0", a.domain, a.bus, a.device);
  info.domain = a.domain;
  info.bus = a.bus;
  info.device = a.device;
  info.pciDeviceId = gpu.pci_device_id;
  info.pciSubSystemId = gpu.pci_subsystem_id;
  return info;
}

// A setting changed through the simulator (nvmlDeviceSet*), kept in the state
// file under state[key][uuid] so every process sees it; nullopt when never set
// (or the state file is unreadable: the scenario's value then stands).
inline std::optional<nlohmann::json> setting(const DeviceContext& c, const char* key) {
  auto state = StateFile(c.scenario.state_file).load();
  if (!state) return std::nullopt;
  auto all = state->json().find(key);
  if (all == state->json().end() || !all->is_object()) return std::nullopt;
  auto mine = all->find(c.gpu.uuid);
  if (mine == all->end()) return std::nullopt;
  return *mine;
}

template <class T>
std::optional<T> setting_or(const DeviceContext& c, const char* key, const std::optional<T>& scenario_value) {
  auto v = setting(c, key);
  if (!v) return scenario_value;
  if constexpr (std::is_same_v<T, bool>) {
    if (v->is_boolean()) return v->template get<bool>();
  } else {
    if (v->is_number_integer()) return v->template get<T>();
  }
  return scenario_value;
}

// Stores (or, with a null value, forgets) a setting; UNKNOWN when the state
// file cannot be written (the reason goes to stderr).
inline nvmlReturn_t store_setting(const DeviceContext& c, const char* key, const nlohmann::json& value) {
  StateFile file(c.scenario.state_file);
  auto state = file.update([&](State& s) {
    if (value.is_null()) {
      if (s.json().contains(key)) s.json()[key].erase(c.gpu.uuid);
    } else {
      s.json()[key][c.gpu.uuid] = value;
    }
  });
  if (!state) {
    complain(file.path().string(), state.error().message);
    return k_unknown;
  }
  return k_success;
}

// The enforced power limit: one set through nvmlDeviceSetPowerManagementLimit, else the scenario's.
inline std::optional<unsigned> power_limit_mw(const DeviceContext& c) {
  return setting_or<unsigned>(c, "power_limit_mw", c.gpu.power_limit_mw);
}

}  // namespace gd::sim::exports
