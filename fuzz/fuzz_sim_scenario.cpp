// libFuzzer target: the simulator's scenario document (what GPUDOCTOR_SIM_SCENARIO names).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)gd::sim::parse_scenario(text, "fuzz.json");
  return 0;
}
