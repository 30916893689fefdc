// The NVML probe: finds libnvidia-ml.so.1 as the dynamic loader would inside
// the root (or takes --nvml), then queries it in the worker process.
#pragma once

#include <optional>
#include <string>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"
#include "gd/probe/probe.hpp"

namespace gd::probe {

inline constexpr const char* k_nvml_soname = "libnvidia-ml.so.1";

model::NvmlInfo read_nvml(const host::HostRoot& root, const ProbeOptions& options);

// Finds the NVML library to load (--nvml, else as the loader would inside the
// root). Fills info.library; returns the file to dlopen, or nullopt with
// info.load_error set.
std::optional<std::string> locate_nvml(const host::HostRoot& root, const ProbeOptions& options,
                                       model::NvmlInfo& info);

}  // namespace gd::probe
