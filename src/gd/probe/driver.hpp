// Driver probe: which kernel modules are loaded, the loaded NVIDIA module's
// version and flavour, and the GPUs it attached to (/proc/driver/nvidia).
#pragma once

#include <string>
#include <string_view>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"
#include "gd/util/result.hpp"

namespace gd::probe {

struct ProcDriverVersion {
  std::string version;     // "470.82.01", "418.67"
  std::string flavour;     // "open" | "proprietary"
  std::string first_line;  // the "NVRM version:" line, trimmed and printable
};

// Parses /proc/driver/nvidia/version (proprietary and open formats). Error
// when there is no "NVRM version: ... Module ... <version>" first line.
Result<ProcDriverVersion> parse_proc_driver_version(std::string_view text);
// True for "535.146.02" or "418.67": digits, dot, digits, optional dot, digits.
bool looks_like_driver_version(std::string_view token);
// Parses a /proc/driver/nvidia/gpus/<dir_name>/information file; keys older
// drivers lack stay nullopt. Error when dir_name is not a bus id or a known
// key has a malformed value.
Result<model::DriverGpu> parse_gpu_information(std::string_view text, std::string_view dir_name);

struct LoadedModules {
  bool nvidia = false;
  bool nvidia_uvm = false;
  bool nvidia_modeset = false;
  bool nvidia_drm = false;
  bool nouveau = false;
};

// The modules of interest named in /proc/modules (first field of each line).
LoadedModules parse_proc_modules(std::string_view text);
// Gathers modules, driver version and the driver's GPU list; malformed files
// become DriverInfo::problems. No driver loaded is a normal (empty) result.
model::DriverInfo read_driver(const host::HostRoot& host);

}  // namespace gd::probe
