#include "failure_model.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "simulator.hpp"

namespace gd::sim {
namespace {

constexpr const char* k_cycles = "init_teardown_cycles";
constexpr const char* k_lost = "lost_gpus";

std::uint64_t cycles_of(const State& s) {
  auto it = s.json().find(k_cycles);
  return it != s.json().end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

// GPUs not enumerated: lost to the failure model, or removed by
// nvmlDeviceRemoveGpu (until nvmlDeviceDiscoverGpus finds them again).
std::vector<bool> lost_of(const State& s, std::size_t gpu_count) {
  std::vector<bool> lost(gpu_count, false);
  for (const char* key : {k_lost, k_removed_gpus}) {
    auto it = s.json().find(key);
    if (it == s.json().end() || !it->is_array()) continue;
    for (const auto& v : *it)
      if (v.is_number_unsigned() && v.get<std::uint64_t>() < gpu_count) lost[v.get<std::size_t>()] = true;
  }
  return lost;
}

}  // namespace

bool all_persistent(const Scenario& scenario, const State& state) {
  for (const auto& g : scenario.gpus) {
    if (!g.persistence_mode) continue;  // cannot report it: not counted against
    if (!state.persistence(g.uuid).value_or(*g.persistence_mode)) return false;
  }
  return true;
}

void on_init(Scenario& scenario) {
  StateFile file(scenario.state_file);
  auto current = file.load();
  if (!current) {
    complain(scenario.state_file.string(), current.error().message);
    return;
  }
  if (!scenario.failure_model || all_persistent(scenario, *current)) {
    scenario.lost = lost_of(*current, scenario.gpus.size());
    return;
  }
  const FailureModel& m = *scenario.failure_model;
  if (m.cold_init_delay.count() > 0) std::this_thread::sleep_for(m.cold_init_delay);
  unsigned victim = m.lose_gpu.value_or(scenario.gpus.empty() ? 0 : static_cast<unsigned>(scenario.gpus.size() - 1));
  bool newly_lost = false;
  auto updated = file.update([&](State& s) {
    std::uint64_t cycles = cycles_of(s) + 1;
    s.json()[k_cycles] = cycles;
    auto lost = lost_of(s, scenario.gpus.size());
    if (m.lose_after_cycles > 0 && cycles >= m.lose_after_cycles && victim < lost.size() && !lost[victim]) {
      auto& list = s.json()[k_lost];
      if (!list.is_array()) list = nlohmann::json::array();
      list.push_back(victim);
      newly_lost = true;
    }
  });
  if (!updated) {
    complain(scenario.state_file.string(), updated.error().message);
    return;
  }
  scenario.lost = lost_of(*updated, scenario.gpus.size());
  if (newly_lost && scenario.kernel_log) {
    XidEvent e{victim, 79, {}, ::getpid(), std::nullopt, std::nullopt};
    append_to_log(scenario.kernel_log->string(), xid_log_lines(scenario.gpus[victim], e));
  }
}

}  // namespace gd::sim
