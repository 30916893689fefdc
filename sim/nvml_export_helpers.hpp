// Helpers shared by the files that export NVML's C functions
// (nvml_exports.cpp: what gpudoctor calls; nvml_exports_clients.cpp: what
// real clients call). Each export translates arguments, asks the Simulator,
// and never lets an exception cross the C ABI.
#pragma once

#include <algorithm>
#include <chrono>
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

// A call the real library answers before nvmlInit too.
inline nvmlReturn_t library_query(const char* symbol, const SystemQuery& query) {
  return guarded([&] { return Simulator::instance().library_call(symbol, query); });
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

// The current MIG mode: the scenario's, or what nvmlDeviceSetMigMode activated.
inline bool mig_on(const DeviceContext& c) {
  return setting_or<bool>(c, "mig_mode", c.gpu.client.mig_mode).value_or(false);
}

inline constexpr nvmlReturn_t k_argument_version_mismatch = 25;  // NVML_ERROR_ARGUMENT_VERSION_MISMATCH

// nvmlDeviceArchitecture_t values the exports tell apart.
inline constexpr unsigned k_arch_ampere = 7;
inline constexpr unsigned k_arch_hopper = 9;
// The GPU is of architecture `arch` or later (unknown architecture: no).
inline bool at_least_arch(const DeviceContext& c, unsigned arch) {
  return c.gpu.client.architecture.value_or(0) >= arch;
}

// The enforced power limit: one set through nvmlDeviceSetPowerManagementLimit, else the scenario's.
inline std::optional<unsigned> power_limit_mw(const DeviceContext& c) {
  return setting_or<unsigned>(c, "power_limit_mw", c.gpu.power_limit_mw);
}

// An ECC counter: corrected/uncorrected (error_type 0/1), volatile/aggregate
// (counter_type 0/1); 0 once cleared by nvmlDeviceClearEccErrorCounts (state
// file); nullopt when the scenario does not give it.
inline std::optional<std::uint64_t> ecc_count(const DeviceContext& c, int error_type, int counter_type) {
  const EccErrorCounts& e = c.gpu.ecc_errors;
  bool is_volatile = counter_type == k_ecc_counter_volatile;
  const auto& value = error_type == k_memory_error_corrected ? (is_volatile ? e.corrected_volatile : e.corrected_aggregate)
                                                             : (is_volatile ? e.uncorrected_volatile : e.uncorrected_aggregate);
  bool cleared = value && setting_or<bool>(c, is_volatile ? "ecc_volatile_cleared" : "ecc_aggregate_cleared",
                                           std::optional<bool>(false)).value_or(false);
  return cleared ? std::optional<std::uint64_t>(0) : value;
}

// Fills a caller's array of `needed` items the way NVML's list queries do:
// *count too small (infos may then be NULL) → INSUFFICIENT_SIZE with the size
// needed in *count; otherwise the items and their number.
template <class T, class Fill>
nvmlReturn_t fill_list(unsigned* count, T* items, std::size_t needed, Fill&& fill) {
  if (!count) return k_invalid_argument;
  if (*count < needed) {
    *count = static_cast<unsigned>(needed);
    return k_insufficient_size;
  }
  if (needed > 0 && !items) return k_invalid_argument;
  for (std::size_t i = 0; i < needed; ++i) fill(items[i], i);
  *count = static_cast<unsigned>(needed);
  return k_success;
}

// Link `link` of the GPU; rc INVALID_ARGUMENT past NVML_NVLINK_MAX_LINKS,
// NOT_SUPPORTED for a link the GPU does not have.
inline const NvLink* nvlink(const DeviceContext& c, unsigned link, nvmlReturn_t& rc) {
  rc = k_success;
  if (link >= k_nvlink_max_links) rc = k_invalid_argument;
  else if (link >= c.gpu.client.nvlinks.size()) rc = k_not_supported;
  return rc == k_success ? &c.gpu.client.nvlinks[link] : nullptr;
}

// Now, in microseconds since the epoch (NVML's CPU timestamps).
inline long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace gd::sim::exports
