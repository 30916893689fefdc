// gd-store-bench: fills a history database through the store's own write and
// maintain paths, and times the "max temperature per GPU in the hour before
// event E" query in-process. Driven by bench/watch_bench.py (db part).
//
//   gd-store-bench generate DB DAYS [GPUS] [INTERVAL_S]   DAYS (may be a fraction) of samples every INTERVAL_S
//                                         (default 10), packed hourly as `watch` does
//   gd-store-bench query DB RUNS             times events(gpu_lost) + max_per_gpu(temp), RUNS times
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "gd/store/gpu_metrics.hpp"
#include "gd/store/store.hpp"

namespace {

using gd::store::metric_index;
using gd::store::SampleRow;

// The readings of one GPU at tick k: busy and idle phases of an hour, noise on
// every varying metric (the Python generator's distributions, plus a per-slot
// and a daily temperature offset).
struct Generator {
  std::mt19937_64 rnd{1};
  std::vector<std::int64_t> energy;

  std::int64_t uniform(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rnd);
  }
  SampleRow row(std::int64_t ts, std::int64_t interval, std::size_t gi, const std::string& bus) {
    bool busy = (ts / 3600 + static_cast<std::int64_t>(gi)) % 3 != 0;
    SampleRow r{ts, bus, std::vector<std::optional<std::int64_t>>(gd::store::gpu_metrics().size())};
    auto set = [&](const char* name, std::optional<std::int64_t> v) { r.values[*metric_index(name)] = v; };
    std::int64_t power = (busy ? 520000 : 70000) + uniform(-20000, 20000);
    energy[gi] += power * interval;
    // Each slot runs a little warmer than the one before (air flow), the room follows the day, plus noise.
    double room = 4.0 * std::sin(2 * 3.14159265358979 * static_cast<double>(ts % 86400) / 86400.0);
    set("temp_celsius", (busy ? 62 : 34) + static_cast<std::int64_t>(gi % 4) + std::lround(room) + uniform(-3, 3));
    set("power_milliwatts", power);
    set("power_limit_milliwatts", 700000);
    set("energy_millijoules", energy[gi]);
    set("util_gpu_percent", busy ? uniform(90, 100) : 0);
    set("util_mem_percent", busy ? uniform(30, 60) : 0);
    set("mem_used_bytes", busy ? (std::int64_t{60} << 30) + uniform(0, 1 << 28) : 0);
    set("mem_total_bytes", 85899345920);
    set("clock_sm_mhz", busy ? 1980 : 345);
    set("clock_mem_mhz", 2619);
    set("clock_graphics_mhz", busy ? 1980 : 345);
    set("clock_event_reasons", busy ? 0 : 1);
    set("pstate", 0);
    set("fan_percent", std::nullopt);  // data-centre GPUs report no fan
    set("pcie_gen", 5);
    set("pcie_width", 16);
    set("persistence_mode", 1);
    for (const char* c : {"ecc_corrected_volatile", "ecc_uncorrected_volatile", "ecc_uncorrected_aggregate",
                          "remapped_rows_correctable", "remapped_rows_uncorrectable", "remapped_rows_failure"})
      set(c, 0);
    set("retired_pages_pending", std::nullopt);
    return r;
  }
};

