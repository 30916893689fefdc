// The parent side of the CUDA probe: starts `gpudoctor __cuda-worker LIB`
// under the same deadline machinery as NVML (util::run_line_worker), reads its
// JSON lines and fills CudaInfo. A worker stuck in a call is killed (or
// abandoned if unkillable) and the call it was in is recorded.
#pragma once

#include <string>
#include <string_view>

#include "gd/model/snapshot.hpp"

namespace gd::cuda {

// Fills every field of out except out.library and out.visible_devices.
// Returns within timeout_s plus a small grace, whatever libcuda does.
// worker_exe: the gpudoctor binary to run as the worker (empty: this one).
void run_cuda_worker(const std::string& library_path, double timeout_s, model::CudaInfo& out,
                     const std::string& worker_exe = "");

// Applies one protocol line to out; tracks the last call marker in out.hung_*.
// Returns false on a line that is not valid protocol.
bool apply_worker_line(std::string_view line, model::CudaInfo& out, bool& done);

}  // namespace gd::cuda
