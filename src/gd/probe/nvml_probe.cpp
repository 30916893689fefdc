#include "gd/probe/nvml_probe.hpp"

#include "gd/nvml/nvml_worker.hpp"
#include "gd/probe/library_locate.hpp"

namespace gd::probe {

std::optional<std::string> locate_nvml(const host::HostRoot& root, const ProbeOptions& options,
                                       model::NvmlInfo& info) {
  std::string load_path;
  LibraryRequest req{k_nvml_soname, options.nvml_override, "--nvml", options.ld_library_path, options.no_tree_libs};
  if (!locate_library(root, req, info.library, load_path, info.load_error)) return std::nullopt;
  return load_path;
}

model::NvmlInfo read_nvml(const host::HostRoot& root, const ProbeOptions& options) {
  model::NvmlInfo info;
  auto load_path = locate_nvml(root, options, info);
  if (!load_path) {
    // Refused by --no-tree-libs: not run, and the reason is in library.not_loaded (not a missing library).
    info.state = info.library.not_loaded.empty() ? model::NvmlState::library_missing : model::NvmlState::not_run;
    return info;
  }
  nvml::run_nvml_worker(*load_path, seconds_left(options), info, options.worker_exe);
  return info;
}

}  // namespace gd::probe
