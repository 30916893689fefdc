#include "gd/probe/container.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "gd/util/strings.hpp"
#include "gd/util/subprocess.hpp"

namespace gd::probe {

namespace {

constexpr std::string_view k_cli_name = "nvidia-container-cli";
constexpr std::size_t k_config_cap = 1 << 20;

// "Key:   value" -> value when the line starts with key.
std::optional<std::string> field(std::string_view line, std::string_view key) {
  line = util::trim(line);
  if (line.substr(0, key.size()) != key) return std::nullopt;
  auto rest = util::trim(line.substr(key.size()));
  if (rest.empty() || rest.front() != ':') return std::nullopt;
  rest = util::trim(rest.substr(1));
  if (rest.empty()) return std::nullopt;
  return std::string(rest);
}

std::string toml_error(const toml::parse_error& e) {
  return fmt::format("line {}, column {}: {}", e.source().begin.line, e.source().begin.column, e.description());
}

bool walk_systemd_cgroup(const toml::table& t, std::optional<bool>& out) {
  for (const auto& [k, v] : t) {
    if (k.str() == "SystemdCgroup" && v.is_boolean()) {
      out = v.as_boolean()->get();
      return true;
    }
    if (const auto* sub = v.as_table())
      if (walk_systemd_cgroup(*sub, out)) return true;
  }
  return false;
}

// First path component of a version string ("535.104.05" -> 535).
bool driver_like(std::string_view v) {
  auto dot = v.find('.');
  // (more than 4 digits is no driver branch, and would overflow below: found by fuzz_container)
  if (dot == std::string_view::npos || dot == 0 || dot > 4) return false;
  int major = 0;
  for (char c : v.substr(0, dot)) major = major * 10 + (c - '0');
  return major >= 100;  // NVIDIA driver branches; egl-wayland & co. are 1.x
}

// The executable `name` finds on PATH (live root) or at an absolute path, inside the root.
std::optional<std::string> find_program(const host::HostRoot& root, const std::string& name) {
  auto executable = [&](const std::string& p) -> std::optional<std::string> {
    auto r = root.resolve(p);
    if (!r) return std::nullopt;
    if (root.kind(*r) != host::FileKind::regular) return std::nullopt;
    return *r;
  };
  if (!name.empty() && name.front() == '/') return executable(name);
  std::vector<std::string> dirs = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"};
  if (root.is_live())
    if (const char* path = std::getenv("PATH")) {
      dirs.clear();
      for (auto d : util::split(path, ':'))
        if (!d.empty() && d.front() == '/') dirs.emplace_back(d);
    }
  for (const auto& d : dirs)
    if (auto p = executable(host::join(d, name))) return p;
  return std::nullopt;
}

void check_inside(const host::HostRoot& root, model::ContainerInfo& c) {
  if (root.exists("/.dockerenv")) c.inside_evidence.push_back("/.dockerenv exists (Docker)");
  if (root.exists("/run/.containerenv")) c.inside_evidence.push_back("/run/.containerenv exists (Podman)");
  if (root.exists("/var/run/secrets/kubernetes.io/serviceaccount"))
    c.inside_evidence.push_back("/var/run/secrets/kubernetes.io/serviceaccount exists (a Kubernetes pod)");
  if (auto cg = root.read_file("/proc/1/cgroup", 64 * 1024))
    if (auto e = container_cgroup_evidence(*cg)) c.inside_evidence.push_back("/proc/1/cgroup: " + *e);
  c.inside = !c.inside_evidence.empty();
}

// A configuration file's text: nullopt when absent, or unreadable (named in problems).
std::optional<std::string> read_config(const host::HostRoot& root, std::string_view path, model::ContainerInfo& c) {
  if (!root.exists(path)) return std::nullopt;
  auto text = root.read_file(path, k_config_cap);
  if (!text) {
    c.problems.push_back(text.error().message);
    return std::nullopt;
  }
  return std::move(*text);
}

void read_toolkit(const host::HostRoot& root, model::ContainerInfo& c) {
  constexpr std::string_view path = "/etc/nvidia-container-runtime/config.toml";
  if (root.exists(path)) c.toolkit_config = std::string(path);
  auto text = read_config(root, path, c);
  if (!text) return;
  auto cfg = parse_toolkit_config(*text);
  if (!cfg.error.empty()) c.problems.push_back(fmt::format("{}: {}", path, cfg.error));
  c.toolkit_no_cgroups = cfg.no_cgroups;
  c.toolkit_ldconfig = cfg.ldconfig;
  if (cfg.ldconfig) {
    std::string p = *cfg.ldconfig;
    if (!p.empty() && p.front() == '@') p.erase(0, 1);  // '@': a host path, not the container's
    c.toolkit_ldconfig_found = find_program(root, p).has_value();
  }
}

void read_docker(const host::HostRoot& root, model::ContainerInfo& c) {
  constexpr std::string_view path = "/etc/docker/daemon.json";
  if (root.exists(path)) c.docker_config = std::string(path);
  auto text = read_config(root, path, c);
  if (!text) return;
  auto cfg = parse_docker_config(*text);
  if (!cfg.error.empty()) c.problems.push_back(fmt::format("{}: {}", path, cfg.error));
  for (auto& rt : cfg.runtimes) {
    rt.found = find_program(root, rt.path);
    c.docker_runtimes.push_back(std::move(rt));
  }
  c.docker_default_runtime = cfg.default_runtime;
  if (cfg.cgroup_driver) {
    c.cgroup_driver = cfg.cgroup_driver;
    c.cgroup_driver_source = std::string(path);
  }
}

void read_cgroup_driver_elsewhere(const host::HostRoot& root, model::ContainerInfo& c) {
  if (c.cgroup_driver) return;
  constexpr std::string_view containerd = "/etc/containerd/config.toml";
  if (auto text = root.read_file(containerd, k_config_cap)) {
    std::string error;
    auto systemd = parse_containerd_systemd_cgroup(*text, error);
    if (!error.empty()) c.problems.push_back(fmt::format("{}: {}", containerd, error));
    if (systemd) {
      c.cgroup_driver = *systemd ? "systemd" : "cgroupfs";
      c.cgroup_driver_source = fmt::format("{} (SystemdCgroup = {})", containerd, *systemd);
      return;
    }
  }
  constexpr std::string_view kubelet = "/var/lib/kubelet/config.yaml";
  if (auto text = root.read_file(kubelet, k_config_cap))
    if (auto d = parse_kubelet_cgroup_driver(*text)) {
      c.cgroup_driver = *d;
      c.cgroup_driver_source = std::string(kubelet);
    }
}

void read_cdi(const host::HostRoot& root, model::ContainerInfo& c) {
  std::set<std::string> seen;  // resolved paths: /var/run is usually a link to /run
  for (std::string_view dir : {"/etc/cdi", "/var/run/cdi", "/run/cdi"}) {
    auto names = root.list_dir(dir);
    if (!names) continue;
    std::sort(names->begin(), names->end());
    for (const auto& n : *names) {
      if (!(util::ends_with(n, ".yaml") || util::ends_with(n, ".yml") || util::ends_with(n, ".json"))) continue;
      std::string p = host::join(dir, n);
      auto resolved = root.resolve(p);
      if (!seen.insert(resolved ? *resolved : p).second) continue;
      auto text = root.read_file(p, 8 << 20);
      if (!text) {
        c.problems.push_back(text.error().message);
        continue;
      }
      model::CdiSpec spec;
      spec.path = p;
      spec.driver_versions = cdi_driver_versions(*text, spec.nvidia);
      if (spec.nvidia || !spec.driver_versions.empty()) c.cdi_specs.push_back(std::move(spec));
    }
  }
}

// major:minor of a device node: from the node itself when it is one (live
// root), else from NVIDIA's fixed numbering and /proc/devices.
std::optional<std::string> dev_numbers(const host::HostRoot& root, const std::string& node,
                                       std::optional<unsigned> uvm_major) {
  if (auto st = root.stat(node); st && S_ISCHR(st->st_mode))
    return fmt::format("{}:{}", major(st->st_rdev), minor(st->st_rdev));
  std::string_view name = node;
  name.remove_prefix(std::string_view("/dev/").size());
  if (name == "nvidiactl") return "195:255";
  if (name == "nvidia-modeset") return "195:254";
  if (name == "nvidia-uvm") return uvm_major ? std::optional(fmt::format("{}:0", *uvm_major)) : std::nullopt;
  if (name == "nvidia-uvm-tools") return uvm_major ? std::optional(fmt::format("{}:1", *uvm_major)) : std::nullopt;
  if (name.substr(0, 6) == "nvidia" && name.size() > 6 &&
      std::all_of(name.begin() + 6, name.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); }))
    return fmt::format("195:{}", name.substr(6));
  return std::nullopt;
}

