#include "gd/probe/driver.hpp"

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

constexpr std::string_view k_proprietary =
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.82.01  Wed Oct 27 21:21:55 UTC 2021\n"
    "GCC version:  gcc version 4.8.5 20150623 (Red Hat 4.8.5-28) (GCC)\n";
constexpr std::string_view k_open =
    "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  565.57.01  Release Build  "
    "(dvs-builder@U16-A24-9-2)  Thu Oct 10 12:15:00 UTC 2024\n"
    "GCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)\n";
constexpr std::string_view k_information =
    "Model: \t\t NVIDIA L4\n"
    "IRQ:   \t\t 16\n"
    "GPU UUID: \t GPU-3291dfa4-fcc4-0110-615b-c894a0d7c689\n"
    "Video BIOS: \t 95.04.65.00.13\n"
    "Bus Type: \t PCIe\n"
    "DMA Size: \t 47 bits\n"
    "DMA Mask: \t 0x7fffffffffff\n"
    "Bus Location: \t 0000:70:00.0\n"
    "Device Minor: \t 0\n"
    "GPU Excluded:\t No\n";

TEST(ParseProcDriverVersion, Proprietary) {
  auto v = parse_proc_driver_version(k_proprietary);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->version, "470.82.01");
  EXPECT_EQ(v->flavour, "proprietary");
  EXPECT_EQ(v->first_line, "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.82.01  Wed Oct 27 21:21:55 UTC 2021");
}

TEST(ParseProcDriverVersion, Open) {
  auto v = parse_proc_driver_version(k_open);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->version, "565.57.01");
  EXPECT_EQ(v->flavour, "open");
}

TEST(ParseProcDriverVersion, Variants) {
  auto two = parse_proc_driver_version(
      "NVRM version: NVIDIA UNIX x86_64 Kernel Module  418.67  Sat Apr  6 03:07:24 CDT 2019\r\n");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->version, "418.67");
  auto arm =
      parse_proc_driver_version("NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  550.54.15  Release Build");
  ASSERT_TRUE(arm);
  EXPECT_EQ(arm->version, "550.54.15");
  EXPECT_EQ(arm->flavour, "open");
  auto x86 = parse_proc_driver_version("NVRM version: NVIDIA UNIX x86 Kernel Module  304.137  Mi 27. Okt 2021");
  ASSERT_TRUE(x86);
  EXPECT_EQ(x86->version, "304.137");
}

TEST(ParseProcDriverVersion, RejectsHostileInput) {
  for (std::string_view junk :
       {std::string_view(""), std::string_view("\n\n"), std::string_view("GCC version: 4.8.5\n"),
        std::string_view("NVRM version:"), std::string_view("NVRM version: NVIDIA UNIX x86_64 Kernel Mod"),
        std::string_view("NVRM version: NVIDIA UNIX x86_64 Kernel Module  abc.def  Wed"),
        std::string_view("NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.82.01.7.1  Wed Oct 27"),
        std::string_view("\x7f"
                         "ELF\x02\x01\x01\0\0\0",
                         10)}) {
    auto v = parse_proc_driver_version(junk);
    EXPECT_FALSE(v) << junk;
  }
  std::string huge = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  " + std::string(1 << 20, 'x');
  auto v = parse_proc_driver_version(huge);
  ASSERT_FALSE(v);
  EXPECT_LT(v.error().message.size(), 400u);
  EXPECT_NE(v.error().message.find("no driver version"), std::string::npos);
}

TEST(LooksLikeDriverVersion, Shapes) {
  EXPECT_TRUE(looks_like_driver_version("535.146.02"));
  EXPECT_TRUE(looks_like_driver_version("418.67"));
  for (const char* no : {"", "535", "535.", ".535", "535..02", "1.2.3.4", "x86_64", "535.146.02a", "-1.2"})
    EXPECT_FALSE(looks_like_driver_version(no)) << no;
}

TEST(ParseGpuInformation, CurrentDriver) {
  auto gpu = parse_gpu_information(k_information, "0000:70:00.0");
  ASSERT_TRUE(gpu) << gpu.error().message;
  EXPECT_EQ(gpu->bus_id, "0000:70:00.0");
  EXPECT_EQ(gpu->model, "NVIDIA L4");
  EXPECT_EQ(gpu->uuid, "GPU-3291dfa4-fcc4-0110-615b-c894a0d7c689");
  EXPECT_EQ(gpu->minor, 0u);
  EXPECT_EQ(gpu->excluded, false);
}

