// libFuzzer target: the container probe's inputs — `nvidia-container-cli info` output, the toolkit's
// config.toml, Docker's daemon.json, containerd's config.toml, the kubelet's config.yaml, CDI specs and
// /proc/1/cgroup.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gd/probe/container.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  // The first NUL splits stdout from stderr for the container CLI.
  auto nul = text.find('\0');
  gd::model::ContainerCli cli;
  gd::probe::parse_container_cli_output(text.substr(0, nul), nul == text.npos ? "" : text.substr(nul + 1), cli);
  (void)gd::probe::parse_toolkit_config(text);
  (void)gd::probe::parse_docker_config(text);
  std::string error;
  (void)gd::probe::parse_containerd_systemd_cgroup(text, error);
  (void)gd::probe::parse_kubelet_cgroup_driver(text);
  bool nvidia = false;
  (void)gd::probe::cdi_driver_versions(text, nvidia);
  (void)gd::probe::container_cgroup_evidence(text);
  return 0;
}