std::optional<unsigned> uvm_major_from(const host::HostRoot& root) {
  auto text = root.read_file("/proc/devices", 64 * 1024);
  if (!text) return std::nullopt;
  for (auto line : util::lines(*text)) {
    auto words = util::split_ws(line);
    if (words.size() != 2 || words[1] != "nvidia-uvm") continue;
    if (auto major = util::parse_u64(words[0]); major && *major <= 4095) return static_cast<unsigned>(*major);
  }
  return std::nullopt;
}

void check_dev_char(const host::HostRoot& root, const model::Snapshot& snap, model::ContainerInfo& c) {
  if (c.inside || c.cgroup_version != 2u) return;
  std::vector<std::string> nodes;
  for (const auto& n : snap.devnodes.nodes)
    if (n.present) nodes.push_back(n.path);
  if (nodes.empty()) return;
  if (root.exists("/dev/nvidia-modeset")) nodes.push_back("/dev/nvidia-modeset");
  auto uvm = uvm_major_from(root);
  for (const auto& node : nodes) {
    auto numbers = dev_numbers(root, node, uvm);
    if (!numbers) continue;
    model::DevCharLink l;
    l.node = node;
    l.link = "/dev/char/" + *numbers;
    auto kind = root.kind(l.link);
    if (kind == host::FileKind::missing) {
      l.problem = "missing";
    } else if (auto r = root.resolve(l.link); !r) {
      l.problem = r.error().message;
    } else if (auto want = root.resolve(node); want && *want != *r) {
      l.problem = fmt::format("leads to {}, not {}", *r, node);
    } else {
      l.ok = true;
    }
    c.dev_char.push_back(std::move(l));
  }
}

