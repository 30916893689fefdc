#include "gd/probe/container.hpp"

#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "gd/testing/temp_root.hpp"

namespace gd::probe {
namespace {

namespace fs = std::filesystem;

using testing::TempRoot;

TEST(ContainerCliOutput, ParsesInfo) {
  model::ContainerCli cli;
  parse_container_cli_output("NVRM version:   460.32.03\nCUDA version:   11.2\n\nDevice Index:   0\n"
                             "Device Minor:   0\nModel:          Tesla V100-PCIE-16GB\n\nDevice Index:   1\n",
                             "", cli);
  EXPECT_EQ(cli.nvrm_version, "460.32.03");
  EXPECT_EQ(cli.cuda_version, "11.2");
  EXPECT_EQ(cli.devices, 2u);
  EXPECT_EQ(cli.error, "");
}

TEST(ContainerCliOutput, KeepsErrorLines) {
  model::ContainerCli cli;
  cli.exit_code = 1;
  parse_container_cli_output("", "nvidia-container-cli: initialization error: load library failed: "
                                 "libnvidia-fatbinaryloader.so.465.19.01: cannot open shared object file: no such "
                                 "file or directory\n",
                             cli);
  EXPECT_NE(cli.error.find("libnvidia-fatbinaryloader.so.465.19.01"), std::string::npos);
  model::ContainerCli other;
  other.exit_code = 2;
  parse_container_cli_output("", "\n\x01\x02 garbage\nsegmentation fault\n", other);
  EXPECT_EQ(other.error, "segmentation fault");
}

TEST(ToolkitConfig, ReadsKeysAndRejectsGarbageWithLine) {
  auto ok = parse_toolkit_config("disable-require = false\n[nvidia-container-cli]\nno-cgroups = true\n"
                                 "ldconfig = \"@/sbin/ldconfig.real\"\n");
  EXPECT_EQ(ok.error, "");
  EXPECT_EQ(ok.no_cgroups, true);
  EXPECT_EQ(ok.ldconfig, "@/sbin/ldconfig.real");
  auto bad = parse_toolkit_config("[nvidia-container-cli]\nno-cgroups = tru\n");
  EXPECT_NE(bad.error.find("line 2"), std::string::npos) << bad.error;
  auto junk = parse_toolkit_config(std::string("\x00\xff\xfe[[[", 6));
  EXPECT_FALSE(junk.error.empty());
}

TEST(DockerConfig, RuntimesDefaultAndCgroupDriver) {
  auto c = parse_docker_config(R"({"runtimes": {"nvidia": {"path": "nvidia-container-runtime", "runtimeArgs": []}},
    "default-runtime": "nvidia", "exec-opts": ["native.cgroupdriver=systemd"]})");
  EXPECT_EQ(c.error, "");
  ASSERT_EQ(c.runtimes.size(), 1u);
  EXPECT_EQ(c.runtimes[0].name, "nvidia");
  EXPECT_EQ(c.runtimes[0].path, "nvidia-container-runtime");
  EXPECT_EQ(c.default_runtime, "nvidia");
  EXPECT_EQ(c.cgroup_driver, "systemd");
  auto bad = parse_docker_config("{\n  \"runtimes\": {\n    \"nvidia\": {,\n");
  EXPECT_NE(bad.error.find("line 3"), std::string::npos) << bad.error;
  EXPECT_EQ(parse_docker_config("[1,2]").error, "not a JSON object");
}

TEST(CgroupDriver, ContainerdAndKubelet) {
  std::string err;
  EXPECT_EQ(parse_containerd_systemd_cgroup(
                "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
                "  SystemdCgroup = true\n",
                err),
            true);
  EXPECT_EQ(err, "");
  EXPECT_EQ(parse_containerd_systemd_cgroup("version = 2\n", err), std::nullopt);
  EXPECT_EQ(parse_containerd_systemd_cgroup("[plugins\n", err), std::nullopt);
  EXPECT_FALSE(err.empty());
  EXPECT_EQ(parse_kubelet_cgroup_driver("kind: KubeletConfiguration\ncgroupDriver: \"systemd\"\n"), "systemd");
  EXPECT_EQ(parse_kubelet_cgroup_driver("nested:\n  cgroupDriver: cgroupfs\n"), std::nullopt);
}

TEST(Cdi, DriverVersionsFromLibraryPaths) {
  bool nvidia = false;
  auto v = cdi_driver_versions("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ncontainerEdits:\n  mounts:\n"
                               "  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05\n"
                               "  - hostPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.104.05\n"
                               "  - hostPath: /usr/lib/x86_64-linux-gnu/libnvidia-egl-wayland.so.1.1.11\n"
                               "  - hostPath: /usr/lib/x86_64-linux-gnu/libnvidia-container.so.1.13.5\n",
                               nvidia);
  EXPECT_TRUE(nvidia);
  EXPECT_EQ(v, std::vector<std::string>{"535.104.05"});
  auto j = cdi_driver_versions(R"({"kind":"nvidia.com/gpu","containerEdits":{"mounts":[{"hostPath":"/usr/lib64/libcuda.so.550.54.15"}]}})",
                               nvidia);
  EXPECT_EQ(j, std::vector<std::string>{"550.54.15"});
  std::string junk(1 << 20, '\x07');
  junk += ".so.";
  EXPECT_TRUE(cdi_driver_versions(junk, nvidia).empty());
  EXPECT_FALSE(nvidia);
}

TEST(InsideEvidence, CgroupPaths) {
  EXPECT_TRUE(container_cgroup_evidence("12:devices:/docker/0123abcd\n0::/docker/0123abcd\n"));
  EXPECT_TRUE(container_cgroup_evidence("0::/kubepods/besteffort/pod1/abc\n"));
  EXPECT_FALSE(container_cgroup_evidence("0::/init.scope\n"));
  EXPECT_FALSE(container_cgroup_evidence("0::/\n"));
  EXPECT_FALSE(container_cgroup_evidence("garbage without colons"));
}

model::Snapshot with_nodes(std::initializer_list<const char*> nodes) {
  model::Snapshot s;
  for (const char* n : nodes) s.devnodes.nodes.push_back({n, true, false});
  return s;
}

TEST(ReadContainer, DevCharLinksOnCgroupV2Host) {
  TempRoot r;
  r.write("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
  r.write("/proc/devices", "Character devices:\n195 nvidia-frontend\n508 nvidia-uvm\n");
  r.write("/dev/nvidiactl", "");
  r.write("/dev/nvidia0", "");
  r.write("/dev/nvidia-uvm", "");
  r.link("../nvidiactl", "/dev/char/195:255");
  r.link("../nvidia1", "/dev/char/195:0");  // leads elsewhere
  host::HostRoot root(r.dir());
  ProbeOptions o;
  auto c = read_container(root, o, with_nodes({"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia0"}));
  EXPECT_EQ(c.cgroup_version, 2u);
  EXPECT_FALSE(c.inside);
  ASSERT_EQ(c.dev_char.size(), 3u);
  EXPECT_TRUE(c.dev_char[0].ok);
  EXPECT_EQ(c.dev_char[1].link, "/dev/char/508:0");
  EXPECT_EQ(c.dev_char[1].problem, "missing");
  EXPECT_EQ(c.dev_char[2].link, "/dev/char/195:0");
  EXPECT_FALSE(c.dev_char[2].ok);
  EXPECT_FALSE(c.dev_char[2].problem.empty());
}

TEST(ReadContainer, InsideADockerContainer) {
  TempRoot r;
  r.write("/.dockerenv", "");
  r.write("/proc/1/cgroup", "0::/\n");
  host::HostRoot root(r.dir());
  ProbeOptions o;
  auto c = read_container(root, o, model::Snapshot{});
  EXPECT_TRUE(c.inside);
  ASSERT_EQ(c.inside_evidence.size(), 1u);
  EXPECT_NE(c.inside_evidence[0].find(".dockerenv"), std::string::npos);
  EXPECT_TRUE(c.dev_char.empty());
}

TEST(ReadContainer, ConfigFilesAndMissingPrograms) {
  TempRoot r;
  r.write("/etc/docker/daemon.json", R"({"runtimes":{"nvidia":{"path":"nvidia-container-runtime"}},
    "default-runtime":"nvidia"})");
  r.write("/etc/nvidia-container-runtime/config.toml", "[nvidia-container-cli]\nldconfig = \"@/sbin/ldconfig.real\"\n");
  r.write("/sbin/ldconfig", "");
  r.write("/etc/cdi/nvidia.yaml", "kind: nvidia.com/gpu\n  - hostPath: /usr/lib/libcuda.so.465.19.01\n");
  host::HostRoot root(r.dir());
  ProbeOptions o;
  auto c = read_container(root, o, model::Snapshot{});
  ASSERT_EQ(c.docker_runtimes.size(), 1u);
  EXPECT_FALSE(c.docker_runtimes[0].found);
  EXPECT_EQ(c.toolkit_ldconfig_found, false);
  ASSERT_EQ(c.cdi_specs.size(), 1u);
  EXPECT_EQ(c.cdi_specs[0].driver_versions, std::vector<std::string>{"465.19.01"});
  EXPECT_EQ(c.cli.path, "");  // under --root nothing is run without --container-cli
  EXPECT_NE(c.cli.skip_reason.find("--root"), std::string::npos);
}

TEST(ReadContainer, HangingCliIsKilledAtTheDeadline) {
  TempRoot r;
  auto cli = r.write("/bin/fake-nvidia-container-cli", "#!/bin/sh\nexec sleep 30\n", true);
  host::HostRoot root(r.dir());
  ProbeOptions o;
  o.container_cli = cli.string();
  o.timeout_s = 0.3;
  auto t0 = std::chrono::steady_clock::now();
  auto c = read_container(root, o, model::Snapshot{});
  auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(c.cli.timed_out);
  EXPECT_FALSE(c.cli.exit_code);
  EXPECT_LT(s, 2.0);
}

TEST(ReadContainer, FailingCliKeepsItsError) {
  TempRoot r;
  auto cli = r.write("/bin/fake", "#!/bin/sh\necho 'nvidia-container-cli: initialization error: nvml error: driver "
                                  "not loaded' >&2\nexit 1\n",
                     true);
  host::HostRoot root(r.dir());
  ProbeOptions o;
  o.container_cli = cli.string();
  auto c = read_container(root, o, model::Snapshot{});
  EXPECT_FALSE(c.cli.timed_out);
  EXPECT_EQ(c.cli.exit_code, 1);
  EXPECT_NE(c.cli.error.find("driver not loaded"), std::string::npos);
}

TEST(ReadContainer, CliSkippedWhenNvmlHung) {
  TempRoot r;
  auto cli = r.write("/bin/fake", "#!/bin/sh\nexit 0\n", true);
  host::HostRoot root(r.dir());
  ProbeOptions o;
  o.container_cli = cli.string();
  model::Snapshot s;
  s.nvml.state = model::NvmlState::hung;
  auto c = read_container(root, o, s);
  EXPECT_EQ(c.cli.path, "");
  EXPECT_NE(c.cli.skip_reason.find("NVML hung"), std::string::npos);
}

}  // namespace
}  // namespace gd::probe

