// Snapshot: everything the probes gathered about one node, as plain data.
// `collect` writes it as JSON, `check --from` reads it back; rules read only
// this. Units are in field names; std::optional means "not reported".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gd/model/ledger.hpp"

namespace gd::model {

// What `collect` writes: {"kind": "gpudoctor-snapshot", "schema": 2, ...}.
inline constexpr const char* k_snapshot_kind = "gpudoctor-snapshot";
inline constexpr int k_snapshot_schema = 2;

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
  // The systemd unit, when installed: path, ExecStart (after drop-ins), and
  // whether it starts the daemon with persistence disabled (Ubuntu's default).
  std::optional<std::string> unit_file;
  bool unit_masked = false;
  std::optional<std::string> unit_exec_start;
  bool unit_no_persistence_mode = false;
  std::vector<std::string> problems;
};

// The NVML library gpudoctor loaded, found the way the dynamic loader would.
struct NvmlLibrary {
  std::string requested;  // "libnvidia-ml.so.1"
  std::string found_via;  // "--nvml", "LD_LIBRARY_PATH", "ld.so.cache", "/usr/lib/x86_64-linux-gnu", ...
  std::optional<std::string> path;           // host path of the file opened
  std::optional<std::string> resolved_path;  // after following symlinks
  std::optional<std::string> file_version;   // suffix of the resolved name: "465.19.01"
  // Found but deliberately not loaded, and why ("--no-tree-libs: ..."); "" when loaded or not found.
  std::string not_loaded;
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
  std::optional<unsigned> recovery_action;  // field 230: 0 none, 1 GPU reset, 2 node reboot, 3 drain P2P, 4 drain+reset
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
  std::map<std::string, int> system_call_errors;  // nvmlSystemGet* that failed (not NOT_SUPPORTED): name -> code
  std::vector<NvmlGpu> gpus;
  // When state == hung: the call that never returned, and on which GPU index.
  std::optional<std::string> hung_call;
  std::optional<unsigned> hung_gpu;
  std::optional<std::string> hung_bus_id;  // the hung GPU's bus id, when NVML had told it before the hang
  double timeout_s = 0;
  double elapsed_ms = 0;  // whole worker run
  std::string worker_stderr;  // what the library printed (trimmed)
  std::vector<std::string> missing_symbols;  // optional symbols the library lacks
};

// A directory the dynamic loader or ldconfig searches.
struct LibDir {
  std::string path;      // as configured: "/usr/local/cuda/lib64/stubs"
  std::string resolved;  // after following links inside the root
  std::string origin;    // "LD_LIBRARY_PATH", "ld.so.conf" or "default"
  bool in_ld_cache_scope = false;  // ldconfig scans it: from ld.so.conf, or the cache lists a file in it
  // Host path of the dir itself, or of an ancestor without the sticky bit, that any user may write into
  // (anyone could put a libcuda.so.1 there or swap the dir); "" when none.
  std::string world_writable;
};

// One driver-library name in a library dir and the file it leads to.
struct LibEntry {
  std::string family;  // "libcuda", "libnvidia-ml", ...
  std::string path;    // host path in its (resolved) dir: "/usr/lib/x86_64-linux-gnu/libcuda.so.1"
  std::vector<std::string> hops;       // each symlink target in turn, as written: ["libcuda.so.465.19.01"]
  std::optional<std::string> resolved;  // host path of the final file; nullopt when a link dangles or loops
  std::string link_error;               // why it does not resolve (dangling, loop)
  std::optional<std::uint64_t> size_bytes;  // of the final file
  std::optional<std::string> version;       // suffix of the final file name: "465.19.01"
  std::optional<std::string> soname;        // DT_SONAME of the final file
  std::string elf_error;  // why the final file is not a usable ELF64 library ("" when it is, or is empty)
};

// An /etc/ld.so.cache entry of a driver library (this architecture only).
struct LdCacheLib {
  std::string name;   // "libcuda.so.1"
  std::string path;   // as cached: "/usr/lib/x86_64-linux-gnu/libcuda.so.1"
  std::string in_dir;  // the path's directory resolved inside the root; "" when gone
  bool present = false;  // path leads to a regular file now
};

