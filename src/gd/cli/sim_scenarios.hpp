// The simulator scenarios built into gpudoctor (`gpudoctor sim NAME`): the
// nvml.json of each tests/scenarios/<name>/, embedded at build time.
#pragma once

#include <string_view>
#include <vector>

namespace gd::cli {

struct BuiltinScenario {
  std::string_view name;
  std::string_view description;
  std::string_view json;  // the simulator scenario (docs/simulator.md)
};

const std::vector<BuiltinScenario>& builtin_scenarios();

}  // namespace gd::cli
