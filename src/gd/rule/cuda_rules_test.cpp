#include <gtest/gtest.h>

#include "gd/rule/rule.hpp"

namespace gd::rule {
namespace {

using model::CudaState;
using model::Finding;
using model::Severity;

// A node with the driver loaded, one GPU on PCI, and CUDA in `state`.
model::Snapshot node(CudaState state, std::optional<int> init_return = std::nullopt) {
  model::Snapshot s;
  s.driver.nvidia_loaded = true;
  s.driver.kernel_version = "460.32.03";
  model::PciGpu p;
  p.bus_id = "0000:18:00.0";
  p.vendor_id = 0x10de;
  p.class_code = 0x030200;
  p.driver = "nvidia";
  s.pci.gpus.push_back(p);
  s.cuda.state = state;
  s.cuda.init_return = init_return;
  s.cuda.library.path = "/usr/lib/x86_64-linux-gnu/libcuda.so.1";
  s.cuda.library.found_via = "ld.so.cache";
  s.cuda.library.resolved_path = "/usr/lib/x86_64-linux-gnu/libcuda.so.465.19.01";
  s.cuda.library.file_version = "465.19.01";
  s.cuda.driver_version = 11030;
  s.cuda.timeout_s = 10;
  return s;
}

// The cuda.* findings, as evaluate() gives them (ids from the table).
std::vector<Finding> cuda_findings(const model::Snapshot& s) {
  auto all = evaluate(RuleInput{s, std::nullopt});
  std::erase_if(all, [](const Finding& f) { return !f.id.starts_with("cuda."); });
  return all;
}

bool mentions(const Finding& f, std::string_view text) {
  auto in = [&](const std::string& s) { return s.find(text) != std::string::npos; };
  if (in(f.summary) || in(f.cause)) return true;
  for (const auto& e : f.evidence)
    if (in(e)) return true;
  for (const auto& x : f.fix)
    if (in(x)) return true;
  return false;
}

TEST(CudaRules, HealthyCudaIsOneOkLine) {
  auto s = node(CudaState::ok, 0);
  s.cuda.count_return = 0;
  s.cuda.device_count = 1;
  s.cuda.init_ms = 40;
  auto fs = cuda_findings(s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].id, "cuda.init_failed");
  EXPECT_EQ(fs[0].severity, Severity::ok);
  EXPECT_TRUE(mentions(fs[0], "driver API 11.3, 1 device(s)")) << fs[0].summary;
}

TEST(CudaRules, EachInitCodeGetsItsOwnCauseAndFix) {
  struct Case {
    int code;
    const char* fix_or_cause;
  } cases[] = {
      {3, "nvidia_uvm"},
      {34, "stubs"},
      {35, "older than the CUDA runtime"},
      {100, "CUDA_VISIBLE_DEVICES"},
      {802, "systemctl enable --now nvidia-fabricmanager"},
      {803, "reboot"},
      {804, "cuda-compat"},
      {999, "rmmod nvidia_uvm && sudo modprobe nvidia_uvm"},
  };
  for (const auto& c : cases) {
    auto fs = cuda_findings(node(CudaState::init_failed, c.code));
    ASSERT_EQ(fs.size(), 1u) << c.code;
    EXPECT_EQ(fs[0].id, "cuda.init_failed");
    EXPECT_EQ(fs[0].severity, Severity::critical);
    EXPECT_TRUE(mentions(fs[0], c.fix_or_cause)) << c.code << ": " << fs[0].cause;
    EXPECT_TRUE(mentions(fs[0], std::to_string(c.code))) << fs[0].summary;
  }
}

TEST(CudaRules, NoDeviceAfterGpusFellOffTheBusPointsThere) {
  auto s = node(CudaState::init_failed, 100);
  s.nvml.state = model::NvmlState::ok;
  s.nvml.init_return = 0;
  s.nvml.device_count = 0;
  auto fs = cuda_findings(s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_TRUE(mentions(fs[0], "gpu.fell_off_bus"));
  EXPECT_TRUE(fs[0].needs_reboot);
}

TEST(CudaRules, MismatchCitesBothVersionsAndNeedsAReboot) {
  auto s = node(CudaState::init_failed, 803);
  s.cuda.init_error_name = "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
  auto fs = cuda_findings(s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_TRUE(mentions(fs[0], "kernel module 460.32.03, libcuda file version 465.19.01"));
  EXPECT_TRUE(mentions(fs[0], "cuInit(0) returned 803 CUDA_ERROR_SYSTEM_DRIVER_MISMATCH"));
  EXPECT_TRUE(fs[0].needs_reboot);
}

TEST(CudaRules, SilentWithoutTheKernelModule) {
  auto s = node(CudaState::init_failed, 100);
  s.driver.nvidia_loaded = false;
  EXPECT_TRUE(cuda_findings(s).empty());
  s.cuda.state = CudaState::library_missing;
  EXPECT_TRUE(cuda_findings(s).empty());
}

TEST(CudaRules, MissingLibraryIsCriticalAndSaysWhatProgramsPrint) {
  auto s = node(CudaState::library_missing);
  s.cuda.load_error = "/usr/lib/x86_64-linux-gnu/libcuda.so.1: file too short";
  auto fs = cuda_findings(s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].id, "cuda.missing");
  EXPECT_TRUE(mentions(fs[0], "file too short"));
  EXPECT_TRUE(mentions(fs[0], "cudaErrorInsufficientDriver 35"));
}

TEST(CudaRules, HangNamesTheCallAndDevice) {
  auto s = node(CudaState::hung, 0);
  s.cuda.hung_call = "cuDeviceGetName";
  s.cuda.hung_device = 2;
  auto fs = cuda_findings(s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].id, "cuda.hung");
  EXPECT_TRUE(mentions(fs[0], "cuDeviceGetName on device 2 never returned"));
}

TEST(CudaRules, InitWithoutDevicesIsCritical) {
  auto s = node(CudaState::ok, 0);
  s.cuda.count_return = 0;
  s.cuda.device_count = 0;
  auto fs = cuda_findings(s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::critical);
}

TEST(CudaRules, SkippedOrNotRunSaysNothing) {
  EXPECT_TRUE(cuda_findings(node(CudaState::skipped)).empty());
  EXPECT_TRUE(cuda_findings(node(CudaState::not_run)).empty());
}

TEST(CudaRules, WorkerCrashIsReported) {
  auto s = node(CudaState::worker_failed);
  s.cuda.load_error = "CUDA worker ended early: killed by signal 11 (Segmentation fault)";
  s.cuda.hung_call = "cuInit";
  auto fs = cuda_findings(s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].id, "cuda.init_failed");
  EXPECT_TRUE(mentions(fs[0], "last call: cuInit"));
}

}  // namespace
}  // namespace gd::rule