void run_cli(const host::HostRoot& root, const ProbeOptions& options, const model::Snapshot& snap,
             model::ContainerInfo& c) {
  auto& cli = c.cli;
  if (snap.nvml.state == model::NvmlState::hung) {
    cli.skip_reason = "NVML hung: nvidia-container-cli would hang in the same driver call";
    return;
  }
  std::string exe = options.container_cli;
  if (exe.empty()) {
    if (!root.is_live()) {
      cli.skip_reason = "not run under --root (give --container-cli PATH to run one)";
      return;
    }
    auto found = find_program(root, std::string(k_cli_name));
    if (!found) {
      cli.skip_reason = "nvidia-container-cli is not installed";
      return;
    }
    exe = *found;
  }
  double left = seconds_left(options);
  if (left < k_min_worker_seconds) {
    cli.skip_reason = fmt::format("--timeout {:g} s was used up before nvidia-container-cli could run", options.timeout_s);
    return;
  }
  cli.path = exe;
  auto timeout = std::chrono::milliseconds(static_cast<long long>(left * 1000));
  // `info` only: never -k (--load-kmods), which would change the host.
  auto r = util::run({exe, "info"}, timeout, 256 * 1024);
  cli.elapsed_ms = r.elapsed_ms;
  if (!r.started) {
    cli.exit_code = 127;
    cli.error = r.err;
    return;
  }
  cli.timed_out = r.timed_out;
  if (!r.timed_out) cli.exit_code = r.signal ? 128 + r.signal : r.exit_code;
  parse_container_cli_output(r.out, r.err, cli);
}

}  // namespace

void parse_container_cli_output(std::string_view out, std::string_view err, model::ContainerCli& cli) {
  std::vector<std::string> errors;
  auto scan = [&](std::string_view text) {
    for (auto line : util::lines(text)) {
      if (auto v = field(line, "NVRM version")) cli.nvrm_version = *v;
      else if (auto v2 = field(line, "CUDA version")) cli.cuda_version = *v2;
      else if (field(line, "Device Index")) ++cli.devices;
      auto t = util::trim(line);
      if (t.substr(0, k_cli_name.size() + 1) == fmt::format("{}:", k_cli_name) && t.size() <= 4096)
        errors.emplace_back(t);
    }
  };
  scan(out);
  scan(err);
  if (errors.empty() && cli.exit_code.value_or(0) != 0) {
    // No "nvidia-container-cli:" line: keep the last non-empty stderr line.
    std::string last;
    for (auto line : util::lines(err)) {
      if (!util::trim(line).empty()) last = std::string(util::trim(line).substr(0, 4096));
    }
    if (!last.empty()) errors.push_back(last);
  }
  cli.error = fmt::format("{}", fmt::join(errors, "\n"));
}

ToolkitConfig parse_toolkit_config(std::string_view text) {
  ToolkitConfig out;
  try {
    auto t = toml::parse(text);
    if (auto v = t["nvidia-container-cli"]["no-cgroups"].value<bool>()) out.no_cgroups = *v;
    if (auto v = t["nvidia-container-cli"]["ldconfig"].value<std::string>()) out.ldconfig = *v;
  } catch (const toml::parse_error& e) {
    out.error = toml_error(e);
  }
  return out;
}

