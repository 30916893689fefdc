#include "simulator.hpp"

#include "failure_model.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace gd::sim {
namespace {

constexpr const char* k_scenario_env = "GPUDOCTOR_SIM_SCENARIO";

}  // namespace

void complain(const std::string& where, const std::string& what) {
  std::string line = "gpudoctor-sim: " + where + ": " + what;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

void hang_forever() {
  for (;;) ::pause();
}

Simulator& Simulator::instance() {
  static Simulator simulator;
  return simulator;
}

Simulator::Simulator() {
  for (unsigned i = 0; i < m_devices.size(); ++i) {
    m_devices[i].index = i;
    for (unsigned k = 0; k < m_mig_devices[i].size(); ++k) m_mig_devices[i][k] = nvmlDevice_st{i, static_cast<int>(k)};
  }
}

nvmlReturn_t Simulator::load_from_environment() {
  const char* env = std::getenv(k_scenario_env);
  if (!env || !*env) {
    complain(k_scenario_env, "not set; it must name the scenario file to simulate");
    return nvml::k_driver_not_loaded;
  }
  std::error_code ec;
  std::filesystem::path file = std::filesystem::absolute(env, ec);
  if (ec) file = env;
  Result<Scenario> scenario = load_scenario(file);
  if (!scenario) {
    complain(file.string(), scenario.error().message);
    m_scenario.reset();
    return nvml::k_unknown;
  }
  m_scenario = std::move(*scenario);
  return nvml::k_success;
}

SimTime Simulator::now() const {
  SimTime t;
  t.sample = m_scenario->samples;
  if (m_scenario->clock_started_unix_ms) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count();
    t.elapsed_ms = std::max<std::int64_t>(0, ms - *m_scenario->clock_started_unix_ms);
  }
  return t;
}

SimTime Simulator::advance(std::string_view symbol) {
  if (symbol.starts_with("nvmlDeviceGetCount")) ++m_scenario->samples;
  SimTime t = now();
  log_due_xid_events(*m_scenario, t);
  return t;
}

std::optional<nvmlReturn_t> Simulator::apply_fault(std::unique_lock<std::mutex>& lock, std::string_view symbol,
                                                   std::optional<unsigned> gpu) const {
  const Fault* fault = find_fault(m_scenario->faults, symbol, gpu, now());
  if (!fault) return std::nullopt;
  if (fault->crash) {
    lock.unlock();
    ::raise(SIGSEGV);  // the process's own handler runs first, as with a real crash
    std::abort();      // SIGSEGV ignored: still die
  }
  if (fault->hang) {
    lock.unlock();
    hang_forever();
  }
  if (fault->return_code == nvml::k_success) return std::nullopt;
  return fault->return_code;
}

nvmlReturn_t Simulator::init(std::string_view symbol) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) {
    nvmlReturn_t loaded = load_from_environment();
    if (loaded != nvml::k_success) return loaded;
  }
  if (m_scenario->init_delay.count() > 0) std::this_thread::sleep_for(m_scenario->init_delay);
  if (auto fault = apply_fault(lock, symbol, std::nullopt)) return *fault;
  on_init(*m_scenario);
  start_clock(*m_scenario);
  ++m_references;
  return nvml::k_success;
}

nvmlReturn_t Simulator::shutdown(std::string_view symbol) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_success;  // as the real library: a shutdown without init is no error
  if (auto fault = apply_fault(lock, symbol, std::nullopt)) return *fault;
  if (--m_references == 0) {
    m_scenario.reset();
    m_event_sets.clear();
  }
  return nvml::k_success;
}

nvmlReturn_t Simulator::library_call(std::string_view symbol, const SystemQuery& query) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) {
    nvmlReturn_t loaded = load_from_environment();
    if (loaded != nvml::k_success) return loaded;
  }
  if (auto fault = apply_fault(lock, symbol, std::nullopt)) return *fault;
  return query(*m_scenario);
}

nvmlReturn_t Simulator::system_call(std::string_view symbol, const SystemQuery& query) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
  advance(symbol);
  if (auto fault = apply_fault(lock, symbol, std::nullopt)) return *fault;
  return query(*m_scenario);
}

std::optional<unsigned> Simulator::index_of(nvmlDevice_t device) const {
  for (unsigned i = 0; i < m_scenario->gpus.size(); ++i) {
    if (device == &m_devices[i]) return i;
    const auto& migs = m_scenario->gpus[i].client.mig_devices;
    for (unsigned k = 0; k < migs.size(); ++k)
      if (device == &m_mig_devices[i][k]) return i;
  }
  return std::nullopt;
}

nvmlDevice_t Simulator::gpu_handle(const DeviceContext& c) { return &m_devices[c.index]; }

nvmlDevice_t Simulator::mig_handle(const DeviceContext& parent, unsigned index) {
  return &m_mig_devices[parent.index][index];  // called under the lock, from a device query
}

nvmlReturn_t Simulator::device_call(std::string_view symbol, nvmlDevice_t device, const DeviceQuery& query,
                                     bool mig_ok) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
  std::optional<unsigned> index = index_of(device);
  if (!index) return nvml::k_invalid_argument;
  SimTime t = advance(symbol);
  if (auto fault = apply_fault(lock, symbol, index)) return *fault;
  if (m_scenario->lost[*index]) return nvml::k_gpu_is_lost;
  apply_timelines(*m_scenario, *index, t);
  unsigned enumeration = 0;
  for (unsigned i = 0; i < *index; ++i) enumeration += m_scenario->lost[i] ? 0 : 1;
  const Gpu& gpu = m_scenario->gpus[*index];
  int mig = device->mig;
  if (mig >= 0 && !mig_ok) return nvml::k_not_supported;
  return query(DeviceContext{*m_scenario, gpu, *index, enumeration,
                             mig >= 0 ? &gpu.client.mig_devices[static_cast<unsigned>(mig)] : nullptr, mig});
}

