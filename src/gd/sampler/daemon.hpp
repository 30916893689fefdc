// `gpudoctor watch`: every interval (absolute deadlines, no drift; late ticks
// are counted as missed) it samples NVML through the long-lived worker,
// refreshes the cheap host probes, runs the rules, records samples and events
// in the history and re-renders /metrics (and the textfile). SIGTERM/SIGINT:
// clean stop (event + WAL checkpoint); SIGHUP: reload (re-locate NVML, re-run
// the slow probes, reopen the history).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "gd/probe/probe.hpp"
#include "gd/sampler/metrics_text.hpp"
#include "gd/store/store.hpp"

namespace gd::sampler {

inline constexpr int k_default_port = 9841;

struct WatchOptions {
  std::string root = "/";
  probe::ProbeOptions probe;
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds integrity_check_interval{15 * 60 * 1000};  // PRAGMA quick_check of the history
  std::string db_path;   // "" = store::default_db_path()
  std::string listen;    // "ADDR:PORT"; "" = no HTTP server
  std::string textfile;  // "" = none
  MetricsCompat compat = MetricsCompat::none;
  store::Retention retention;  // raw / minute / hour roll-up days
  std::optional<std::uint64_t> max_ticks;  // stop after N ticks (tests, benchmarks)
  bool quiet = false;
  bool ledger = true;  // fold each tick's findings into the health ledger (ledger.json inside the root)
  std::int64_t ledger_quiet_s = 3600;
};

// Runs until SIGTERM/SIGINT (or max_ticks). Returns the process exit code:
// 0 clean stop, 3 when it cannot start (address in use, bad --listen).
int run_watch(WatchOptions o);

// Splits "ADDR:PORT" ("[::1]:PORT" for IPv6); nullopt when malformed.
std::optional<std::pair<std::string, int>> parse_listen(const std::string& s);

// Writes data to path atomically (temp file in the same folder + rename).
bool write_atomic(const std::string& path, const std::string& data, std::string& err);

}  // namespace gd::sampler