// The file dlopen(name) would open, searched as the loader does.
struct LoaderPick {
  std::string name;  // "libcuda.so.1"
  std::optional<std::string> path;      // nullopt: not found
  std::string found_via;                // "LD_LIBRARY_PATH", "ld.so.cache", or a default dir
  std::optional<std::string> resolved;  // after links
  std::optional<std::string> version;   // suffix of the resolved file name
};

struct LibsInfo {
  std::vector<LibDir> dirs;  // loader order: LD_LIBRARY_PATH (live root), ld.so.conf, default dirs
  bool ld_cache_present = false;
  std::string ld_cache_error;       // unreadable or corrupt /etc/ld.so.cache
  std::vector<LdCacheLib> ld_cache;  // driver-library entries, cache order
  std::vector<LibEntry> entries;     // dir order, names sorted
  std::vector<LoaderPick> picks;
  std::vector<std::string> problems;  // ld.so.conf lines, unreadable dirs, named
};

// What a kernel-log event is (JSON: its name, "xid", "fallen_off_bus", ...).
enum class KernelEventKind {
  xid,             // NVRM: Xid (PCI:...): N, ...
  fallen_off_bus,  // the "fallen off the bus" messages without an Xid
  api_mismatch,    // NVRM: API mismatch: the client has the version X, but this kernel module has Y
  rm_init_failed,  // NVRM: GPU ...: RmInitAdapter failed! (0xSTAGE:0xSTATUS:LINE)
  gsp_failed,      // GSP/firmware could not load or boot (RmFetchGspRmImages: No firmware image found, ...)
  probe_failed,    // the driver's probe found the GPU unusable (invalid BAR, probe routine failed, none initialised)
  gpu_reset,       // a GPU reset/recovery message (in full-chip reset, not back on the bus after FLR, ...)
  // The kernel's stall reports, kept only when their RIP or call trace is in
  // an [nvidia*] module (a stall elsewhere is not the driver's):
  hung_task,    // INFO: task NAME:PID blocked for more than N seconds.
  soft_lockup,  // watchdog: BUG: soft lockup - CPU#N stuck for Ns! [NAME:PID]
  hard_lockup,  // NMI watchdog: Watchdog detected hard LOCKUP on cpu N
  rcu_stall,    // rcu: INFO: rcu_sched detected stalls on CPUs/tasks: / self-detected stall on CPU
};

// True for the kernel's stall reports (hung task, soft/hard lockup, RCU stall).
inline bool is_stall(KernelEventKind k) {
  return k == KernelEventKind::hung_task || k == KernelEventKind::soft_lockup || k == KernelEventKind::hard_lockup ||
         k == KernelEventKind::rcu_stall;
}

// One event about an NVIDIA GPU in the kernel log (docs/kernel-log.md).
struct KernelEvent {
  KernelEventKind kind = KernelEventKind::xid;
  std::optional<int> xid;              // the event's own Xid code (the first number); nullopt without one
  std::optional<std::string> bus_id;   // lowercase sysfs form; nullopt when the message names no GPU
  std::optional<int> pid;              // of the process the driver blamed, when known
  std::optional<std::string> process;  // its name, when known
  std::string message;                 // from "NVRM:" on; multi-line messages joined with spaces
  std::optional<int> boot;             // 0 = this boot (a file: its latest boot), -1 = the one before, ...
  std::string timestamp;               // as the log wrote it: "12345.678901", "2026-11-27T03:00:00Z"
  std::optional<std::int64_t> unix_s;  // wall-clock time, when the stamp (or the boot time) tells it
  // api_mismatch: the two versions the message names.
  std::optional<std::string> client_version, module_version;
  // rm_init_failed: the init stage that failed and the NV_STATUS it failed with ("(0x62:0x65:1792)").
  std::optional<unsigned> rm_stage, rm_status;
  // gsp_failed, probe_failed, gpu_reset: which of the driver's message forms (gd/model/xid_catalog.hpp).
  std::optional<std::string> form;
  // Stall reports: the CPU, how long the task was blocked or the CPU stuck,
  // the interrupted instruction ("RIP: ...") and the call-trace frames in
  // [nvidia*] modules ("os_io_read_dword+0x8/0x10 [nvidia]"), at most 16.
  std::optional<int> cpu;
  std::optional<double> stalled_s;
  std::optional<std::string> rip;
  std::vector<std::string> driver_frames;
};

