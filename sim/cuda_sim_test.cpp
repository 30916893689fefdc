// Tests of the fake libcuda.so.1 through its C ABI only: the built library
// (GD_SIM_CUDA) is dlopen'ed exactly as gpudoctor's CUDA worker does. Each test
// writes its scenario into a fresh folder; a cuInit that finds
// GPUDOCTOR_SIM_SCENARIO naming another file starts over on it.

#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "gd/cuda/cuda_abi.hpp"

#ifndef GD_SIM_CUDA
#error "GD_SIM_CUDA must name the built fake libcuda"
#endif

namespace {

namespace fs = std::filesystem;
using namespace gd::cuda;

class CudaLibrary {
 public:
  explicit CudaLibrary(const char* path) : m_path(path), m_handle(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {}
  bool loaded() const { return m_handle != nullptr; }
  bool has(const char* name) const { return m_handle && dlsym(m_handle, name) != nullptr; }
  template <class Fn>
  Fn fn(const char* name) const {
    void* symbol = m_handle ? dlsym(m_handle, name) : nullptr;
    if (!symbol) throw std::runtime_error(m_path + " does not export " + name);
    return reinterpret_cast<Fn>(symbol);
  }

 private:
  std::string m_path;
  void* m_handle;
};

const CudaLibrary& lib() {
  static CudaLibrary library(GD_SIM_CUDA);
  return library;
}

CUresult cu_init(unsigned flags = 0) { return lib().fn<InitFn>("cuInit")(flags); }

int cu_count() {
  int n = -1;
  EXPECT_EQ(lib().fn<DeviceGetCountFn>("cuDeviceGetCount")(&n), k_success);
  return n;
}

std::string cu_bus_id(CUdevice d) {
  char buf[k_pci_bus_id_len] = {};
  EXPECT_EQ(lib().fn<DeviceGetPciBusIdFn>("cuDeviceGetPCIBusId")(buf, sizeof buf, d), k_success);
  return buf;
}

std::string error_name(CUresult r) {
  const char* s = nullptr;
  return lib().fn<GetErrorTextFn>("cuGetErrorName")(r, &s) == k_success && s ? s : "";
}

std::string gpu(unsigned i, const std::string& extra = "") {
  return R"({"name": "Tesla V100-PCIE-16GB", "uuid": "GPU-)" + std::to_string(i) + R"(", "bus_id": "00005B0A:0)" +
         std::to_string(i) + R"(:00.0", "memory_total_bytes": 1073741824)" + (extra.empty() ? "" : ", " + extra) + "}";
}

std::string scenario(unsigned gpus, const std::string& extra = "") {
  std::string text = R"({"driver_version": "460.32.03", "cuda_driver_version": 11020, )";
  if (!extra.empty()) text += extra + ", ";
  text += R"("gpus": [)";
  for (unsigned i = 0; i < gpus; ++i) text += (i ? ", " : "") + gpu(i);
  return text + "]}";
}

class CudaSim : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(lib().loaded()) << dlerror();
    std::string pattern = (fs::temp_directory_path() / "gd-cuda-sim-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
  }
  void TearDown() override {
    unsetenv("GPUDOCTOR_SIM_SCENARIO");
    std::error_code ec;
    fs::remove_all(m_dir, ec);
  }
  // A new file each time: the simulator starts over only on another file.
  fs::path use_scenario(const std::string& text) {
    fs::path path = m_dir / ("nvml-" + std::to_string(++m_files) + ".json");
    std::ofstream(path) << text;
    setenv("GPUDOCTOR_SIM_SCENARIO", path.c_str(), 1);
    return path;
  }
  void init_with(const std::string& text) {
    use_scenario(text);
    ASSERT_EQ(cu_init(), k_success);
  }
  fs::path m_dir;
  int m_files = 0;
};

TEST_F(CudaSim, ExportsOnlyCudaSymbols) {
  for (const char* name :
       {"cuInit", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetName", "cuDeviceGetPCIBusId",
        "cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRelease_v2", "cuCtxCreate_v2", "cuCtxDestroy_v2",
        "cuCtxSetCurrent", "cuMemAlloc_v2", "cuMemFree_v2", "cuGetErrorName", "cuGetErrorString"})
    EXPECT_TRUE(lib().has(name)) << name;
  EXPECT_FALSE(lib().has("nvmlInit_v2"));
  EXPECT_FALSE(lib().has("cuMemAlloc"));  // the v1 ABI (32-bit pointers) is not offered
}

