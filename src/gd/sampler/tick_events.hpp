// The events one tick produces, from the previous LiveState and the new one:
// NVML hung / answering, GPU lost / back, finding raised / cleared, inventory
// change (another UUID or serial at a bus id) and GPUs seen for the first
// time. Pure: unit-tested on hand-built states.
#pragma once

#include <cstdint>
#include <vector>

#include "gd/model/history_event.hpp"
#include "gd/sampler/live_state.hpp"
#include "gd/store/store.hpp"

namespace gd::sampler {

struct TickChanges {
  std::vector<store::EventRow> events;
  std::vector<store::GpuIdentity> inventory;  // GPUs whose identity is new or changed
};

// next.nvml and next.findings are this tick's; next.gpus starts as prev.gpus
// and is updated here (identity, lost).
TickChanges diff_tick(const LiveState& prev, LiveState& next, std::int64_t ts_ms);

// A node event (daemon_start, daemon_stop, ...) with a JSON detail.
store::EventRow node_event(std::int64_t ts_ms, model::HistoryEvent type, std::string detail_json = "{}");

}  // namespace gd::sampler