namespace gd::probe {
namespace {
// Found by fuzz_container: nlohmann throws out_of_range (not parse_error) on a number it cannot hold, and
// that escaped: the whole container probe was dropped ("number overflow parsing '1e999'").
// Also from fuzz_container: a version with a 10-digit branch overflowed int while being judged (UB).
TEST(CdiSpec, AnAbsurdlyLongVersionIsNoDriverVersion) {
  bool nvidia = false;
  EXPECT_TRUE(cdi_driver_versions("kind: nvidia.com/gpu\n  - hostPath: /usr/lib/libcuda.so.4571019601.45.01\n", nvidia)
                  .empty());
  EXPECT_EQ(cdi_driver_versions("kind: nvidia.com/gpu\n  - hostPath: /usr/lib/libcuda.so.1050.45.01\n", nvidia),
            std::vector<std::string>{"1050.45.01"});
}

TEST(DockerConfig, ANumberOutOfRangeIsInvalidJsonNotAnEscapedException) {
  DockerConfig cfg;
  EXPECT_NO_THROW(cfg = parse_docker_config(R"({"runtimes": {"nvidia": {"path": "nvidia-container-runtime"}},
                                              "x": 1e999})"));
  EXPECT_NE(cfg.error.find("not valid JSON"), std::string::npos) << cfg.error;
  EXPECT_NE(cfg.error.find("1e999"), std::string::npos) << cfg.error;
}
}  // namespace
}  // namespace gd::probe