TEST_F(CudaSim, UnsetScenarioVariableMeansNoDevice) {
  unsetenv("GPUDOCTOR_SIM_SCENARIO");
  testing::internal::CaptureStderr();
  EXPECT_EQ(cu_init(), k_no_device);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("GPUDOCTOR_SIM_SCENARIO"), std::string::npos) << err;
  int n = 0;
  EXPECT_EQ(lib().fn<DeviceGetCountFn>("cuDeviceGetCount")(&n), k_not_initialized);
}

TEST_F(CudaSim, MalformedCudaSectionFailsInitWithUnknownAndNamesThePath) {
  fs::path file = use_scenario(scenario(1, R"("cuda": {"faults": [{"call": "cuInitt", "return": 3}]})"));
  testing::internal::CaptureStderr();
  EXPECT_EQ(cu_init(), k_unknown);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "gpudoctor-sim: " + file.string() +
                ": cuda.faults[0].call: \"cuInitt\" is not a call the simulator "
                "exports\n");
  use_scenario(scenario(1, R"("cuda": {"init_return": "NO_SUCH_ERROR"})"));
  testing::internal::CaptureStderr();
  EXPECT_EQ(cu_init(), k_unknown);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("cuda.init_return: unknown return code \"NO_SUCH_ERROR\""),
            std::string::npos);
}

TEST_F(CudaSim, ReportsVersionCountNamesAndBusIds) {
  use_scenario(scenario(2));
  int v = 0;
  EXPECT_EQ(lib().fn<DriverGetVersionFn>("cuDriverGetVersion")(&v), k_success);  // needs no cuInit
  EXPECT_EQ(v, 11020);
  int n = 0;
  EXPECT_EQ(lib().fn<DeviceGetCountFn>("cuDeviceGetCount")(&n), k_not_initialized);
  EXPECT_EQ(cu_init(1), k_invalid_value);  // flags must be 0
  ASSERT_EQ(cu_init(), k_success);
  EXPECT_EQ(cu_init(), k_success);
  EXPECT_EQ(cu_count(), 2);
  CUdevice d = -1;
  EXPECT_EQ(lib().fn<DeviceGetFn>("cuDeviceGet")(&d, 1), k_success);
  EXPECT_EQ(d, 1);
  EXPECT_EQ(lib().fn<DeviceGetFn>("cuDeviceGet")(&d, 2), k_invalid_device);
  char name[8] = {};
  EXPECT_EQ(lib().fn<DeviceGetNameFn>("cuDeviceGetName")(name, sizeof name, 0), k_success);
  EXPECT_STREQ(name, "Tesla V");  // truncated to the buffer, as libcuda does
  EXPECT_EQ(cu_bus_id(1), "5B0A:01:00.0");
  char small[8];
  EXPECT_EQ(lib().fn<DeviceGetPciBusIdFn>("cuDeviceGetPCIBusId")(small, sizeof small, 0), k_invalid_value);
  EXPECT_EQ(lib().fn<DeviceGetNameFn>("cuDeviceGetName")(name, sizeof name, 7), k_invalid_device);
}

TEST_F(CudaSim, CudaSectionSetsVersionAndAbsentVersionIsNotSupported) {
  init_with(scenario(1, R"("cuda": {"driver_version": 12040})"));
  int v = 0;
  EXPECT_EQ(lib().fn<DriverGetVersionFn>("cuDriverGetVersion")(&v), k_success);
  EXPECT_EQ(v, 12040);
  init_with(R"({"gpus": [)" + gpu(0) + "]}");
  EXPECT_EQ(lib().fn<DriverGetVersionFn>("cuDriverGetVersion")(&v), k_not_supported);
}

TEST_F(CudaSim, InitReturnFailsInitAndSticks) {
  use_scenario(scenario(2, R"("cuda": {"init_return": "CUDA_ERROR_SYSTEM_NOT_READY"})"));
  EXPECT_EQ(cu_init(), k_system_not_ready);
  EXPECT_EQ(cu_init(), k_system_not_ready);
  int n = 0;
  EXPECT_EQ(lib().fn<DeviceGetCountFn>("cuDeviceGetCount")(&n), k_not_initialized);
  int v = 0;
  EXPECT_EQ(lib().fn<DriverGetVersionFn>("cuDriverGetVersion")(&v), k_success);
  use_scenario(scenario(1, R"("cuda": {"init_return": 34})"));
  EXPECT_EQ(cu_init(), k_stub_library);
}