DockerConfig parse_docker_config(std::string_view text) {
  DockerConfig out;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // Say where: the line of the byte nlohmann stopped at.
    std::size_t pos = std::min<std::size_t>(e.byte, text.size());
    std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + pos, '\n'));
    out.error = fmt::format("line {}: not valid JSON (Docker will refuse to start)", line);
    return out;
  } catch (const nlohmann::json::exception& e) {
    // A number out of range (1e999) and the like: Docker's parser refuses those too.
    out.error = fmt::format("not valid JSON: {} (Docker will refuse to start)", util::printable(e.what(), 160));
    return out;
  }
  if (!j.is_object()) {
    out.error = "not a JSON object";
    return out;
  }
  if (auto it = j.find("runtimes"); it != j.end() && it->is_object()) {
    for (const auto& [name, rt] : it->items()) {
      model::DockerRuntime r;
      r.name = name;
      if (rt.is_object() && rt.contains("path") && rt["path"].is_string()) r.path = rt["path"].get<std::string>();
      out.runtimes.push_back(std::move(r));
    }
  }
  if (auto it = j.find("default-runtime"); it != j.end() && it->is_string()) out.default_runtime = it->get<std::string>();
  if (auto it = j.find("exec-opts"); it != j.end() && it->is_array())
    for (const auto& o : *it)
      if (o.is_string()) {
        auto s = o.get<std::string>();
        constexpr std::string_view key = "native.cgroupdriver=";
        if (s.substr(0, key.size()) == key) out.cgroup_driver = s.substr(key.size());
      }
  return out;
}

std::optional<bool> parse_containerd_systemd_cgroup(std::string_view text, std::string& error) {
  try {
    auto t = toml::parse(text);
    std::optional<bool> out;
    walk_systemd_cgroup(t, out);
    return out;
  } catch (const toml::parse_error& e) {
    error = toml_error(e);
    return std::nullopt;
  }
}

std::optional<std::string> parse_kubelet_cgroup_driver(std::string_view text) {
  for (auto line : util::lines(text)) {
    if (line.empty() || std::isspace(static_cast<unsigned char>(line.front()))) continue;  // top level only
    if (auto v = field(line, "cgroupDriver")) {
      std::string s = *v;
      if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) s = s.substr(1, s.size() - 2);
      return s;
    }
  }
  return std::nullopt;
}

std::vector<std::string> cdi_driver_versions(std::string_view text, bool& nvidia) {
  nvidia = text.find("nvidia.com/") != std::string_view::npos;
  std::set<std::string> versions;
  std::size_t pos = 0;
  while ((pos = text.find(".so.", pos)) != std::string_view::npos) {
    std::size_t name_start = pos;
    while (name_start > 0 && text[name_start - 1] != '/' && text[name_start - 1] != '"' &&
           !std::isspace(static_cast<unsigned char>(text[name_start - 1])))
      --name_start;
    std::string_view name = text.substr(name_start, pos - name_start);
    std::size_t v = pos + 4, end = v;
    while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.')) ++end;
    std::string_view ver = text.substr(v, end - v);
    while (!ver.empty() && ver.back() == '.') ver.remove_suffix(1);
    bool family = name == "libcuda" || (name.substr(0, 10) == "libnvidia-" && name != "libnvidia-container" &&
                                        name != "libnvidia-container-go");
    if (family && driver_like(ver)) versions.emplace(ver);
    pos = end > pos + 4 ? end : pos + 4;
  }
  return {versions.begin(), versions.end()};
}

std::optional<std::string> container_cgroup_evidence(std::string_view proc_1_cgroup) {
  for (auto line : util::lines(proc_1_cgroup)) {
    auto colon = line.rfind(':');
    if (colon == std::string_view::npos) continue;
    auto path = line.substr(colon + 1);
    for (std::string_view marker : {"/docker", "/kubepods", "/containerd", "/libpod", "/lxc/", "/cri-containerd",
                                    "/crio-", "/actions_job"})
      if (path.find(marker) != std::string_view::npos) return std::string(util::trim(line).substr(0, 200));
  }
  return std::nullopt;
}

model::ContainerInfo read_container(const host::HostRoot& root, const ProbeOptions& options,
                                    const model::Snapshot& snap) {
  model::ContainerInfo c;
  check_inside(root, c);
  if (root.exists("/sys/fs/cgroup/cgroup.controllers")) c.cgroup_version = 2;
  else if (root.exists("/sys/fs/cgroup")) c.cgroup_version = 1;
  read_toolkit(root, c);
  read_docker(root, c);
  read_cgroup_driver_elsewhere(root, c);
  read_cdi(root, c);
  check_dev_char(root, snap, c);
  bool toolkit = c.toolkit_config || !options.container_cli.empty() ||
                 std::any_of(c.docker_runtimes.begin(), c.docker_runtimes.end(),
                             [](const auto& r) { return r.name == "nvidia"; }) ||
                 (root.is_live() && find_program(root, std::string(k_cli_name)));
  if (toolkit && !c.inside) run_cli(root, options, snap, c);
  else c.cli.skip_reason = c.inside ? "inside a container: the host's toolkit is not reachable"
                                    : "no NVIDIA Container Toolkit configured";
  return c;
}

}  // namespace gd::probe
