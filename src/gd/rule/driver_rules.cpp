// driver.version_mismatch, driver.not_loaded, driver.nouveau, persistence.off,
// devnodes.missing, probe.problems
#include <algorithm>

#include <fmt/format.h>

#include "gd/model/nvml_return.hpp"
#include "gd/rule/facts.hpp"
#include "gd/rule/rule.hpp"

namespace gd::rule {

using model::Finding;
using model::Severity;

namespace {

std::vector<std::string> nouveau_gpus(const model::Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& g : s.pci.gpus)
    if (g.driver == "nouveau") out.push_back(g.bus_id);
  return out;
}

}  // namespace

void rule_driver_version_mismatch(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  auto user = user_space_version(s);
  bool rm_mismatch = model::is(s.nvml.init_return, model::NvmlReturn::lib_rm_version_mismatch);
  bool versions_differ = user && s.driver.kernel_version && *user != *s.driver.kernel_version;
  if (!s.driver.kernel_version && !rm_mismatch) return;
  Finding f;
  if (!rm_mismatch && !versions_differ) {
    if (!user) return;  // nothing to compare
    f.summary = fmt::format("Kernel module and user-space libraries are both {}", *user);
    out.push_back(std::move(f));
    return;
  }
  f.severity = Severity::critical;
  f.summary = fmt::format("Driver/library version mismatch: kernel module {} is loaded, user space is {}",
                          s.driver.kernel_version.value_or("unknown"), user.value_or("a different version"));
  if (s.driver.version_line) f.evidence.push_back("/proc/driver/nvidia/version: " + *s.driver.version_line);
  if (s.nvml.library.resolved_path)
    f.evidence.push_back(fmt::format("{} -> {}", s.nvml.library.path.value_or(""), *s.nvml.library.resolved_path));
  if (rm_mismatch) f.evidence.push_back("nvmlInit returned NVML_ERROR_LIB_RM_VERSION_MISMATCH (18)");
  if (!s.nvml.library.file_version && s.nvml.nvml_version)
    f.evidence.push_back(fmt::format("the library's file name carries no version; it reports NVML {} itself",
                                     *s.nvml.nvml_version));
  f.cause = "The driver was upgraded or reinstalled without a reboot: new user-space libraries, old kernel module "
            "still loaded. nvidia-smi says 'Failed to initialize NVML: Driver/library version mismatch'.";
  f.fix = {"Reboot the node (loads the new kernel module)",
           "Or, when no process holds the GPUs: sudo systemctl stop nvidia-persistenced; "
           "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia; sudo modprobe nvidia; "
           "sudo systemctl start nvidia-persistenced",
           "Prevent a repeat: hold the driver packages (apt-mark hold) so unattended upgrades cannot swap them"};
  f.needs_root = true;
  f.needs_reboot = true;
  out.push_back(std::move(f));
}

