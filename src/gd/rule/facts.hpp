// Small pure questions about a Snapshot that several rules ask.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gd/model/snapshot.hpp"

namespace gd::rule {

// PCI GPUs (not audio, not NVSwitch) present on the node.
bool has_pci_gpus(const model::Snapshot& s);
// True when there is nothing NVIDIA here at all: no GPU on PCI, no module,
// and NVML (if any) answers with zero devices.
bool no_nvidia_gpu(const model::Snapshot& s);
// NVML initialised and enumerated (maybe partly, if a later call hung).
bool nvml_answered(const model::Snapshot& s);
// Bus ids of GPUs NVML answered for (handle obtained and PCI info read).
std::vector<std::string> nvml_bus_ids(const model::Snapshot& s);
// nvidia-persistenced is running (pid file + live process).
bool persistenced_running(const model::Snapshot& s);
// "4.52 s" / "12 ms"
std::string format_ms(double ms);
// The evidence line for the NVML init time, when measured.
std::optional<std::string> init_time_evidence(const model::Snapshot& s);
// User-space driver version (NVML's file name version, else NVML's report).
std::optional<std::string> user_space_version(const model::Snapshot& s);

}  // namespace gd::rule
