// The kinds of event `watch` records in its history (the events table's
// `type` column, `events --type`): one enum, one name table.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <utility>

namespace gd::model {

enum class HistoryEvent {
  daemon_start,
  daemon_stop,
  daemon_reload,
  history_moved_aside,  // a corrupt database was moved aside and a new one started
  nvml_hung,
  nvml_answering,
  nvml_failed,
  driver_changed,  // NVML reports another driver version than at the previous sample
  nvml_initialised,  // watch's NVML worker (re)started and nvmlInit returned: how long it took
  gpu_added,  // a bus id seen for the first time
  inventory_changed,  // another UUID or serial at a bus id
  gpu_lost,
  gpu_back,
  persistence_changed,  // a GPU's persistence mode went on or off
  finding_raised,
  finding_cleared,
  xid,
  fallen_off_bus,  // the kernel log's fallen-off-the-bus message without an Xid
  // From `import nvidia-smi`: dumps that are events themselves.
  nvidia_smi_empty,       // the dump is empty: the loop's nvidia-smi wrote nothing (it hung and was killed)
  nvidia_smi_no_devices,  // "No devices were found"
  nvidia_smi_failed,      // nvidia-smi's own failure ("NVIDIA-SMI has failed because ...")
};

std::string_view history_event_name(HistoryEvent e);
std::optional<HistoryEvent> history_event_from_name(std::string_view name);
// Every kind with its name, in declaration order.
std::span<const std::pair<HistoryEvent, std::string_view>> history_event_table();

}  // namespace gd::model
