// nvml.missing, nvml.hung, nvml.init_failed, nvml.worker_failed
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gd/model/nvml_return.hpp"
#include "gd/rule/facts.hpp"
#include "gd/rule/hang_causes.hpp"
#include "gd/rule/rule.hpp"

namespace gd::rule {

using model::Finding;
using model::NvmlState;
using model::Severity;

namespace {

void add_library_evidence(const model::Snapshot& s, Finding& f) {
  const auto& lib = s.nvml.library;
  if (lib.path)
    f.evidence.push_back(fmt::format("library: {} (found via {}){}", *lib.path, lib.found_via,
                                     lib.resolved_path && *lib.resolved_path != *lib.path
                                         ? fmt::format(" -> {}", *lib.resolved_path)
                                         : std::string()));
  if (!s.nvml.worker_stderr.empty()) f.evidence.push_back("library said: " + s.nvml.worker_stderr);
}

struct InitAdvice {
  model::NvmlReturn code;
  const char* cause;
  std::vector<std::string> fix;
  bool needs_reboot;
};

const InitAdvice* init_advice(int code) {
  static const InitAdvice k_advice[] = {
      // Reached only with the nvidia module loaded (else driver.not_loaded speaks): the real library
      // returns 9 when opening /dev/nvidiactl fails, so the device nodes or the access to them are at fault.
      {model::NvmlReturn::driver_not_loaded,
       "The nvidia kernel module is loaded, yet NVML could not reach it: libnvidia-ml returns DRIVER_NOT_LOADED when "
       "opening /dev/nvidiactl fails — the node is missing or not a character device, its mode denies this user, or "
       "a container's or cgroup's device rules block it.",
       {"ls -l /dev/nvidiactl /dev/nvidia[0-9]*   (crw-rw-rw- root root, major 195)",
        "Create missing nodes: sudo nvidia-modprobe -c=0 -u",
        "In a container: give it the devices (docker run --gpus all / the NVIDIA runtime); on the host, check the "
        "cgroup device rules (systemd DeviceAllow=) of the service that runs the program"},
       false},
      {model::NvmlReturn::lib_rm_version_mismatch,
       "The user-space driver libraries were replaced (driver upgrade or reinstall) while the old kernel module "
       "stayed loaded.",
       {"Reboot the node (simplest)",
        "Or, with no GPU process running: sudo systemctl stop nvidia-persistenced; "
        "sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia; sudo modprobe nvidia"},
       true},
      {model::NvmlReturn::no_permission, "This user may not open the GPU device nodes (modes of /dev/nvidia*, or container/cgroup device rules).",
       {"Run gpudoctor as root, or check the modes of /dev/nvidia* and the container's device access"},
       false},
      {model::NvmlReturn::library_not_found, "NVML could not load a library it needs.",
       {"Reinstall the NVIDIA driver's user-space libraries, then run sudo ldconfig"}, false},
      {model::NvmlReturn::function_not_found, "The loaded libnvidia-ml lacks a function: stale symlinks or libraries from several driver versions.",
       {"sudo ldconfig", "Remove leftover libraries of other driver versions"}, false},
      {model::NvmlReturn::unknown,
       "NVML failed without a specific reason. Inside containers this is often lost device access after "
       "`systemctl daemon-reload` (cgroup v2 with the systemd driver).",
       {"Check the kernel log for NVRM lines", "In a container: restart the container; see gpudoctor's container checks"},
       false},
  };
  for (const auto& a : k_advice)
    if (model::code(a.code) == code) return &a;
  return nullptr;
}

}  // namespace

void rule_nvml_missing(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (s.nvml.state != NvmlState::library_missing || !s.driver.nvidia_loaded) return;
  Finding f;
  f.severity = Severity::critical;
  f.summary = "libnvidia-ml.so.1 cannot be loaded: the driver's user-space libraries are missing or broken";
  f.evidence.push_back(s.nvml.load_error);
  add_library_evidence(s, f);
  f.cause = "The NVIDIA driver's user-space part is not installed, not in the linker's search path, or the linker "
            "cache is stale. CUDA programs and nvidia-smi fail the same way.";
  f.fix = {"sudo ldconfig (refresh the linker cache)",
           "If still missing: reinstall the user-space driver package matching the kernel module's version"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

// --no-tree-libs refused the tree's libnvidia-ml.so.1: everything NVML would have told is unknown, so the
// node is not healthy on this evidence.
void rule_nvml_not_loaded(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (s.nvml.state != NvmlState::not_run || s.nvml.library.not_loaded.empty()) return;
  Finding f;
  f.severity = Severity::warning;
  f.summary = "NVML not consulted (--no-tree-libs): the GPUs' own state (lost, hung, temperatures, ECC, ...) is "
              "not judged";
  f.evidence.push_back(s.nvml.library.not_loaded);
  if (!s.cuda.library.not_loaded.empty()) f.evidence.push_back(s.cuda.library.not_loaded);
  f.cause = "--no-tree-libs keeps gpudoctor from loading the tree's driver libraries; only what the files of the "
            "tree show was judged.";
  f.fix = {"Run gpudoctor check on the node itself, or pass --nvml with a libnvidia-ml.so.1 you trust"};
  out.push_back(std::move(f));
}

namespace {

// "GPU 0000:b1:00.0 (index 2)", or "GPU index 2" when NVML had not told its bus id.
std::string hung_gpu_text(const model::NvmlInfo& n) {
  if (!n.hung_gpu) return "";
  return n.hung_bus_id ? fmt::format(" on GPU {} (index {})", *n.hung_bus_id, *n.hung_gpu)
                       : fmt::format(" on GPU index {}", *n.hung_gpu);
}

// The GPUs NVML counted but never reported because the hang stopped the walk.
std::optional<std::string> unchecked_text(const model::Snapshot& s) {
  unsigned count = s.nvml.device_count.value_or(0);
  unsigned first = s.nvml.hung_gpu ? *s.nvml.hung_gpu + 1 : static_cast<unsigned>(s.nvml.gpus.size());
  if (!s.nvml.device_count || first >= count) return std::nullopt;
  std::vector<std::string> indices;
  for (unsigned i = first; i < count; ++i) indices.push_back(std::to_string(i));
  std::set<std::string> reported(s.nvml.hung_bus_id ? std::set<std::string>{*s.nvml.hung_bus_id} : std::set<std::string>{});
  for (const auto& g : s.nvml.gpus)
    if (g.bus_id) reported.insert(*g.bus_id);
  std::vector<std::string> on_pci;
  for (const auto& g : s.pci.gpus)
    if (!reported.count(g.bus_id) && (g.driver == "nvidia" || g.driver.empty())) on_pci.push_back(g.bus_id);
  return fmt::format("left unchecked because of the hang: GPU index {} of {}{}", fmt::join(indices, ", "), count,
                     on_pci.empty() ? std::string()
                                    : fmt::format(" (on PCI and not reached: {})", fmt::join(on_pci, ", ")));
}

}  // namespace

void rule_nvml_hung(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (s.nvml.state != NvmlState::hung) return;
  HangReport h{"NVML", s.nvml.timeout_s, s.nvml.hung_call.value_or("an NVML call"), hung_gpu_text(s.nvml),
               s.nvml.elapsed_ms, s.nvml.hung_bus_id,
               "nvidia-smi and every CUDA program will hang the same way."};
  Finding f = hang_finding(s, h);
  auto at = f.evidence.begin() + 1;  // after "worker killed after ..."
  if (auto u = unchecked_text(s)) at = f.evidence.insert(at, *u) + 1;
  if (auto e = init_time_evidence(s)) f.evidence.insert(at, *e);
  add_library_evidence(s, f);
  out.push_back(std::move(f));
}

void rule_nvml_init_failed(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (s.nvml.state != NvmlState::init_failed || !s.nvml.init_return) return;
  int code = *s.nvml.init_return;
  // No driver and no GPU: gpu.none / driver.not_loaded say it better.
  // Driver not loaded: driver.not_loaded (or gpu.none) says it with more evidence.
  if (code == model::code(model::NvmlReturn::driver_not_loaded) && !s.driver.nvidia_loaded) return;
  Finding f;
  f.severity = Severity::critical;
  f.summary = fmt::format("NVML failed to initialise: {} — {}", model::nvml_return_label(code),
                          model::nvml_return_meaning(code));
  f.evidence.push_back(fmt::format("nvmlInit returned {}", model::nvml_return_name(code)));
  if (code == model::code(model::NvmlReturn::driver_not_loaded)) {
    f.evidence.push_back("/proc/modules: nvidia is loaded");
    for (const auto& n : s.devnodes.nodes)
      if (n.path == "/dev/nvidiactl")
        f.evidence.push_back(n.present ? (n.char_device ? "/dev/nvidiactl: a character device"
                                                         : "/dev/nvidiactl: exists but is not a character device")
                                       : "/dev/nvidiactl: does not exist");
  }
  if (auto e = init_time_evidence(s)) f.evidence.push_back(*e);
  add_library_evidence(s, f);
  if (const auto* a = init_advice(code)) {
    f.cause = a->cause;
    f.fix = a->fix;
    f.needs_reboot = a->needs_reboot;
  } else {
    f.cause = std::string(model::nvml_return_meaning(code));
    f.fix = {"Check the kernel log for NVRM lines: sudo dmesg -T | grep NVRM"};
  }
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_nvml_worker_failed(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (s.nvml.state != NvmlState::worker_failed) return;
  Finding f;
  f.severity = Severity::critical;
  // SIGKILL is not the library's doing (the OOM killer, an operator): say what is known, not a crash.
  bool killed = s.nvml.load_error.find("killed by signal 9 ") != std::string::npos;
  f.summary = killed ? "The process that queried NVML was killed (SIGKILL: the out-of-memory killer or a person)"
                     : "The NVML library crashed the process that queried it";
  f.evidence.push_back(s.nvml.load_error);
  if (s.nvml.hung_call)
    f.evidence.push_back(fmt::format("last call: {}{}", *s.nvml.hung_call,
                                     s.nvml.hung_gpu ? fmt::format(" on GPU index {}", *s.nvml.hung_gpu) : ""));
  add_library_evidence(s, f);
  f.cause = killed ? "Something outside gpudoctor ended the worker; if it repeats, look for the OOM killer in the "
                     "kernel log (\"Out of memory: Killed process\")."
                   : "A broken or mismatched libnvidia-ml (0-byte or truncated file, mixed driver versions) or a "
                     "driver fault.";
  f.fix = {"sudo ldconfig", "Reinstall the driver's user-space libraries matching the kernel module"};
  if (killed) f.fix = {"journalctl -k | grep -i 'out of memory' (was it the OOM killer?)"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

}  // namespace gd::rule