// "NVRM: GPU at PCI:<id>: GPU-<uuid>" lines of one GPU in one boot. The open
// driver prints that line once per initialisation of the GPU, just before its
// first Xid (successful initialisations print nothing), so the count is a
// lower bound of the initialisations that ended in an Xid.
struct GpuInitMarks {
  std::string bus_id;
  int boot = 0;
  unsigned lines = 0;
  std::string uuid;  // the "GPU-..." the line named (the last one, if a boot named several)
};

// "NVRM: loaded NVIDIA UNIX ... Kernel Module  570.86.15 ...": the driver each boot loaded.
struct ModuleLoad {
  int boot = 0;
  std::string version;  // "570.86.15"
  std::string flavour;  // "open" | "proprietary"
};

// The kernel log as read: its NVIDIA events inside the age window.
struct KernelLog {
  std::string source;       // "journal", "journal DIR", "/dev/kmsg", "file PATH"; "" when none was read
  std::string unavailable;  // why no source could be read ("" when one was)
  std::string window;       // the age window applied: "this boot and the previous one"
  std::uint64_t lines_scanned = 0;
  std::uint64_t lines_cut = 0;  // lines longer than the parser's cap, cut short
  std::uint64_t events_outside_window = 0;
  std::vector<KernelEvent> events;               // log order, deduplicated
  std::map<std::string, std::string> gpu_uuids;  // bus id -> "GPU-<uuid>", from "NVRM: GPU at PCI:..."
  std::vector<GpuInitMarks> init_marks;          // "GPU at PCI" lines per GPU and boot
  std::vector<ModuleLoad> module_loads;          // the driver's load banners, in log order
  std::vector<std::string> problems;             // unreadable or partly read sources, named
  std::uint64_t stalls_elsewhere = 0;            // stall reports whose frames are not in the driver (not kept)
  bool incomplete = false;                       // the source was not read to its end (the time limit passed)
};

// A device as the CUDA driver API enumerates it (ordinals honour CUDA_VISIBLE_DEVICES).
struct CudaDevice {
  int ordinal = 0;
  int get_return = 0;  // cuDeviceGet result; non-zero => the rest is empty
  std::optional<std::string> name;
  std::optional<std::string> bus_id;  // lowercase sysfs form, from cuDeviceGetPCIBusId
};

enum class CudaState {
  not_run,          // the probe was disabled or never reached
  skipped,          // not attempted (skip_reason says why, e.g. NVML hung: the driver is wedged)
  library_missing,  // libcuda.so.1 not found / not loadable (dlerror in load_error)
  init_failed,      // cuInit returned an error
  hung,             // a call did not return before the deadline
  worker_failed,    // the worker process died (crash) before finishing
  ok,               // cuInit succeeded and the devices were counted
};

// The CUDA driver API (libcuda.so.1) as a CUDA program meets it: loaded in a
// worker process like NVML, cuInit(0), cuDriverGetVersion, cuDeviceGetCount.
struct CudaInfo {
  CudaState state = CudaState::not_run;
  NvmlLibrary library;     // same shape as NVML's: how libcuda.so.1 was found
  std::string load_error;  // dlopen/dlsym message when library_missing
  std::string skip_reason;
  std::optional<int> init_return;              // CUresult of cuInit(0)
  std::optional<std::string> init_error_name;  // the library's cuGetErrorName: "CUDA_ERROR_NO_DEVICE"
  std::optional<std::string> init_error_text;  // cuGetErrorString: "no CUDA-capable device is detected"
  std::optional<double> init_ms;
  std::optional<int> version_return;           // CUresult of cuDriverGetVersion
  std::optional<int> driver_version;           // 1000 * major + 10 * minor: 12040 = CUDA 12.4
  std::optional<int> count_return;
  std::optional<int> device_count;
  std::vector<CudaDevice> devices;
  std::optional<std::string> visible_devices;  // CUDA_VISIBLE_DEVICES the worker ran with, when set
  std::optional<std::string> hung_call;        // when state == hung: the call that never returned
  std::optional<int> hung_device;              // ... and on which ordinal
  double timeout_s = 0;
  double elapsed_ms = 0;
  std::string worker_stderr;
  std::vector<std::string> missing_symbols;
};

