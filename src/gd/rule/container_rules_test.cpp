#include <gtest/gtest.h>

#include "gd/rule/rule.hpp"

namespace gd::rule {
namespace {

using model::Finding;
using model::Severity;

std::vector<Finding> run(void (*rule)(const RuleInput&, std::vector<Finding>&), const model::Snapshot& s) {
  std::vector<Finding> out;
  rule(RuleInput{s, std::nullopt}, out);
  return out;
}

model::Snapshot cli_snapshot(std::optional<int> exit_code, std::string error, bool timed_out = false) {
  model::Snapshot s;
  s.container.cli.path = "/usr/bin/nvidia-container-cli";
  s.container.cli.exit_code = exit_code;
  s.container.cli.error = std::move(error);
  s.container.cli.timed_out = timed_out;
  return s;
}

TEST(ContainerCliFailed, SeedErrorMapsToLdconfig) {
  auto f = run(rule_container_cli_failed,
               cli_snapshot(1, "nvidia-container-cli: initialization error: driver error: failed to process request"));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::critical);
  EXPECT_NE(f[0].fix[0].find("ldconfig"), std::string::npos);
  auto mismatch = run(rule_container_cli_failed,
                      cli_snapshot(1, "nvidia-container-cli: initialization error: nvml error: driver/library version "
                                      "mismatch: unknown"));
  EXPECT_TRUE(mismatch[0].needs_reboot);
  auto unknown = run(rule_container_cli_failed, cli_snapshot(1, "something new"));
  EXPECT_EQ(unknown[0].severity, Severity::critical);
  EXPECT_NE(unknown[0].fix[0].find("-k -d /dev/tty"), std::string::npos);
}

TEST(ContainerCliFailed, OkWhenItWorksSilentWhenNotRunOrHung) {
  auto s = cli_snapshot(0, "");
  s.container.cli.nvrm_version = "535.104.05";
  s.container.cli.devices = 8;
  auto f = run(rule_container_cli_failed, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::ok);
  EXPECT_NE(f[0].summary.find("8 GPU"), std::string::npos);
  EXPECT_TRUE(run(rule_container_cli_failed, model::Snapshot{}).empty());
  auto hung = cli_snapshot(std::nullopt, "", true);
  EXPECT_TRUE(run(rule_container_cli_failed, hung).empty());
  auto h = run(rule_container_cli_hung, hung);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].severity, Severity::critical);
}

model::Snapshot cgroup2_host(bool link_ok) {
  model::Snapshot s;
  s.container.cgroup_version = 2;
  s.container.docker_config = "/etc/docker/daemon.json";
  s.container.docker_runtimes.push_back({"nvidia", "nvidia-container-runtime", "/usr/bin/nvidia-container-runtime"});
  s.container.dev_char.push_back({"/dev/nvidiactl", "/dev/char/195:255", link_ok, link_ok ? "" : "missing"});
  return s;
}

TEST(DevCharLinks, WarnsOnlyForSystemdDriverOnCgroupV2) {
  auto f = run(rule_container_dev_char_links, cgroup2_host(false));
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_NE(f[0].evidence[0].find("Docker's default"), std::string::npos);
  EXPECT_NE(f[0].evidence[1].find("/dev/char/195:255"), std::string::npos);

  auto cgroupfs = cgroup2_host(false);
  cgroupfs.container.cgroup_driver = "cgroupfs";
  EXPECT_TRUE(run(rule_container_dev_char_links, cgroupfs).empty());

  auto v1 = cgroup2_host(false);
  v1.container.cgroup_version = 1;
  EXPECT_TRUE(run(rule_container_dev_char_links, v1).empty());

  auto no_runtime = cgroup2_host(false);
  no_runtime.container.docker_runtimes.clear();
  no_runtime.container.docker_config.reset();
  EXPECT_TRUE(run(rule_container_dev_char_links, no_runtime).empty());

  auto ok = run(rule_container_dev_char_links, cgroup2_host(true));
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].severity, Severity::ok);
}

TEST(CdiStale, ComparesWithLoadedModule) {
  model::Snapshot s;
  s.driver.kernel_version = "535.104.05";
  s.container.cdi_specs.push_back({"/etc/cdi/nvidia.yaml", {"525.85.12"}, true});
  auto f = run(rule_container_cdi_stale, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_NE(f[0].fix[0].find("nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"), std::string::npos);
  s.container.cdi_specs[0].driver_versions = {"535.104.05"};
  EXPECT_EQ(run(rule_container_cdi_stale, s)[0].severity, Severity::ok);
}

TEST(ConfigInvalid, NamesEachProblem) {
  model::Snapshot s;
  s.container.docker_config = "/etc/docker/daemon.json";
  s.container.docker_runtimes.push_back({"nvidia", "nvidia-container-runtime", std::nullopt});
  s.container.docker_default_runtime = "nvidia-experimental";
  s.container.toolkit_config = "/etc/nvidia-container-runtime/config.toml";
  s.container.toolkit_ldconfig = "@/sbin/ldconfig.real";
  s.container.toolkit_ldconfig_found = false;
  s.container.problems.push_back("/etc/containerd/config.toml: line 4, column 1: bad");
  auto f = run(rule_container_config_invalid, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_EQ(f[0].evidence.size(), 4u);
  EXPECT_TRUE(run(rule_container_config_invalid, model::Snapshot{}).empty());
}

TEST(Inside, NvmlBlockedAndSubsetOfGpus) {
  model::Snapshot s;
  s.container.inside = true;
  s.container.inside_evidence = {"/.dockerenv exists (Docker)"};
  s.nvml.init_return = 999;
  auto f = run(rule_container_nvml_blocked, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::critical);
  s.nvml.init_return = 9;
  EXPECT_TRUE(run(rule_container_nvml_blocked, s).empty());

  // The host has 4 GPUs on PCI; the container was given one; NVML sees it.
  model::Snapshot c;
  c.container.inside = true;
  c.container.inside_evidence = {"/.dockerenv exists (Docker)"};
  c.driver.nvidia_loaded = true;
  c.driver.kernel_version = "460.32.03";
  for (const char* b : {"5b0a:00:00.0", "9e65:00:00.0", "b111:00:00.0", "bd71:00:00.0"}) {
    model::PciGpu p;
    p.bus_id = b;
    p.vendor_id = 0x10de;
    p.driver = "nvidia";
    c.pci.gpus.push_back(p);
  }
  model::DriverGpu given;
  given.bus_id = "9e65:00:00.0";
  c.driver.gpus.push_back(given);
  c.nvml.state = model::NvmlState::ok;
  c.nvml.init_return = 0;
  c.nvml.device_count = 1;
  model::NvmlGpu g;
  g.bus_id = "9e65:00:00.0";
  c.nvml.gpus.push_back(g);
  c.nvml.library.file_version = "460.32.03";
  auto inside = run(rule_container_inside, c);
  ASSERT_EQ(inside.size(), 1u);
  EXPECT_EQ(inside[0].severity, Severity::ok);
  EXPECT_NE(inside[0].summary.find("1 of the host's 4"), std::string::npos);
  for (const auto& fell : run(rule_gpu_fell_off_bus, c)) EXPECT_NE(fell.severity, Severity::critical) << fell.summary;
  c.container.inside = false;  // the same view on a host: three GPUs do not answer
  EXPECT_EQ(run(rule_gpu_fell_off_bus, c).size(), 3u);
  c.container.inside = true;
  c.nvml.library.file_version = "465.19.01";
  EXPECT_EQ(run(rule_container_inside, c)[0].severity, Severity::warning);
}

}  // namespace
}  // namespace gd::rule
