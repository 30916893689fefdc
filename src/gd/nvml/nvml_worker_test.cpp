#include "gd/nvml/nvml_worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace gd::nvml {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string gpu_json(int i, const char* bus) {
  return std::string(R"({"name":"Tesla V100-PCIE-16GB","uuid":"GPU-0000000)") + std::to_string(i) +
         R"(","serial":"03231","bus_id":")" + bus +
         R"(","minor":)" + std::to_string(i) +
         R"(,"persistence_mode":false,"temperature_c":40,"slowdown_temp_c":87,"shutdown_temp_c":90,
            "power_mw":41000,"power_limit_mw":250000,"memory_total_bytes":17179869184,"memory_used_bytes":0})";
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("gd-worker-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override {
    ::unsetenv("GPUDOCTOR_SIM_SCENARIO");
    fs::remove_all(dir);
  }
  void scenario(const std::string& faults, int gpus = 2) {
    std::string g = gpu_json(0, "00005B0A:00:00.0");
    if (gpus > 1) g += "," + gpu_json(1, "00009E65:00:00.0");
    std::ofstream(dir / "nvml.json") << R"({"driver_version":"460.32.03","nvml_version":"11.460.32.03",
      "cuda_driver_version":11020,"faults":[)" << faults << R"(],"gpus":[)" << g << "]}";
    ::setenv("GPUDOCTOR_SIM_SCENARIO", (dir / "nvml.json").c_str(), 1);
  }
  model::NvmlInfo run(double timeout = 5, const char* lib = GD_SIM_NVML) {
    model::NvmlInfo info;
    run_nvml_worker(lib, timeout, info, GD_BINARY);
    return info;
  }
  fs::path dir;
};

TEST_F(WorkerTest, HealthySimulatorIsReadCompletely) {
  scenario("");
  auto info = run();
  ASSERT_EQ(info.state, model::NvmlState::ok) << info.load_error << info.worker_stderr;
  EXPECT_EQ(info.init_return, 0);
  EXPECT_TRUE(info.init_ms.has_value());
  EXPECT_EQ(info.driver_version, "460.32.03");
  EXPECT_EQ(info.device_count, 2u);
  ASSERT_EQ(info.gpus.size(), 2u);
  EXPECT_EQ(info.gpus[0].bus_id, "5b0a:00:00.0");
  EXPECT_EQ(info.gpus[1].bus_id, "9e65:00:00.0");
  EXPECT_EQ(info.gpus[0].temp_celsius, 40u);
  EXPECT_EQ(info.gpus[0].power_watts, 41.0);
  EXPECT_EQ(info.gpus[0].persistence_mode, false);
  EXPECT_FALSE(info.gpus[0].fan_percent.has_value());  // not in the scenario: NOT_SUPPORTED
  EXPECT_TRUE(info.gpus[0].call_errors.empty());
  EXPECT_FALSE(info.hung_call.has_value());
}

TEST_F(WorkerTest, HangInInitIsCutAtTheDeadlineAndNamed) {
  scenario(R"({"call":"nvmlInit","hang":true})");
  auto start = Clock::now();
  auto info = run(1.0);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1800));
  EXPECT_EQ(info.state, model::NvmlState::hung);
  EXPECT_EQ(info.hung_call, "nvmlInit_v2");
  EXPECT_FALSE(info.hung_gpu.has_value());
}

TEST_F(WorkerTest, HangOnOneGpuKeepsWhatWasCollected) {
  scenario(R"({"call":"nvmlDeviceGetTemperature","gpu":1,"hang":true})");
  auto info = run(1.0);
  EXPECT_EQ(info.state, model::NvmlState::hung);
  EXPECT_EQ(info.hung_call, "nvmlDeviceGetTemperature");
  EXPECT_EQ(info.hung_gpu, 1u);
  ASSERT_EQ(info.gpus.size(), 1u);
  EXPECT_EQ(info.gpus[0].bus_id, "5b0a:00:00.0");
}

TEST_F(WorkerTest, LostGpuIsRecordedPerIndex) {
  scenario(R"({"call":"nvmlDeviceGetHandleByIndex","gpu":1,"return":"GPU_IS_LOST"})");
  auto info = run();
  ASSERT_EQ(info.state, model::NvmlState::ok);
  ASSERT_EQ(info.gpus.size(), 2u);
  EXPECT_EQ(info.gpus[1].handle_return, 15);
  EXPECT_FALSE(info.gpus[1].bus_id.has_value());
}

TEST_F(WorkerTest, InitFailureCodeIsKept) {
  scenario(R"({"call":"nvmlInit","return":"LIB_RM_VERSION_MISMATCH"})");
  auto info = run();
  EXPECT_EQ(info.state, model::NvmlState::init_failed);
  EXPECT_EQ(info.init_return, 18);
}

