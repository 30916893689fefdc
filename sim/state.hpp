// The run-time state of a simulated node, shared by every process that loads
// the simulator with the same scenario: a small JSON file beside the scenario.
// Writers hold an flock on "<state file>.lock" and replace the file by rename,
// so readers never see a half-written file and need no lock.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gd/util/result.hpp"

namespace gd::sim {

// The state document. Keys this code does not know are kept as they are, so
// later features (init/teardown counters, readings that change over time) can
// add their own next to "persistence".
class State {
 public:
  State() = default;
  // Fails when `doc` is not an object or a known key has the wrong type.
  static Result<State> from_json(nlohmann::json doc);

  // The persistence mode last set for the GPU with `uuid`, or nullopt.
  std::optional<bool> persistence(std::string_view uuid) const;
  void set_persistence(std::string_view uuid, bool enabled);

  const nlohmann::json& json() const { return m_doc; }
  // Direct access for features that keep their own keys (failure_model.cpp).
  nlohmann::json& json() { return m_doc; }

 private:
  nlohmann::json m_doc = nlohmann::json::object();
};

class StateFile {
 public:
  explicit StateFile(std::filesystem::path path) : m_path(std::move(path)) {}

  // The current state; a missing file is an empty State. The error names what
  // is wrong (unreadable, not JSON, wrong type) without the file name.
  Result<State> load() const;

  // Under an exclusive lock: loads, applies `change`, writes a temporary file
  // in the same folder and renames it over the state file.
  Result<State> update(const std::function<void(State&)>& change) const;

  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};

}  // namespace gd::sim