TEST_F(CudaSim, InitMirrorsNvmlInitFaultsUnlessTheCudaSectionSaysOtherwise) {
  use_scenario(scenario(1, R"("faults": [{"call": "nvmlInit", "return": "LIB_RM_VERSION_MISMATCH"}])"));
  EXPECT_EQ(cu_init(), k_system_driver_mismatch);
  use_scenario(scenario(1, R"("faults": [{"call": "nvmlInit", "return": "DRIVER_NOT_LOADED"}])"));
  EXPECT_EQ(cu_init(), k_no_device);
  use_scenario(scenario(1, R"("faults": [{"call": "nvmlInit", "return": "UNKNOWN"}],
                              "cuda": {"init_return": "SUCCESS"})"));
  EXPECT_EQ(cu_init(), k_success);
  use_scenario(scenario(1, R"("faults": [{"call": "nvmlDeviceGetTemperature", "return": "UNKNOWN"}])"));
  EXPECT_EQ(cu_init(), k_success);  // only init faults are mirrored
}

TEST_F(CudaSim, FaultsApplyPerGpuAndFirstMatchWins) {
  init_with(scenario(2, R"("cuda": {"faults": [
      {"call": "cuDeviceGetName", "gpu": 1, "return": "UNKNOWN"},
      {"call": "cuDeviceGetPCIBusId", "gpu": 0, "return": "SUCCESS"},
      {"call": "cuDeviceGetPCIBusId", "return": 999}]})"));
  char buf[64];
  EXPECT_EQ(lib().fn<DeviceGetNameFn>("cuDeviceGetName")(buf, sizeof buf, 0), k_success);
  EXPECT_EQ(lib().fn<DeviceGetNameFn>("cuDeviceGetName")(buf, sizeof buf, 1), k_unknown);
  EXPECT_EQ(lib().fn<DeviceGetPciBusIdFn>("cuDeviceGetPCIBusId")(buf, sizeof buf, 0), k_success);
  EXPECT_EQ(lib().fn<DeviceGetPciBusIdFn>("cuDeviceGetPCIBusId")(buf, sizeof buf, 1), k_unknown);
}

TEST_F(CudaSim, GpuLostToNvmlIsMissingFromTheCount) {
  init_with(scenario(3, R"("faults": [{"call": "nvmlDeviceGetHandleByIndex", "gpu": 1, "return": "GPU_IS_LOST"}])"));
  EXPECT_EQ(cu_count(), 2);
  EXPECT_EQ(cu_bus_id(0), "5B0A:00:00.0");
  EXPECT_EQ(cu_bus_id(1), "5B0A:02:00.0");  // ordinals close the gap
}

TEST_F(CudaSim, NoGpuMeansNoDevice) {
  use_scenario(scenario(0));
  EXPECT_EQ(cu_init(), k_no_device);
  use_scenario(scenario(1, R"("faults": [{"call": "nvmlDeviceGetHandleByIndex", "return": "GPU_IS_LOST"}])"));
  EXPECT_EQ(cu_init(), k_no_device);
}

TEST_F(CudaSim, PrimaryContextAllocationCycle) {
  init_with(scenario(2));
  CUdeviceptr p = 0;
  EXPECT_EQ(lib().fn<MemAllocFn>("cuMemAlloc_v2")(&p, 1024), k_invalid_context);  // no current context
  CUcontext ctx = nullptr;
  ASSERT_EQ(lib().fn<PrimaryCtxRetainFn>("cuDevicePrimaryCtxRetain")(&ctx, 1), k_success);
  ASSERT_EQ(lib().fn<CtxSetCurrentFn>("cuCtxSetCurrent")(ctx), k_success);
  ASSERT_EQ(lib().fn<MemAllocFn>("cuMemAlloc_v2")(&p, 1024), k_success);
  EXPECT_NE(p, 0u);
  EXPECT_EQ(lib().fn<MemAllocFn>("cuMemAlloc_v2")(&p, 0), k_invalid_value);
  EXPECT_EQ(lib().fn<MemFreeFn>("cuMemFree_v2")(p), k_success);
  EXPECT_EQ(lib().fn<MemFreeFn>("cuMemFree_v2")(p), k_invalid_value);  // twice
  EXPECT_EQ(lib().fn<PrimaryCtxReleaseFn>("cuDevicePrimaryCtxRelease_v2")(1), k_success);
  EXPECT_EQ(lib().fn<PrimaryCtxReleaseFn>("cuDevicePrimaryCtxRelease_v2")(1), k_invalid_context);
  EXPECT_EQ(lib().fn<MemAllocFn>("cuMemAlloc_v2")(&p, 1024), k_invalid_context);  // released: no longer current
}

