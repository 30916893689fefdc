#include "gd/probe/library_locate.hpp"

#include <fmt/format.h>

#include "gd/host/library_finder.hpp"

namespace gd::probe {

bool locate_library(const host::HostRoot& root, const LibraryRequest& req, model::NvmlLibrary& lib,
                    std::string& load_path, std::string& error) {
  lib.requested = std::string(req.soname);
  if (!req.override_path.empty()) {
    lib.found_via = std::string(req.override_flag);
    lib.path = req.override_path;
    lib.resolved_path = std::filesystem::weakly_canonical(req.override_path).string();
    lib.file_version = host::library_file_version(std::filesystem::path(*lib.resolved_path).filename().string());
    load_path = req.override_path;
    return true;
  }
  std::vector<std::string> problems;
  auto found = host::find_library(root, req.soname, root.is_live() ? req.ld_library_path : std::vector<std::string>{},
                                  &problems);
  if (!found) {
    error = fmt::format("{} not found in LD_LIBRARY_PATH, /etc/ld.so.cache or the default library dirs", req.soname);
    for (const auto& p : problems) error += "; " + p;
    return false;
  }
  lib.found_via = found->found_via;
  lib.path = found->path;
  auto r = root.resolve(found->path);
  if (!r) {
    error = r.error().message;
    return false;
  }
  lib.resolved_path = *r;
  lib.file_version = host::library_file_version(std::filesystem::path(*r).filename().string());
  load_path = root.display_path(*r).string();  // links resolved inside the root: no link left to follow
  if (req.no_tree_libs && !root.is_live()) {
    lib.not_loaded = fmt::format("--no-tree-libs: {} (the tree's {}) was not loaded", *r, req.soname);
    error = lib.not_loaded;
    load_path.clear();
    return false;
  }
  return true;
}

}  // namespace gd::probe