// `nvidia-container-cli info` as run by the container probe (by argv, under
// the deadline, never -k: it must not load kernel modules).
struct ContainerCli {
  std::string path;         // what ran; "" when not run
  std::string skip_reason;  // why it was not run ("" when it ran)
  bool timed_out = false;
  std::optional<int> exit_code;
  std::string error;  // its error line(s): "nvidia-container-cli: initialization error: ..."
  std::optional<std::string> nvrm_version;  // "NVRM version:" line
  std::optional<std::string> cuda_version;  // "CUDA version:" line
  unsigned devices = 0;                     // "Device Index:" blocks
  double elapsed_ms = 0;
};

// A runtime named in Docker's daemon.json "runtimes".
struct DockerRuntime {
  std::string name;  // "nvidia"
  std::string path;  // as configured: "nvidia-container-runtime" or an absolute path
  std::optional<std::string> found;  // host path it resolves to inside the root; nullopt: missing
};

// A CDI spec file (/etc/cdi, /var/run/cdi) and the driver versions that the
// library paths it mounts carry ("libcuda.so.535.104.05" -> 535.104.05).
struct CdiSpec {
  std::string path;
  std::vector<std::string> driver_versions;  // sorted, unique
  bool nvidia = false;                       // kind nvidia.com/...
};

// A /dev/char/MAJ:MIN link runc needs (systemd cgroup driver) for a device node.
struct DevCharLink {
  std::string node;  // "/dev/nvidiactl"
  std::string link;  // "/dev/char/195:255"
  bool ok = false;   // the link exists and leads to the node
  std::string problem;  // "missing", "points to /dev/foo", "dangling"
};

// The container runtime around the GPUs: the host's NVIDIA Container Toolkit,
// Docker/containerd/kubelet configuration, CDI specs, cgroups, and whether
// gpudoctor itself runs inside a container.
struct ContainerInfo {
  bool inside = false;
  std::vector<std::string> inside_evidence;  // "/.dockerenv exists", "/proc/1/cgroup: 0::/kubepods/..."
  std::optional<unsigned> cgroup_version;    // 2 when /sys/fs/cgroup/cgroup.controllers exists, 1 for v1
  std::optional<std::string> toolkit_config;  // "/etc/nvidia-container-runtime/config.toml" when present
  std::optional<bool> toolkit_no_cgroups;
  std::optional<std::string> toolkit_ldconfig;  // as configured: "@/sbin/ldconfig.real"
  std::optional<bool> toolkit_ldconfig_found;
  std::optional<std::string> docker_config;     // "/etc/docker/daemon.json" when present
  std::vector<DockerRuntime> docker_runtimes;
  std::optional<std::string> docker_default_runtime;
  std::optional<std::string> cgroup_driver;         // "systemd" | "cgroupfs", when a config says so
  std::optional<std::string> cgroup_driver_source;  // which file said it
  std::vector<CdiSpec> cdi_specs;
  std::vector<DevCharLink> dev_char;  // checked on the host with cgroup v2 (not inside a container)
  ContainerCli cli;
  std::vector<std::string> problems;  // config files that do not parse, named with file and line
};

// gpudoctor's state dir on the node (inside --root) and the record of its changes.
inline constexpr std::string_view k_state_dir = "/var/lib/gpudoctor";
inline constexpr std::string_view k_changes_file = "/var/lib/gpudoctor/changes.jsonl";
inline constexpr std::string_view k_history_file = "/var/lib/gpudoctor/history.db";  // watch's default as root

