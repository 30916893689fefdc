// JSON for the model: Snapshot and Finding to JSON and back. Reading is strict
// about types (an error names the field path, e.g. "nvml.gpus[2].temp_celsius:
// expected a number, got string") and lenient about missing fields (defaults),
// so snapshots from older versions still load.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gd/model/finding.hpp"
#include "gd/model/snapshot.hpp"
#include "gd/util/result.hpp"

namespace gd::model {

nlohmann::json to_json(const Snapshot& s);
nlohmann::json to_json(const Finding& f);
nlohmann::json to_json(const NvmlGpu& g);
nlohmann::json to_json(const NvmlInfo& n);
nlohmann::json to_json(const ChangeRecord& c);
Result<ChangeRecord> change_record_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Ledger& l);
// A ledger file: "kind": "gpudoctor-ledger" and the current schema, else an
// error naming source_name and what was expected.
Result<Ledger> parse_ledger(std::string_view text, std::string_view source_name);

// A snapshot is an object with "kind": "gpudoctor-snapshot" and the current
// "schema"; anything else (a `check --json` output, {"x":1}) is an error
// saying what was expected. Keys no field names are listed in unknown_keys.
Result<Snapshot> snapshot_from_json(const nlohmann::json& j, std::vector<std::string>* unknown_keys = nullptr);
Result<NvmlGpu> nvml_gpu_from_json(const nlohmann::json& j);
Result<NvmlInfo> nvml_info_from_json(const nlohmann::json& j);
// Parses text; errors are prefixed with source_name (a file name or "-").
Result<Snapshot> parse_snapshot(std::string_view text, std::string_view source_name,
                                std::vector<std::string>* unknown_keys = nullptr);
// Members of the model's structs that the JSON field lists leave out (or name
// twice): "gd::model::NvmlGpu: 46 members, describe() names 45". Empty when
// every member is written and read.
std::vector<std::string> undescribed_members();

std::string_view nvml_state_name(NvmlState s);

// j[key] as T; nullopt when the key is absent, null or of another type.
// For reading the workers' protocol lines, where a missing value is data.
template <class T>
std::optional<T> json_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}
std::string_view cuda_state_name(CudaState s);
std::string_view kernel_event_kind_name(KernelEventKind k);

}  // namespace gd::model
