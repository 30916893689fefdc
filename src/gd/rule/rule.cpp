#include "gd/rule/rule.hpp"

#include <algorithm>

namespace gd::rule {

namespace {

using model::Severity;

constexpr RuleEntry k_rules[] = {
    {"gpu.none", Severity::ok, "No NVIDIA GPU on this node (one sentence, exit 0)",
     "Fires when no PCI function has vendor 0x10de with class 0x0300xx/0x0302xx, the nvidia module is not loaded, "
     "and NVML (if present) reports no device.",
     rule_gpu_none},
    {"gpu.fell_off_bus", Severity::critical,
     "GPUs on PCI that the driver does not answer for, named by bus id",
     "With the nvidia module loaded and nvmlInit successful: every NVIDIA GPU on the PCI bus (bound to nvidia or "
     "unbound) whose bus id NVML does not report, and every NVML index whose handle or query returns GPU_IS_LOST (15) "
     "or RESET_REQUIRED (16). When persistence mode is off and nvidia-persistenced is not running, the cause names the "
     "per-process init/teardown pattern (recover by reboot, then enable nvidia-persistenced). The kernel log's "
     "fallen-off lines (Xid 79 or the message without an Xid) for the GPU are added as evidence; a GPU the log of "
     "this boot names as fallen off that NVML has no data for (NVML failed, hung, or lists it not) is reported too.",
     rule_gpu_fell_off_bus, Repair::manual, model::Latch::hardware},
    {"gpu.count", Severity::critical, "GPU count differs from --expect-gpus N",
     "Only with --expect-gpus N: critical unless both the PCI bus and NVML show exactly N GPUs.", rule_gpu_count,
     Repair::manual, model::Latch::hardware},
    {"nvml.missing", Severity::critical, "libnvidia-ml.so.1 cannot be found or loaded",
     "libnvidia-ml.so.1 looked up as the dynamic loader would (LD_LIBRARY_PATH on the live root, /etc/ld.so.cache, "
     "default dirs) inside --root, or --nvml; fires when it is absent or dlopen fails and NVIDIA GPUs are present.",
     rule_nvml_missing, Repair::ldconfig},
    {"nvml.not_loaded", Severity::warning, "NVML not consulted: --no-tree-libs refused the tree's library",
     "Only with --root and --no-tree-libs: the libnvidia-ml.so.1 found in the tree is not loaded (its code would run "
     "as the caller), so nothing NVML tells is known; a warning, never healthy on that evidence.",
     rule_nvml_not_loaded},
    {"nvml.hung", Severity::critical, "An NVML call did not return before the deadline (names the call)",
     "Every NVML call runs in a worker process; if the worker has not finished within --timeout (default 10 s) it is "
     "killed and the last call it started is named, with the GPU index.",
     rule_nvml_hung},
    {"nvml.init_failed", Severity::critical, "nvmlInit returned an error (each code mapped to its meaning)",
     "nvmlInit_v2 (or nvmlInit) returned non-zero; the code's meaning and fix come from a table "
     "(9 driver not loaded, 18 version mismatch, 4 permission, 12/13 libraries, 999 unknown, ...).",
     rule_nvml_init_failed},
    {"nvml.worker_failed", Severity::critical, "The NVML library crashed the worker process",
     "The worker ended (e.g. SIGSEGV) before reporting; the last NVML call it started is named.",
     rule_nvml_worker_failed},
    {"cuda.missing", Severity::critical, "libcuda.so.1 cannot be found or loaded: every CUDA program fails",
     "libcuda.so.1 looked up as the dynamic loader would (LD_LIBRARY_PATH on the live root, /etc/ld.so.cache, default "
     "dirs) inside --root, or --cuda, and dlopen'ed in a worker process; fires when it is absent or cannot be loaded "
     "(0-byte or truncated file, wrong ELF) while the nvidia module is loaded. CUDA programs then report the "
     "runtime's cudaErrorInsufficientDriver (35).",
     rule_cuda_missing},
    {"cuda.init_failed", Severity::critical, "cuInit(0) failed (each CUresult mapped to its meaning and fix)",
     "The worker calls cuDriverGetVersion, cuInit(0) and cuDeviceGetCount as every CUDA program does first. Non-zero "
     "cuInit results map to a cause and fix: 3 NOT_INITIALIZED (nvidia_uvm / /dev/nvidia-uvm), 34 STUB_LIBRARY "
     "(toolkit stubs/libcuda.so first on the search path), 100 NO_DEVICE (device nodes, container, "
     "CUDA_VISIBLE_DEVICES), 802 SYSTEM_NOT_READY (NVSwitch fabric manager not running), 803 SYSTEM_DRIVER_MISMATCH "
     "(libcuda and kernel module of different versions, or cuda-compat), 804 COMPAT_NOT_SUPPORTED_ON_DEVICE "
     "(cuda-compat on a non-datacenter GPU), 999 UNKNOWN (uvm state lost); 35 (runtime cudaErrorInsufficientDriver) "
     "and 36 CALL_REQUIRES_NEWER_DRIVER mean the driver is older than the program's CUDA. cuInit succeeding with "
     "zero devices is critical too. Silent when the nvidia module is not loaded (driver.not_loaded says it); ok "
     "names the driver API version and device count. A crash of the worker is reported here as well.",
     rule_cuda_init_failed},
    {"cuda.hung", Severity::critical, "A CUDA driver call did not return before the deadline (names the call)",
     "cuInit and the calls after it run in their own worker process under --timeout (a second deadline after "
     "NVML's); at the deadline the worker is killed and the last call it started is named, with the device ordinal. "
     "Not attempted when NVML already hung.",
     rule_cuda_hung},
    {"persistence.off", Severity::warning, "Persistence mode off and no nvidia-persistenced keeping it on",
     "Any GPU whose nvmlDeviceGetPersistenceMode is Disabled, or no live nvidia-persistenced (pid file + "
     "/proc/<pid>/comm) when NVML cannot tell; cites the measured nvmlInit time (>= 1 s means a cold start). "
     "Inside a container (where the host's daemon is invisible) only NVML counts.",
     rule_persistence_off, Repair::persistence},
    {"driver.version_mismatch", Severity::critical, "Kernel module version differs from the user-space driver version",
     "Compares /proc/driver/nvidia/version (or /sys/module/nvidia/version) with the version in the resolved "
     "libnvidia-ml.so.<version> file name; also fires when nvmlInit returns LIB_RM_VERSION_MISMATCH (18).",
     rule_driver_version_mismatch},
    {"driver.not_loaded", Severity::critical, "NVIDIA GPUs on PCI but the nvidia kernel module is not loaded",
     "NVIDIA GPUs on the PCI bus, no 'nvidia' line in /proc/modules, no /sys/module/nvidia, none bound to nouveau.",
     rule_driver_not_loaded},
    {"driver.nouveau", Severity::critical, "The nouveau driver owns NVIDIA GPUs",
     "A GPU's /sys/bus/pci/devices/<id>/driver points to nouveau, or nouveau is in /proc/modules beside NVIDIA GPUs.",
     rule_driver_nouveau},
    {"libs.missing", Severity::critical, "libnvidia-ml.so.1 or libcuda.so.1 cannot be found while the driver is loaded",
     "With the nvidia module loaded: each name looked up as dlopen() would (LD_LIBRARY_PATH on the live root, "
     "/etc/ld.so.cache, default dirs) inside --root; critical when either is not found. Emits ok with the files "
     "found.",
     rule_libs_missing},
    {"libs.stale_ldcache", Severity::critical, "/etc/ld.so.cache or a .so.N link names other files than are installed",
     "Critical: the cache is corrupt; a cache entry's file no longer exists; a SONAME link (libX.so.N) points at "
     "another file than ldconfig would choose now (the newest non-empty ELF file with that SONAME in the same dir); "
     "no cache while libraries sit in ld.so.conf dirs. Warning: a library in a dir ldconfig scans (from ld.so.conf, or "
     "one the cache lists) is missing from the cache. Fix: sudo ldconfig. Emits ok when all agree.",
     rule_libs_stale_ldcache, Repair::ldconfig},
    {"libs.empty_file", Severity::critical, "0-byte driver library files",
     "Any driver library file (libcuda, libnvidia-*: ml, ptxjitcompiler, fatbinaryloader, opencl, nvvm, cfg, "
     "allocator, gpucomp) of size 0 in a library dir; critical when the loader opens it or a SONAME link leads to it, "
     "else a warning.",
     rule_libs_empty_file},
    {"libs.not_elf", Severity::critical, "Driver library files that are not readable x86-64 ELF64 libraries",
     "Non-empty driver library files whose ELF header, program headers or dynamic section are invalid, truncated, "
     "32-bit or for another architecture; critical when the loader opens one, else a warning.",
     rule_libs_not_elf},
    {"libs.dangling_link", Severity::critical, "Driver library links that point to nothing or loop",
     "A libX.so* symlink whose target is missing or that loops (more than 40 links); critical for a SONAME link "
     "(libX.so.N), a warning for a development link (libX.so).",
     rule_libs_dangling_link},
    {"libs.version_mismatch", Severity::critical, "The loader opens driver libraries of another version than the kernel module",
     "Version suffix of the file dlopen() of each SONAME opens vs the loaded module's version. When every library is "
     "uniformly the version NVML reports, driver.version_mismatch reports it instead (upgrade without reboot).",
     rule_libs_version_mismatch},
    {"libs.multiple_versions", Severity::warning, "Driver libraries of several versions installed side by side",
     "More than one distinct version suffix among the driver library files (not links, not in a stubs dir) across "
     "all library dirs, 0-byte leftovers included.",
     rule_libs_multiple_versions},
    {"libs.stub_first", Severity::critical, "The CUDA toolkit's stub libcuda is found before the driver's",
     "The file dlopen(\"libcuda.so.1\") opens lies in a directory named stubs (critical; CUDA_ERROR_STUB_LIBRARY), or "
     "dlopen(\"libcuda.so\") does (warning), via LD_LIBRARY_PATH (live root) or the ld.so.conf order.",
     rule_libs_stub_first},
    {"libs.soname_mismatch", Severity::critical, "A driver library name leads to a library with another SONAME",
     "ELF DT_SONAME of the final file vs the name: a SONAME link libX.so.N must lead to SONAME libX.so.N (critical); "
     "a versioned file must carry its own family's SONAME (warning).",
     rule_libs_soname_mismatch},
    {"libs.world_writable_dir", Severity::warning, "A library dir the loader searches can be written by any user",
     "Each dir of LD_LIBRARY_PATH (live root), ld.so.conf and the default dirs: the dir itself world-writable, or "
     "an ancestor world-writable without the sticky bit. Says nothing when none is.",
     rule_libs_world_writable_dir},
    {"devnodes.missing", Severity::critical, "Missing /dev/nvidiactl, /dev/nvidia<N> or /dev/nvidia-uvm",
     "With the nvidia module loaded: /dev/nvidiactl and /dev/nvidia<minor> for every known minor must exist "
     "(critical); /dev/nvidia-uvm alone missing is a warning (CUDA fails, nvidia-smi works).",
     rule_devnodes_missing, Repair::devnodes},
    {"probe.problems", Severity::warning, "Inputs that could not be read or parsed, named",
     "Any probe that failed and any malformed or unreadable file under /proc, /sys or /run (and /etc/ld.so.conf "
     "lines, include loops, unreadable library dirs), with its path and what was wrong.",
     rule_probe_problems},
    {"thermal.hot", Severity::critical, "GPU temperature at or above its own slowdown/shutdown threshold",
     "Per GPU: NVML temperature >= the GPU's slowdown threshold (nvmlDeviceGetTemperatureThreshold SLOWDOWN) is a "
     "warning, >= its shutdown threshold is critical. No fixed number: each GPU model has its own thresholds.",
     rule_thermal_hot},
    {"thermal.throttled", Severity::critical, "Clocks held down by hardware or thermal slowdown",
     "Per GPU: clock-event reason bits HW slowdown (0x8), HW thermal slowdown (0x40) or HW power brake (0x80) are "
     "critical; SW thermal slowdown (0x20) is a warning. SW power cap (0x4), idle (0x1) and application-clock bits "
     "are normal operation and never reported.",
     rule_thermal_throttled},
    {"thermal.fan_stopped", Severity::warning, "Hot GPU whose fan reads 0 %",
     "Per GPU with a fan reading: fan speed 0 % while the temperature is >= 60 °C (a dead or disconnected fan). "
     "Passively cooled data-centre GPUs report no fan and are skipped.",
     rule_thermal_fan_stopped},
    {"pcie.link_degraded", Severity::warning, "PCIe link trained at fewer lanes than its maximum",
     "Per GPU on PCI: sysfs current_link_width < max_link_width. Link speed (GT/s) drops at idle are normal power "
     "saving and are deliberately not reported; a width of 0 (lost GPU) is left to gpu.fell_off_bus.",
     rule_pcie_link_degraded},
    {"gpu.recovery_action", Severity::critical, "The driver asks for a recovery action (NVML field 230, Xid 154)",
     "nvmlDeviceGetFieldValues(NVML_FI_DEV_GET_GPU_RECOVERY_ACTION = 230) per GPU (R570+ drivers; silent when not "
     "supported): 1 GPU reset, 2 node reboot, 4 drain and reset, 5 recover IMEX domain are critical, 3 drain P2P "
     "is a warning, 0 is ok. Xid 154 lines for the GPU are added as evidence.",
     rule_gpu_recovery_action, Repair::manual, model::Latch::hardware},
    {"memory.ecc", Severity::critical, "Uncorrectable ECC errors, pending or failed memory repairs",
     "Per GPU: volatile uncorrected ECC count > 0 or a row-remap failure is critical (failure = replace the card); "
     "remapped rows pending or retired pages pending is a warning (a GPU reset applies them).",
     rule_memory_ecc, Repair::manual, model::Latch::hardware},
    {"xid.fallen_off_bus", Severity::critical, "The kernel log says a GPU fell off the bus (Xid 79), per GPU",
     "Kernel log events inside the window (--since; default this boot and the previous one): Xid 79, and the "
     "messages without an Xid ('NVRM: The NVIDIA GPU <id> ... has fallen off the bus', 'NVRM: GPU <id>: GPU has "
     "fallen off the bus'). Critical in this boot; a warning when only earlier boots have it (the reboot reset the "
     "GPU; a recurrence points at power, cooling or seating). Evidence: the log lines with their boot.",
     rule_xid_fallen_off_bus, Repair::manual, model::Latch::hardware},
    {"xid.memory", Severity::critical, "Memory Xids (ECC, page retirement, row remapping), per GPU",
     "Xid 48 (double-bit ECC), 63/64 (retirement or remap recorded/failed), 92 (excessive single-bit), 94/95 "
     "(contained/uncontained), 140 (ECC escape). Severity and action from the Xid catalogue (docs/kernel-log.md); "
     "events of earlier boots are at most a warning, except 64 (remap failure: replace the card).",
     rule_xid_memory, Repair::manual, model::Latch::hardware},
    {"xid.gsp", Severity::critical, "GSP firmware Xids (119 RPC timeout, 120 error), per GPU",
     "Xid 119 or 120 in the window: critical in this boot (reset the GPU; nvidia-smi may hang until then), a warning "
     "for earlier boots.",
     rule_xid_gsp, Repair::manual, model::Latch::hardware},
    {"xid.nvlink", Severity::critical, "NVLink Xids (74, 136, 144-150, 155), per GPU",
     "NVLink error, link training failure, NVLink5 unit errors and software-defined NVLink errors: critical in this "
     "boot (reset the GPU, inspect the links with nvidia-smi nvlink -s / -e), a warning for earlier boots.",
     rule_xid_nvlink, Repair::manual, model::Latch::hardware},
    {"xid.critical", Severity::critical, "Other Xids that need a GPU reset or reboot, per GPU",
     "Any other Xid the catalogue rates critical (46, 61, 62, 110, 143, 154, 156, 158, ...): critical in this boot, a "
     "warning for earlier boots. With a readable kernel log and no Xid at all, an ok finding names the window, the "
     "source and the lines scanned.",
     rule_xid_critical, Repair::manual, model::Latch::hardware},
    {"xid.app_error", Severity::warning, "Xids that point at an application, or are informational, per GPU",
     "Xid 8, 13, 31, 32, 43, 45, 68, 109, 121, 157 and codes not in the catalogue: the application must be restarted "
     "or nothing is needed; repeats on one GPU across applications call for a DCGM diagnostic.",
     rule_xid_app_error, Repair::manual, model::Latch::transient},
    {"kernel_log.api_mismatch", Severity::critical, "The kernel module refused a client of another driver version",
     "'NVRM: API mismatch: the client has the version X, but this kernel module has the version Y' (both the old and "
     "the newer form naming the client, joined across lines): critical in this boot, a warning for earlier boots.",
     rule_kernel_log_api_mismatch},
    {"kernel_log.adapter_init_failed", Severity::critical, "The driver could not initialise a GPU (RmInitAdapter failed)",
     "'NVRM: GPU <id>: RmInitAdapter failed! (STAGE:STATUS:LINE)' (the stage and the NV_STATUS decoded), GSP "
     "firmware load and boot failures ('RmFetchGspRmImages: No firmware image found', 'unexpected WPR2 already up', "
     "...; placed on the GPU of the RmInitAdapter failure that follows) and probe failures (an invalid BAR, 'The "
     "NVIDIA probe routine failed', 'None of the NVIDIA devices were initialized') in the window, per GPU: critical "
     "in this boot, a warning for earlier boots. Usual causes: missing GSP firmware after a half upgrade, BARs not "
     "mapped, a GPU left in a bad state by an earlier run, a failing card.",
     rule_kernel_log_adapter_init_failed, Repair::manual, model::Latch::hardware},
    {"kernel_log.gpu_reset", Severity::critical, "The driver reported a GPU reset that is running, refused or failed",
     "The driver's reset and recovery messages in the window, per GPU: a full-chip reset in progress (calls wait: "
     "warning), a reset refused (FLR not supported: warning, reboot), a GPU not back on the bus after its reset or a "
     "failed removal (critical, reboot), 'The GPU likely needs to be reset' (critical, reset). Critical only in this "
     "boot.",
     rule_kernel_log_gpu_reset, Repair::manual, model::Latch::hardware},
    {"kernel_log.driver_stall", Severity::critical, "The kernel reported a task or CPU stuck inside the NVIDIA driver",
     "Hung-task ('INFO: task NAME:PID blocked for more than N seconds'), soft-lockup ('watchdog: BUG: soft lockup - "
     "CPU#N stuck for Ns! [NAME:PID]'), hard-lockup and RCU-stall reports in the window whose RIP or call-trace "
     "frames are in an [nvidia*] module (reports elsewhere are not the driver's and are left out), one finding per "
     "boot: critical in this boot, a warning for earlier ones. Tied to a GPU through an Xid naming the same pid or "
     "the devices the process holds now, and to an NVML hang in the same run.",
     rule_kernel_log_driver_stall, Repair::manual, model::Latch::hardware},
    {"driver.stuck_tasks", Severity::critical, "Processes stuck inside the NVIDIA driver now (D state, unkillable)",
     "From /proc/PID/{stat,wchan,stack,fd}: processes in uninterruptible sleep (D) whose kernel stack or wait channel "
     "is in an [nvidia*] module, or which hold a /dev/nvidia* node while in D. A process in D elsewhere (disk I/O) "
     "is not the driver's and is not reported. Evidence: pid, name, start time, wait channel, the driver frame, the "
     "devices and GPUs held, the kernel's hung-task report for the same pid, the other holders of those GPUs.",
     rule_driver_stuck_tasks},
    {"container.cli_failed", Severity::critical, "nvidia-container-cli info fails (its error mapped to a cause and fix)",
     "Runs `nvidia-container-cli info` (never -k) by argv under --timeout: on the live root when the toolkit is "
     "installed or configured, under --root only with --container-cli PATH; skipped when NVML hung. A non-zero exit "
     "or an `nvidia-container-cli: ...` error line is critical; the text maps to a cause: load library failed / "
     "failed to process request (stale linker cache, `ldconfig`), version mismatch (reboot), driver not loaded, "
     "insufficient permissions (SELinux), timed out (persistence), bpf_prog_query / device filters (rootless, "
     "no-cgroups), requirement error (driver too old for the image). ok names driver, CUDA version and GPU count.",
     rule_container_cli_failed},
    {"container.cli_hung", Severity::critical, "nvidia-container-cli info did not answer before the deadline",
     "The same run as container.cli_failed; killed with its process group at --timeout.", rule_container_cli_hung},
    {"container.config_invalid", Severity::warning,
     "Toolkit config.toml / Docker daemon.json / containerd config does not parse or names missing programs",
     "/etc/nvidia-container-runtime/config.toml and /etc/containerd/config.toml parsed as TOML (toml++), "
     "/etc/docker/daemon.json as JSON, errors named with line; a daemon.json runtime whose path is not installed, a "
     "default-runtime that is not among its runtimes, or a toolkit `ldconfig` that does not exist (\"@\" stripped).",
     rule_container_config_invalid},
    {"container.cdi_stale", Severity::warning, "A CDI spec mounts libraries of another driver version than the loaded one",
     "Every *.yaml/*.yml/*.json under /etc/cdi, /var/run/cdi, /run/cdi: the versions in its libcuda.so.X / "
     "libnvidia-*.so.X paths (first component >= 100) against /proc/driver/nvidia/version.",
     rule_container_cdi_stale},
    {"container.dev_char_links_missing", Severity::warning,
     "cgroup v2 + systemd cgroup driver without /dev/char links for the NVIDIA device nodes",
     "On the host (not inside a container), with /sys/fs/cgroup/cgroup.controllers, an NVIDIA runtime configured "
     "(toolkit config, daemon.json runtime, CDI spec or nvidia-container-cli) and the systemd cgroup driver "
     "(daemon.json exec-opts, containerd SystemdCgroup, kubelet cgroupDriver; Docker's default on cgroup v2 when "
     "none says): each present /dev/nvidia* node needs /dev/char/MAJ:MIN leading to it (195:N, 195:254, 195:255, "
     "nvidia-uvm's major from /proc/devices).",
     rule_container_dev_char_links, Repair::dev_char_links},
    {"container.nvml_blocked", Severity::critical,
     "Inside a container NVML fails with Unknown Error (999) or OPERATING_SYSTEM (17): device access lost",
     "gpudoctor runs inside a container (/.dockerenv, /run/.containerenv, a Kubernetes service account, or a "
     "container path in /proc/1/cgroup) and nvmlInit returned 999 or 17.",
     rule_container_nvml_blocked},
    {"container.inside", Severity::warning,
     "Running inside a container: the GPUs it was given, and its driver libraries against the host's module",
     "Inside a container only /proc/driver/nvidia/gpus lists the GPUs given to it (the PCI bus shows all the "
     "host's, and gpu.fell_off_bus ignores the others); warning when the driver libraries the container loads "
     "(libnvidia-ml.so.<version>) differ from the host's kernel module version.",
     rule_container_inside},
    {"history.write_failed", Severity::warning, "`watch` cannot write its history database (full or read-only disk)",
     "Only under `gpudoctor watch`: the latest write of samples and events to the history database failed (SQLite "
     "said the disk is full, the file or filesystem is read-only, or another error). Sampling, the rules and "
     "/metrics go on; the rows wait in memory (up to 200,000 samples) and are written when a write succeeds again, "
     "which clears the finding. Evidence: the database path, SQLite's error, the rows waiting.",
     rule_history_write_failed},
    {"ledger.latched", Severity::critical, "A hardware fault the health ledger holds until a repair is verified",
     "From the node's ledger (/var/lib/gpudoctor/ledger.json, written by watch, slurm-health, fix --yes and "
     "`gpudoctor ledger update`): every open entry of a hardware-latched problem (the `hardware` rows of this "
     "table), with its severity then, when and in which boot it was raised, the repairs seen since and, when a "
     "reboot cannot clear it (it came back), the escalation. Dropped where this check raises the same id on the "
     "same GPU from this boot's evidence (that finding speaks for itself): it is the table's last rule and reads the "
     "findings before it.",
     rule_ledger_latched},
};

constexpr std::pair<Repair, std::pair<std::string_view, std::string_view>> k_repairs[] = {
    {Repair::manual, {"manual", "lists the finding's fix steps; performs none of them"}},
    {Repair::persistence,
     {"persistence",
      "enables and starts nvidia-persistenced (with a drop-in removing --no-persistence-mode, restarting a daemon that "
      "runs without persistence); without a usable unit, sets persistence through NVML (lost at reboot)"}},
    {Repair::ldconfig, {"ldconfig", "rebuilds the dynamic linker cache: ldconfig (ldconfig -r ROOT under --root)"}},
    {Repair::devnodes, {"devnodes", "runs nvidia-modprobe -u -c=0 on the live node (listed only under --root)"}},
    {Repair::dev_char_links, {"dev_char_links", "creates the missing /dev/char/MAJ:MIN links to the NVIDIA device nodes"}},
};

}  // namespace

std::span<const RuleEntry> rule_table() { return k_rules; }

std::string_view repair_name(Repair r) {
  for (const auto& [e, t] : k_repairs)
    if (e == r) return t.first;
  return "?";
}

std::string_view repair_description(Repair r) {
  for (const auto& [e, t] : k_repairs)
    if (e == r) return t.second;
  return "?";
}

const RuleEntry* find_rule(std::string_view id) {
  for (const auto& r : k_rules)
    if (r.id == id) return &r;
  return nullptr;
}

namespace {

// Steps that act on the host's kernel, services or hardware: inside a
// container they cannot be done there, so they are addressed to the host.
bool host_only_step(std::string_view step) {
  for (std::string_view word : {"systemctl", "modprobe", "rmmod", "reboot", "Reboot", "update-initramfs", "dracut",
                                "dkms", "BIOS", "nvidia-smi -pm", "nvidia-smi -r", "mokutil", "reseat", "Reseat",
                                "nvidia-ctk system", "/etc/modprobe.d"})
    if (step.find(word) != std::string_view::npos) return true;
  return false;
}

void address_host_steps(model::Finding& f) {
  constexpr std::string_view k_prefix = "On the host (not inside this container): ";
  for (auto& step : f.fix)
    if (host_only_step(step) && !step.starts_with(k_prefix) && !step.starts_with("On the host"))
      step = std::string(k_prefix) + step;
}

}  // namespace

std::vector<model::Finding> evaluate(const RuleInput& in) {
  std::vector<model::Finding> out;
  for (const auto& r : k_rules) {
    std::size_t first = out.size();
    r.run(in, out);
    for (auto i = first; i < out.size(); ++i) out[i].id = std::string(r.id);
  }
  if (in.snap.container.inside)
    for (auto& f : out) address_host_steps(f);
  std::stable_sort(out.begin(), out.end(),
                   [](const model::Finding& a, const model::Finding& b) { return a.severity > b.severity; });
  return out;
}

int exit_code_for(const std::vector<model::Finding>& findings) {
  int worst = 0;
  for (const auto& f : findings) worst = std::max(worst, static_cast<int>(f.severity));
  return worst;
}

}  // namespace gd::rule
