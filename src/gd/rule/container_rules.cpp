// container.*: the NVIDIA Container Toolkit and the runtimes around it, judged
// from Snapshot::container (docs/containers.md).
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "gd/rule/facts.hpp"
#include "gd/model/nvml_return.hpp"
#include "gd/rule/rule.hpp"

namespace gd::rule {

using model::Finding;
using model::Severity;

namespace {

struct CliCause {
  std::string_view needle;  // lowercase substring of the error line
  std::string_view cause;
  std::string_view fix;
  bool needs_reboot = false;
};

// What nvidia-container-cli's errors mean (failure-catalog.md §5, §6).
constexpr CliCause k_cli_causes[] = {
    {"load library failed",
     "A driver library the linker cache names is missing or broken: the cache (/etc/ld.so.cache) still lists the "
     "files of a driver version that is no longer installed (a driver change without ldconfig), or a library is "
     "0 bytes. The toolkit resolves the driver's libraries through the host's cache.",
     "sudo ldconfig   # rebuild the linker cache; see the libs.* findings for the exact files"},
    {"version mismatch",
     "The kernel module and the user-space driver libraries are of different versions (driver updated without a "
     "reboot).",
     "Reboot (or unload and reload the nvidia modules when nothing uses the GPUs)", true},
    {"driver not loaded", "The nvidia kernel module is not loaded on the host.",
     "sudo modprobe nvidia   # see driver.* findings for why it is not loaded"},
    {"insufficient permissions",
     "NVML was refused access to the GPU device nodes: SELinux (container_use_devices off) or the caller is not root.",
     "sudo setsebool -P container_use_devices 1   # on SELinux hosts; else run the toolkit as root"},
    {"timed out",
     "The driver did not answer in time: GPUs initialised from cold for each client (persistence mode off), or a "
     "wedged GPU.",
     "sudo systemctl enable --now nvidia-persistenced   # see persistence.off / gpu.* findings"},
    {"bpf_prog_query",
     "The toolkit cannot manage the cgroup v2 device filter (rootless Docker/Podman, or eBPF locked down).",
     "For rootless containers set no-cgroups = true under [nvidia-container-cli] in "
     "/etc/nvidia-container-runtime/config.toml and pass the devices explicitly"},
    {"device filters",
     "The toolkit cannot manage the cgroup v2 device filter (rootless Docker/Podman, or eBPF locked down).",
     "For rootless containers set no-cgroups = true under [nvidia-container-cli] in "
     "/etc/nvidia-container-runtime/config.toml and pass the devices explicitly"},
    {"requirement error",
     "The image requires a newer CUDA than this driver supports (NVIDIA_REQUIRE_CUDA).",
     "Upgrade the host driver, or run an image built for an older CUDA"},
    {"failed to process request",
     "The toolkit's driver service failed to start; usually a stale linker cache naming removed driver libraries "
     "(the seed's case), else a broken driver install.",
     "sudo ldconfig   # then retry; see the libs.* findings"},
    {"cuda error", "An old libnvidia-container (< 1.1) that still used CUDA failed to initialise it.",
     "Upgrade the NVIDIA Container Toolkit"},
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string cli_evidence(const model::ContainerCli& c) {
  return fmt::format("{} info: {} after {}", c.path,
                     c.timed_out ? "no answer" : fmt::format("exit {}", c.exit_code.value_or(-1)),
                     format_ms(c.elapsed_ms));
}

bool nvidia_runtime_configured(const model::ContainerInfo& c) {
  return c.toolkit_config || !c.cli.path.empty() || !c.cdi_specs.empty() ||
         std::any_of(c.docker_runtimes.begin(), c.docker_runtimes.end(),
                     [](const auto& r) { return r.name == "nvidia"; });
}

// The cgroup driver runc uses: the configured one, else Docker's default on
// cgroup v2 with systemd (systemd).
std::optional<std::string> effective_cgroup_driver(const model::ContainerInfo& c, std::string& source) {
  if (c.cgroup_driver) {
    source = c.cgroup_driver_source.value_or("");
    return c.cgroup_driver;
  }
  if (c.docker_config || !c.docker_runtimes.empty()) {
    source = "Docker's default on cgroup v2";
    return "systemd";
  }
  return std::nullopt;
}

}  // namespace

void rule_container_cli_failed(const RuleInput& in, std::vector<Finding>& out) {
  const auto& c = in.snap.container.cli;
  if (c.path.empty() || c.timed_out) return;
  Finding f;
  f.evidence.push_back(cli_evidence(c));
  if (c.exit_code.value_or(0) == 0 && c.error.empty()) {
    f.summary = fmt::format("nvidia-container-cli info works: driver {}, CUDA {}, {} GPU(s)",
                            c.nvrm_version.value_or("?"), c.cuda_version.value_or("?"), c.devices);
    out.push_back(std::move(f));
    return;
  }
  f.severity = Severity::critical;
  f.summary = "nvidia-container-cli fails: containers started with --gpus (or the nvidia runtime) will not start";
  f.evidence.push_back(c.error.empty() ? "(it printed no error line)" : c.error);
  std::string err = lower(c.error);
  const CliCause* cause = nullptr;
  for (const auto& k : k_cli_causes)
    if (err.find(k.needle) != std::string::npos) {
      cause = &k;
      break;
    }
  if (cause) {
    f.cause = std::string(cause->cause);
    f.fix = {std::string(cause->fix)};
    f.needs_reboot = cause->needs_reboot;
  } else {
    f.cause = "nvidia-container-cli reported an error gpudoctor has no entry for; its text is the evidence.";
    f.fix = {"Run `nvidia-container-cli -k -d /dev/tty info` as root for its debug log"};
  }
  f.fix.push_back("Check again: gpudoctor check");
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_container_cli_hung(const RuleInput& in, std::vector<Finding>& out) {
  const auto& c = in.snap.container.cli;
  if (!c.timed_out) return;
  Finding f;
  f.severity = Severity::critical;
  f.summary = fmt::format("nvidia-container-cli info did not answer in {}; `docker run --gpus` would hang the same way",
                          format_ms(c.elapsed_ms));
  f.evidence.push_back(cli_evidence(c));
  if (!c.error.empty()) f.evidence.push_back(c.error);
  f.cause = "The toolkit initialises the driver through NVML; a wedged GPU or driver, or a cold start of every GPU "
            "with persistence mode off, keeps it waiting. It was killed at the deadline (--timeout).";
  f.fix = {"See the nvml.* / gpu.* / persistence.off findings for the driver's state",
           "sudo systemctl enable --now nvidia-persistenced"};
  out.push_back(std::move(f));
}

void rule_container_config_invalid(const RuleInput& in, std::vector<Finding>& out) {
  const auto& c = in.snap.container;
  Finding f;
  f.severity = Severity::warning;
  for (const auto& p : c.problems) f.evidence.push_back(p);
  for (const auto& r : c.docker_runtimes)
    if (!r.found)
      f.evidence.push_back(fmt::format("{}: runtime \"{}\" runs {}, which is not installed",
                                       c.docker_config.value_or("daemon.json"), r.name,
                                       r.path.empty() ? "(no path)" : r.path));
  if (c.docker_default_runtime && *c.docker_default_runtime != "runc" &&
      std::none_of(c.docker_runtimes.begin(), c.docker_runtimes.end(),
                   [&](const auto& r) { return r.name == *c.docker_default_runtime; }))
    f.evidence.push_back(fmt::format("{}: default-runtime \"{}\" is not among its runtimes",
                                     c.docker_config.value_or("daemon.json"), *c.docker_default_runtime));
  if (c.toolkit_ldconfig_found == false)
    f.evidence.push_back(fmt::format("{}: ldconfig = \"{}\" does not exist on this host",
                                     c.toolkit_config.value_or("config.toml"), c.toolkit_ldconfig.value_or("")));
  if (f.evidence.empty()) {
    if (!c.toolkit_config && !c.docker_config) return;
    f.severity = Severity::ok;
    f.summary = "Container runtime configuration parses and names programs that exist";
    if (c.toolkit_config) f.evidence.push_back(*c.toolkit_config);
    if (c.docker_config) f.evidence.push_back(*c.docker_config);
    out.push_back(std::move(f));
    return;
  }
  f.summary = "Container runtime configuration is broken: the toolkit or Docker cannot use it";
  f.cause = "A configuration file does not parse, or names a runtime or ldconfig that is not installed "
            "(Ubuntu's \"@/sbin/ldconfig.real\" copied to another distribution, a toolkit removed while daemon.json "
            "still names it). Docker refuses to start with an invalid daemon.json.";
  f.fix = {"Correct the file(s) named above",
           "sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker   # rewrites "
           "daemon.json's nvidia runtime"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_container_cdi_stale(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  auto loaded = s.driver.kernel_version;
  if (!loaded) return;
  for (const auto& spec : s.container.cdi_specs) {
    if (spec.driver_versions.empty()) continue;
    Finding f;
    f.evidence.push_back(fmt::format("{}: libraries of driver {}", spec.path, fmt::join(spec.driver_versions, ", ")));
    f.evidence.push_back(fmt::format("loaded kernel module: {}", *loaded));
    bool stale = std::any_of(spec.driver_versions.begin(), spec.driver_versions.end(),
                             [&](const auto& v) { return v != *loaded; });
    if (!stale) {
      f.summary = fmt::format("CDI spec {} matches the loaded driver {}", spec.path, *loaded);
      out.push_back(std::move(f));
      continue;
    }
    f.severity = Severity::warning;
    f.summary = fmt::format("CDI spec {} mounts driver {} libraries but driver {} is loaded", spec.path,
                            fmt::join(spec.driver_versions, ", "), *loaded);
    f.cause = "CDI specs are generated once; after a driver upgrade the spec still names the old version's files, so "
              "containers using CDI (Podman, containerd, Docker with CDI) fail to start or mount missing libraries.";
    f.fix = {fmt::format("sudo nvidia-ctk cdi generate --output={}", spec.path)};
    f.needs_root = true;
    out.push_back(std::move(f));
  }
}

void rule_container_dev_char_links(const RuleInput& in, std::vector<Finding>& out) {
  const auto& c = in.snap.container;
  if (c.inside || c.cgroup_version != 2u || c.dev_char.empty() || !nvidia_runtime_configured(c)) return;
  std::string source;
  auto driver = effective_cgroup_driver(c, source);
  if (driver != "systemd") return;
  Finding f;
  f.evidence.push_back(fmt::format("cgroup v2 (/sys/fs/cgroup/cgroup.controllers); cgroup driver systemd ({})", source));
  std::vector<std::string> bad;
  for (const auto& l : c.dev_char)
    if (!l.ok) bad.push_back(fmt::format("{} -> {}: {}", l.link, l.node, l.problem));
  if (bad.empty()) {
    f.summary = fmt::format("/dev/char links present for all {} NVIDIA device node(s)", c.dev_char.size());
    out.push_back(std::move(f));
    return;
  }
  f.severity = Severity::warning;
  f.summary = fmt::format("{} of {} NVIDIA device nodes lack their /dev/char link: containers lose their GPUs "
                          "('Failed to initialize NVML: Unknown Error') after `systemctl daemon-reload`",
                          bad.size(), c.dev_char.size());
  for (auto& b : bad) f.evidence.push_back(std::move(b));
  f.cause = "With the systemd cgroup driver, systemd rebuilds each container's device rules on every daemon-reload "
            "from /dev/char/MAJ:MIN links; runc finds the NVIDIA nodes only through them, and the driver does not "
            "create them. Containers keep running but NVML and CUDA inside fail until they are recreated.";
  f.fix = {"sudo gpudoctor fix --only container.dev_char_links_missing --yes   # or: sudo nvidia-ctk system "
           "create-dev-char-symlinks --create-all",
           "Make it survive reboots: a udev rule running `nvidia-ctk system create-dev-char-symlinks --create-all` "
           "(/lib/udev/rules.d/71-nvidia-dev-char.rules)",
           "Recreate containers that already show 'Failed to initialize NVML: Unknown Error'"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_container_nvml_blocked(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (!s.container.inside || !s.nvml.init_return) return;
  int r = *s.nvml.init_return;
  bool unknown = r == model::code(model::NvmlReturn::unknown);
  if (!unknown && r != model::code(model::NvmlReturn::operating_system)) return;
  Finding f;
  f.severity = Severity::critical;
  f.summary = fmt::format("Inside a container NVML fails to initialise ({}): the container has lost access to its "
                          "GPU device nodes",
                          unknown ? "'Unknown Error', 999" : "OPERATING_SYSTEM, 17");
  for (const auto& e : s.container.inside_evidence) f.evidence.push_back(e);
  f.evidence.push_back(fmt::format("nvmlInit returned {}", r));
  f.cause = "The device cgroup of this container no longer allows /dev/nvidia*: on a host with cgroup v2 and the "
            "systemd cgroup driver, `systemctl daemon-reload` (a package install runs it) rewrote the rules without "
            "the NVIDIA nodes, because /dev/char links for them are missing on the host.";
  f.fix = {"Recreate this container (restarting the process inside does not help)",
           "On the host: gpudoctor check (container.dev_char_links_missing), then sudo gpudoctor fix --only "
           "container.dev_char_links_missing --yes"};
  out.push_back(std::move(f));
}

void rule_container_inside(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (!s.container.inside || no_nvidia_gpu(s)) return;
  Finding f;
  for (const auto& e : s.container.inside_evidence) f.evidence.push_back(e);
  std::vector<std::string> given;
  for (const auto& g : s.driver.gpus) given.push_back(g.bus_id);
  f.evidence.push_back(fmt::format("GPUs on the host's PCI bus (sysfs is not namespaced): {}", s.pci.gpus.size()));
  f.evidence.push_back(fmt::format("GPUs given to this container (/proc/driver/nvidia/gpus): {}{}", given.size(),
                                   given.empty() ? "" : fmt::format(" ({})", fmt::join(given, ", "))));
  auto user = user_space_version(s);
  auto kmod = s.driver.kernel_version;
  if (user && kmod) f.evidence.push_back(fmt::format("driver libraries in the container: {}; host kernel module: {}",
                                                     *user, *kmod));
  if (user && kmod && *user != *kmod) {
    f.severity = Severity::warning;
    f.summary = fmt::format("Inside a container whose driver libraries ({}) do not match the host's kernel module ({})",
                            *user, *kmod);
    f.cause = "The image carries its own driver libraries (built FROM an image with a driver, or built with the "
              "nvidia runtime so the toolkit's mounts were baked in), shadowing the ones the toolkit mounts from "
              "the host.";
    f.fix = {"Rebuild the image without driver libraries (remove libcuda.so.*, libnvidia-*.so.* from it)",
             "If the host was upgraded: recreate the container so the toolkit mounts the new libraries"};
  } else {
    f.summary = fmt::format("Running inside a container with {} of the host's {} GPU(s); only those are checked",
                            given.size(), s.pci.gpus.size());
  }
  out.push_back(std::move(f));
}

}  // namespace gd::rule
