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
     "per-process init/teardown pattern (recover by reboot, then enable nvidia-persistenced).",
     rule_gpu_fell_off_bus},
    {"gpu.count", Severity::critical, "GPU count differs from --expect-gpus N",
     "Only with --expect-gpus N: critical unless both the PCI bus and NVML show exactly N GPUs.", rule_gpu_count},
    {"nvml.missing", Severity::critical, "libnvidia-ml.so.1 cannot be found or loaded",
     "libnvidia-ml.so.1 looked up as the dynamic loader would (LD_LIBRARY_PATH on the live root, /etc/ld.so.cache, "
     "default dirs) inside --root, or --nvml; fires when it is absent or dlopen fails and NVIDIA GPUs are present.",
     rule_nvml_missing},
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
    {"persistence.off", Severity::warning, "Persistence mode off and no nvidia-persistenced keeping it on",
     "Any GPU whose nvmlDeviceGetPersistenceMode is Disabled, or no live nvidia-persistenced (pid file + "
     "/proc/<pid>/comm) when NVML cannot tell; cites the measured nvmlInit time (>= 1 s means a cold start).",
     rule_persistence_off},
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
    {"devnodes.missing", Severity::critical, "Missing /dev/nvidiactl, /dev/nvidia<N> or /dev/nvidia-uvm",
     "With the nvidia module loaded: /dev/nvidiactl and /dev/nvidia<minor> for every known minor must exist "
     "(critical); /dev/nvidia-uvm alone missing is a warning (CUDA fails, nvidia-smi works).",
     rule_devnodes_missing},
    {"probe.problems", Severity::warning, "Inputs that could not be read or parsed, named",
     "Any probe that failed and any malformed or unreadable file under /proc, /sys or /run, with its path and what "
     "was wrong.",
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
    {"memory.ecc", Severity::critical, "Uncorrectable ECC errors, pending or failed memory repairs",
     "Per GPU: volatile uncorrected ECC count > 0 or a row-remap failure is critical (failure = replace the card); "
     "remapped rows pending or retired pages pending is a warning (a GPU reset applies them).",
     rule_memory_ecc},
};

}  // namespace

std::span<const RuleEntry> rule_table() { return k_rules; }

std::vector<model::Finding> evaluate(const RuleInput& in) {
  std::vector<model::Finding> out;
  for (const auto& r : k_rules) r.run(in, out);
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
