// Device-node probe: the /dev entries CUDA and NVML open.
#pragma once

#include <vector>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::probe {

// Checks /dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia-uvm-tools and
// /dev/nvidia<N> for each minor (duplicates once). present: the entry exists
// (links followed inside the root); char_device: it is a character device.
model::DevNodes read_devnodes(const host::HostRoot& host, const std::vector<unsigned>& minors);

}  // namespace gd::probe
