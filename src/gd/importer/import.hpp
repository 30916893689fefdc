// `gpudoctor import`: the monitoring people already have, into the history
// `watch` keeps (the same store): nvidia-smi dumps (nvidia_smi.hpp) become
// samples and the events a `watch` tick would have recorded from them (GPU
// lost and back, persistence changed, GPUs added or swapped: one mechanism,
// sampler::diff_tick), plus the dumps that are events themselves (empty,
// "No devices were found", nvidia-smi's failure); a kernel log's Xids and
// fallen-off-the-bus messages become events. What is read, skipped and why is
// reported; nothing is dropped silently.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gd/importer/nvidia_smi.hpp"
#include "gd/store/store.hpp"

namespace gd::importer {

struct ImportReport {
  std::size_t files_read = 0;
  std::size_t files_unreadable = 0;            // not read at all (named in skipped)
  std::map<std::string, std::size_t> dumps;    // by format, and "empty", "no_devices", "failed"
  std::map<std::string, std::size_t> time_from;  // "header", "file name", "file time"
  std::size_t samples = 0;
  std::size_t gpus = 0;
  std::map<std::string, std::size_t> events;  // by type, newly recorded
  std::size_t events_already = 0;             // found in the history already (an earlier import of the same files)
  std::optional<std::int64_t> first_ms, last_ms;
  std::vector<std::string> skipped;  // "FILE: why", at most 40 named
  std::size_t skipped_count = 0;
  std::size_t hours_packed = 0;
};

struct SmiImportOptions {
  std::vector<std::string> paths;        // files, or directories (their regular files, by name)
  std::vector<std::string> csv_fields;   // --query-gpu of a noheader CSV
  std::size_t max_file_bytes = 64u << 20;  // a larger file is read up to this (and says so)
  std::size_t max_files = 1'000'000;
};

// Parses every file, orders the dumps by time and writes them into store.
// Error only when the store cannot be written (what was written by then stays).
Result<ImportReport> import_nvidia_smi(store::Store& store, const SmiImportOptions& options);

// A kernel log file's Xid and fallen-off-the-bus events (those with a wall-clock time).
Result<ImportReport> import_kernel_log(store::Store& store, const std::string& file);

// A time from a dump file's name: the run of 9 to 10 digits in "nvidia-smi-1653793487.log" (unix seconds).
std::optional<std::int64_t> time_from_file_name(std::string_view name);

}  // namespace gd::importer
