#include "gd/sampler/nvml_sampler.hpp"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

namespace gd::sampler {
namespace {

namespace fs = std::filesystem;

class NvmlSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("gd-nvml-sampler-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override {
    ::unsetenv("GPUDOCTOR_SIM_SCENARIO");
    fs::remove_all(dir);
  }
  void scenario(const std::string& faults, int temp = 41, const std::string& extra = "") {
    std::ofstream(dir / "nvml.json") << R"({"driver_version":"550.54.15",)" << extra << R"("faults":[)" << faults
                                     << R"(],
      "gpus":[{"name":"NVIDIA H100","uuid":"GPU-0","bus_id":"00000000:3B:00.0","temperature_c":)"
                                     << temp << R"(},
              {"name":"NVIDIA H100","uuid":"GPU-1","bus_id":"00000000:5E:00.0","temperature_c":50}]})";
    ::setenv("GPUDOCTOR_SIM_SCENARIO", (dir / "nvml.json").c_str(), 1);
  }
  SamplerOptions options(double timeout = 5) {
    SamplerOptions o;
    o.worker_exe = GD_BINARY;
    o.library = GD_SIM_NVML;
    o.timeout_s = timeout;
    o.backoff_min_s = 0.2;
    return o;
  }
  fs::path dir;
};

TEST_F(NvmlSamplerTest, OneWorkerAnswersManySamples) {
  scenario("");
  NvmlSampler s(options());
  for (int i = 0; i < 5; ++i) {
    auto info = s.sample();
    ASSERT_EQ(info.state, model::NvmlState::ok) << info.load_error << info.worker_stderr;
    ASSERT_EQ(info.gpus.size(), 2u);
    EXPECT_EQ(info.gpus[0].bus_id, "0000:3b:00.0");
    EXPECT_EQ(info.gpus[0].temp_celsius, 41u);
    EXPECT_EQ(info.init_return, 0);
  }
  EXPECT_EQ(s.workers_started(), 1u);  // NVML initialised once
  EXPECT_EQ(s.hangs(), 0u);
}

TEST_F(NvmlSamplerTest, ReportsNvmlXidEventsWithoutWaiting) {
  scenario("", 41, R"("xid_events":[{"gpu":1,"xid":48,"at_sample":3}],)");
  NvmlSampler s(options());
  std::vector<std::size_t> seen;
  for (int i = 1; i <= 4; ++i) {
    auto t0 = Clock::now();
    ASSERT_EQ(s.sample().state, model::NvmlState::ok);
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
    auto xids = s.take_xids();
    seen.push_back(xids.size());
    if (i == 3) {
      ASSERT_EQ(xids.size(), 1u);
      EXPECT_EQ(xids[0].code, 48u);
      EXPECT_EQ(xids[0].gpu_index, 1u);
      EXPECT_EQ(xids[0].bus_id, "0000:5e:00.0");
    }
  }
  EXPECT_EQ(seen, (std::vector<std::size_t>{0, 0, 1, 0}));
  EXPECT_EQ(s.xid_events_status(), "registered on 2 GPUs");
}

TEST_F(NvmlSamplerTest, HangMidRunIsCutAtTheDeadlineAndTheWorkerReplacedAfterBackOff) {
  // Two GPUs: 2 temperature calls per sample; the 5th call (3rd sample) hangs.
  scenario(R"({"call":"nvmlDeviceGetTemperature","hang":true,"after_calls":4})");
  NvmlSampler s(options(0.5));
  EXPECT_EQ(s.sample().state, model::NvmlState::ok);
  EXPECT_EQ(s.sample().state, model::NvmlState::ok);
  auto t0 = Clock::now();
  auto hung = s.sample();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  ASSERT_EQ(hung.state, model::NvmlState::hung);
  EXPECT_EQ(hung.hung_call, "nvmlDeviceGetTemperature");
  EXPECT_EQ(hung.hung_gpu, 0u);
  EXPECT_EQ(s.hangs(), 1u);
  EXPECT_FALSE(s.has_wedged_worker());
  // Backing off: no new worker yet, still reported hung.
  EXPECT_EQ(s.sample().state, model::NvmlState::hung);
  EXPECT_EQ(s.workers_started(), 1u);
  scenario("");  // the driver recovers
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  auto back = s.sample();
  EXPECT_EQ(back.state, model::NvmlState::ok) << back.load_error;
  EXPECT_EQ(s.workers_started(), 2u);
}

TEST_F(NvmlSamplerTest, CrashInACallIsNamedThroughTheSignalHandler) {
  scenario(R"({"call":"nvmlDeviceGetPowerUsage","gpu":1,"crash":true,"at_sample":2})");
  NvmlSampler s(options());
  ASSERT_EQ(s.sample().state, model::NvmlState::ok);
  auto dead = s.sample();
  EXPECT_EQ(dead.state, model::NvmlState::worker_failed);
  EXPECT_EQ(dead.hung_call, "nvmlDeviceGetPowerUsage");  // the marker the fatal-signal handler wrote
  EXPECT_EQ(dead.hung_gpu, 1u);
  ASSERT_EQ(dead.gpus.size(), 1u);  // GPU 0 was reported before the crash
}

TEST_F(NvmlSamplerTest, CrashedWorkerIsReportedAndReplaced) {
  scenario("");
  NvmlSampler s(options());
  ASSERT_EQ(s.sample().state, model::NvmlState::ok);
  ::kill(s.worker_pid(), SIGKILL);
  auto dead = s.sample();
  EXPECT_EQ(dead.state, model::NvmlState::worker_failed);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_EQ(s.sample().state, model::NvmlState::ok);
  EXPECT_EQ(s.workers_started(), 2u);
}

TEST_F(NvmlSamplerTest, MissingLibraryIsNotAHang) {
  scenario("");
  auto o = options();
  o.library = (dir / "nope.so").string();
  NvmlSampler s(o);
  auto info = s.sample();
  EXPECT_EQ(info.state, model::NvmlState::library_missing);
  EXPECT_EQ(s.sample().state, model::NvmlState::library_missing);  // while backing off: still not a hang
  EXPECT_EQ(s.hangs(), 0u);
}

// The real libnvidia-ml on a node without the driver: nvmlInit returns 9 every
// time. The samples between two tries report that, never a hang (found with
// NVIDIA's own library: watch said "NVML did not answer within 1 s").
TEST_F(NvmlSamplerTest, InitFailureStaysAnInitFailureWhileBackingOff) {
  scenario(R"({"call":"nvmlInit","return":"DRIVER_NOT_LOADED"})");
  NvmlSampler s(options());
  for (int i = 0; i < 3; ++i) {
    auto info = s.sample();
    EXPECT_EQ(info.state, model::NvmlState::init_failed) << i;
    EXPECT_EQ(info.init_return, 9) << i;
  }
  EXPECT_EQ(s.hangs(), 0u);
  EXPECT_EQ(s.workers_started(), 1u);  // the back-off (0.2 s) has not passed: not retried yet
}

}  // namespace
}  // namespace gd::sampler