void rule_driver_not_loaded(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (!has_pci_gpus(s) || s.driver.nvidia_loaded || !nouveau_gpus(s).empty()) return;
  Finding f;
  f.severity = Severity::critical;
  f.summary = fmt::format("The NVIDIA kernel driver is not loaded; {} GPU(s) on the PCI bus are unusable",
                          s.pci.gpus.size());
  f.evidence.push_back("/proc/modules: no 'nvidia' module");
  f.evidence.push_back("/proc/driver/nvidia: absent");
  if (s.nvml.init_return) f.evidence.push_back(fmt::format("nvmlInit returned {}", *s.nvml.init_return));
  f.cause = "The module was never loaded, failed to load (not built for the running kernel by DKMS, rejected by "
            "Secure Boot), or is blacklisted.";
  f.fix = {"sudo modprobe nvidia", "If it fails: dkms status; build for this kernel: sudo dkms autoinstall",
           "Secure Boot: sign the module (mokutil) or disable Secure Boot"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_driver_nouveau(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  auto bound = nouveau_gpus(s);
  if (bound.empty() && !(s.driver.nouveau_loaded && has_pci_gpus(s))) return;
  Finding f;
  f.severity = Severity::critical;
  f.summary = bound.empty() ? "The nouveau driver is loaded beside NVIDIA GPUs"
                            : fmt::format("The nouveau driver owns {} GPU(s): {}", bound.size(), fmt::join(bound, ", "));
  if (s.driver.nouveau_loaded) f.evidence.push_back("/proc/modules: nouveau is loaded");
  for (const auto& b : bound) f.evidence.push_back(fmt::format("/sys/bus/pci/devices/{}/driver -> nouveau", b));
  f.cause = "The open-source nouveau driver claimed the GPUs first, so the NVIDIA driver cannot probe them.";
  f.fix = {"printf 'blacklist nouveau\\noptions nouveau modeset=0\\n' | sudo tee /etc/modprobe.d/blacklist-nouveau.conf",
           "sudo update-initramfs -u   (dracut -f on RHEL-like systems)", "sudo reboot"};
  f.needs_root = true;
  f.needs_reboot = true;
  out.push_back(std::move(f));
}

void rule_persistence_off(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (no_nvidia_gpu(s) || !s.driver.nvidia_loaded) return;
  std::vector<std::string> off, on;
  for (const auto& g : s.nvml.gpus) {
    if (!g.persistence_mode) continue;
    (*g.persistence_mode ? on : off).push_back(g.bus_id.value_or(fmt::format("index {}", g.index)));
  }
  bool daemon = persistenced_running(s);
  // Inside a container the host's daemon is invisible; only NVML can tell.
  if (off.empty() && on.empty() && s.container.inside) return;
  Finding f;
  if (off.empty() && on.empty() && daemon) {
    f.summary = "nvidia-persistenced is running (persistence mode could not be read from NVML)";
    out.push_back(std::move(f));
    return;
  }
  if (off.empty() && !on.empty()) {
    f.summary = fmt::format("Persistence mode is on for {} GPU(s){}", on.size(),
                            daemon ? " (nvidia-persistenced running)" : "");
    out.push_back(std::move(f));
    return;
  }
  f.severity = Severity::warning;
  if (!off.empty())
    f.summary = fmt::format("Persistence mode is off on {} of {} GPU(s){}", off.size(), off.size() + on.size(),
                            daemon ? " although nvidia-persistenced runs" : " and nvidia-persistenced is not running");
  else
    f.summary = "nvidia-persistenced is not running (persistence mode could not be read from NVML)";
  if (!off.empty()) f.evidence.push_back(fmt::format("persistence mode Disabled on: {}", fmt::join(off, ", ")));
  f.evidence.push_back(daemon ? fmt::format("nvidia-persistenced runs as pid {}", s.persistenced.pid.value_or(0))
                              : std::string("/run/nvidia-persistenced/nvidia-persistenced.pid: no live daemon"));
  if (auto e = init_time_evidence(s)) f.evidence.push_back(*e);
  f.cause = "Without persistence the driver tears GPU state down when the last client exits and initialises it again "
            "for the next one (1-3 s per GPU). Many short GPU processes then pay that cost each time and can wedge "
            "the GPUs until reboot.";
  if (daemon)
    f.fix = {"The daemon runs without persistence (started with --no-persistence-mode?): remove that flag with a "
             "drop-in (systemctl edit nvidia-persistenced) and restart it",
             "Or: sudo nvidia-smi -pm 1 (lost at reboot)"};
  else
    f.fix = {"sudo systemctl enable --now nvidia-persistenced",
             "Or, until the next reboot only: sudo nvidia-smi -pm 1"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_devnodes_missing(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (!s.driver.nvidia_loaded) return;
  std::vector<std::string> missing;
  bool only_uvm = true;
  for (const auto& n : s.devnodes.nodes) {
    if (n.present || n.path == "/dev/nvidia-uvm-tools") continue;
    missing.push_back(n.path);
    if (n.path != "/dev/nvidia-uvm") only_uvm = false;
  }
  Finding f;
  if (missing.empty()) {
    f.summary = fmt::format("Device nodes present ({} checked)", s.devnodes.nodes.size());
    out.push_back(std::move(f));
    return;
  }
  f.severity = only_uvm ? Severity::warning : Severity::critical;
  f.summary = fmt::format("Missing GPU device node(s): {}", fmt::join(missing, ", "));
  for (const auto& m : missing) f.evidence.push_back(m + ": does not exist");
  if (only_uvm && !s.driver.nvidia_uvm_loaded) f.evidence.push_back("/proc/modules: nvidia_uvm is not loaded");
  f.cause = only_uvm ? "nvidia_uvm is not loaded or its node was never created; CUDA programs fail (cuInit error) "
                       "while nvidia-smi works."
                     : "The device nodes were not created (no udev rule or nvidia-modprobe run after the module "
                       "loaded), so no program can open the GPUs.";
  f.fix = {"sudo nvidia-modprobe -u -c=0   (creates /dev/nvidia-uvm and /dev/nvidia0..)",
           "or: sudo modprobe nvidia_uvm"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

constexpr std::size_t k_max_unread_listed = 16;

void rule_probe_problems(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  std::vector<std::string> ev;
  for (const auto& p : s.probes)  // NVML and CUDA have findings of their own (nvml.hung, cuda.init_failed, ...)
    if (!p.ok && p.name != "nvml" && p.name != "cuda") ev.push_back(fmt::format("probe {} failed: {}", p.name, p.error));
  for (const auto& g : s.pci.gpus)
    for (const auto& p : g.problems) ev.push_back(p);
  for (const auto& p : s.driver.problems) ev.push_back(p);
  for (const auto& p : s.persistenced.problems) ev.push_back(p);
  for (const auto& p : s.kernel_log.problems) ev.push_back(p);
  for (const auto& p : s.libs.problems) ev.push_back(p);
  for (const auto& p : s.state.problems) ev.push_back(p);
  for (const auto& p : in.input_problems) ev.push_back(p);
  // NVML queries that failed on a GPU that answers otherwise: a value the rules then do not have. (A lost
  // GPU is gpu.fell_off_bus; a feature the GPU lacks is no problem.)
  std::size_t unread = 0;
  for (const auto& [call, code] : s.nvml.system_call_errors)
    if (!model::is_absent_feature(code) && ++unread <= k_max_unread_listed)
      ev.push_back(fmt::format("NVML {} failed: {}: that reading is missing", call, model::nvml_return_label(code)));
  for (const auto& g : s.nvml.gpus) {
    if (g.handle_return != 0) continue;
    for (const auto& [call, code] : g.call_errors) {
      if (model::is_lost(code) || model::is_absent_feature(code)) continue;
      if (++unread <= k_max_unread_listed)
        ev.push_back(fmt::format("NVML {} on GPU {} ({}) failed: {}: that reading is missing", call, g.index,
                                 g.bus_id.value_or("?"), model::nvml_return_label(code)));
    }
  }
  if (unread > k_max_unread_listed)
    ev.push_back(fmt::format("... and {} more failed NVML queries", unread - k_max_unread_listed));
  if (ev.empty()) return;
  Finding f;
  f.severity = Severity::warning;
  f.summary = fmt::format("{} input(s) could not be read or parsed; findings that need them may be incomplete",
                          ev.size());
  f.evidence = std::move(ev);
  f.cause = "Truncated or malformed files under /proc or /sys, a probe that failed, or NVML queries that failed "
            "on a GPU that otherwise answers (a driver in trouble, or a permission the caller lacks).";
  f.fix = {"Inspect the named files; rerun gpudoctor check"};
  if (unread) f.fix.emplace_back("Failed NVML queries: rerun as root; if they keep failing, look at the kernel log "
                                 "(gpudoctor xid) and the GPU named");
  out.push_back(std::move(f));
}

}  // namespace gd::rule
