// libFuzzer target: /proc/driver/nvidia/version, gpus/*/information,
// /proc/modules, sysfs attributes, ld.so.conf.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gd/host/ld_conf.hpp"
#include "gd/probe/driver.hpp"
#include "gd/probe/pci.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)gd::probe::parse_proc_driver_version(text);
  (void)gd::probe::parse_gpu_information(text, "0000:3b:00.0");
  (void)gd::probe::parse_gpu_information("Model: x\n", text.substr(0, 64));
  (void)gd::probe::parse_proc_modules(text);
  (void)gd::probe::parse_sysfs_hex(text);
  (void)gd::probe::parse_sysfs_uint(text);
  (void)gd::host::parse_ld_so_conf(text);
  return 0;
}
