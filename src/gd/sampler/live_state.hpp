// What `watch` knows after its latest tick: the NVML sample, the probe runs,
// the active findings, which known GPUs are lost, and its own counters. The
// /metrics text and the textfile are rendered from this alone (never NVML).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gd/model/finding.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::sampler {

struct KnownGpu {
  std::string uuid;
  std::string model;
  std::string serial;
  bool lost = false;
  std::optional<bool> persistence;  // as last sampled
  std::optional<std::int64_t> slowdown_celsius, shutdown_celsius;  // as last recorded in the inventory
};

struct LiveState {
  std::string hostname;
  double sample_unix_s = 0;              // when the latest sample was taken
  model::NvmlInfo nvml;                  // the latest sample
  std::vector<model::ProbeRun> probes;   // the latest tick's probe runs (nvml = the sample)
  std::vector<model::Finding> findings;  // active, severity above ok
  std::map<std::string, KnownGpu> gpus;  // every GPU seen since start, by bus id
  std::uint64_t samples_total = 0;
  std::uint64_t missed_ticks_total = 0;
  std::uint64_t nvml_hangs_total = 0;
  std::uint64_t nvml_worker_starts_total = 0;
  std::uint64_t history_write_errors_total = 0;
  bool history_ok = true;
  std::uint64_t history_pending_rows = 0;
  // Xids recorded since start (kernel log and NVML events, deduplicated), by (bus id, code).
  std::map<std::pair<std::string, int>, std::uint64_t> xid_errors;
  std::uint64_t inventory_changes_total = 0;  // another UUID or serial seen at a bus id
  bool ledger_ok = true;                      // the latest ledger write succeeded (or none was needed)
  std::vector<model::LedgerEntry> ledger_open;  // the health ledger's open problems after this tick
};

}  // namespace gd::sampler
