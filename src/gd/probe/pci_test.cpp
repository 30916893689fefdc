#include "gd/probe/pci.hpp"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "gd/testing/temp_root.hpp"

namespace gd::probe {
namespace {

namespace fs = std::filesystem;

using testing::TempRoot;

void add_function(const TempRoot& root, const std::string& bdf, std::string_view vendor, std::string_view cls) {
  std::string dir = "/sys/bus/pci/devices/" + bdf;
  root.write(dir + "/vendor", vendor);
  root.write(dir + "/class", cls);
  root.write(dir + "/device", "0x1db4\n");
}

TEST(ParseSysfsHex, AcceptsSysfsText) {
  EXPECT_EQ(parse_sysfs_hex("0x10de\n"), 0x10deu);
  EXPECT_EQ(parse_sysfs_hex("0x030200"), 0x030200u);
  EXPECT_EQ(parse_sysfs_hex("10DE"), 0x10deu);
  EXPECT_EQ(parse_sysfs_hex(" 0xffffffff \n"), 0xffffffffu);
}

TEST(ParseSysfsHex, RejectsJunk) {
  for (const char* junk : {"", "\n", "0x", "zz", "0x10de 0x1", "0x-1", "-0x1", "+10de", "0x1ffffffff",
                           "0xffffffffffffffffff", "\x01\x02\xff"})
    EXPECT_EQ(parse_sysfs_hex(junk), std::nullopt) << junk;
  EXPECT_EQ(parse_sysfs_hex(std::string(1 << 16, 'f')), std::nullopt);
  EXPECT_EQ(parse_sysfs_hex(std::string_view("0x10\0de", 7)), std::nullopt);
}

TEST(ParseSysfsUint, Widths) {
  EXPECT_EQ(parse_sysfs_uint("16\n"), 16u);
  EXPECT_EQ(parse_sysfs_uint("0"), 0u);
  for (const char* junk : {"", "x16", "-1", "1.5", "4294967296", "16 8"})
    EXPECT_EQ(parse_sysfs_uint(junk), std::nullopt) << junk;
}

TEST(IsNvidiaGpuClass, DisplayAnd3dOnly) {
  EXPECT_TRUE(is_nvidia_gpu_class(0x030000));
  EXPECT_TRUE(is_nvidia_gpu_class(0x030200));
  EXPECT_TRUE(is_nvidia_gpu_class(0x030001));
  EXPECT_FALSE(is_nvidia_gpu_class(0x040300));  // HDA audio
  EXPECT_FALSE(is_nvidia_gpu_class(0x068000));  // NVSwitch bridge
  EXPECT_FALSE(is_nvidia_gpu_class(0x030100));
  EXPECT_FALSE(is_nvidia_gpu_class(0x0300));
  EXPECT_FALSE(is_nvidia_gpu_class(0));
}

TEST(ReadPci, NoPciBusIsNotAProblem) {
  TempRoot root;
  auto info = read_pci(root.host());
  EXPECT_TRUE(info.gpus.empty());
  EXPECT_EQ(info.other_nvidia_functions, 0u);
}

TEST(ReadPci, FindsGpusAndCountsOtherFunctions) {
  TempRoot root;
  add_function(root, "5b0a:00:00.0", "0x10de\n", "0x030200\n");
  add_function(root, "0000:3b:00.0", "0x10de\n", "0x030000\n");
  add_function(root, "0000:3b:00.1", "0x10de\n", "0x040300\n");
  add_function(root, "0000:c0:00.0", "0x10de\n", "0x068000\n");
  add_function(root, "0000:00:1f.0", "0x8086\n", "0x030000\n");
  std::string dev = "/sys/bus/pci/devices/5b0a:00:00.0";
  root.link("../../../bus/pci/drivers/nvidia", dev + "/driver");
  root.write(dev + "/current_link_speed", "8.0 GT/s PCIe\n");
  root.write(dev + "/max_link_speed", "8.0 GT/s PCIe\n");
  root.write(dev + "/current_link_width", "16\n");
  root.write(dev + "/max_link_width", "16\n");

  auto info = read_pci(root.host());
  ASSERT_EQ(info.gpus.size(), 2u);
  EXPECT_EQ(info.other_nvidia_functions, 2u);
  const auto& first = info.gpus[0];
  EXPECT_EQ(first.bus_id, "0000:3b:00.0");
  EXPECT_EQ(first.class_code, 0x030000u);
  EXPECT_EQ(first.driver, "");
  EXPECT_EQ(first.current_link_speed, std::nullopt);
  EXPECT_TRUE(first.problems.empty());
  const auto& azure = info.gpus[1];
  EXPECT_EQ(azure.bus_id, "5b0a:00:00.0");
  EXPECT_EQ(azure.vendor_id, 0x10deu);
  EXPECT_EQ(azure.device_id, 0x1db4u);
  EXPECT_EQ(azure.class_code, 0x030200u);
  EXPECT_EQ(azure.driver, "nvidia");
  EXPECT_EQ(azure.current_link_speed, "8.0 GT/s PCIe");
  EXPECT_EQ(azure.max_link_speed, "8.0 GT/s PCIe");
  EXPECT_EQ(azure.current_link_width, 16u);
  EXPECT_EQ(azure.max_link_width, 16u);
  EXPECT_TRUE(azure.problems.empty());
}

TEST(ReadPci, FollowsSymlinkedDeviceEntries) {
  TempRoot root;
  root.write("/sys/devices/pci0000:00/0000:00:04.0/vendor", "0x10de\n");
  root.write("/sys/devices/pci0000:00/0000:00:04.0/class", "0x030200\n");
  root.write("/sys/devices/pci0000:00/0000:00:04.0/device", "0x1db1\n");
  root.link("../../../bus/pci/drivers/vfio-pci", "/sys/devices/pci0000:00/0000:00:04.0/driver");
  root.link("../../../devices/pci0000:00/0000:00:04.0", "/sys/bus/pci/devices/0000:00:04.0");
  auto info = read_pci(root.host());
  ASSERT_EQ(info.gpus.size(), 1u);
  EXPECT_EQ(info.gpus[0].device_id, 0x1db1u);
  EXPECT_EQ(info.gpus[0].driver, "vfio-pci");
}

TEST(ReadPci, MalformedAttributesBecomeNamedProblems) {
  TempRoot root;
  add_function(root, "0000:3b:00.0", "0x10de\n", "zz\n");
  add_function(root, "0000:3c:00.0", "0x10de\n", "0x030200\n");
  std::string dev = "/sys/bus/pci/devices/0000:3c:00.0";
  root.write(dev + "/device", std::string("\x7f\x45\x4c\x46\0\0", 6));
  root.write(dev + "/current_link_width", "sixteen\n");
  root.write(dev + "/max_link_width", "99999999999999999999999\n");
  root.write(dev + "/current_link_speed", "\n");
  root.write(dev + "/max_link_speed", std::string(100000, 'x'));
  root.write(dev + "/driver", "not a link");
  add_function(root, "0000:3d:00.0", "garbage", "0x030200\n");  // cannot tell it is NVIDIA

  auto info = read_pci(root.host());
  ASSERT_EQ(info.gpus.size(), 2u);
  const auto& unknown_class = info.gpus[0];
  EXPECT_EQ(unknown_class.bus_id, "0000:3b:00.0");
  ASSERT_EQ(unknown_class.problems.size(), 1u);
  EXPECT_EQ(unknown_class.problems[0], "/sys/bus/pci/devices/0000:3b:00.0/class: expected hex, got \"zz\"");
  const auto& bad = info.gpus[1];
  EXPECT_EQ(bad.device_id, 0u);
  EXPECT_EQ(bad.driver, "");
  EXPECT_EQ(bad.current_link_width, std::nullopt);
  EXPECT_EQ(bad.max_link_width, std::nullopt);
  EXPECT_EQ(bad.current_link_speed, std::nullopt);
  EXPECT_EQ(bad.max_link_speed, std::nullopt);
  EXPECT_EQ(bad.problems.size(), 6u);
  EXPECT_EQ(bad.problems[0].find("/sys/bus/pci/devices/0000:3c:00.0/device: expected hex"), 0u);
  for (const auto& p : bad.problems) EXPECT_LT(p.size(), 300u) << p;
}

}  // namespace
}  // namespace gd::probe
