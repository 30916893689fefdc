// Locates a driver library (libnvidia-ml.so.1, libcuda.so.1) the way the
// dynamic loader would inside the root, or takes the user's override path.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::probe {

struct LibraryRequest {
  std::string_view soname;                   // "libcuda.so.1"
  std::string override_path;                 // --cuda / --nvml PATH; empty: search
  std::string_view override_flag;            // "--cuda", recorded as found_via
  std::vector<std::string> ld_library_path;  // honoured only on the live root
  bool no_tree_libs = false;                 // --no-tree-libs: a library found inside a --root is not loaded
};

// Fills lib (requested, found_via, path, resolved_path, file_version) and
// load_path (the path to dlopen on this machine). False with error set when
// nothing was found or the found path does not resolve inside the root, and also (lib.not_loaded set, the
// rest of lib filled) when req.no_tree_libs refuses the file found inside a --root.
bool locate_library(const host::HostRoot& root, const LibraryRequest& req, model::NvmlLibrary& lib,
                    std::string& load_path, std::string& error);

}  // namespace gd::probe
