// Board, fabric and administration calls real clients make
// (docs/simulator.md, "For real clients"): boards and the NVSwitch fabric,
// NvLink capabilities and counters, fan control, drain / remove / rediscover
// a GPU, clearing field values. Settings are root only and kept in the state
// file, so every process sees them. Prototypes: nvml.h (libnvidia-ml-dev
// 11.8), nvmlDeviceGetGpuFabricInfo and the _v2 fan calls from NVIDIA's later headers.

#include <unistd.h>

#include <algorithm>

#include "failure_model.hpp"
#include "nvml_export_helpers.hpp"

namespace gd::sim {
namespace {

using namespace gd::nvml;
using namespace gd::sim::exports;

constexpr nvmlReturn_t k_in_use = 19;  // NVML_ERROR_IN_USE

bool is_nvswitch(const NvLink& l) {
  unsigned id = l.remote_device_id >> 16;
  return id == 0x22A3 || id == 0x1AF1;
}

// NVML_GPU_FABRIC_STATE_*: the scenario's, else COMPLETED for a GPU with
// active links to NVSwitches (fabric manager running), NOT_SUPPORTED otherwise.
int fabric_state(const ClientFacts& f) {
  if (f.fabric_state) return *f.fabric_state;
  bool switched = std::any_of(f.nvlinks.begin(), f.nvlinks.end(), [](const NvLink& l) { return l.active && is_nvswitch(l); });
  return switched ? 3 : 0;
}

// The scenario GPU at the PCI address in `pci` (domain, bus, device), if any.
std::optional<unsigned> gpu_at(const Scenario& s, const nvmlPciInfo_t* pci) {
  if (!pci) return std::nullopt;
  for (unsigned i = 0; i < s.gpus.size(); ++i) {
    const PciAddress& a = s.gpus[i].pci;
    if (a.domain == pci->domain && a.bus == pci->bus && a.device == pci->device) return i;
  }
  return std::nullopt;
}

// The persistence mode now: the state file's value, else the scenario's.
bool persistent(const Scenario& s, const Gpu& g) {
  auto state = StateFile(s.state_file).load();
  bool scenario_value = g.persistence_mode.value_or(false);
  return state ? state->persistence(g.uuid).value_or(scenario_value) : scenario_value;
}

// The drain state of a GPU named by its PCI address: a query on the scenario
// with a DeviceContext for the state-file helpers. INVALID_ARGUMENT for an
// address that is no GPU of the node.
template <class Body>
nvmlReturn_t by_pci(const char* symbol, const nvmlPciInfo_t* pci, Body&& body) {
  return system_query(symbol, [&](const Scenario& s) -> nvmlReturn_t {
    auto index = gpu_at(s, pci);
    if (!index) return k_invalid_argument;
    if (s.lost[*index]) return k_gpu_is_lost;
    return body(DeviceContext{s, s.gpus[*index], *index, 0});
  });
}

bool drained(const DeviceContext& c) { return setting_or<bool>(c, "drained", std::optional<bool>(false)).value_or(false); }

// Fan `fan` of a GPU with a fan (one, index 0): rc for a GPU without one or another index.
nvmlReturn_t check_fan(const DeviceContext& c, unsigned fan) {
  if (!c.gpu.fan_percent) return k_not_supported;
  return fan == 0 ? k_success : k_invalid_argument;
}

// The NvLink utilisation counters: Pascal/Volta/Turing only; deprecated and
// gone from Ampere on (use the NvLink throughput field values).
nvmlReturn_t check_utilization_counter(const DeviceContext& c, unsigned link, unsigned counter) {
  if (at_least_arch(c, k_arch_ampere)) return k_not_supported;
  nvmlReturn_t rc;
  if (!nvlink(c, link, rc)) return rc;
  return counter <= 1 ? k_success : k_invalid_argument;
}

}  // namespace
}  // namespace gd::sim

using namespace gd::sim;
using namespace gd::sim::exports;
using namespace gd::nvml;

// ---- boards, fabric, PCIe ---------------------------------------------------------------------

// The same GPU, or two GPUs of one multi-GPU board (the same board id).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceOnSameBoard(nvmlDevice_t device1, nvmlDevice_t device2, int* same) {
  return device_query(__func__, device1, [&](const DeviceContext& c) -> nvmlReturn_t {
    auto other = Simulator::instance().gpu_of(device2);
    if (!other || !same) return k_invalid_argument;
    if (c.scenario.lost[*other]) return k_gpu_is_lost;
    const Gpu& peer = c.scenario.gpus[*other];
    bool board = c.gpu.client.multi_gpu_board.value_or(false) && peer.client.multi_gpu_board.value_or(false) &&
                 c.gpu.client.board_id && c.gpu.client.board_id == peer.client.board_id;
    *same = *other == c.index || board ? 1 : 0;
    return k_success;
  });
}

