// PCI bus ids in the one form the snapshot uses: lowercase sysfs
// "dddd:bb:dd.f", whatever tool wrote them (NVML, sysfs, kernel log).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gd::model {

// Normalises "00005B0A:00:00.0" (NVML), "5B0A:00:00.0", "5b0a:00:00.0" (sysfs),
// "PCI:0000:3b:00" (kernel log, function 0) and "3b:00.0" (domain 0) to
// "5b0a:00:00.0" (domain at least 4 hex digits). nullopt when it is not a bus id.
std::optional<std::string> normalize_bus_id(std::string_view text);

}  // namespace gd::model
