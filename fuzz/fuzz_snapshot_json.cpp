// libFuzzer target: a snapshot file (`check --from`), whatever its bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gd/model/json_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> unknown;
  (void)gd::model::parse_snapshot(text, "fuzz", &unknown);
  return 0;
}