TEST(ParseGpuInformation, OldDriverLacksKeys) {
  auto gpu = parse_gpu_information("Model: \t\t GeForce GTX 650\nIRQ:   \t\t 29\n", "0000:01:00.0");
  ASSERT_TRUE(gpu);
  EXPECT_EQ(gpu->model, "GeForce GTX 650");
  EXPECT_EQ(gpu->uuid, std::nullopt);
  EXPECT_EQ(gpu->minor, std::nullopt);
  EXPECT_EQ(gpu->excluded, std::nullopt);
  auto empty = parse_gpu_information("", "5B0A:00:00.0");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->bus_id, "5b0a:00:00.0");
  EXPECT_EQ(empty->model, std::nullopt);
}

TEST(ParseGpuInformation, RejectsBadDirAndValues) {
  EXPECT_FALSE(parse_gpu_information(k_information, "card0"));
  EXPECT_FALSE(parse_gpu_information(k_information, ""));
  auto minor = parse_gpu_information("Device Minor: \t seven\n", "0000:70:00.0");
  ASSERT_FALSE(minor);
  EXPECT_EQ(minor.error().message, "Device Minor: expected a number, got \"seven\"");
  EXPECT_FALSE(parse_gpu_information("Device Minor: \t 99999999999999999999\n", "0000:70:00.0"));
  EXPECT_FALSE(parse_gpu_information("Device Minor: \t -1\n", "0000:70:00.0"));
  EXPECT_FALSE(parse_gpu_information("GPU Excluded:\t maybe\n", "0000:70:00.0"));
  auto junk = parse_gpu_information(std::string_view("\xff\xfe\0\x01:\x02\n\n:::\n", 11), "0000:70:00.0");
  EXPECT_TRUE(junk);
  auto huge = parse_gpu_information("Model: " + std::string(1 << 20, 'A'), "0000:70:00.0");
  ASSERT_TRUE(huge);
  EXPECT_LT(huge->model->size(), 300u);
}

TEST(ParseProcModules, FirstFieldOnly) {
  auto m = parse_proc_modules(
      "nvidia_uvm 1437696 0 - Live 0x0000000000000000 (POE)\n"
      "nvidia_drm 77824 0 - Live 0x0000000000000000 (POE)\n"
      "nvidia 56504320 1 nvidia_uvm, Live 0x0000000000000000 (POE)\n"
      "snd_hda_intel 57344 0 - Live 0x0000000000000000\n");
  EXPECT_TRUE(m.nvidia);
  EXPECT_TRUE(m.nvidia_uvm);
  EXPECT_TRUE(m.nvidia_drm);
  EXPECT_FALSE(m.nvidia_modeset);
  EXPECT_FALSE(m.nouveau);
  auto only_deps = parse_proc_modules("i915 1 0 - Live 0x0 nvidia,nouveau\n\n   \n");
  EXPECT_FALSE(only_deps.nvidia);
  EXPECT_FALSE(only_deps.nouveau);
  EXPECT_TRUE(parse_proc_modules("nouveau").nouveau);
  EXPECT_FALSE(parse_proc_modules(std::string_view("\0nvidia\xff", 8)).nvidia);
}

TEST(ReadDriver, NothingInstalledIsNotAProblem) {
  TempRoot root;
  root.write("/proc/modules", "ext4 1 0 - Live 0x0\n");
  auto info = read_driver(root.host());
  EXPECT_FALSE(info.nvidia_loaded);
  EXPECT_EQ(info.kernel_version, std::nullopt);
  EXPECT_EQ(info.flavour, "");
  EXPECT_TRUE(info.gpus.empty());
  EXPECT_TRUE(info.problems.empty());
  TempRoot bare;
  EXPECT_TRUE(read_driver(bare.host()).problems.empty());
}

