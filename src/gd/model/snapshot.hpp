// Snapshot: everything the probes gathered about one node, as plain data.
// `collect` writes it as JSON, `check --from` reads it back; rules read only
// this. Units are in field names; std::optional means "not reported".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gd::model {

inline constexpr int k_snapshot_schema = 1;

// How a probe run went. "Not present" (no GPU, no daemon) is ok=true.
struct ProbeRun {
  std::string name;
  bool ok = true;
  std::string error;  // why it could not gather its part, when !ok
  double duration_ms = 0;
};

// One NVIDIA GPU function on the PCI bus (display or 3D controller class).
struct PciGpu {
  std::string bus_id;  // sysfs form, lowercase: "5b0a:00:00.0"
  std::uint32_t vendor_id = 0;
  std::uint32_t device_id = 0;
  std::uint32_t class_code = 0;  // e.g. 0x030200
  std::string driver;            // bound driver: "nvidia", "nouveau", "vfio-pci"; "" when unbound
  std::optional<std::string> current_link_speed;  // as sysfs says: "8.0 GT/s PCIe"
  std::optional<std::string> max_link_speed;
  std::optional<unsigned> current_link_width;
  std::optional<unsigned> max_link_width;
  std::vector<std::string> problems;  // unreadable/malformed attribute files, named
};

struct PciInfo {
  std::vector<PciGpu> gpus;  // sorted by bus id
  unsigned other_nvidia_functions = 0;  // audio functions, NVSwitches, ... (not GPUs)
};

// A GPU as the loaded kernel driver lists it in /proc/driver/nvidia/gpus/*/information.
struct DriverGpu {
  std::string bus_id;  // lowercase sysfs form, from the directory name
  std::optional<std::string> model;
  std::optional<std::string> uuid;
  std::optional<unsigned> minor;
  std::optional<bool> excluded;
};

struct DriverInfo {
  bool nvidia_loaded = false;  // "nvidia" in /proc/modules
  bool nvidia_uvm_loaded = false;
  bool nvidia_modeset_loaded = false;
  bool nvidia_drm_loaded = false;
  bool nouveau_loaded = false;
  std::optional<std::string> kernel_version;  // loaded module: "460.32.03"
  std::string flavour;  // "proprietary" | "open" | "" (unknown)
  std::optional<std::string> version_line;  // first line of /proc/driver/nvidia/version
  std::vector<DriverGpu> gpus;
  std::vector<std::string> problems;  // malformed files, named
};

struct DevNode {
  std::string path;  // host path: "/dev/nvidiactl"
  bool present = false;
  bool char_device = false;
};

struct DevNodes {
  std::vector<DevNode> nodes;  // nvidiactl, nvidia-uvm, nvidia-uvm-tools, nvidia<N> for known minors
};

struct Persistenced {
  bool pid_file = false;
  std::optional<int> pid;
  bool process_alive = false;  // /proc/<pid>/comm says nvidia-persistenced
  bool socket = false;
  std::vector<std::string> problems;
};

// The NVML library gpudoctor loaded, found the way the dynamic loader would.
struct NvmlLibrary {
  std::string requested;  // "libnvidia-ml.so.1"
  std::string found_via;  // "--nvml", "LD_LIBRARY_PATH", "ld.so.cache", "/usr/lib/x86_64-linux-gnu", ...
  std::optional<std::string> path;           // host path of the file opened
  std::optional<std::string> resolved_path;  // after following symlinks
  std::optional<std::string> file_version;   // suffix of the resolved name: "465.19.01"
};

struct NvmlGpu {
  unsigned index = 0;
  int handle_return = 0;  // nvmlDeviceGetHandleByIndex result; non-zero => the rest is empty
  std::optional<std::string> bus_id;  // lowercase sysfs form
  std::optional<std::string> name;
  std::optional<std::string> uuid;
  std::optional<std::string> serial;
  std::optional<unsigned> minor;
  std::optional<bool> persistence_mode;
  std::optional<unsigned> temp_celsius;
  std::optional<unsigned> temp_slowdown_celsius;
  std::optional<unsigned> temp_shutdown_celsius;
  std::optional<double> power_watts;
  std::optional<double> power_limit_watts;
  std::optional<std::uint64_t> energy_millijoules;
  std::optional<std::uint64_t> mem_total_bytes;
  std::optional<std::uint64_t> mem_used_bytes;
  std::optional<unsigned> util_gpu_percent;
  std::optional<unsigned> util_mem_percent;
  std::optional<unsigned> clock_graphics_mhz;
  std::optional<unsigned> clock_sm_mhz;
  std::optional<unsigned> clock_mem_mhz;
  std::optional<unsigned> clock_graphics_max_mhz;
  std::optional<unsigned> clock_mem_max_mhz;
  std::optional<std::uint64_t> clock_event_reasons;  // NVML bitmask
  std::optional<unsigned> pstate;
  std::optional<unsigned> fan_percent;
  std::optional<bool> ecc_enabled;
  std::optional<std::uint64_t> ecc_corrected_volatile;
  std::optional<std::uint64_t> ecc_uncorrected_volatile;
  std::optional<std::uint64_t> ecc_uncorrected_aggregate;
  std::optional<bool> retired_pages_pending;
  std::optional<unsigned> remapped_rows_correctable;
  std::optional<unsigned> remapped_rows_uncorrectable;
  std::optional<bool> remapped_rows_pending;
  std::optional<bool> remapped_rows_failure;
  std::optional<unsigned> pcie_gen;
  std::optional<unsigned> pcie_width;
  std::optional<unsigned> pcie_max_gen;
  std::optional<unsigned> pcie_max_width;
  // Calls that failed with something other than NOT_SUPPORTED: symbol -> nvmlReturn_t.
  std::map<std::string, int> call_errors;
};

enum class NvmlState {
  not_run,          // the probe was disabled or never reached
  library_missing,  // libnvidia-ml.so.1 not found / not loadable
  init_failed,      // nvmlInit returned an error
  hung,             // a call did not return before the deadline
  worker_failed,    // the worker process died (crash) before finishing
  ok,               // init succeeded and every GPU was visited
};

struct NvmlInfo {
  NvmlState state = NvmlState::not_run;
  NvmlLibrary library;
  std::string load_error;  // dlopen/dlsym message when library_missing
  std::optional<int> init_return;
  std::optional<double> init_ms;
  std::optional<std::string> driver_version;
  std::optional<std::string> nvml_version;
  std::optional<int> cuda_driver_version;  // e.g. 11020
  std::optional<int> count_return;
  std::optional<unsigned> device_count;
  std::vector<NvmlGpu> gpus;
  // When state == hung: the call that never returned, and on which GPU index.
  std::optional<std::string> hung_call;
  std::optional<unsigned> hung_gpu;
  double timeout_s = 0;
  double elapsed_ms = 0;  // whole worker run
  std::string worker_stderr;  // what the library printed (trimmed)
  std::vector<std::string> missing_symbols;  // optional symbols the library lacks
};

struct Snapshot {
  int schema = k_snapshot_schema;
  std::string gpudoctor_version;
  std::string hostname;
  std::string taken_at;  // ISO 8601 UTC
  std::string root;      // the --root it was taken under
  std::vector<ProbeRun> probes;
  PciInfo pci;
  DriverInfo driver;
  DevNodes devnodes;
  Persistenced persistenced;
  NvmlInfo nvml;
};

}  // namespace gd::model