// Hopper and later: the NVSwitch fabric registration (status SUCCESS; a
// zero cluster UUID and clique 0 on a single HGX node). Earlier GPUs: NOT_SUPPORTED.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetGpuFabricInfo(nvmlDevice_t device, nvmlGpuFabricInfo_t* info) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!info) return k_invalid_argument;
    if (!at_least_arch(c, k_arch_hopper)) return k_not_supported;
    *info = nvmlGpuFabricInfo_t{};
    info->status = k_success;
    info->state = static_cast<unsigned char>(fabric_state(c.gpu.client));
    return k_success;
  });
}

// The GPU's own highest PCIe generation (the scenario models one maximum for GPU and slot).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetGpuMaxPcieLinkGeneration(nvmlDevice_t device, unsigned* gen) {
  return device_query(__func__, device, [&](const DeviceContext& c) { return put(gen, c.gpu.pcie.max_gen); });
}

// ---- NvLink: capabilities, counters --------------------------------------------------------------

// NVML_NVLINK_CAP_*: over an active link P2P and P2P atomics (x86: no system
// memory over NvLink, no SLI); VALID for every link the GPU has.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkCapability(nvmlDevice_t device, unsigned link, int capability,
                                                         unsigned* result) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    nvmlReturn_t rc;
    const NvLink* l = nvlink(c, link, rc);
    if (!l) return rc;
    if (!result || capability < 0 || capability > 5) return k_invalid_argument;
    *result = capability == 5 ? 1 : (l->active && (capability == 0 || capability == 2)) ? 1 : 0;
    return k_success;
  });
}

// The error counters are 0 on a simulated link: a reset keeps them so.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceResetNvLinkErrorCounters(nvmlDevice_t device, unsigned link) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    nvmlReturn_t rc;
    return nvlink(c, link, rc) ? k_success : rc;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkUtilizationControl(nvmlDevice_t device, unsigned link, unsigned counter,
                                                                 nvmlNvLinkUtilizationControl_t* control) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (auto rc = check_utilization_counter(c, link, counter); rc != k_success) return rc;
    if (!control) return k_invalid_argument;
    auto set = setting(c, "nvlink_utilization_control");
    auto key = std::to_string(link) + "/" + std::to_string(counter);
    *control = nvmlNvLinkUtilizationControl_t{};
    if (set && set->is_object() && set->contains(key) && (*set)[key].is_array() && (*set)[key].size() == 2) {
      control->units = (*set)[key][0].get<int>();
      control->pktfilter = (*set)[key][1].get<int>();
    }
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetNvLinkUtilizationControl(nvmlDevice_t device, unsigned link, unsigned counter,
                                                                 nvmlNvLinkUtilizationControl_t* control,
                                                                 unsigned reset) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (auto rc = check_utilization_counter(c, link, counter); rc != k_success) return rc;
    if (!control || control->units < 0 || control->units > 2 || control->pktfilter < 0 || control->pktfilter > 0xFF)
      return k_invalid_argument;
    (void)reset;  // the counters are 0 either way: no NvLink traffic is modelled
    auto set = setting(c, "nvlink_utilization_control").value_or(nlohmann::json::object());
    if (!set.is_object()) set = nlohmann::json::object();
    set[std::to_string(link) + "/" + std::to_string(counter)] = {control->units, control->pktfilter};
    return store_setting(c, "nvlink_utilization_control", set);
  });
}

// No NvLink traffic is modelled: the counters read 0.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkUtilizationCounter(nvmlDevice_t device, unsigned link, unsigned counter,
                                                                 unsigned long long* rx, unsigned long long* tx) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (auto rc = check_utilization_counter(c, link, counter); rc != k_success) return rc;
    if (!rx || !tx) return k_invalid_argument;
    *rx = *tx = 0;
    return k_success;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceFreezeNvLinkUtilizationCounter(nvmlDevice_t device, unsigned link,
                                                                    unsigned counter, nvmlEnableState_t freeze) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (auto rc = check_utilization_counter(c, link, counter); rc != k_success) return rc;
    return freeze == 0 || freeze == 1 ? k_success : k_invalid_argument;
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceResetNvLinkUtilizationCounter(nvmlDevice_t device, unsigned link,
                                                                   unsigned counter) {
  return device_query(__func__, device,
                      [&](const DeviceContext& c) { return check_utilization_counter(c, link, counter); });
}

// ---- fan control (root; GPUs with a fan) -----------------------------------------------------------

// NVML_FAN_POLICY_TEMPERATURE_CONTINOUS_SW (0) until set; MANUAL (1) after a speed was set.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetFanControlPolicy_v2(nvmlDevice_t device, unsigned fan, unsigned* policy) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (auto rc = check_fan(c, fan); rc != k_success) return policy ? rc : k_invalid_argument;
    return put(policy, setting_or<unsigned>(c, "fan_policy", std::optional<unsigned>(0)));
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetFanControlPolicy(nvmlDevice_t device, unsigned fan, unsigned policy) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (auto rc = check_fan(c, fan); rc != k_success) return rc;
    if (policy > 1) return k_invalid_argument;
    if (::geteuid() != 0) return k_no_permission;
    return store_setting(c, "fan_policy", policy);
  });
}

