#include "simulator.hpp"

#include "failure_model.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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
  for (unsigned i = 0; i < m_devices.size(); ++i) m_devices[i].index = i;
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

std::optional<nvmlReturn_t> Simulator::apply_fault(std::unique_lock<std::mutex>& lock, std::string_view symbol,
                                                   std::optional<unsigned> gpu) const {
  const Fault* fault = find_fault(m_scenario->faults, symbol, gpu);
  if (!fault) return std::nullopt;
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
  ++m_references;
  return nvml::k_success;
}

nvmlReturn_t Simulator::shutdown(std::string_view symbol) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
  if (auto fault = apply_fault(lock, symbol, std::nullopt)) return *fault;
  if (--m_references == 0) m_scenario.reset();
  return nvml::k_success;
}

nvmlReturn_t Simulator::system_call(std::string_view symbol, const SystemQuery& query) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
  if (auto fault = apply_fault(lock, symbol, std::nullopt)) return *fault;
  return query(*m_scenario);
}

std::optional<unsigned> Simulator::index_of(nvmlDevice_t device) const {
  for (unsigned i = 0; i < m_scenario->gpus.size(); ++i) {
    if (device == &m_devices[i]) return i;
  }
  return std::nullopt;
}

nvmlReturn_t Simulator::device_call(std::string_view symbol, nvmlDevice_t device, const DeviceQuery& query) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
  std::optional<unsigned> index = index_of(device);
  if (!index) return nvml::k_invalid_argument;
  if (auto fault = apply_fault(lock, symbol, index)) return *fault;
  if (m_scenario->lost[*index]) return nvml::k_gpu_is_lost;
  return query(DeviceContext{*m_scenario, m_scenario->gpus[*index], *index});
}

unsigned Simulator::visible_count(const Scenario& s) {
  unsigned n = 0;
  for (bool lost : s.lost) n += lost ? 0 : 1;
  return n;
}

nvmlReturn_t Simulator::handle_by_index(std::string_view symbol, unsigned index, nvmlDevice_t* device) {
  std::unique_lock lock(m_mutex);
  if (m_references == 0) return nvml::k_uninitialized;
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

}  // namespace gd::sim
