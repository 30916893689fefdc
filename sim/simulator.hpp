// The simulated NVML library behind the exported C functions: init reference
// count, the loaded scenario, device handles and fault injection, all under
// one mutex. The exported functions (nvml_exports.cpp) only translate
// arguments and results.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gd/nvml/nvml_abi.hpp"
#include "scenario.hpp"

// What an nvmlDevice_t points at: one per possible GPU, never freed.
struct nvmlDevice_st {
  unsigned index;  // the GPU in the scenario
  int mig = -1;    // a MIG device handle: its index in the GPU's mig_devices
};

// What an nvmlEventSet_t points at: registrations and delivered Xid events.
struct nvmlEventSet_st {
  std::map<unsigned, unsigned long long> registered;  // GPU index -> event types
  gd::sim::SimTime created;                           // events due before this are not delivered
  std::vector<bool> delivered;                        // per Scenario::xid_events
};

namespace gd::sim {

// One device call's view of its GPU.
struct DeviceContext {
  const Scenario& scenario;
  const Gpu& gpu;
  unsigned index;        // in the scenario's gpus
  unsigned enumeration;  // nvmlDeviceGetIndex: among the GPUs the library enumerates
  const MigDevice* mig = nullptr;  // the call came with a MIG device handle of this GPU
  int mig_index = -1;
};

using SystemQuery = std::function<nvmlReturn_t(const Scenario&)>;
using DeviceQuery = std::function<nvmlReturn_t(const DeviceContext&)>;

class Simulator {
 public:
  static Simulator& instance();

  // nvmlInit*: when not yet initialised, (re)loads the scenario named by
  // GPUDOCTOR_SIM_SCENARIO (failure: one line on stderr, DRIVER_NOT_LOADED when
  // unset, UNKNOWN otherwise); then sleeps init_delay_ms, applies faults and
  // counts one more reference.
  nvmlReturn_t init(std::string_view symbol);

  // nvmlShutdown: drops one reference; UNINITIALIZED when there is none.
  nvmlReturn_t shutdown(std::string_view symbol);

  // Runs `query` once the library is initialised and no fault intervenes.
  nvmlReturn_t system_call(std::string_view symbol, const SystemQuery& query);
  // A query the real library answers before nvmlInit too (nvmlSystemGetNVMLVersion).
  nvmlReturn_t library_call(std::string_view symbol, const SystemQuery& query);

  // As system_call, for the GPU behind `device`; INVALID_ARGUMENT for a handle
  // this library did not hand out. A MIG device handle reaches `query` only
  // when `mig_ok` (the calls nvml.h documents for MIG handles): every other
  // query on one is NOT_SUPPORTED.
  nvmlReturn_t device_call(std::string_view symbol, nvmlDevice_t device, const DeviceQuery& query,
                           bool mig_ok = false);

  // The handle of MIG device `index` of the GPU behind `parent` (a full GPU's handle).
  nvmlDevice_t mig_handle(const DeviceContext& parent, unsigned index);
  // The full GPU's handle of the GPU a query runs on (also for a MIG handle).
  nvmlDevice_t gpu_handle(const DeviceContext& c);
  // From inside a query (the lock held): the handle of scenario GPU `index`,
  // and the scenario GPU behind another handle (nullopt: not one of ours, or a
  // MIG device handle).
  nvmlDevice_t handle_at(unsigned index) { return &m_devices[index]; }
  std::optional<unsigned> gpu_of(nvmlDevice_t device) const {
    return device && device->mig < 0 ? index_of(device) : std::nullopt;
  }

  // GPUs in the enumeration: listed and not lost to the failure model.
  static unsigned visible_count(const Scenario& s);

  // nvmlDeviceGetHandleByIndex*: `index` counts visible GPUs; faults apply to
  // the GPU it lands on.
  nvmlReturn_t handle_by_index(std::string_view symbol, unsigned index, nvmlDevice_t* device);

  // nvmlDeviceGetHandleByUUID / BySerial / ByPciBusId: the first enumerated
  // GPU `match` accepts; NOT_FOUND when none (a lost GPU is not enumerated).
  nvmlReturn_t handle_where(std::string_view symbol, const std::function<bool(const Gpu&)>& match,
                            nvmlDevice_t* device);

  // nvmlEventSetCreate / nvmlEventSetFree / nvmlDeviceRegisterEvents.
  nvmlReturn_t event_set_create(std::string_view symbol, nvmlEventSet_t* set);
  nvmlReturn_t event_set_free(std::string_view symbol, nvmlEventSet_t set);
  nvmlReturn_t register_events(std::string_view symbol, nvmlDevice_t device, unsigned long long types,
                               nvmlEventSet_t set);
  // nvmlEventSetWait(_v2): the next due Xid event registered on `set`, else
  // waits up to timeout_ms (the lock released) and returns TIMEOUT. The v1
  // call fills only the first 24 bytes of data.
  nvmlReturn_t event_set_wait(std::string_view symbol, nvmlEventSet_t set, nvmlEventData_t* data, unsigned timeout_ms,
                              bool v2);

 private:
  Simulator();

  // Loads m_scenario from the environment; SUCCESS or the code init returns.
  nvmlReturn_t load_from_environment();
  // The first fault for `symbol` on `gpu`: hangs (releasing `lock`) or gives
  // the code to return; nullopt when the call should proceed normally.
  std::optional<nvmlReturn_t> apply_fault(std::unique_lock<std::mutex>& lock, std::string_view symbol,
                                          std::optional<unsigned> gpu) const;
  std::optional<unsigned> index_of(nvmlDevice_t device) const;
  // This call's moment: the scenario's clock and this process's samples.
  SimTime now() const;
  // Before every call: counts a sample (nvmlDeviceGetCount*) and writes due Xid lines.
  SimTime advance(std::string_view symbol);
  bool known_set(nvmlEventSet_t set) const;
  // Fills data with the next due event for `set`; false when none.
  bool next_event(nvmlEventSet_t set, nvmlEventData_t* data, bool v2);

  std::mutex m_mutex;
  unsigned m_references = 0;
  std::optional<Scenario> m_scenario;
  std::array<nvmlDevice_st, k_max_gpus> m_devices;
  std::array<std::array<nvmlDevice_st, 7>, k_max_gpus> m_mig_devices;
  std::vector<std::unique_ptr<nvmlEventSet_st>> m_event_sets;
};

// Never returns; the process can still be killed by any signal.
[[noreturn]] void hang_forever();

// Prints one line to stderr: "gpudoctor-sim: <where>: <what>".
void complain(const std::string& where, const std::string& what);

}  // namespace gd::sim
