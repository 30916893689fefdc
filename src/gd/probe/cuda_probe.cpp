#include "gd/probe/cuda_probe.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "gd/cuda/cuda_worker.hpp"
#include "gd/probe/library_locate.hpp"

namespace gd::probe {

model::CudaInfo read_cuda(const host::HostRoot& root, const ProbeOptions& options, const model::NvmlInfo& nvml) {
  model::CudaInfo info;
  info.library.requested = k_cuda_soname;
  if (nvml.state == model::NvmlState::hung) {
    info.state = model::CudaState::skipped;
    info.skip_reason = "NVML hung: the driver is wedged, cuInit would hang the same way";
    return info;
  }
  std::string load_path;
  LibraryRequest req{k_cuda_soname, options.cuda_override, "--cuda", options.ld_library_path, options.no_tree_libs};
  if (!locate_library(root, req, info.library, load_path, info.load_error)) {
    info.state = info.library.not_loaded.empty() ? model::CudaState::library_missing : model::CudaState::skipped;
    info.skip_reason = info.library.not_loaded;
    return info;
  }
  // libcuda enumerates only these devices; the worker inherits this environment.
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) info.visible_devices = v;
  double left = seconds_left(options);
  if (left < k_min_worker_seconds) {
    info.state = model::CudaState::skipped;
    info.skip_reason = fmt::format("--timeout {:g} s was used up before CUDA could be queried", options.timeout_s);
    return info;
  }
  cuda::run_cuda_worker(load_path, left, info, options.worker_exe);
  return info;
}

}  // namespace gd::probe
