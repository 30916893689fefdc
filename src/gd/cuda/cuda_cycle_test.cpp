#include "gd/cuda/cuda_cycle.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace gd::cuda {
namespace {

namespace fs = std::filesystem;

// Runs one cycle on the fake libcuda in a child process (cuInit is once per
// process), returning "call result" or "ok".
std::string cycle_in_child(const fs::path& scenario) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::setenv("GPUDOCTOR_SIM_SCENARIO", scenario.c_str(), 1);
    std::string out = "load failed";
    if (auto api = load_cuda(GD_SIM_CUDA)) {
      auto r = run_cycle(*api, 0, 4096);
      out = r.ok() ? "ok" : r.failed_call + " " + std::to_string(r.result);
    }
    [[maybe_unused]] auto n = ::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string got;
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return got;
}

class CudaCycle : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("gd-cuda-cycle-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path scenario(const std::string& cuda) {
    std::ofstream(dir / "nvml.json") << R"({"cuda_driver_version":11020,"cuda":)" << cuda
                                     << R"(,"gpus":[{"name":"G","uuid":"GPU-0","bus_id":"0:1:0.0",
                                                     "memory_total_bytes":1048576}]})";
    return dir / "nvml.json";
  }
  fs::path dir;
};

TEST_F(CudaCycle, InitContextAllocationAndTeardownSucceed) { EXPECT_EQ(cycle_in_child(scenario("{}")), "ok"); }

TEST_F(CudaCycle, NamesTheFirstFailingCall) {
  EXPECT_EQ(cycle_in_child(scenario(R"({"init_return":"NO_DEVICE"})")), "cuInit 100");
  EXPECT_EQ(cycle_in_child(scenario(R"({"faults":[{"call":"cuMemAlloc","return":"OUT_OF_MEMORY"}]})")),
            "cuMemAlloc_v2 2");
  EXPECT_EQ(cycle_in_child(scenario(R"({"faults":[{"call":"cuDevicePrimaryCtxRetain","return":"UNKNOWN"}]})")),
            "cuDevicePrimaryCtxRetain 999");
}

}  // namespace
}  // namespace gd::cuda
