// Linker-audit probe: the NVIDIA driver libraries in every directory the
// dynamic loader or ldconfig searches (LD_LIBRARY_PATH on the live root,
// /etc/ld.so.conf with its includes, the default dirs), each name's link
// chain, size, version suffix and ELF SONAME, the driver-library entries of
// /etc/ld.so.cache, and which file dlopen() would open for the names that
// matter. Only facts; the libs.* rules judge them.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::probe {

// The driver library families that carry the driver's version in their file
// names: "libcuda", "libnvidia-ml", ...
std::span<const std::string_view> driver_library_families();
// The family of a file name: "libcuda" for "libcuda.so", "libcuda.so.1" and
// "libcuda.so.460.32.03"; nullopt for anything else ("libcudart.so.11").
std::optional<std::string_view> driver_library_family(std::string_view file_name);
// True for a SONAME-style link name: "libcuda.so.1", "libnvidia-nvvm.so.4"
// (one integer after ".so.").
bool is_soname_link_name(std::string_view file_name);

// Gathers LibsInfo. `ld_library_path` is searched first (pass it only for the
// live root). Unreadable dirs and ld.so.conf errors become problems; a
// missing cache or directory is a normal result.
model::LibsInfo read_libs(const host::HostRoot& host, const std::vector<std::string>& ld_library_path);

}  // namespace gd::probe
