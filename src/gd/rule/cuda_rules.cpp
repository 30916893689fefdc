// cuda.missing, cuda.init_failed, cuda.hung
#include <fmt/format.h>

#include "gd/model/cuda_result.hpp"
#include "gd/rule/facts.hpp"
#include "gd/rule/hang_causes.hpp"
#include "gd/rule/rule.hpp"

namespace gd::rule {

using model::CudaState;
using model::Finding;
using model::Severity;

namespace {

// "12.4" from cuDriverGetVersion's 12040.
std::string cuda_version_text(int v) { return fmt::format("{}.{}", v / 1000, (v % 1000) / 10); }

void add_library_evidence(const model::Snapshot& s, Finding& f) {
  const auto& lib = s.cuda.library;
  if (lib.path)
    f.evidence.push_back(fmt::format("library: {} (found via {}){}", *lib.path, lib.found_via,
                                     lib.resolved_path && *lib.resolved_path != *lib.path
                                         ? fmt::format(" -> {}", *lib.resolved_path)
                                         : std::string()));
  if (s.cuda.driver_version)
    f.evidence.push_back(fmt::format("cuDriverGetVersion: {} (CUDA {})", *s.cuda.driver_version,
                                     cuda_version_text(*s.cuda.driver_version)));
  if (!s.cuda.worker_stderr.empty()) f.evidence.push_back("library said: " + s.cuda.worker_stderr);
}

struct InitAdvice {
  model::CudaResult code;
  const char* cause;
  std::vector<std::string> fix;
  bool needs_reboot;
};

const InitAdvice* init_advice(int code) {
  static const InitAdvice k_advice[] = {
      {model::CudaResult::not_initialized,
       "cuInit failed without a more specific reason: most often nvidia_uvm is not loaded or /dev/nvidia-uvm is "
       "missing or not accessible. (In programs, the same code follows using CUDA in a fork() of a process that had "
       "initialised it.)",
       {"sudo nvidia-modprobe -u -c=0   (loads nvidia_uvm, creates /dev/nvidia-uvm)", "or: sudo modprobe nvidia_uvm",
        "Python multiprocessing: use the 'spawn' start method"},
       false},
      {model::CudaResult::stub_library,
       "The CUDA toolkit's stub libcuda.so (…/lib64/stubs, meant only for linking) is found before the driver's "
       "libcuda.so.1, through LD_LIBRARY_PATH or an ld.so.conf entry.",
       {"Remove the toolkit's stubs directory from LD_LIBRARY_PATH and from /etc/ld.so.conf.d/*.conf",
        "sudo ldconfig; then `ldconfig -p | grep libcuda.so.1` must name the driver's libcuda.so.<version>"},
       false},
      {model::CudaResult::runtime_insufficient_driver,
       "The installed driver is older than the CUDA runtime the program was built with (or libcudart found no "
       "libcuda at all).",
       {"Install a driver that supports the program's CUDA version (CUDA 11 needs >= 450, CUDA 12 >= 525)",
        "Or use a build of the program for an older CUDA; datacenter GPUs can also use the cuda-compat package"},
       false},
      {model::CudaResult::call_requires_newer_driver,
       "The program calls a CUDA function that this driver is too old to provide.",
       {"Upgrade the NVIDIA driver to one that supports the program's CUDA version"},
       false},
      {model::CudaResult::device_unavailable,
       "The GPU is in exclusive-process compute mode and another process holds it, or it is otherwise busy.",
       {"nvidia-smi -q -d COMPUTE   (check the compute mode)",
        "sudo nvidia-smi -c DEFAULT   (if exclusive mode is not "
        "intended)"},
       false},
      {model::CudaResult::no_device,
       "libcuda sees no usable GPU: device nodes missing or not permitted (a container started without --gpus / the "
       "NVIDIA runtime, cgroup device rules), or CUDA_VISIBLE_DEVICES empty or naming no existing GPU.",
       {"ls -l /dev/nvidia*   (nvidiactl, nvidia<N> and nvidia-uvm must exist and be readable)",
        "Check CUDA_VISIBLE_DEVICES (unset it, or list valid indices/UUIDs)",
        "Containers: run with --gpus all (Docker) or the NVIDIA container runtime"},
       false},
      {model::CudaResult::system_not_ready,
       "An NVSwitch system (HGX/DGX A100, H100, H200, B200) whose NVLink fabric is not initialised: "
       "nvidia-fabricmanager is not running, failed, or its version differs from the driver's.",
       {"sudo systemctl enable --now nvidia-fabricmanager",
        "If it fails: journalctl -u nvidia-fabricmanager; install the fabricmanager package of exactly the driver's "
        "version",
        "nvidia-smi -q | grep -A2 Fabric   (State must be Completed)"},
       false},
      {model::CudaResult::system_driver_mismatch,
       "The libcuda loaded comes from a different driver version than the loaded kernel module: the driver was "
       "upgraded without a reboot, or a forward-compatible libcuda (cuda-compat) is found on a node whose kernel "
       "module it does not support.",
       {"Driver upgraded: reboot the node (loads the matching kernel module)",
        "cuda-compat: remove its directory (e.g. /usr/local/cuda/compat) from LD_LIBRARY_PATH and "
        "/etc/ld.so.conf.d, then sudo ldconfig"},
       true},
      {model::CudaResult::compat_not_supported_on_device,
       "A forward-compatible libcuda (cuda-compat package, or a container image's compat directory) is used on a GPU "
       "that does not support forward compatibility (only datacenter GPUs do; not GeForce/RTX).",
       {"Remove the cuda-compat directory from LD_LIBRARY_PATH and /etc/ld.so.conf.d, then sudo ldconfig",
        "Install a driver that supports the program's CUDA version natively"},
       false},
      {model::CudaResult::unknown,
       "CUDA failed without a specific reason; typically nvidia_uvm state lost after suspend/resume, or "
       "/dev/nvidia-uvm missing, while nvidia-smi still works.",
       {"With no GPU process running: sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm",
        "Or reboot the node; check the kernel log for NVRM/Xid lines: sudo dmesg -T | grep -i nvrm"},
       false},
  };
  for (const auto& a : k_advice)
    if (model::code(a.code) == code) return &a;
  return nullptr;
}

// NVML answered but for fewer GPUs than the PCI bus holds.
bool driver_lost_gpus(const model::Snapshot& s) {
  return nvml_answered(s) && s.nvml.device_count.value_or(0) < s.pci.gpus.size();
}

void add_code_evidence(const model::Snapshot& s, int code, Finding& f) {
  const auto& c = s.cuda;
  std::string text = c.init_error_text ? fmt::format(": \"{}\"", *c.init_error_text) : std::string();
  f.evidence.push_back(
      fmt::format("cuInit(0) returned {} {}{}", code, c.init_error_name.value_or(model::cuda_result_name(code)), text));
  if (code == 802 && s.pci.other_nvidia_functions > 0)
    f.evidence.push_back(fmt::format("{} other NVIDIA PCI function(s) beside the GPUs (NVSwitches on HGX boards)",
                                     s.pci.other_nvidia_functions));
  if (code == 803 && s.driver.kernel_version)
    f.evidence.push_back(fmt::format("kernel module {}, libcuda file version {}", *s.driver.kernel_version,
                                     c.library.file_version.value_or("unknown")));
  if ((code == model::code(model::CudaResult::no_device) || code == model::code(model::CudaResult::not_initialized)) &&
      c.visible_devices)
    f.evidence.push_back(fmt::format("CUDA_VISIBLE_DEVICES={}", *c.visible_devices));
}

Finding init_failure(const model::Snapshot& s, int code) {
  Finding f;
  f.severity = Severity::critical;
  f.summary = fmt::format("CUDA failed to initialise: cuInit returned {} — {}", model::cuda_result_label(code),
                          model::cuda_result_meaning(code));
  add_code_evidence(s, code, f);
  add_library_evidence(s, f);
  if (code == 100 && driver_lost_gpus(s)) {
    f.cause =
        "The driver has lost GPUs that are on the PCI bus (see gpu.fell_off_bus), so CUDA finds none it can "
        "use: what programs report as 'no CUDA-capable device is detected'.";
    f.fix = {"Follow gpu.fell_off_bus: check the kernel log for Xid 79, then reboot the node"};
    f.needs_reboot = true;
  } else if (const auto* a = init_advice(code)) {
    f.cause = a->cause;
    f.fix = a->fix;
    f.needs_reboot = a->needs_reboot;
  } else {
    f.cause = std::string(model::cuda_result_meaning(code));
    f.fix = {"Check the kernel log for NVRM lines: sudo dmesg -T | grep -i nvrm"};
  }
  f.needs_root = code != 34 && code != 35 && code != 36;
  return f;
}

Finding worker_crash(const model::Snapshot& s) {
  Finding f;
  f.severity = Severity::critical;
  f.summary = "libcuda crashed the process that initialised it";
  f.evidence.push_back(s.cuda.load_error);
  if (s.cuda.hung_call)
    f.evidence.push_back(fmt::format("last call: {}{}", *s.cuda.hung_call,
                                     s.cuda.hung_device ? fmt::format(" on device {}", *s.cuda.hung_device) : ""));
  add_library_evidence(s, f);
  f.cause = "A broken or mismatched libcuda (truncated file, libraries of several driver versions) or a driver fault.";
  f.fix = {"sudo ldconfig", "Reinstall the driver's user-space libraries matching the kernel module"};
  f.needs_root = true;
  return f;
}

}  // namespace

void rule_cuda_missing(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (s.cuda.state != CudaState::library_missing || !s.driver.nvidia_loaded) return;
  Finding f;
  f.severity = Severity::critical;
  f.summary =
      "libcuda.so.1 cannot be loaded: every CUDA program fails ('CUDA driver version is insufficient for "
      "CUDA runtime version', cudaErrorInsufficientDriver 35)";
  f.evidence.push_back(s.cuda.load_error);
  add_library_evidence(s, f);
  f.cause =
      "The driver's libcuda is not installed, not in the linker's search path, a 0-byte or truncated file, or "
      "the linker cache is stale (common in containers whose driver libraries were mounted for another driver "
      "version).";
  f.fix = {"sudo ldconfig (refresh the linker cache)",
           "If still missing: install the driver's CUDA user-space package (e.g. libnvidia-compute-<branch>) matching "
           "the kernel module",
           "Containers: start them with --gpus all / the NVIDIA runtime so the host's libcuda is mounted"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_cuda_init_failed(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  const auto& c = s.cuda;
  if (c.state == CudaState::worker_failed) {
    out.push_back(worker_crash(s));
    return;
  }
  // No driver or no GPU: driver.not_loaded / gpu.none say it with more evidence.
  if (!s.driver.nvidia_loaded || no_nvidia_gpu(s)) return;
  if (c.state == CudaState::init_failed && c.init_return) {
    out.push_back(init_failure(s, *c.init_return));
    return;
  }
  if (c.state != CudaState::ok) return;
  if (c.count_return.value_or(0) != 0 || c.device_count.value_or(0) == 0) {
    Finding f = init_failure(s, c.count_return.value_or(0) != 0 ? *c.count_return : 100);
    f.summary = fmt::format("cuInit succeeded but CUDA sees no GPU (cuDeviceGetCount returned {}, count {})",
                            c.count_return.value_or(-1), c.device_count.value_or(0));
    out.push_back(std::move(f));
    return;
  }
  Finding f;
  f.summary = fmt::format("CUDA initialises: driver API {}, {} device(s), cuInit took {}",
                          c.driver_version ? cuda_version_text(*c.driver_version) : "version unknown", *c.device_count,
                          format_ms(c.init_ms.value_or(0)));
  out.push_back(std::move(f));
}

void rule_cuda_hung(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (s.cuda.state != CudaState::hung) return;
  HangReport h{"CUDA", s.cuda.timeout_s, s.cuda.hung_call.value_or("a CUDA call"),
               s.cuda.hung_device ? fmt::format(" on device {}", *s.cuda.hung_device) : std::string(),
               s.cuda.elapsed_ms, std::nullopt,
               "every CUDA program will hang in the same call (an NVSwitch system whose fabric is still coming up "
               "hangs there too)."};
  Finding f = hang_finding(s, h);
  add_library_evidence(s, f);
  f.fix.insert(f.fix.end() - 1, "NVSwitch systems: systemctl status nvidia-fabricmanager");
  out.push_back(std::move(f));
}

}  // namespace gd::rule