TEST(ReadDriver, LoadedDriverWithGpus) {
  TempRoot root;
  root.write("/proc/modules", "nvidia_uvm 1 0 - Live 0x0\nnvidia 2 1 nvidia_uvm, Live 0x0\n");
  root.write("/proc/driver/nvidia/version", k_open);
  root.write("/sys/module/nvidia/version", "565.57.01\n");
  root.write("/proc/driver/nvidia/gpus/0000:70:00.0/information", k_information);
  root.write("/proc/driver/nvidia/gpus/5b0a:00:00.0/information", "Model: \t\t Tesla V100-PCIE-16GB\n");
  auto info = read_driver(root.host());
  EXPECT_TRUE(info.nvidia_loaded);
  EXPECT_TRUE(info.nvidia_uvm_loaded);
  EXPECT_EQ(info.kernel_version, "565.57.01");
  EXPECT_EQ(info.flavour, "open");
  EXPECT_EQ(info.version_line->find("NVRM version: NVIDIA UNIX Open"), 0u);
  ASSERT_EQ(info.gpus.size(), 2u);
  EXPECT_EQ(info.gpus[0].minor, 0u);
  EXPECT_EQ(info.gpus[1].bus_id, "5b0a:00:00.0");
  EXPECT_TRUE(info.problems.empty());
}

TEST(ReadDriver, SysModuleAloneMeansLoaded) {
  TempRoot root;
  root.write("/sys/module/nvidia/version", "535.146.02\n");
  auto info = read_driver(root.host());
  EXPECT_TRUE(info.nvidia_loaded);
  EXPECT_EQ(info.kernel_version, "535.146.02");
  EXPECT_EQ(info.flavour, "");
  EXPECT_EQ(info.version_line, std::nullopt);
  EXPECT_TRUE(info.problems.empty());
}

TEST(ReadDriver, DisagreeingVersionsAreAProblem) {
  TempRoot root;
  root.write("/proc/driver/nvidia/version", k_proprietary);
  root.write("/sys/module/nvidia/version", "465.19.01\n");
  auto info = read_driver(root.host());
  EXPECT_EQ(info.kernel_version, "470.82.01");
  ASSERT_EQ(info.problems.size(), 1u);
  EXPECT_EQ(info.problems[0],
            "/proc/driver/nvidia/version says 470.82.01 but /sys/module/nvidia/version says 465.19.01");
}

TEST(ReadDriver, MalformedFilesAreNamedAndTheRestGathered) {
  TempRoot root;
  root.write("/proc/modules", "nvidia 1 0 - Live 0x0\n");
  root.write("/proc/driver/nvidia/version", "garbage\n");
  root.write("/sys/module/nvidia/version", "zz\n");
  root.write("/proc/driver/nvidia/gpus/0000:3b:00.0/information", "Device Minor: x\n");
  root.mkdir("/proc/driver/nvidia/gpus/0000:3c:00.0");
  root.write("/proc/driver/nvidia/gpus/0000:3d:00.0/information", k_information);
  root.write("/proc/driver/nvidia/gpus/bogus/information", k_information);
  auto info = read_driver(root.host());
  EXPECT_TRUE(info.nvidia_loaded);
  EXPECT_EQ(info.kernel_version, std::nullopt);
  ASSERT_EQ(info.gpus.size(), 3u);
  EXPECT_EQ(info.gpus[0].bus_id, "0000:3b:00.0");
  EXPECT_EQ(info.gpus[0].minor, std::nullopt);
  EXPECT_EQ(info.gpus[1].bus_id, "0000:3c:00.0");
  EXPECT_EQ(info.gpus[2].model, "NVIDIA L4");
  ASSERT_EQ(info.problems.size(), 5u);
  EXPECT_EQ(info.problems[0], "/sys/module/nvidia/version: expected a driver version, got \"zz\"");
  EXPECT_EQ(info.problems[1].find("/proc/driver/nvidia/version: expected a first line"), 0u);
  EXPECT_EQ(info.problems[2],
            "/proc/driver/nvidia/gpus/0000:3b:00.0/information: Device Minor: expected a number, got \"x\"");
  EXPECT_EQ(info.problems[3].find("/proc/driver/nvidia/gpus/0000:3c:00.0/information: "), 0u);
  EXPECT_EQ(info.problems[4].find("/proc/driver/nvidia/gpus/bogus/information: directory name"), 0u);
}

}  // namespace
}  // namespace gd::probe