nvmlReturn_t Simulator::handle_where(std::string_view symbol, const std::function<bool(const Gpu&)>& match,
                                     nvmlDevice_t* device) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
  advance(symbol);
  std::optional<unsigned> target;
  for (unsigned i = 0; i < m_scenario->gpus.size() && !target; ++i)
    if (!m_scenario->lost[i] && match(m_scenario->gpus[i])) target = i;
  if (auto fault = apply_fault(lock, symbol, target)) return *fault;
  if (!device) return nvml::k_invalid_argument;
  if (!target) return nvml::k_not_found;
  *device = &m_devices[*target];
  return nvml::k_success;
}

unsigned Simulator::visible_count(const Scenario& s) {
  unsigned n = 0;
  for (bool lost : s.lost) n += lost ? 0 : 1;
  return n;
}

nvmlReturn_t Simulator::handle_by_index(std::string_view symbol, unsigned index, nvmlDevice_t* device) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
  advance(symbol);
  // Lost GPUs are missing from the enumeration: index counts visible GPUs.
  std::optional<unsigned> target;
  for (unsigned i = 0, seen = 0; i < m_scenario->gpus.size(); ++i) {
    if (m_scenario->lost[i]) continue;
    if (seen++ == index) {
      target = i;
      break;
    }
  }
  if (auto fault = apply_fault(lock, symbol, target)) return *fault;
  if (!target || !device) return nvml::k_invalid_argument;
  *device = &m_devices[*target];
  return nvml::k_success;
}

bool Simulator::known_set(nvmlEventSet_t set) const {
  return std::any_of(m_event_sets.begin(), m_event_sets.end(), [&](const auto& s) { return s.get() == set; });
}

nvmlReturn_t Simulator::event_set_create(std::string_view symbol, nvmlEventSet_t* set) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
  SimTime t = advance(symbol);
  if (auto fault = apply_fault(lock, symbol, std::nullopt)) return *fault;
  if (!set) return nvml::k_invalid_argument;
  auto created = std::make_unique<nvmlEventSet_st>();
  created->created = t;
  created->delivered.assign(m_scenario->xid_events.size(), false);
  *set = created.get();
  m_event_sets.push_back(std::move(created));
  return nvml::k_success;
}

nvmlReturn_t Simulator::event_set_free(std::string_view symbol, nvmlEventSet_t set) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
  advance(symbol);
  if (auto fault = apply_fault(lock, symbol, std::nullopt)) return *fault;
  auto it = std::find_if(m_event_sets.begin(), m_event_sets.end(), [&](const auto& s) { return s.get() == set; });
  if (it == m_event_sets.end()) return nvml::k_invalid_argument;
  m_event_sets.erase(it);
  return nvml::k_success;
}

nvmlReturn_t Simulator::register_events(std::string_view symbol, nvmlDevice_t device, unsigned long long types,
                                        nvmlEventSet_t set) {
  return device_call(symbol, device, [&](const DeviceContext& c) {
    if (!known_set(set)) return nvml::k_invalid_argument;
    if (types == 0 || (types & ~c.gpu.event_types) != 0) return nvml::k_not_supported;
    set->registered[c.index] |= types;
    return nvml::k_success;
  });
}

bool Simulator::next_event(nvmlEventSet_t set, nvmlEventData_t* data, bool v2) {
  SimTime t = now();
  for (std::size_t k = 0; k < m_scenario->xid_events.size(); ++k) {
    const XidEvent& e = m_scenario->xid_events[k];
    auto reg = set->registered.find(e.gpu);
    if (set->delivered[k] || reg == set->registered.end() || !(reg->second & nvml::k_event_type_xid_critical_error) ||
        !e.at.reached(t))
      continue;
    set->delivered[k] = true;
    // An event that happened before the set existed is not delivered (as NVML).
    bool before = e.at.ms ? set->created.elapsed_ms && static_cast<std::int64_t>(*e.at.ms) < *set->created.elapsed_ms
                          : *e.at.sample < set->created.sample;
    if (before) continue;
    nvmlEventData_t out{};
    out.device = &m_devices[e.gpu];
    out.eventType = nvml::k_event_type_xid_critical_error;
    out.eventData = e.xid;
    out.gpuInstanceId = out.computeInstanceId = 0xFFFFFFFFu;
    std::memcpy(data, &out, v2 ? sizeof out : offsetof(nvmlEventData_t, gpuInstanceId));
    return true;
  }
  return false;
}

nvmlReturn_t Simulator::event_set_wait(std::string_view symbol, nvmlEventSet_t set, nvmlEventData_t* data,
                                       unsigned timeout_ms, bool v2) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
  advance(symbol);
  if (auto fault = apply_fault(lock, symbol, std::nullopt)) return *fault;
  if (!known_set(set) || !data) return nvml::k_invalid_argument;
  while (true) {
    if (next_event(set, data, v2)) return nvml::k_success;
    if (std::chrono::steady_clock::now() >= deadline) return nvml::k_timeout;
    lock.unlock();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(10), deadline - std::chrono::steady_clock::now()));
    lock.lock();
    if (m_references == 0 || !known_set(set)) return nvml::k_uninitialized;
  }
}

}  // namespace gd::sim
