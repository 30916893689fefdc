// Container-runtime probe: the NVIDIA Container Toolkit on the host
// (`nvidia-container-cli info`, its config.toml), Docker's daemon.json,
// containerd's and the kubelet's cgroup driver, CDI specs, cgroup v2 and the
// /dev/char links runc needs, and whether gpudoctor itself runs in a
// container (docs/containers.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"
#include "gd/probe/probe.hpp"

namespace gd::probe {

// `nvidia-container-cli info` output (stdout + stderr): versions, the
// device count and the error line(s) it printed.
void parse_container_cli_output(std::string_view out, std::string_view err, model::ContainerCli& cli);

struct ToolkitConfig {
  std::optional<bool> no_cgroups;
  std::optional<std::string> ldconfig;
  std::string error;  // "line 3: ..." when the TOML does not parse
};
// /etc/nvidia-container-runtime/config.toml ([nvidia-container-cli] no-cgroups, ldconfig).
ToolkitConfig parse_toolkit_config(std::string_view text);

struct DockerConfig {
  std::vector<model::DockerRuntime> runtimes;  // found left empty
  std::optional<std::string> default_runtime;
  std::optional<std::string> cgroup_driver;  // from exec-opts native.cgroupdriver=
  std::string error;
};
// /etc/docker/daemon.json.
DockerConfig parse_docker_config(std::string_view text);

// containerd's config.toml: SystemdCgroup = true|false in the runc options.
// nullopt when the file does not say; error set when it does not parse.
std::optional<bool> parse_containerd_systemd_cgroup(std::string_view text, std::string& error);
// The kubelet's config.yaml: "cgroupDriver: systemd".
std::optional<std::string> parse_kubelet_cgroup_driver(std::string_view text);

// Driver versions in a CDI spec's library paths (YAML or JSON), sorted and
// unique; nvidia set when the spec's kind is nvidia.com/...
std::vector<std::string> cdi_driver_versions(std::string_view text, bool& nvidia);

// Container evidence in /proc/1/cgroup ("0::/docker/<id>", "/kubepods/...").
std::optional<std::string> container_cgroup_evidence(std::string_view proc_1_cgroup);

// Reads everything above inside the root; runs nvidia-container-cli (the
// --container-cli file, or on the live root the one on PATH) unless NVML
// hung. Uses the devnodes and driver parts already in the snapshot.
model::ContainerInfo read_container(const host::HostRoot& root, const ProbeOptions& options,
                                    const model::Snapshot& snap);

}  // namespace gd::probe
