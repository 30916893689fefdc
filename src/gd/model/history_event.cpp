#include "gd/model/history_event.hpp"

namespace gd::model {

namespace {

constexpr std::pair<HistoryEvent, std::string_view> k_events[] = {
    {HistoryEvent::daemon_start, "daemon_start"},
    {HistoryEvent::daemon_stop, "daemon_stop"},
    {HistoryEvent::daemon_reload, "daemon_reload"},
    {HistoryEvent::history_moved_aside, "history_moved_aside"},
    {HistoryEvent::nvml_hung, "nvml_hung"},
    {HistoryEvent::nvml_answering, "nvml_answering"},
    {HistoryEvent::nvml_failed, "nvml_failed"},
    {HistoryEvent::driver_changed, "driver_changed"},
    {HistoryEvent::nvml_initialised, "nvml_initialised"},
    {HistoryEvent::gpu_added, "gpu_added"},
    {HistoryEvent::inventory_changed, "inventory_changed"},
    {HistoryEvent::gpu_lost, "gpu_lost"},
    {HistoryEvent::gpu_back, "gpu_back"},
    {HistoryEvent::persistence_changed, "persistence_changed"},
    {HistoryEvent::finding_raised, "finding_raised"},
    {HistoryEvent::finding_cleared, "finding_cleared"},
    {HistoryEvent::xid, "xid"},
    {HistoryEvent::fallen_off_bus, "fallen_off_bus"},
    {HistoryEvent::nvidia_smi_empty, "nvidia_smi_empty"},
    {HistoryEvent::nvidia_smi_no_devices, "nvidia_smi_no_devices"},
    {HistoryEvent::nvidia_smi_failed, "nvidia_smi_failed"},
};

}  // namespace

std::string_view history_event_name(HistoryEvent e) {
  for (const auto& [k, name] : k_events)
    if (k == e) return name;
  return "?";
}

std::optional<HistoryEvent> history_event_from_name(std::string_view name) {
  for (const auto& [k, n] : k_events)
    if (n == name) return k;
  return std::nullopt;
}

std::span<const std::pair<HistoryEvent, std::string_view>> history_event_table() { return k_events; }

}  // namespace gd::model