TEST_F(WorkerTest, ZeroByteLibraryIsALoadErrorNotACrash) {
  std::ofstream(dir / "libnvidia-ml.so.1").close();
  auto info = run(5, (dir / "libnvidia-ml.so.1").c_str());
  EXPECT_EQ(info.state, model::NvmlState::library_missing);
  EXPECT_NE(info.load_error.find("libnvidia-ml.so.1"), std::string::npos) << info.load_error;
}

TEST_F(WorkerTest, LegacyLibraryFallsBackToPlainSymbols) {
  scenario("");
  auto info = run(5, GD_SIM_NVML_LEGACY);
  ASSERT_EQ(info.state, model::NvmlState::ok) << info.load_error << info.worker_stderr;
  ASSERT_EQ(info.gpus.size(), 2u);
  EXPECT_EQ(info.gpus[1].bus_id, "9e65:00:00.0");
  auto has = [&](const char* s) {
    return std::find(info.missing_symbols.begin(), info.missing_symbols.end(), s) != info.missing_symbols.end();
  };
  EXPECT_TRUE(has("nvmlDeviceGetRemappedRows"));
  EXPECT_FALSE(has("nvmlInit_v2"));  // resolved through its fallback nvmlInit
}

TEST_F(WorkerTest, MalformedScenarioIsReportedThroughTheLibrarysStderr) {
  std::ofstream(dir / "nvml.json") << R"({"gpus": 5})";
  ::setenv("GPUDOCTOR_SIM_SCENARIO", (dir / "nvml.json").c_str(), 1);
  auto info = run();
  EXPECT_EQ(info.state, model::NvmlState::init_failed);
  EXPECT_EQ(info.init_return, 999);
  EXPECT_NE(info.worker_stderr.find("nvml.json"), std::string::npos) << info.worker_stderr;
}

TEST(WorkerLines, GarbageLinesAreRejected) {
  model::NvmlInfo info;
  bool done = false;
  EXPECT_FALSE(apply_worker_line("not json", info, done));
  EXPECT_FALSE(apply_worker_line("[1]", info, done));
  EXPECT_FALSE(apply_worker_line(R"({"gpu":{"index":"x"}})", info, done));
  EXPECT_TRUE(apply_worker_line(R"({"done":true})", info, done));
  EXPECT_TRUE(done);
}

TEST(WorkerLines, CallMarkersWithAndWithoutGpu) {
  model::NvmlInfo info;
  bool done = false;
  EXPECT_TRUE(apply_worker_line(R"({"call":"nvmlDeviceGetTemperature","gpu":3})", info, done));
  EXPECT_EQ(info.hung_call, "nvmlDeviceGetTemperature");
  EXPECT_EQ(info.hung_gpu, 3u);
  EXPECT_TRUE(apply_worker_line(R"({"call":"nvmlSystemGetDriverVersion"})", info, done));
  EXPECT_EQ(info.hung_call, "nvmlSystemGetDriverVersion");
  EXPECT_EQ(info.hung_gpu, std::nullopt);
  // Other spellings still go through the JSON parser.
  EXPECT_TRUE(apply_worker_line(R"({"gpu": 1, "call": "nvmlShutdown"})", info, done));
  EXPECT_EQ(info.hung_call, "nvmlShutdown");
  EXPECT_EQ(info.hung_gpu, 1u);
  EXPECT_FALSE(apply_worker_line(R"({"call":"x","gpu":})", info, done));
  EXPECT_FALSE(apply_worker_line(R"({"call":"x)", info, done));
  EXPECT_FALSE(done);
}

TEST(WorkerLines, TheHungGpuIsNamedByTheBusIdItReported) {
  model::NvmlInfo info;
  bool done = false;
  ASSERT_TRUE(apply_worker_line(R"({"call":"nvmlDeviceGetPciInfo_v3","gpu":2})", info, done));
  ASSERT_TRUE(apply_worker_line(R"({"gpu_bus":{"index":2,"bus_id":"0000:b1:00.0"}})", info, done));
  ASSERT_TRUE(apply_worker_line(R"({"call":"nvmlDeviceGetTemperature","gpu":2})", info, done));
  EXPECT_EQ(info.hung_bus_id, "0000:b1:00.0");
  ASSERT_TRUE(apply_worker_line(R"({"call":"nvmlDeviceGetHandleByIndex_v2","gpu":3})", info, done));
  EXPECT_EQ(info.hung_bus_id, std::nullopt);  // GPU 3 has not said its bus id yet
}

TEST_F(WorkerTest, HangOnAGpuNamesItsBusId) {
  scenario(R"({"call":"nvmlDeviceGetTemperature","gpu":1,"hang":true})");
  auto info = run(1.0);
  EXPECT_EQ(info.state, model::NvmlState::hung);
  EXPECT_EQ(info.hung_gpu, 1u);
  EXPECT_EQ(info.hung_bus_id, "9e65:00:00.0");
}

}  // namespace
}  // namespace gd::nvml
