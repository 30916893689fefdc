#include "timeline.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>

#include "scenario.hpp"
#include "simulator.hpp"
#include "state.hpp"

namespace gd::sim {
namespace {

constexpr const char* k_clock_key = "clock_started_unix_ms";
constexpr const char* k_logged_key = "xid_events_logged";
constexpr std::uint64_t k_u32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t k_u64 = std::numeric_limits<std::uint64_t>::max();

template <class T>
std::optional<std::uint64_t> widen(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  return static_cast<std::uint64_t>(*v);
}
template <class T>
std::optional<T> narrow(std::optional<std::uint64_t> v) {
  if (!v) return std::nullopt;
  return static_cast<T>(*v);
}

#define GD_READING(key, max, field, type)                                         \
  Reading {                                                                       \
    key, max, [](const Gpu& g) { return widen(g.field); },                        \
        [](Gpu& g, std::optional<std::uint64_t> v) { g.field = narrow<type>(v); } \
  }
#define GD_PLAIN_READING(key, max, field, type)                                                    \
  Reading {                                                                                        \
    key, max, [](const Gpu& g) { return std::optional<std::uint64_t>(g.field); },                  \
        [](Gpu& g, std::optional<std::uint64_t> v) { g.field = static_cast<type>(v.value_or(0)); } \
  }
#define GD_ROWS_READING(key, field)                                                                     \
  Reading {                                                                                             \
    key, k_u32,                                                                                         \
        [](const Gpu& g) {                                                                              \
          return g.remapped_rows ? std::optional<std::uint64_t>(g.remapped_rows->field) : std::nullopt; \
        },                                                                                              \
        [](Gpu& g, std::optional<std::uint64_t> v) {                                                    \
          if (g.remapped_rows) g.remapped_rows->field = static_cast<unsigned>(v.value_or(0));           \
        }                                                                                               \
  }

const std::array k_readings{
    GD_READING("temperature_c", k_u32, temperature_c, unsigned),
    GD_READING("power_mw", k_u32, power_mw, unsigned),
    GD_READING("energy_mj", k_u64, energy_mj, std::uint64_t),
    GD_PLAIN_READING("memory_used_bytes", k_u64, memory_used_bytes, std::uint64_t),
    GD_READING("utilization_gpu", 100, utilization_gpu, unsigned),
    GD_PLAIN_READING("utilization_memory", 100, utilization_memory, unsigned),
    GD_READING("clocks_mhz.graphics", k_u32, clocks_mhz.graphics, unsigned),
    GD_READING("clocks_mhz.sm", k_u32, clocks_mhz.sm, unsigned),
    GD_READING("clocks_mhz.mem", k_u32, clocks_mhz.mem, unsigned),
    GD_READING("clock_event_reasons", k_u64, clock_event_reasons, std::uint64_t),
    GD_READING("pstate", 15, pstate, int),
    GD_READING("fan_percent", k_u32, fan_percent, unsigned),
    GD_READING("ecc_errors.corrected_volatile", k_u64, ecc_errors.corrected_volatile, std::uint64_t),
    GD_READING("ecc_errors.corrected_aggregate", k_u64, ecc_errors.corrected_aggregate, std::uint64_t),
    GD_READING("ecc_errors.uncorrected_volatile", k_u64, ecc_errors.uncorrected_volatile, std::uint64_t),
    GD_READING("ecc_errors.uncorrected_aggregate", k_u64, ecc_errors.uncorrected_aggregate, std::uint64_t),
    GD_ROWS_READING("remapped_rows.correctable", correctable),
    GD_ROWS_READING("remapped_rows.uncorrectable", uncorrectable),
    GD_READING("pcie.gen", k_u32, pcie.gen, unsigned),
    GD_READING("pcie.width", k_u32, pcie.width, unsigned),
};

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t key_hash(std::string_view key) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

// Progress of a ramp in [0, 1] at `now`; nullopt before it starts.
std::optional<double> ramp_progress(const Change& c, const SimTime& now) {
  double at = 0, from = 0, to = 0;
  if (c.from.ms) {
    if (!now.elapsed_ms) return std::nullopt;
    at = static_cast<double>(*now.elapsed_ms), from = static_cast<double>(*c.from.ms),
    to = static_cast<double>(c.to.ms.value_or(*c.from.ms));
  } else {
    at = static_cast<double>(now.sample), from = static_cast<double>(c.from.sample.value_or(0)),
    to = static_cast<double>(c.to.sample.value_or(0));
  }
  if (at < from) return std::nullopt;
  if (to <= from || at >= to) return 1.0;
  return (at - from) / (to - from);
}

double noise(const Change& c, const SimTime& now, unsigned gpu_index, std::string_view key) {
  std::uint64_t slot =
      c.period_ms > 0 ? static_cast<std::uint64_t>(std::max<std::int64_t>(now.elapsed_ms.value_or(0), 0)) / c.period_ms
                      : now.sample;
  std::uint64_t h = splitmix(c.seed ^ splitmix(slot ^ splitmix(gpu_index ^ key_hash(key))));
  std::uint64_t span = c.amplitude * 2 + 1;
  return static_cast<double>(h % span) - static_cast<double>(c.amplitude);
}

std::string process_name() {
  std::ifstream in("/proc/self/comm");
  std::string name;
  std::getline(in, name);
  return name.empty() ? "unknown" : name;
}

std::string default_xid_message(unsigned long long xid) {
  switch (xid) {
    case 13:
      return "Graphics SM Warp Exception on (GPC 0, TPC 0, SM 0): Out Of Range Address";
    case 31:
      return "Ch 00000008, intr 00000000. MMU Fault: ENGINE GRAPHICS GPCCLIENT_T1_0 faulted @ 0x7f4c_3a000000. Fault "
             "is of type FAULT_PDE ACCESS_TYPE_READ";
    case 48:
      return "An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at partition 0, "
             "subpartition 0.";
    case 63:
      return "Row Remapper: New row marked for remapping, reset gpu to activate.";
    case 79:
      return "GPU has fallen off the bus.";
    case 94:
      return "Contained: SM (0x1). RST: No, D-RST: No";
    case 95:
      return "Uncontained: FBHUB. RST: Yes, D-RST: No";
    default:
      return "Xid event.";
  }
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool Moment::reached(const SimTime& now) const {
  if (ms) return now.elapsed_ms && *now.elapsed_ms >= 0 && static_cast<std::uint64_t>(*now.elapsed_ms) >= *ms;
  if (sample) return now.sample >= *sample;
  return true;
}

const Reading* find_reading(std::string_view key) {
  for (const Reading& r : k_readings)
    if (r.key == key) return &r;
  return nullptr;
}

std::string reading_keys() {
  std::string out;
  for (const Reading& r : k_readings) out += (out.empty() ? "" : ", ") + std::string(r.key);
  return out;
}

std::optional<std::uint64_t> evaluate(const Timeline& t, const SimTime& now, unsigned gpu_index) {
  std::optional<double> v;
  if (t.base) v = static_cast<double>(*t.base);
  for (const Change& c : t.changes) {
    if (c.kind == Change::Kind::set) {
      if (c.from.reached(now)) v = c.value;
    } else if (c.kind == Change::Kind::ramp) {
      auto p = ramp_progress(c, now);
      if (p) v = v ? *v + (*c.value - *v) * *p : *c.value;
    } else if (v) {
      *v += noise(c, now, gpu_index, t.reading->key);
    }
  }
  if (!v) return std::nullopt;
  double clamped = std::clamp(std::round(*v), 0.0, static_cast<double>(t.reading->max));
  return clamped >= 18446744073709551615.0 ? t.reading->max : static_cast<std::uint64_t>(clamped);
}

std::string xid_log_lines(const Gpu& gpu, const XidEvent& e) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  char stamp[40];
  std::snprintf(stamp, sizeof stamp, "[%5ld.%06ld]", static_cast<long>(ts.tv_sec), ts.tv_nsec / 1000);
  char dev[48], bdf[48];
  std::snprintf(dev, sizeof dev, "PCI:%04x:%02x:%02x", gpu.pci.domain, gpu.pci.bus, gpu.pci.device);
  std::snprintf(bdf, sizeof bdf, "%04x:%02x:%02x.0", gpu.pci.domain, gpu.pci.bus, gpu.pci.device);
  std::string who = e.pid ? "pid=" + std::to_string(*e.pid) + ", name=" + e.process.value_or(process_name())
                          : std::string("pid='<unknown>', name=<unknown>");
  std::string text = std::string(stamp) + " NVRM: Xid (" + dev + "): " + std::to_string(e.xid) + ", " + who + ", " +
                     e.message.value_or(default_xid_message(e.xid)) + "\n";
  if (e.xid == 79) text += std::string(stamp) + " NVRM: GPU " + bdf + ": GPU has fallen off the bus.\n";
  return text;
}

void append_to_log(const std::string& log, const std::string& text) {
  int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    complain(log, "cannot append the Xid line");
    return;
  }
  [[maybe_unused]] auto n = ::write(fd, text.data(), text.size());
  ::close(fd);
}

void start_clock(Scenario& scenario) {
  if (!scenario.uses_clock || scenario.clock_started_unix_ms) return;
  StateFile file(scenario.state_file);
  auto read_start = [](const State& s) -> std::optional<std::int64_t> {
    auto it = s.json().find(k_clock_key);
    if (it == s.json().end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
  };
  if (auto current = file.load(); current && read_start(*current)) {
    scenario.clock_started_unix_ms = read_start(*current);
    return;
  }
  auto updated = file.update([&](State& s) {
    if (!read_start(s)) s.json()[k_clock_key] = unix_ms_now();
  });
  if (!updated) {
    complain(scenario.state_file.string(), updated.error().message + " (the clock starts in this process)");
    scenario.clock_started_unix_ms = unix_ms_now();
    return;
  }
  scenario.clock_started_unix_ms = read_start(*updated);
}

void apply_timelines(Scenario& scenario, unsigned index, const SimTime& now) {
  Gpu& gpu = scenario.gpus[index];
  for (const Timeline& t : gpu.over_time) t.reading->set(gpu, evaluate(t, now, index));
}

void log_due_xid_events(Scenario& scenario, const SimTime& now) {
  if (!scenario.kernel_log) return;
  for (std::size_t k = 0; k < scenario.xid_events.size(); ++k) {
    if (scenario.xid_logged[k] || !scenario.xid_events[k].at.reached(now)) continue;
    scenario.xid_logged[k] = true;
    bool write = false;
    auto updated = StateFile(scenario.state_file).update([&](State& s) {
      auto& list = s.json()[k_logged_key];
      if (!list.is_array()) list = nlohmann::json::array();
      if (std::find(list.begin(), list.end(), nlohmann::json(k)) != list.end()) return;
      list.push_back(k);
      write = true;
    });
    if (!updated) complain(scenario.state_file.string(), updated.error().message);
    const XidEvent& e = scenario.xid_events[k];
    if (write) append_to_log(scenario.kernel_log->string(), xid_log_lines(scenario.gpus[e.gpu], e));
  }
}

}  // namespace gd::sim
