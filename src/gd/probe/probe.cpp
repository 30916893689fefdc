#include "gd/probe/probe.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <exception>
#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gd/probe/container.hpp"
#include "gd/probe/cuda_probe.hpp"
#include "gd/probe/devnodes.hpp"
#include "gd/probe/driver.hpp"
#include "gd/probe/kernel_log.hpp"
#include "gd/probe/libs.hpp"
#include "gd/probe/nvml_probe.hpp"
#include "gd/probe/pci.hpp"
#include "gd/probe/persistenced.hpp"
#include "gd/probe/processes.hpp"
#include "gd/probe/state.hpp"

namespace gd::probe {

namespace {

void run_pci(const ProbeContext& c, model::Snapshot& s) { s.pci = read_pci(c.root); }
void run_driver(const ProbeContext& c, model::Snapshot& s) { s.driver = read_driver(c.root); }
void run_nvml(const ProbeContext& c, model::Snapshot& s) { s.nvml = read_nvml(c.root, c.options); }
void run_cuda(const ProbeContext& c, model::Snapshot& s) { s.cuda = read_cuda(c.root, c.options, s.nvml); }
void run_persistenced(const ProbeContext& c, model::Snapshot& s) { s.persistenced = read_persistenced(c.root); }

// Every process's open files are read for /dev/nvidia* holders when NVML or
// CUDA did not answer (what holds the GPU is then the question); otherwise
// only the processes in D state are looked at closely.
void run_processes(const ProbeContext& c, model::Snapshot& s) {
  ProcessesOptions o;
  bool nvml_ok = s.nvml.state == model::NvmlState::ok;
  bool cuda_trouble = s.cuda.state == model::CudaState::hung || s.cuda.state == model::CudaState::worker_failed;
  o.scan_holders = !nvml_ok || cuda_trouble;
  o.holders_note = o.scan_holders ? (nvml_ok ? "CUDA did not answer: every process's open files were read"
                                             : "NVML did not answer: every process's open files were read")
                                  : "NVML and CUDA answered: only processes in D state were looked at closely";
  if (auto stat = c.root.read_file("/proc/stat", 1 << 20)) o.boot_time_unix_s = parse_boot_time(*stat);
  s.processes = read_processes(c.root, o);
}
// A kernel log file gets a quarter of the check's time (at least half a
// second): a 32 GB file must not eat the time NVML and CUDA are judged by.
void run_kernel_log(const ProbeContext& c, model::Snapshot& s) {
  auto budget = std::chrono::duration<double>(std::max(0.5, seconds_left(c.options) / 4));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(budget);
  s.kernel_log = read_kernel_log(c.root, KernelLogOptions{c.options.kernel_log_file, c.options.since, deadline});
}
void run_libs(const ProbeContext& c, model::Snapshot& s) {
  s.libs = read_libs(c.root, c.root.is_live() ? c.options.ld_library_path : std::vector<std::string>{});
}

void run_container(const ProbeContext& c, model::Snapshot& s) { s.container = read_container(c.root, c.options, s); }
void run_state(const ProbeContext& c, model::Snapshot& s) { s.state = read_state(c.root); }

void run_devnodes(const ProbeContext& c, model::Snapshot& s) {
  std::set<unsigned> minors;
  for (const auto& g : s.driver.gpus)
    if (g.minor) minors.insert(*g.minor);
  for (const auto& g : s.nvml.gpus)
    if (g.minor) minors.insert(*g.minor);
  s.devnodes = read_devnodes(c.root, std::vector<unsigned>(minors.begin(), minors.end()));
}

constexpr ProbeEntry k_probes[] = {
    {"pci", "NVIDIA GPU functions in /sys/bus/pci/devices: bound driver, PCIe link", run_pci},
    {"driver", "kernel driver: /proc/modules, /proc/driver/nvidia/{version,gpus/*/information}", run_driver},
    {"nvml", "libnvidia-ml.so.1 in a worker process under a deadline: init time, versions, per-GPU state", run_nvml},
    {"cuda", "libcuda.so.1 in a worker process under a deadline: cuInit, driver API version, device count", run_cuda},
    {"devnodes", "/dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia<minor>", run_devnodes},
    {"persistenced", "nvidia-persistenced: pid file, live process, socket", run_persistenced},
    {"processes", "/proc/PID/{stat,wchan,stack,fd}: tasks stuck in the driver (D state), holders of /dev/nvidia*",
     run_processes},
    {"kernel_log", "NVIDIA events (Xid, fallen off the bus, API mismatch) in the journal, /dev/kmsg or --kernel-log",
     run_kernel_log},
    {"libs", "driver libraries in the loader's dirs (ld.so.conf, ld.so.cache): link chains, sizes, ELF SONAMEs",
     run_libs},
    {"container",
     "container runtime: nvidia-container-cli info, toolkit config.toml, daemon.json, CDI specs, cgroup v2 "
     "/dev/char links, inside-a-container evidence",
     run_container},
    {"state", "gpudoctor's own records in /var/lib/gpudoctor (changes fix made) and this boot's id and start time",
     run_state},
};

std::string now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string host_name(const host::HostRoot& root) {
  auto r = root.read_file("/etc/hostname", 256);
  if (r && !r->empty()) {
    auto nl = r->find('\n');
    return r->substr(0, nl);
  }
  if (!root.is_live()) return "";
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

std::span<const ProbeEntry> probe_table() { return k_probes; }

Status check_node_root(const host::HostRoot& root) {
  if (root.is_live()) return ok_status();
  std::vector<std::string> missing;
  for (const char* dir : {"/sys/bus/pci", "/proc"})
    if (root.kind_followed(dir) != host::FileKind::directory) missing.push_back(std::string(dir).substr(1));
  if (missing.empty()) return ok_status();
  return make_error(fmt::format("{} is not a node root: it has no {} (a --root holds the node's sys/, proc/, dev/, "
                                "etc/, usr/lib; did you mean a directory inside it?)",
                                root.root().string(), fmt::join(missing, " and no ")));
}

double seconds_left(const ProbeOptions& options) {
  if (!options.deadline) return options.timeout_s;
  return std::max(0.0, std::chrono::duration<double>(*options.deadline - std::chrono::steady_clock::now()).count());
}

model::Snapshot take_snapshot(const ProbeContext& outer) {
  ProbeOptions options = outer.options;
  if (!options.deadline)
    options.deadline = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(options.timeout_s));
  ProbeContext ctx{outer.root, options};
  model::Snapshot s;
  s.gpudoctor_version = GD_VERSION;
  s.taken_at = now_iso8601();
  s.root = ctx.root.root().string();
  s.hostname = host_name(ctx.root);
  for (const auto& p : k_probes) {
    model::ProbeRun run;
    run.name = std::string(p.name);
    auto t0 = std::chrono::steady_clock::now();
    try {
      p.run(ctx, s);
    } catch (const std::exception& e) {
      run.ok = false;
      run.error = e.what();
    } catch (...) {
      run.ok = false;
      run.error = "unknown exception";
    }
    run.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    s.probes.push_back(std::move(run));
  }
  return s;
}

}  // namespace gd::probe
