// Injected faults: which call on which GPU returns what, or never returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "timeline.hpp"

namespace gd::sim {

struct Fault {
  std::string call;                // normalize_call() form, or "*" for every call
  std::optional<unsigned> gpu;     // index into Scenario::gpus; nullopt: all GPUs and system calls
  std::optional<int> return_code;  // nvmlReturn_t to return; SUCCESS means "behave normally"
  bool hang = false;               // the call never returns
  bool crash = false;              // the call kills the process with SIGSEGV (a crashing library)
  // Delayed start (a wedge mid-run): the fault applies from the
  // (after_calls + 1)-th call it matches in this process, and only once
  // after_ms have passed since the scenario was loaded (nvmlInit).
  std::uint64_t after_calls = 0;
  std::uint64_t after_ms = 0;
  std::chrono::steady_clock::time_point loaded_at{};
  // From this moment of the scenario's clock (shared by processes) or this
  // process's sample on; unset: from the start.
  Moment at{};
  mutable std::uint64_t matched = 0;
};

// The name faults are matched on: `symbol` without a trailing "_v<digits>",
// with aliases folded (nvmlInitWithFlags -> nvmlInit,
// nvmlDeviceGetCurrentClocksThrottleReasons -> ...EventReasons).
std::string normalize_call(std::string_view symbol);

// True when `name` (already normalized) is a call the simulator exports.
bool is_known_call(std::string_view name);
// The same for the fake libcuda's cu* calls (cuGetErrorName/String are never faulted).
bool is_known_cuda_call(std::string_view name);

// The first fault in `faults` that applies to `symbol` on `gpu` (nullopt for
// system calls), or nullptr. A fault with a gpu never applies to system calls.
// `now` decides faults with "at_ms" / "at_sample" (default: no clock, sample 0).
const Fault* find_fault(const std::vector<Fault>& faults, std::string_view symbol, std::optional<unsigned> gpu,
                        const SimTime& now = {});

}  // namespace gd::sim