int generate(const std::string& db, double days, int gpus, int interval) {
  auto s = gd::store::Store::open(db);
  if (!s) return fmt::print(stderr, "{}\n", s.error().message), 1;
  Generator g;
  g.energy.assign(static_cast<std::size_t>(gpus), 1'000'000'000);
  std::vector<std::string> bus;
  std::vector<gd::store::GpuIdentity> inv;
  for (int i = 0; i < gpus; ++i) {
    bus.push_back(fmt::format("0000:{:02x}:00.0", i + 1));
    inv.push_back({bus.back(), fmt::format("GPU-{:08x}-0000-0000-0000-000000000000", i), fmt::format("165{:010}", i),
                   "NVIDIA H100 80GB HBM3", 87, 90});
  }
  const std::int64_t span = std::llround(days * 86400);
  const std::int64_t ticks = span / interval;
  const std::int64_t start = (std::time(nullptr) - span) / 3600 * 3600;
  const std::int64_t event_ts = start + span / 2 + 1234;
  const std::int64_t per_hour = 3600 / interval;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<SampleRow> batch;
  std::vector<double> pack_ms;
  for (std::int64_t k = 0; k < ticks; ++k) {
    std::int64_t ts = start + interval * k;
    for (int i = 0; i < gpus; ++i) batch.push_back(g.row(ts, interval, static_cast<std::size_t>(i), bus[i]));
    std::vector<gd::store::EventRow> ev;
    if (ts <= event_ts && event_ts < ts + interval) ev.push_back({0, event_ts * 1000, "gpu_lost", bus[2], "{}"});
    bool hour_done = (k + 1) % per_hour == 0;
    if (batch.size() < 60u * gpus && ev.empty() && !hour_done && k + 1 < ticks) continue;  // <= 10 min per commit
    if (auto e = (*s)->write(batch, k < 60 ? inv : std::vector<gd::store::GpuIdentity>{}, ev))
      return fmt::print(stderr, "{}\n", e->message), 1;
    batch.clear();
    if (hour_done) {  // the daemon runs maintain every minute; packing happens once an hour is over
      auto m0 = std::chrono::steady_clock::now();
      auto rep = (*s)->maintain(ts + interval, gd::store::Retention{static_cast<int>(days) + 1, 90, 730});
      if (!rep) return fmt::print(stderr, "{}\n", rep.error().message), 1;
      pack_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - m0).count());
    }
  }
  (*s)->checkpoint();
  std::sort(pack_ms.begin(), pack_ms.end());
  fmt::print(
      "generated {} days x {} GPUs x {} s ({} samples) in {:.1f} s; event gpu_lost at {}; maintain() packing "
      "one hour: median {:.1f} ms, worst {:.1f} ms\n",
      days, gpus, interval, ticks * gpus, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), event_ts,
      pack_ms.empty() ? 0.0 : pack_ms[pack_ms.size() / 2], pack_ms.empty() ? 0.0 : pack_ms.back());
  return 0;
}

int query(const std::string& db, int runs) {
  auto s = gd::store::Store::open(db, nullptr, gd::store::Store::Check::none);
  if (!s) return fmt::print(stderr, "{}\n", s.error().message), 1;
  std::vector<double> ms;
  std::vector<std::pair<std::string, std::int64_t>> res;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto ev = (*s)->events(0, INT64_MAX, {"gpu_lost"});
    if (!ev || ev->empty()) return fmt::print(stderr, "no gpu_lost event\n"), 1;
    std::int64_t e = ev->back().ts_ms / 1000;
    auto mx = (*s)->max_per_gpu(*metric_index("temp_celsius"), e - 3600, e);
    if (!mx) return fmt::print(stderr, "{}\n", mx.error().message), 1;
    res = *mx;
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  fmt::print(
      "max temperature per GPU in the hour before event E (in-process, {} runs): median {:.2f} ms, worst "
      "{:.2f} ms; {} GPUs:",
      runs, ms[ms.size() / 2], ms.back(), res.size());
  for (const auto& [bus, v] : res) fmt::print(" {}={}", bus, v);
  fmt::print("\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() >= 3 && a[0] == "generate")
    return generate(a[1], std::atof(a[2].c_str()), a.size() > 3 ? std::atoi(a[3].c_str()) : 8,
                    a.size() > 4 ? std::max(1, std::atoi(a[4].c_str())) : 10);
  if (a.size() == 3 && a[0] == "query") return query(a[1], std::max(1, std::atoi(a[2].c_str())));
  fmt::print(stderr, "usage: gd-store-bench generate DB DAYS [GPUS] [INTERVAL_S] | query DB RUNS\n");
  return 3;
}
