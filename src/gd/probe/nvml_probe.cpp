#include "gd/probe/nvml_probe.hpp"

#include <fmt/format.h>

#include "gd/host/library_finder.hpp"
#include "gd/nvml/nvml_worker.hpp"

namespace gd::probe {

namespace {

// Fills library.path/found_via; false when nothing was found.
bool locate(const host::HostRoot& root, const ProbeOptions& o, model::NvmlInfo& info, std::string& load_path) {
  auto& lib = info.library;
  lib.requested = k_nvml_soname;
  if (!o.nvml_override.empty()) {
    lib.found_via = "--nvml";
    lib.path = o.nvml_override;
    lib.resolved_path = std::filesystem::weakly_canonical(o.nvml_override).string();
    lib.file_version = host::library_file_version(std::filesystem::path(*lib.resolved_path).filename().string());
    load_path = o.nvml_override;
    return true;
  }
  std::vector<std::string> problems;
  auto found = host::find_library(root, k_nvml_soname, root.is_live() ? o.ld_library_path : std::vector<std::string>{},
                                  &problems);
  if (!found) {
    info.load_error = fmt::format("{} not found in LD_LIBRARY_PATH, /etc/ld.so.cache or the default library dirs",
                                  k_nvml_soname);
    for (const auto& p : problems) info.load_error += "; " + p;
    return false;
  }
  lib.found_via = found->found_via;
  lib.path = found->path;
  if (auto r = root.resolve(found->path)) {
    lib.resolved_path = *r;
    lib.file_version = host::library_file_version(std::filesystem::path(*r).filename().string());
    load_path = root.path(*r).string();
  } else {
    info.load_error = r.error().message;
    return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> locate_nvml(const host::HostRoot& root, const ProbeOptions& options,
                                       model::NvmlInfo& info) {
  std::string load_path;
  if (!locate(root, options, info, load_path)) return std::nullopt;
  return load_path;
}

model::NvmlInfo read_nvml(const host::HostRoot& root, const ProbeOptions& options) {
  model::NvmlInfo info;
  auto load_path = locate_nvml(root, options, info);
  if (!load_path) {
    info.state = model::NvmlState::library_missing;
    return info;
  }
  nvml::run_nvml_worker(*load_path, options.timeout_s, info, options.worker_exe);
  return info;
}

}  // namespace gd::probe
