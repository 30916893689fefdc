// Parsers for the nvidia-smi output people already keep (a shell loop that
// saved `nvidia-smi` every minute, `nvidia-smi -q -l`, a `--query-gpu` CSV
// log): the default table in the 450/460-era layout and the newer one,
// `nvidia-smi -q`, and `--query-gpu=... --format=csv[,noheader][,nounits]`.
// Each dump becomes the GPU records NVML would have given (model::NvmlGpu),
// so the history's metric table (store/gpu_metrics.hpp) reads them as it
// reads `watch`'s samples. Pure; bounded by the text given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gd/model/snapshot.hpp"

namespace gd::importer {

enum class SmiFormat { table, query, csv };
std::string_view smi_format_name(SmiFormat f);

struct SmiDump {
  enum class State {
    gpus,        // the GPUs it listed (maybe none, when the table was cut short)
    empty,       // nothing at all: the loop's nvidia-smi hung and was killed, or wrote nothing
    no_devices,  // "No devices were found"
    failed,      // nvidia-smi's own failure message ("NVIDIA-SMI has failed because ...", "Unable to determine ...")
  };
  SmiFormat format = SmiFormat::table;
  State state = State::gpus;
  std::optional<std::int64_t> unix_ms;  // the dump's own time (header line, Timestamp, timestamp field)
  std::optional<std::string> driver_version;
  std::vector<model::NvmlGpu> gpus;  // each with its bus_id
  std::string message;               // failed / no_devices: the line as nvidia-smi printed it (printable)
  std::size_t line = 0;              // where in the text it starts (1-based)
};

struct SmiParse {
  std::vector<SmiDump> dumps;  // in text order
  // What was not understood or not imported, named ("line 12: ..."; at most
  // 20 kept, skipped_count counts them all). Never a silent drop.
  std::vector<std::string> skipped;
  std::size_t skipped_count = 0;
};

// Detects the format and parses every dump in the text. csv_fields: the
// --query-gpu list of a CSV written with `noheader` (a CSV with a header names
// its own fields; without either, the rows are skipped and named).
SmiParse parse_nvidia_smi(std::string_view text, const std::vector<std::string>& csv_fields = {});

// The --query-gpu fields the CSV reader understands (docs/import.md lists them).
std::vector<std::string> smi_csv_fields();

}  // namespace gd::importer
