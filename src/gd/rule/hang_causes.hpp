// Why a GPU call hangs: every known cause tested against the snapshot, each
// found one with its evidence and what recovers it, and what was ruled out
// (docs/hangs.md). nvml.hung and cuda.hung share it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gd/model/finding.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::rule {

struct HangCause {
  std::string name;                   // "GSP RPC timeout"
  bool found = false;
  std::vector<std::string> evidence;  // found: what shows it; ruled out: why not
  std::string recovery;               // found: what recovers it
};

// The causes in a fixed order: GSP RPC timeout, pending recovery action, GPU
// fallen off the bus, tasks stuck in the driver, full-chip reset in
// progress, init storm with persistence off.
std::vector<HangCause> hang_causes(const model::Snapshot& s);

// Adds the "why" section to a hang finding: found causes as evidence and as
// the cause text and first fix steps; or "none of the known causes" with
// what was ruled out.
void add_hang_why(const model::Snapshot& s, model::Finding& f);

// What nvml.hung and cuda.hung say in common: which call of which library
// did not return, the worker's time, the why section and the way out.
struct HangReport {
  std::string_view api;                  // "NVML", "CUDA"
  double timeout_s = 0;
  std::string call;                      // "nvmlDeviceGetTemperature"
  std::string where;                     // " on GPU 0000:3b:00.0 (index 2)", "" when not known
  double elapsed_ms = 0;
  std::optional<std::string> gpu;
  std::string_view what_else;            // what this library's hang looks like to programs
};
model::Finding hang_finding(const model::Snapshot& s, const HangReport& h);

// "/dev/nvidia3" -> the bus id of the GPU with minor 3 (driver or NVML), if known.
std::optional<std::string> bus_id_of_node(const model::Snapshot& s, std::string_view node);

}  // namespace gd::rule