// A change gpudoctor made to the node (`fix --yes`), as recorded at the time
// in the node's state dir (/var/lib/gpudoctor/changes.jsonl, inside --root).
struct ChangeRecord {
  std::int64_t ts_unix_s = 0;
  std::string boot_id;  // the boot it was made in ("" when unknown)
  std::string finding;  // the finding it answered: "persistence.off"
  std::string action;   // what was done: the repair's name ("persistence", "ldconfig", ...)
  std::string before;   // the finding's summary before the change
  std::string detail;   // what happened
};

// A GPU loss or persistence change `watch` recorded in the node's history.
struct HistoryMark {
  std::int64_t ts_ms = 0;
  std::string type;                             // "gpu_lost" | "persistence_changed"
  std::string bus_id;
  std::optional<std::string> persistence_mode;  // gpu_lost: "on"/"off" at the loss; persistence_changed: the new mode
};

// A process that matters to the GPUs: one in uninterruptible sleep (D), or
// one that holds an NVIDIA device node open (probe `processes`).
struct GpuTask {
  int pid = 0;
  std::string comm;
  std::string state;                         // /proc/PID/stat: "R" "S" "D" "Z" "T" "I" ...
  std::optional<std::int64_t> started_unix_s;  // the process's start (btime + starttime)
  std::string wchan;                          // /proc/PID/wchan ("" when 0 or unreadable)
  std::vector<std::string> stack;             // /proc/PID/stack frames (root only), at most 16
  std::vector<std::string> devices;           // the /dev/nvidia* nodes it holds open
  bool in_driver = false;  // D and (its stack or wait channel is in an [nvidia*] module, or it holds /dev/nvidia*)
  // A thread other than the main one in D (/proc/PID/task/TID: a CUDA worker inside the driver while the main
  // thread waits for it), looked for in the holders when every process's fds were read; wchan and stack
  // above are then that thread's, and `state` stays the main thread's.
  std::optional<int> thread_tid;
  std::string thread_comm;
};

// The node's processes as the GPUs see them: which sleep inside the driver
// (and cannot be killed), and which hold which /dev/nvidia<N>.
struct ProcessesInfo {
  bool read = false;                 // /proc was listed
  std::uint64_t processes = 0;       // /proc/PID entries whose stat was read
  std::uint64_t not_read = 0;        // left out (the cap or the time budget)
  std::uint64_t uninterruptible = 0;  // in D state, in the driver or not (a holder: or one of its threads)
  bool holders_scanned = false;      // every process's fds were read (else only those in D)
  std::string holders_note;          // why the holders were or were not scanned
  std::vector<GpuTask> tasks;        // D-state processes and device holders, pid order, at most 4096
  std::vector<std::string> problems;
};

// gpudoctor's own records on the node, and when this boot began, so rules can
// place an event before or after a change.
struct StateInfo {
  std::string dir;                              // "/var/lib/gpudoctor"
  std::vector<ChangeRecord> changes;            // oldest first, at most the last 1000
  std::optional<std::string> boot_id;           // /proc/sys/kernel/random/boot_id
  std::optional<std::int64_t> boot_time_unix_s;  // /proc/stat btime
  std::vector<HistoryMark> history;             // watch's history.db (this boot), when present: losses, persistence
  std::optional<Ledger> ledger;                 // the health ledger (ledger.json), when present
  std::vector<std::string> problems;            // unreadable or malformed records, named
};

// What `gpudoctor watch` knows about itself when it runs the rules: its
// history database as of the latest write (absent in `check` / `collect`).
struct WatchInfo {
  std::string history_path;
  bool history_write_ok = true;
  std::string history_error;  // the latest write error, when !history_write_ok
  std::uint64_t history_pending_rows = 0;  // kept in memory until writing works again
  std::uint64_t history_write_errors_total = 0;
};

struct Snapshot {
  std::string kind = k_snapshot_kind;
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
  CudaInfo cuda;
  LibsInfo libs;
  KernelLog kernel_log;
  ProcessesInfo processes;
  ContainerInfo container;
  StateInfo state;
  std::optional<WatchInfo> watch;
};

}  // namespace gd::model
