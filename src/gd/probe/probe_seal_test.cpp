// Every probe reads inside --root only: a root whose files (or directories)
// are links leading out of it, absolutely or with "..", to a node full of
// bait must read as an empty root, whichever resolver HostRoot uses.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "gd/model/json_io.hpp"
#include "gd/probe/probe.hpp"
#include "gd/testing/temp_root.hpp"

namespace gd::probe {
namespace {

namespace fs = std::filesystem;

using host::HostRoot;
using host::Resolver;
using testing::TempRoot;

// A node every probe would find something in; each file says BAIT somewhere.
void write_bait_node(const TempRoot& n) {
  n.write("/etc/hostname", "BAIT-host\n");
  n.write("/proc/modules", "nvidia 56000000 0 - Live 0x0 (POE)\nnvidia_uvm 1 0 - Live 0x0\n");
  n.write("/proc/driver/nvidia/version", "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.1.BAIT  Fri\n");
  n.write("/proc/driver/nvidia/gpus/0000:3b:00.0/information", "Model: \t BAIT GPU\nDevice Minor: \t 0\n");
  n.write("/proc/devices", "Character devices:\n195 nvidia\n");
  n.write("/proc/1/cgroup", "0::/kubepods/BAIT\n");
  n.write("/sys/bus/pci/devices/0000:3b:00.0/vendor", "0x10de\n");
  n.write("/sys/bus/pci/devices/0000:3b:00.0/device", "0x1db4\n");
  n.write("/sys/bus/pci/devices/0000:3b:00.0/class", "0x030200\n");
  n.write("/sys/bus/pci/devices/0000:3b:00.0/current_link_width", "BAIT\n");
  n.write("/sys/fs/cgroup/cgroup.controllers", "cpu BAIT\n");
  n.write("/run/nvidia-persistenced/nvidia-persistenced.pid", "1\n");
  n.write("/proc/1/comm", "nvidia-persistenced\n");
  n.write("/lib/systemd/system/nvidia-persistenced.service", "[Service]\nExecStart=/usr/bin/BAIT\n");
  n.write("/etc/ld.so.conf", "/opt/BAIT/lib\n");
  n.write("/opt/BAIT/lib/libcuda.so.1", "BAIT");
  n.write("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.535.1", "BAIT");
  n.write("/etc/nvidia-container-runtime/config.toml", "[nvidia-container-cli]\nldconfig = \"@/sbin/BAIT\"\n");
  n.write("/etc/docker/daemon.json", R"({"runtimes": {"BAIT": {"path": "/BAIT"}}})");
  n.write("/etc/cdi/nvidia.yaml", "kind: nvidia.com/gpu\n# /usr/lib/libcuda.so.535.BAIT\n");
  n.write("/proc/sys/kernel/random/boot_id", "BAIT\n");
}

enum class LinkStyle { absolute_files, dotdot_files, absolute_dirs, dotdot_dirs };

// Mirrors every file (or top-level directory) of the bait node as a link in the root.
void mirror_as_links(const TempRoot& bait, const TempRoot& root, LinkStyle style) {
  bool dirs = style == LinkStyle::absolute_dirs || style == LinkStyle::dotdot_dirs;
  bool absolute = style == LinkStyle::absolute_files || style == LinkStyle::absolute_dirs;
  auto target_of = [&](const fs::path& real, const fs::path& rel) {
    if (absolute) return real.string();
    std::string up;
    for (int i = 0; i < 40; ++i) up += "../";  // far more than the depth: ".." must stop at the root
    (void)rel;
    return up + real.relative_path().string();
  };
  if (dirs) {
    for (const auto& e : fs::directory_iterator(bait.dir()))
      root.link(target_of(e.path(), e.path().filename()), "/" + e.path().filename().string());
    return;
  }
  for (const auto& e : fs::recursive_directory_iterator(bait.dir())) {
    if (!e.is_regular_file()) continue;
    auto rel = fs::relative(e.path(), bait.dir());
    root.link(target_of(e.path(), rel), "/" + rel.string());
  }
}

class ProbesStayInsideTheRoot : public ::testing::TestWithParam<std::tuple<Resolver, LinkStyle>> {
 protected:
  void TearDown() override { HostRoot::force_resolver_for_tests(std::nullopt); }
};

TEST_P(ProbesStayInsideTheRoot, ABaitNodeBehindLinksIsNotRead) {
  auto [resolver, style] = GetParam();
  HostRoot::force_resolver_for_tests(resolver);
  TempRoot bait, root;
  write_bait_node(bait);
  mirror_as_links(bait, root, style);
  HostRoot host(root.dir());
  ProbeOptions options;
  options.timeout_s = 2;
  auto snap = take_snapshot(ProbeContext{host, options});
  std::string json = model::to_json(snap).dump();
  EXPECT_EQ(json.find("BAIT"), std::string::npos) << json;
  EXPECT_TRUE(snap.pci.gpus.empty());
  EXPECT_FALSE(snap.driver.nvidia_loaded);
  EXPECT_FALSE(snap.persistenced.pid_file);
  EXPECT_EQ(snap.hostname, "");
}

std::string case_name(const ::testing::TestParamInfo<std::tuple<Resolver, LinkStyle>>& info) {
  static const char* const k_styles[] = {"absolute_files", "dotdot_files", "absolute_dirs", "dotdot_dirs"};
  return std::string(std::get<0>(info.param) == Resolver::openat2 ? "openat2_" : "walk_") +
         k_styles[static_cast<int>(std::get<1>(info.param))];
}

INSTANTIATE_TEST_SUITE_P(EveryLinkStyle, ProbesStayInsideTheRoot,
                         ::testing::Combine(::testing::Values(Resolver::openat2, Resolver::walk),
                                            ::testing::Values(LinkStyle::absolute_files, LinkStyle::dotdot_files,
                                                              LinkStyle::absolute_dirs, LinkStyle::dotdot_dirs)),
                         case_name);

}  // namespace
}  // namespace gd::probe
