// Questions about the kernel log's events that several rules ask.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gd/model/finding.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::rule {

// The event says its GPU fell off the bus (Xid 79, or the message without an Xid).
bool is_fallen_off(const model::KernelEvent& e);
// "this boot", "previous boot", "3 boots ago", "unknown boot".
std::string boot_label(std::optional<int> boot);
// One evidence line: "kernel log, previous boot, Nov 27 03:00:00: NVRM: Xid (...): 79, ...".
std::string event_evidence(const model::KernelEvent& e);
// Evidence lines for a list of events: the first two and the last four, with
// a count of those left out between them.
std::vector<std::string> events_evidence(const std::vector<const model::KernelEvent*>& events);
// The event's severity on the node now: the catalogue's, but an event of an
// earlier boot is at most a warning (the reboot reset the GPU) unless it
// calls for inspecting the hardware.
model::Severity current_severity(const model::KernelEvent& e);
// Kernel log events that say bus_id fell off the bus (any boot in the window).
std::vector<const model::KernelEvent*> fallen_off_events(const model::Snapshot& s, std::string_view bus_id);
// Bus ids the log of this boot says fell off the bus, sorted, unique.
std::vector<std::string> fallen_off_this_boot(const model::Snapshot& s);

}  // namespace gd::rule
