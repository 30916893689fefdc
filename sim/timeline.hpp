// Scenario readings that change over time (steps, ramps, seeded noise) and
// scheduled Xid events (docs/simulator.md, "Readings that change"). Two time
// bases: milliseconds since the scenario's clock started (shared by every
// process through the state file) and samples (nvmlDeviceGetCount* calls of
// this process).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gd::sim {

struct Gpu;
struct Scenario;

// Where the simulated node is in time for one call.
struct SimTime {
  std::optional<std::int64_t> elapsed_ms;  // since the scenario's clock started; nullopt: no clock
  std::uint64_t sample = 0;                // nvmlDeviceGetCount* calls of this process so far
};

// A point in time: a millisecond offset or a sample number (one of the two).
struct Moment {
  std::optional<std::uint64_t> ms;
  std::optional<std::uint64_t> sample;
  bool reached(const SimTime& now) const;
};

// One change of a reading, applied in list order to the value so far.
struct Change {
  enum class Kind { set, ramp, noise };
  Kind kind = Kind::set;
  Moment from;                  // set: when; ramp: where it starts
  Moment to;                    // ramp: where it ends (same unit as from)
  std::optional<double> value;  // set: the new value (nullopt: not supported from then on); ramp: target
  std::uint64_t amplitude = 0;  // noise: uniform integer in [-amplitude, +amplitude]
  std::uint64_t seed = 0;       // noise
  std::uint64_t period_ms = 0;  // noise: new value every period_ms (0: every sample)
};

// A reading of a GPU that the scenario names by its key ("temperature_c",
// "clocks_mhz.sm", ...): its bounds and where it lives in Gpu.
struct Reading {
  std::string_view key;
  std::uint64_t max;
  std::optional<std::uint64_t> (*get)(const Gpu&);
  void (*set)(Gpu&, std::optional<std::uint64_t>);
};

// The reading with scenario key `key`, or nullptr.
const Reading* find_reading(std::string_view key);
// Every key find_reading accepts, comma-separated (for error messages).
std::string reading_keys();

struct Timeline {
  const Reading* reading = nullptr;
  std::optional<std::uint64_t> base;  // the GPU's value in the scenario file
  std::vector<Change> changes;
};

// The value of `t` at `now`; gpu_index and the reading decorrelate noise.
std::optional<std::uint64_t> evaluate(const Timeline& t, const SimTime& now, unsigned gpu_index);

// An Xid the scenario schedules on a GPU (nvmlEventSetWait and the kernel log).
struct XidEvent {
  unsigned gpu = 0;
  unsigned long long xid = 0;
  Moment at;
  std::optional<int> pid;
  std::optional<std::string> process;
  std::optional<std::string> message;  // default: a text for well-known codes
};

// The kernel log lines the driver writes for `xid` on `gpu` (two for Xid 79,
// like the real driver), stamped with this process's monotonic clock.
std::string xid_log_lines(const Gpu& gpu, const XidEvent& e);

// Appends `text` to `log` (O_APPEND); complains on stderr when it cannot.
void append_to_log(const std::string& log, const std::string& text);

// Started by the first nvmlInit of a scenario that uses times: reads (or,
// under the state file's lock, writes) "clock_started_unix_ms" in the state
// file and keeps it in scenario.clock_started_unix_ms.
void start_clock(Scenario& scenario);

// Applies every Timeline of GPU `index` to scenario.gpus[index].
void apply_timelines(Scenario& scenario, unsigned index, const SimTime& now);

// Writes the kernel log lines of every Xid event that is due and was not yet
// written by any process ("xid_events_logged" in the state file).
void log_due_xid_events(Scenario& scenario, const SimTime& now);

}  // namespace gd::sim