TEST_F(CudaSim, CreatedContextIsCurrentAndMemoryIsLimited) {
  init_with(scenario(1));
  CUcontext ctx = nullptr;
  ASSERT_EQ(lib().fn<CtxCreateFn>("cuCtxCreate_v2")(&ctx, 0, 0), k_success);
  CUdeviceptr a = 0, b = 0;
  ASSERT_EQ(lib().fn<MemAllocFn>("cuMemAlloc_v2")(&a, 700u << 20), k_success);
  EXPECT_EQ(lib().fn<MemAllocFn>("cuMemAlloc_v2")(&b, 400u << 20), k_out_of_memory);  // 1 GiB in all
  EXPECT_EQ(lib().fn<CtxDestroyFn>("cuCtxDestroy_v2")(ctx), k_success);               // frees its memory
  EXPECT_EQ(lib().fn<CtxDestroyFn>("cuCtxDestroy_v2")(ctx), k_invalid_context);
  ASSERT_EQ(lib().fn<CtxCreateFn>("cuCtxCreate_v2")(&ctx, 0, 0), k_success);
  EXPECT_EQ(lib().fn<MemAllocFn>("cuMemAlloc_v2")(&b, 1000u << 20), k_success);
  EXPECT_EQ(lib().fn<CtxDestroyFn>("cuCtxDestroy_v2")(ctx), k_success);
}

TEST_F(CudaSim, AllocationFaultOnOneGpu) {
  init_with(scenario(2, R"("cuda": {"faults": [{"call": "cuMemAlloc", "gpu": 1, "return": "OUT_OF_MEMORY"}]})"));
  CUdeviceptr p = 0;
  for (CUdevice d : {0, 1}) {
    CUcontext ctx = nullptr;
    ASSERT_EQ(lib().fn<CtxCreateFn>("cuCtxCreate_v2")(&ctx, 0, d), k_success);
    EXPECT_EQ(lib().fn<MemAllocFn>("cuMemAlloc_v2")(&p, 4096), d == 0 ? k_success : k_out_of_memory);
    EXPECT_EQ(lib().fn<CtxDestroyFn>("cuCtxDestroy_v2")(ctx), k_success);
  }
}

TEST_F(CudaSim, ErrorNamesAndStringsMatchLibcuda) {
  EXPECT_EQ(error_name(0), "CUDA_SUCCESS");
  EXPECT_EQ(error_name(34), "CUDA_ERROR_STUB_LIBRARY");
  EXPECT_EQ(error_name(803), "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH");
  const char* s = nullptr;
  EXPECT_EQ(lib().fn<GetErrorTextFn>("cuGetErrorString")(100, &s), k_success);
  EXPECT_STREQ(s, "no CUDA-capable device is detected");
  EXPECT_EQ(lib().fn<GetErrorTextFn>("cuGetErrorString")(802, &s), k_success);
  EXPECT_STREQ(s, "system not yet initialized");
  EXPECT_EQ(lib().fn<GetErrorTextFn>("cuGetErrorName")(12345, &s), k_invalid_value);
  EXPECT_EQ(s, nullptr);
  EXPECT_EQ(lib().fn<GetErrorTextFn>("cuGetErrorName")(0, nullptr), k_invalid_value);
}

TEST_F(CudaSim, InitDelaySlowsTheFirstInit) {
  use_scenario(scenario(1, R"("cuda": {"init_delay_ms": 150})"));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(cu_init(), k_success);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(150));
  t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(cu_init(), k_success);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
}

TEST_F(CudaSim, HangFaultNeverReturns) {
  use_scenario(scenario(1, R"("cuda": {"faults": [{"call": "cuInit", "hang": true}]})"));
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    cu_init();
    _exit(0);  // returning at all is the failure
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0) << "cuInit returned";
  kill(pid, SIGKILL);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
}

}  // namespace
