// The probe table. Each probe reads one source through the HostRoot (or the
// NVML worker) and fills one part of the Snapshot. Probes keep no state; a
// failing probe is recorded in Snapshot::probes and the others still run.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::probe {

struct ProbeOptions {
  std::string nvml_override;                // --nvml PATH: load exactly this file
  std::string cuda_override;                // --cuda PATH: load exactly this file as libcuda.so.1
  double timeout_s = 10;                    // --timeout: NVML, CUDA and nvidia-container-cli together
  // The one deadline of the whole snapshot (take_snapshot sets it to now +
  // timeout_s when unset); every worker gets what is left of it.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::vector<std::string> ld_library_path; // honoured only on the live root
  std::string worker_exe;                   // gpudoctor binary for the NVML and CUDA workers (empty: this one)
  std::string kernel_log_file;              // --kernel-log FILE: read this instead of the journal / /dev/kmsg
  std::string since;                        // --since: kernel log age window (empty: this boot and the previous)
  std::string container_cli;                // --container-cli PATH: run this as nvidia-container-cli
  // --no-tree-libs: under --root, dlopen no library found in the tree (its constructors would run as the
  // caller); NVML and CUDA are then not consulted unless --nvml / --cuda name a file.
  bool no_tree_libs = false;
};

// Seconds left before options.deadline (timeout_s when no deadline is set); 0 when it passed.
double seconds_left(const ProbeOptions& options);
// Below this, a worker is not started at all (it could not finish anything).
inline constexpr double k_min_worker_seconds = 0.05;

struct ProbeContext {
  const host::HostRoot& root;
  const ProbeOptions& options;
};

struct ProbeEntry {
  std::string_view name;
  std::string_view description;
  void (*run)(const ProbeContext&, model::Snapshot&);
};

// In run order: later probes may read what earlier ones stored (devnodes uses
// the minors found by driver and nvml).
std::span<const ProbeEntry> probe_table();

// Runs every probe, timing each; never throws.
model::Snapshot take_snapshot(const ProbeContext& ctx);

// A --root must look like a node: it has /proc and /sys/bus/pci. Anything
// else (an empty dir, a scenario folder one level above its root/) would read
// as "no GPU here", a verdict nothing supports. Error: "DIR is not a node
// root: it has no sys/bus/pci and no proc". The live root always passes.
Status check_node_root(const host::HostRoot& root);

}  // namespace gd::probe
