// libFuzzer target: the `import nvidia-smi` parsers — the default table (both layouts), `nvidia-smi -q`
// and --query-gpu CSV (with its header, and as a noheader file with a field list) — and the file-name time.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gd/importer/import.hpp"
#include "gd/importer/nvidia_smi.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto check = [](const gd::importer::SmiParse& p) {
    // Every GPU a dump lists is placed on a bus id, and the named skips are bounded.
    for (const auto& d : p.dumps)
      for (const auto& g : d.gpus)
        if (!g.bus_id) std::abort();
    if (p.skipped.size() > 20 || p.skipped.size() > p.skipped_count) std::abort();
  };
  check(gd::importer::parse_nvidia_smi(text));
  check(gd::importer::parse_nvidia_smi(text, {"timestamp", "pci.bus_id", "temperature.gpu", "power.draw [W]", "pstate"}));
  (void)gd::importer::time_from_file_name(text.substr(0, 256));
  return 0;
}
