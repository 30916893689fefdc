// PCI probe: the NVIDIA GPU functions the kernel sees on the bus, from
// /sys/bus/pci/devices, whether or not a driver is bound to them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::probe {

inline constexpr std::uint32_t k_nvidia_vendor_id = 0x10de;

// Parses a sysfs hex attribute ("0x10de\n", "0x030200"): the value, or nullopt
// unless the trimmed text is hex (optional 0x) that fits 32 bits.
std::optional<std::uint32_t> parse_sysfs_hex(std::string_view text);
// Parses a sysfs decimal attribute ("16\n"): nullopt unless it fits 32 bits.
std::optional<std::uint32_t> parse_sysfs_uint(std::string_view text);
// True for the GPU classes: VGA controller (0x0300xx) and 3D controller (0x0302xx).
bool is_nvidia_gpu_class(std::uint32_t class_code);
// Lists NVIDIA GPU functions sorted by bus id; other NVIDIA functions (audio,
// NVSwitch) are only counted. No /sys/bus/pci/devices gives an empty result.
model::PciInfo read_pci(const host::HostRoot& host);

}  // namespace gd::probe