// The target speed a client sets (percent); nvmlDeviceGetTargetFanSpeed reads it back.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetFanSpeed_v2(nvmlDevice_t device, unsigned fan, unsigned speed) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (auto rc = check_fan(c, fan); rc != k_success) return rc;
    if (speed > 100) return k_invalid_argument;
    if (::geteuid() != 0) return k_no_permission;
    if (auto rc = store_setting(c, "fan_policy", 1); rc != k_success) return rc;
    return store_setting(c, "fan_target_percent", speed);
  });
}

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceSetDefaultFanSpeed_v2(nvmlDevice_t device, unsigned fan) {
  return device_query(__func__, device, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (auto rc = check_fan(c, fan); rc != k_success) return rc;
    if (::geteuid() != 0) return k_no_permission;
    if (auto rc = store_setting(c, "fan_policy", nullptr); rc != k_success) return rc;
    return store_setting(c, "fan_target_percent", nullptr);
  });
}

// The range a client may set is the board's, not in a scenario: NOT_SUPPORTED (no fan: NOT_SUPPORTED too).
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceGetMinMaxFanSpeed(nvmlDevice_t device, unsigned* min_speed, unsigned* max_speed) {
  return device_query(__func__, device, [&](const DeviceContext&) {
    return min_speed && max_speed ? k_not_supported : k_invalid_argument;
  });
}

// ---- drain, remove, rediscover (root) ---------------------------------------------------------------

GD_SIM_EXPORT nvmlReturn_t nvmlDeviceQueryDrainState(nvmlPciInfo_t* pci, nvmlEnableState_t* state) {
  return by_pci(__func__, pci, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (!state) return k_invalid_argument;
    *state = drained(c) ? 1 : 0;
    return k_success;
  });
}

// Draining needs persistence off (IN_USE otherwise); kept in the state file.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceModifyDrainState(nvmlPciInfo_t* pci, nvmlEnableState_t state) {
  return by_pci(__func__, pci, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (state != 0 && state != 1) return k_invalid_argument;
    if (::geteuid() != 0) return k_no_permission;
    if (state == 1 && persistent(c.scenario, c.gpu)) return k_in_use;
    return store_setting(c, "drained", state == 1 ? nlohmann::json(true) : nlohmann::json());
  });
}

// Removes the GPU from NVML's and the driver's view: IN_USE while persistence
// is on or processes run on it. From the next nvmlInit of any process it is
// not enumerated (the later GPUs move up) until nvmlDeviceDiscoverGpus.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceRemoveGpu(nvmlPciInfo_t* pci) {
  return by_pci(__func__, pci, [&](const DeviceContext& c) -> nvmlReturn_t {
    if (::geteuid() != 0) return k_no_permission;
    if (persistent(c.scenario, c.gpu) || !c.gpu.client.processes.empty()) return k_in_use;
    StateFile file(c.scenario.state_file);
    auto updated = file.update([&](State& s) {
      auto& list = s.json()[k_removed_gpus];
      if (!list.is_array()) list = nlohmann::json::array();
      if (std::find(list.begin(), list.end(), c.index) == list.end()) list.push_back(c.index);
      if (s.json().contains("drained")) s.json()["drained"].erase(c.gpu.uuid);
    });
    if (!updated) {
      complain(file.path().string(), updated.error().message);
      return k_unknown;
    }
    return k_success;
  });
}

// Finds removed GPUs again under the PCI address given (domain, bus and device
// all 0: the whole tree), from the next nvmlInit on.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceDiscoverGpus(nvmlPciInfo_t* pci) {
  return system_query(__func__, [&](const Scenario& s) -> nvmlReturn_t {
    if (!pci) return k_invalid_argument;
    if (::geteuid() != 0) return k_no_permission;
    bool everything = pci->domain == 0 && pci->bus == 0 && pci->device == 0;
    StateFile file(s.state_file);
    auto updated = file.update([&](State& st) {
      auto it = st.json().find(k_removed_gpus);
      if (it == st.json().end() || !it->is_array()) return;
      nlohmann::json kept = nlohmann::json::array();
      for (const auto& v : *it) {
        bool under = v.is_number_unsigned() && v.get<std::size_t>() < s.gpus.size() &&
                     (everything || gpu_at(s, pci) == v.get<unsigned>());
        if (!under) kept.push_back(v);
      }
      *it = kept;
    });
    if (!updated) {
      complain(file.path().string(), updated.error().message);
      return k_unknown;
    }
    return k_success;
  });
}

// ---- field values ---------------------------------------------------------------------------------

// No field the simulator reports is a resettable counter: NOT_SUPPORTED for each.
GD_SIM_EXPORT nvmlReturn_t nvmlDeviceClearFieldValues(nvmlDevice_t device, int count, nvmlFieldValue_t* values) {
  return device_query(__func__, device, [&](const DeviceContext&) -> nvmlReturn_t {
    if (count < 0 || (count > 0 && !values)) return k_invalid_argument;
    for (int i = 0; i < count; ++i) values[i].nvmlReturn = k_not_supported;
    return k_success;
  });
}
