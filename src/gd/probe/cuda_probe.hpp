// The CUDA driver probe: finds libcuda.so.1 as the dynamic loader would inside
// the root (or takes --cuda), then runs cuInit(0), cuDriverGetVersion and
// cuDeviceGetCount in a worker process under the deadline.
#pragma once

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"
#include "gd/probe/probe.hpp"

namespace gd::probe {

inline constexpr const char* k_cuda_soname = "libcuda.so.1";

// Skipped (state skipped, with the reason) when NVML hung: the driver is
// wedged, and a second wait would double check's time and tell nothing new.
model::CudaInfo read_cuda(const host::HostRoot& root, const ProbeOptions& options, const model::NvmlInfo& nvml);

}  // namespace gd::probe
