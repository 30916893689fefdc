// The seed's failure model: driver init/teardown cycles without persistence
// wear a GPU out until it falls off the bus. See FailureModel in scenario.hpp.
#pragma once

#include "scenario.hpp"
#include "state.hpp"

namespace gd::sim {

// True when every GPU that reports persistence has it on (state file first,
// then the scenario's value).
bool all_persistent(const Scenario& scenario, const State& state);

// Called by every nvmlInit that is about to succeed. When the scenario has a
// failure model and persistence is off somewhere: sleeps cold_init_delay,
// counts one cycle in the state file, and loses the chosen GPU (appending the
// kernel log lines) once the count is reached. Always refreshes
// scenario.lost from the state file. State-file trouble is reported on
// stderr and leaves the GPUs as they were.
void on_init(Scenario& scenario);

// The state-file key of the GPUs nvmlDeviceRemoveGpu took away (scenario
// indices); they are not enumerated from the next nvmlInit on, like lost ones.
inline constexpr const char* k_removed_gpus = "removed_gpus";

}  // namespace gd::sim
