// libFuzzer target: the library audit's binary inputs — ld.so.cache (both formats) and ELF headers —
// plus the file-name helpers the audit applies to every directory entry.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gd/host/elf.hpp"
#include "gd/host/ld_cache.hpp"
#include "gd/host/library_finder.hpp"
#include "gd/probe/libs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto entries = gd::host::parse_ld_cache(bytes)) {
    // What parses re-encodes and parses to the same entries.
    auto again = gd::host::parse_ld_cache(gd::host::encode_ld_cache(*entries));
    if (!again || again->size() != entries->size()) std::abort();
  }
  (void)gd::host::parse_elf(gd::host::memory_source(bytes));
  (void)gd::host::foreign_elf(bytes);
  std::string_view name = bytes.substr(0, 255);
  (void)gd::host::library_file_version(name);
  (void)gd::probe::driver_library_family(name);
  (void)gd::probe::is_soname_link_name(name);
  return 0;
}
