#include "gd/cuda/cuda_worker.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "gd/model/json_io.hpp"

namespace gd::cuda {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class CudaWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("gd-cuda-worker-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override {
    ::unsetenv("GPUDOCTOR_SIM_SCENARIO");
    fs::remove_all(dir);
  }
  void scenario(const std::string& cuda) {
    std::ofstream(dir / "nvml.json")
        << R"({"driver_version":"460.32.03","cuda_driver_version":11020,)"
        << (cuda.empty() ? "" : "\"cuda\":" + cuda + ",")
        << R"("gpus":[{"name":"Tesla V100-PCIE-16GB","uuid":"GPU-0","bus_id":"00005B0A:00:00.0"},
                                                  {"name":"Tesla V100-PCIE-16GB","uuid":"GPU-1","bus_id":"00009E65:00:00.0"}]})";
    ::setenv("GPUDOCTOR_SIM_SCENARIO", (dir / "nvml.json").c_str(), 1);
  }
  model::CudaInfo run(double timeout = 5, const std::string& lib = GD_SIM_CUDA) {
    model::CudaInfo info;
    run_cuda_worker(lib, timeout, info, GD_BINARY);
    return info;
  }
  fs::path dir;
};

TEST_F(CudaWorkerTest, HealthyLibraryReportsVersionAndDevices) {
  scenario("");
  auto info = run();
  ASSERT_EQ(info.state, model::CudaState::ok) << info.load_error << info.worker_stderr;
  EXPECT_EQ(info.init_return, 0);
  EXPECT_TRUE(info.init_ms.has_value());
  EXPECT_EQ(info.version_return, 0);
  EXPECT_EQ(info.driver_version, 11020);
  EXPECT_EQ(info.count_return, 0);
  EXPECT_EQ(info.device_count, 2);
  ASSERT_EQ(info.devices.size(), 2u);
  EXPECT_EQ(info.devices[0].bus_id, "5b0a:00:00.0");
  EXPECT_EQ(info.devices[1].bus_id, "9e65:00:00.0");
  EXPECT_EQ(info.devices[1].name, "Tesla V100-PCIE-16GB");
  EXPECT_FALSE(info.hung_call.has_value());
  EXPECT_TRUE(info.missing_symbols.empty());
}

TEST_F(CudaWorkerTest, InitErrorCodeIsKeptWithTheLibrarysNameForIt) {
  scenario(R"({"init_return":"SYSTEM_DRIVER_MISMATCH","driver_version":11030})");
  auto info = run();
  EXPECT_EQ(info.state, model::CudaState::init_failed);
  EXPECT_EQ(info.init_return, 803);
  EXPECT_EQ(info.init_error_name, "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH");
  EXPECT_EQ(info.init_error_text, "system has unsupported display driver / cuda driver combination");
  EXPECT_EQ(info.driver_version, 11030);  // cuDriverGetVersion works without cuInit
  EXPECT_FALSE(info.device_count.has_value());
}

TEST_F(CudaWorkerTest, HangInCuInitIsCutAtTheDeadlineAndNamed) {
  scenario(R"({"faults":[{"call":"cuInit","hang":true}]})");
  auto start = Clock::now();
  auto info = run(1.0);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1800));
  EXPECT_EQ(info.state, model::CudaState::hung);
  EXPECT_EQ(info.hung_call, "cuInit");
  EXPECT_FALSE(info.hung_device.has_value());
  EXPECT_EQ(info.driver_version, 11020);  // reported before the hang
}

TEST_F(CudaWorkerTest, HangOnOneDeviceKeepsTheDevicesBefore) {
  scenario(R"({"faults":[{"call":"cuDeviceGetPCIBusId","gpu":1,"hang":true}]})");
  auto info = run(1.0);
  EXPECT_EQ(info.state, model::CudaState::hung);
  EXPECT_EQ(info.hung_call, "cuDeviceGetPCIBusId");
  EXPECT_EQ(info.hung_device, 1);
  ASSERT_EQ(info.devices.size(), 1u);
  EXPECT_EQ(info.devices[0].bus_id, "5b0a:00:00.0");
}

TEST_F(CudaWorkerTest, ZeroByteLibraryIsALoadErrorNotACrash) {
  std::ofstream(dir / "libcuda.so.1").close();
  auto info = run(5, (dir / "libcuda.so.1").string());
  EXPECT_EQ(info.state, model::CudaState::library_missing);
  EXPECT_NE(info.load_error.find("libcuda.so.1"), std::string::npos) << info.load_error;
}

TEST_F(CudaWorkerTest, LibraryWithoutCudaSymbolsIsALoadError) {
  auto info = run(5, GD_SIM_NVML);
  EXPECT_EQ(info.state, model::CudaState::library_missing);
  EXPECT_NE(info.load_error.find("lacks required CUDA driver symbols (cuInit"), std::string::npos) << info.load_error;
}

TEST_F(CudaWorkerTest, MalformedScenarioIsReportedThroughTheLibrarysStderr) {
  std::ofstream(dir / "nvml.json") << R"({"cuda": {"driver_version": "new"}})";
  ::setenv("GPUDOCTOR_SIM_SCENARIO", (dir / "nvml.json").c_str(), 1);
  auto info = run();
  EXPECT_EQ(info.state, model::CudaState::init_failed);
  EXPECT_EQ(info.init_return, 999);
  EXPECT_NE(info.worker_stderr.find("cuda.driver_version: expected an integer"), std::string::npos)
      << info.worker_stderr;
}

TEST(CudaWorkerLines, GarbageLinesAreRejected) {
  model::CudaInfo info;
  bool done = false;
  EXPECT_FALSE(apply_worker_line("not json", info, done));
  EXPECT_FALSE(apply_worker_line("[1]", info, done));
  EXPECT_FALSE(apply_worker_line(R"({"device":{"ordinal":"x"}})", info, done));
  EXPECT_FALSE(apply_worker_line(R"({"surprise":1})", info, done));
  EXPECT_TRUE(apply_worker_line(R"({"call":"cuDeviceGet","device":3})", info, done));
  EXPECT_EQ(info.hung_device, 3);
  EXPECT_TRUE(apply_worker_line(R"({"done":true})", info, done));
  EXPECT_TRUE(done);
}

TEST(CudaSnapshot, RoundTripsThroughJson) {
  model::Snapshot s;
  s.probes.push_back({"cuda", true, "", 0});
  s.cuda.state = model::CudaState::init_failed;
  s.cuda.init_return = 802;
  s.cuda.init_error_name = "CUDA_ERROR_SYSTEM_NOT_READY";
  s.cuda.driver_version = 12040;
  s.cuda.devices.push_back({0, 0, "NVIDIA H100 80GB HBM3", "0000:18:00.0"});
  auto back = model::snapshot_from_json(model::to_json(s));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->cuda.state, model::CudaState::init_failed);
  EXPECT_EQ(back->cuda.init_return, 802);
  EXPECT_EQ(back->cuda.init_error_name, "CUDA_ERROR_SYSTEM_NOT_READY");
  ASSERT_EQ(back->cuda.devices.size(), 1u);
  EXPECT_EQ(back->cuda.devices[0].bus_id, "0000:18:00.0");
  auto j = model::to_json(s);
  j["cuda"]["state"] = "sideways";
  auto bad = model::snapshot_from_json(j);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "cuda.state: unknown value \"sideways\"");
}

}  // namespace
}  // namespace gd::cuda
