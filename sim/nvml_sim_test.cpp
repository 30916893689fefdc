// Tests of the NVML simulator through its C ABI only: the built
// libnvidia-ml.so.1 (GD_SIM_NVML) and its legacy variant (GD_SIM_NVML_LEGACY)
// are dlopen'ed exactly as gpudoctor does.

#include <dlfcn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gd/nvml/nvml_abi.hpp"

#ifndef GD_SIM_NVML
#error "GD_SIM_NVML must name the built simulator library"
#endif
#ifndef GD_SIM_NVML_LEGACY
#error "GD_SIM_NVML_LEGACY must name the built legacy simulator library"
#endif

namespace {

namespace fs = std::filesystem;
using namespace gd::nvml;
using InitWithFlagsFn = nvmlReturn_t (*)(unsigned);

// A dlopen'ed simulator, kept open for the whole process (as gpudoctor's
// worker does), so its state survives between tests; reset() clears it.
class SimLibrary {
 public:
  explicit SimLibrary(const char* path) : m_path(path), m_handle(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {}

  bool loaded() const { return m_handle != nullptr; }
  bool has(const char* name) const { return m_handle && dlsym(m_handle, name) != nullptr; }

  // The symbol `name` as `Fn`; throws (failing the test) when it is missing.
  template <class Fn>
  Fn fn(const char* name) const {
    void* symbol = m_handle ? dlsym(m_handle, name) : nullptr;
    if (!symbol) throw std::runtime_error(m_path + " does not export " + name);
    return reinterpret_cast<Fn>(symbol);
  }

  nvmlReturn_t init() const { return fn<InitFn>("nvmlInit_v2")(); }
  nvmlReturn_t shutdown() const { return fn<ShutdownFn>("nvmlShutdown")(); }

  // Shuts down until the library reports it is not initialised.
  void reset() const {
    for (int i = 0; i < 1000 && shutdown() == k_success; ++i) {
    }
  }

 private:
  std::string m_path;
  void* m_handle;
};

const SimLibrary& sim() {
  static SimLibrary library(GD_SIM_NVML);
  return library;
}

const SimLibrary& legacy_sim() {
  static SimLibrary library(GD_SIM_NVML_LEGACY);
  return library;
}

constexpr const char* k_full_gpu = R"({
  "name": "Tesla V100-PCIE-16GB", "uuid": "GPU-11111111-2222-3333-4444-555555555555",
  "serial": "0323617040123", "bus_id": "00005B0A:3B:1F.0",
  "pci_device_id": "0x1DB410DE", "pci_subsystem_id": 303239390, "minor": 4,
  "persistence_mode": false,
  "temperature_c": 35, "slowdown_temp_c": 87, "shutdown_temp_c": 90,
  "power_mw": 25000, "power_limit_mw": 250000, "energy_mj": 123456789012,
  "memory_total_bytes": 17179869184, "memory_used_bytes": 1073741824,
  "utilization_gpu": 42, "utilization_memory": 7,
  "clocks_mhz": {"graphics": 135, "sm": 136, "mem": 877},
  "max_clocks_mhz": {"graphics": 1380, "sm": 1381, "mem": 878},
  "clock_event_reasons": "0x0000000000000021", "pstate": 2, "fan_percent": 55,
  "ecc_mode": true, "ecc_mode_pending": false,
  "ecc_errors": {"corrected_volatile": 1, "corrected_aggregate": 2,
                 "uncorrected_volatile": 3, "uncorrected_aggregate": 4},
  "retired_pages_pending": true,
  "remapped_rows": {"correctable": 5, "uncorrectable": 6, "pending": true, "failure": false},
  "recovery_action": 2,
  "pcie": {"gen": 3, "width": 8, "max_gen": 4, "max_width": 16}
})";

// Only the required fields, plus nulls that must read as "not supported".
constexpr const char* k_bare_gpu = R"({
  "name": "Bare GPU", "uuid": "GPU-bare", "bus_id": "0000:01:00.0",
  "temperature_c": null, "fan_percent": null, "clocks_mhz": null, "pcie": {"gen": null}
})";

// A scenario with `gpus` (JSON texts) and extra top-level members `extra`.
std::string scenario(const std::vector<std::string>& gpus, const std::string& extra = "") {
  std::string text = R"({"driver_version": "460.32.03", "nvml_version": "11.460.32.03",
                        "cuda_driver_version": 11020, )";
  if (!extra.empty()) text += extra + ", ";
  text += "\"gpus\": [";
  for (std::size_t i = 0; i < gpus.size(); ++i) text += (i ? ", " : "") + gpus[i];
  return text + "]}";
}

// A GPU like k_bare_gpu with its own index in uuid and bus id.
std::string numbered_gpu(unsigned i) {
  return R"({"name": "GPU )" + std::to_string(i) + R"(", "uuid": "GPU-)" + std::to_string(i) +
         R"(", "bus_id": "00000000:0)" + std::to_string(i) + R"(:00.0", "temperature_c": )" + std::to_string(30 + i) +
         "}";
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class NvmlSim : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sim().loaded()) << dlerror();
    sim().reset();
    std::string pattern = (fs::temp_directory_path() / "gd-nvml-sim-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
  }

  void TearDown() override {
    sim().reset();
    if (legacy_sim().loaded()) legacy_sim().reset();
    unsetenv("GPUDOCTOR_SIM_SCENARIO");
    std::error_code ec;
    fs::remove_all(m_dir, ec);
  }

  // Writes `text` as the scenario file `name` and points the simulator at it.
  fs::path use_scenario(const std::string& text, const std::string& name = "nvml.json") {
    fs::path path = m_dir / name;
    std::ofstream(path) << text;
    setenv("GPUDOCTOR_SIM_SCENARIO", path.c_str(), 1);
    return path;
  }

  // Initialises the simulator on `text`; fails the test unless that succeeds.
  void init_with(const std::string& text) {
    use_scenario(text);
    ASSERT_EQ(sim().init(), k_success);
  }

  nvmlDevice_t handle(unsigned index) {
    nvmlDevice_t device = nullptr;
    EXPECT_EQ(sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex_v2")(index, &device), k_success);
    return device;
  }

  unsigned count() {
    unsigned n = 0;
    EXPECT_EQ(sim().fn<CountFn>("nvmlDeviceGetCount_v2")(&n), k_success);
    return n;
  }

  fs::path m_dir;
};

TEST_F(NvmlSim, CallsBeforeInitReturnUninitialized) {
  use_scenario(scenario({k_full_gpu}));
  unsigned n = 0;
  nvmlDevice_t device = nullptr;
  char buf[80];
  EXPECT_EQ(sim().fn<CountFn>("nvmlDeviceGetCount_v2")(&n), k_uninitialized);
  EXPECT_EQ(sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex_v2")(0, &device), k_uninitialized);
  EXPECT_EQ(sim().fn<SystemStringFn>("nvmlSystemGetDriverVersion")(buf, sizeof buf), k_uninitialized);
  EXPECT_EQ(sim().shutdown(), k_success);  // as the real library: no error
  // The real library states its own version before init (and without a driver).
  ASSERT_EQ(sim().fn<SystemStringFn>("nvmlSystemGetNVMLVersion")(buf, sizeof buf), k_success);
  EXPECT_STRNE(buf, "");
}

TEST_F(NvmlSim, UnsetScenarioVariableMeansDriverNotLoaded) {
  unsetenv("GPUDOCTOR_SIM_SCENARIO");
  testing::internal::CaptureStderr();
  EXPECT_EQ(sim().init(), k_driver_not_loaded);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("GPUDOCTOR_SIM_SCENARIO"), std::string::npos) << err;
}

struct Malformed {
  const char* text;
  const char* message;  // expected after "gpudoctor-sim: <file>: "
};

class NvmlSimMalformed : public NvmlSim, public ::testing::WithParamInterface<Malformed> {};

TEST_P(NvmlSimMalformed, InitFailsWithUnknownAndOneLine) {
  fs::path file = use_scenario(GetParam().text);
  testing::internal::CaptureStderr();
  EXPECT_EQ(sim().init(), k_unknown);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "gpudoctor-sim: " + file.string() + ": " + GetParam().message + "\n");
  unsigned n = 0;
  EXPECT_EQ(sim().fn<CountFn>("nvmlDeviceGetCount_v2")(&n), k_uninitialized);
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, NvmlSimMalformed,
    ::testing::Values(Malformed{R"({"gpus": 5})", "gpus: expected an array, got number 5"},
                      Malformed{R"({"gpus": [{"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0"},
                               {"name": "b", "uuid": "GPU-b", "bus_id": "0:2:0.0", "temperature_c": "hot"}]})",
                                "gpus[1].temperature_c: expected a number, got string"},
                      Malformed{R"({"gpus": [{"name": "a", "bus_id": "0:1:0.0"}]})",
                                "gpus[0].uuid: missing (required)"},
                      Malformed{R"({"gpus": [{"name": "a", "uuid": "GPU-a", "bus_id": "nowhere"}]})",
                                "gpus[0].bus_id: expected \"DDDDDDDD:BB:DD.F\" in hex, got \"nowhere\""},
                      Malformed{R"({"gpus": [{"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0", "power_mw": -5}]})",
                                "gpus[0].power_mw: expected a non-negative integer, got number -5"},
                      Malformed{R"({"faults": [{"call": "nvmlDeviceGetTemprature", "return": 3}]})",
                                "faults[0].call: \"nvmlDeviceGetTemprature\" is not a call the simulator exports"},
                      Malformed{R"({"faults": [{"call": "nvmlInit", "return": "GPU_IS_FOUND"}]})",
                                "faults[0].return: unknown return code \"GPU_IS_FOUND\""},
                      Malformed{R"({"faults": [{"call": "nvmlInit", "gpu": 0, "hang": true}]})",
                                "faults[0].gpu: 0 is not an index into gpus (0 listed)"},
                      Malformed{R"([1, 2])", "top level: expected an object, got array"},
                      Malformed{R"({"gpus": [{"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0",
                               "over_time": {"temprature_c": []}}]})",
                                "gpus[0].over_time.temprature_c: not a reading that can change (one of: "
                                "temperature_c, power_mw, energy_mj, memory_used_bytes, utilization_gpu, "
                                "utilization_memory, clocks_mhz.graphics, clocks_mhz.sm, clocks_mhz.mem, "
                                "clock_event_reasons, pstate, fan_percent, ecc_errors.corrected_volatile, "
                                "ecc_errors.corrected_aggregate, ecc_errors.uncorrected_volatile, "
                                "ecc_errors.uncorrected_aggregate, remapped_rows.correctable, "
                                "remapped_rows.uncorrectable, pcie.gen, pcie.width)"},
                      Malformed{R"({"gpus": [{"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0",
                               "over_time": {"temperature_c": [{"ramp_to": 90, "from_ms": 0, "to_sample": 3}]}}]})",
                                "gpus[0].over_time.temperature_c[0]: a ramp needs from_ms and to_ms, or from_sample "
                                "and to_sample"},
                      Malformed{R"({"gpus": [{"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0",
                               "over_time": {"utilization_gpu": [{"set": 101, "at_ms": 5}]}}]})",
                                "gpus[0].over_time.utilization_gpu[0].set: value 101 is out of range (at most 100)"},
                      Malformed{R"({"gpus": [{"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0",
                               "over_time": {"temperature_c": [{"set": 90}]}}]})",
                                "gpus[0].over_time.temperature_c[0]: \"set\" needs at_ms or at_sample"},
                      Malformed{R"({"gpus": [{"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0"}],
                               "xid_events": [{"gpu": 0, "xid": 79}]})",
                                "xid_events[0]: needs at_ms or at_sample"},
                      Malformed{R"({"gpus": [{"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0"}],
                               "faults": [{"call": "*", "return": 15, "at_ms": 5, "at_sample": 2}]})",
                                "faults[0]: give at_ms or at_sample, not both"},
                      Malformed{R"({"cuda": {"faults": [{"call": "cuInit", "return": 100, "at_ms": 5}]}})",
                                "cuda.faults[0]: at_ms and at_sample apply to NVML faults only"},
                      Malformed{R"({"gpus": [)",
                                "invalid JSON: parse error at line 1, column 11: syntax error while parsing value - "
                                "unexpected end of input; expected '[', '{', or a literal"}),
    [](const ::testing::TestParamInfo<Malformed>& info) { return "case" + std::to_string(info.index); });

TEST_F(NvmlSim, UnreadableScenarioFailsInit) {
  setenv("GPUDOCTOR_SIM_SCENARIO", (m_dir / "absent.json").c_str(), 1);
  testing::internal::CaptureStderr();
  EXPECT_EQ(sim().init(), k_unknown);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("absent.json: cannot open for reading: No such file or directory"), std::string::npos) << err;
}

TEST_F(NvmlSim, ReportsCountAndSystemVersions) {
  init_with(scenario({k_full_gpu, k_bare_gpu}));
  EXPECT_EQ(count(), 2u);
  unsigned n = 0;
  EXPECT_EQ(sim().fn<CountFn>("nvmlDeviceGetCount")(&n), k_success);
  EXPECT_EQ(n, 2u);

  char buf[k_system_version_len];
  EXPECT_EQ(sim().fn<SystemStringFn>("nvmlSystemGetDriverVersion")(buf, sizeof buf), k_success);
  EXPECT_STREQ(buf, "460.32.03");
  EXPECT_EQ(sim().fn<SystemStringFn>("nvmlSystemGetNVMLVersion")(buf, sizeof buf), k_success);
  EXPECT_STREQ(buf, "11.460.32.03");
  EXPECT_EQ(sim().fn<SystemStringFn>("nvmlSystemGetDriverVersion")(buf, 9), k_insufficient_size);
  int cuda = 0;
  EXPECT_EQ(sim().fn<SystemIntFn>("nvmlSystemGetCudaDriverVersion_v2")(&cuda), k_success);
  EXPECT_EQ(cuda, 11020);
  EXPECT_EQ(sim().fn<SystemIntFn>("nvmlSystemGetCudaDriverVersion")(&cuda), k_success);
}

TEST_F(NvmlSim, ReportsIdentityStrings) {
  init_with(scenario({k_full_gpu}));
  nvmlDevice_t gpu = handle(0);
  char buf[k_device_uuid_len];
  EXPECT_EQ(sim().fn<DeviceStringFn>("nvmlDeviceGetName")(gpu, buf, sizeof buf), k_success);
  EXPECT_STREQ(buf, "Tesla V100-PCIE-16GB");
  EXPECT_EQ(sim().fn<DeviceStringFn>("nvmlDeviceGetUUID")(gpu, buf, sizeof buf), k_success);
  EXPECT_STREQ(buf, "GPU-11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(sim().fn<DeviceStringFn>("nvmlDeviceGetSerial")(gpu, buf, k_device_serial_len), k_success);
  EXPECT_STREQ(buf, "0323617040123");
  EXPECT_EQ(sim().fn<DeviceStringFn>("nvmlDeviceGetSerial")(gpu, buf, 13), k_insufficient_size);
  EXPECT_EQ(sim().fn<DeviceStringFn>("nvmlDeviceGetSerial")(gpu, buf, 14), k_success);
  unsigned minor = 0;
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetMinorNumber")(gpu, &minor), k_success);
  EXPECT_EQ(minor, 4u);
}

TEST_F(NvmlSim, FillsPciInfoLikeNvml) {
  init_with(scenario({k_full_gpu, k_bare_gpu}));
  nvmlPciInfo_t expected{};
  std::memcpy(expected.busIdLegacy, "5B0A:3B:1F.0", 13);
  std::memcpy(expected.busId, "00005B0A:3B:1F.0", 17);
  expected.domain = 0x5B0A;
  expected.bus = 0x3B;
  expected.device = 0x1F;
  expected.pciDeviceId = 0x1DB410DE;
  expected.pciSubSystemId = 303239390;
  // As the real 535 library: v1 skips pciSubSystemId, v1 and v2 never write
  // the 32-byte busId (the caller's bytes stay), only _v3 does.
  for (int version : {3, 2, 1}) {
    const char* name = version == 3 ? "nvmlDeviceGetPciInfo_v3" : version == 2 ? "nvmlDeviceGetPciInfo_v2"
                                                                              : "nvmlDeviceGetPciInfo";
    nvmlPciInfo_t pci;
    std::memset(&pci, 0xAB, sizeof pci);
    ASSERT_EQ(sim().fn<DevicePciFn>(name)(handle(0), &pci), k_success) << name;
    nvmlPciInfo_t want = expected;
    if (version < 3) std::memset(want.busId, 0xAB, sizeof want.busId);
    if (version < 2) std::memset(&want.pciSubSystemId, 0xAB, sizeof want.pciSubSystemId);
    EXPECT_EQ(std::memcmp(&pci, &want, sizeof pci), 0) << name;
  }
  nvmlPciInfo_t bare{};
  ASSERT_EQ(sim().fn<DevicePciFn>("nvmlDeviceGetPciInfo_v3")(handle(1), &bare), k_success);
  EXPECT_STREQ(bare.busIdLegacy, "0000:01:00.0");
  EXPECT_STREQ(bare.busId, "00000000:01:00.0");
  EXPECT_EQ(bare.pciDeviceId, 0x000010DEu);
  EXPECT_EQ(bare.pciSubSystemId, 0x000010DEu);
}

TEST_F(NvmlSim, ReportsThermalPowerAndLoad) {
  init_with(scenario({k_full_gpu}));
  nvmlDevice_t gpu = handle(0);
  unsigned u = 0;
  EXPECT_EQ(sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature")(gpu, 0, &u), k_success);
  EXPECT_EQ(u, 35u);
  EXPECT_EQ(sim().fn<DeviceTempThresholdFn>("nvmlDeviceGetTemperatureThreshold")(gpu, 0, &u), k_success);
  EXPECT_EQ(u, 90u);
  EXPECT_EQ(sim().fn<DeviceTempThresholdFn>("nvmlDeviceGetTemperatureThreshold")(gpu, 1, &u), k_success);
  EXPECT_EQ(u, 87u);
  EXPECT_EQ(sim().fn<DeviceTempThresholdFn>("nvmlDeviceGetTemperatureThreshold")(gpu, 2, &u), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetPowerUsage")(gpu, &u), k_success);
  EXPECT_EQ(u, 25000u);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetEnforcedPowerLimit")(gpu, &u), k_success);
  EXPECT_EQ(u, 250000u);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetFanSpeed")(gpu, &u), k_success);
  EXPECT_EQ(u, 55u);
  unsigned long long ull = 0;
  EXPECT_EQ(sim().fn<DeviceUllFn>("nvmlDeviceGetTotalEnergyConsumption")(gpu, &ull), k_success);
  EXPECT_EQ(ull, 123456789012ull);

  nvmlMemory_t memory{};
  EXPECT_EQ(sim().fn<DeviceMemoryFn>("nvmlDeviceGetMemoryInfo")(gpu, &memory), k_success);
  EXPECT_EQ(memory.total, 17179869184ull);
  EXPECT_EQ(memory.used, 1073741824ull);
  EXPECT_EQ(memory.free, 17179869184ull - 1073741824ull);
  nvmlUtilization_t util{};
  EXPECT_EQ(sim().fn<DeviceUtilFn>("nvmlDeviceGetUtilizationRates")(gpu, &util), k_success);
  EXPECT_EQ(util.gpu, 42u);
  EXPECT_EQ(util.memory, 7u);
}

TEST_F(NvmlSim, ReportsClocksAndPerformanceState) {
  init_with(scenario({k_full_gpu}));
  nvmlDevice_t gpu = handle(0);
  auto clock = sim().fn<DeviceClockFn>("nvmlDeviceGetClockInfo");
  auto max_clock = sim().fn<DeviceClockFn>("nvmlDeviceGetMaxClockInfo");
  unsigned expected[] = {135, 136, 877};
  unsigned expected_max[] = {1380, 1381, 878};
  for (int type = 0; type < 3; ++type) {
    unsigned mhz = 0;
    EXPECT_EQ(clock(gpu, type, &mhz), k_success);
    EXPECT_EQ(mhz, expected[type]);
    EXPECT_EQ(max_clock(gpu, type, &mhz), k_success);
    EXPECT_EQ(mhz, expected_max[type]);
  }
  for (const char* name : {"nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"}) {
    unsigned long long reasons = 0;
    EXPECT_EQ(sim().fn<DeviceUllFn>(name)(gpu, &reasons), k_success);
    EXPECT_EQ(reasons, 0x21ull);
  }
  int pstate = -1;
  EXPECT_EQ(sim().fn<DevicePstateFn>("nvmlDeviceGetPerformanceState")(gpu, &pstate), k_success);
  EXPECT_EQ(pstate, 2);
}

TEST_F(NvmlSim, ReportsMemoryHealthAndPcieLink) {
  init_with(scenario({k_full_gpu}));
  nvmlDevice_t gpu = handle(0);
  nvmlEnableState_t current = -1, pending = -1;
  EXPECT_EQ(sim().fn<DeviceEccModeFn>("nvmlDeviceGetEccMode")(gpu, &current, &pending), k_success);
  EXPECT_EQ(current, 1);
  EXPECT_EQ(pending, 0);
  auto ecc = sim().fn<DeviceEccCountFn>("nvmlDeviceGetTotalEccErrors");
  unsigned long long n = 0;
  EXPECT_EQ(ecc(gpu, k_memory_error_corrected, k_ecc_counter_volatile, &n), k_success);
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(ecc(gpu, k_memory_error_corrected, k_ecc_counter_aggregate, &n), k_success);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(ecc(gpu, k_memory_error_uncorrected, k_ecc_counter_volatile, &n), k_success);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(ecc(gpu, k_memory_error_uncorrected, k_ecc_counter_aggregate, &n), k_success);
  EXPECT_EQ(n, 4u);
  nvmlEnableState_t retired = 0;
  EXPECT_EQ(sim().fn<DeviceEnableFn>("nvmlDeviceGetRetiredPagesPendingStatus")(gpu, &retired), k_success);
  EXPECT_EQ(retired, 1);
  unsigned corr = 0, unc = 0, is_pending = 0, failure = 9;
  EXPECT_EQ(sim().fn<DeviceRemappedRowsFn>("nvmlDeviceGetRemappedRows")(gpu, &corr, &unc, &is_pending, &failure),
            k_success);
  EXPECT_EQ(corr, 5u);
  EXPECT_EQ(unc, 6u);
  EXPECT_EQ(is_pending, 1u);
  EXPECT_EQ(failure, 0u);
  nvmlFieldValue_t fields[2] = {};
  fields[0].fieldId = k_fi_dev_get_gpu_recovery_action;
  fields[1].fieldId = 4;  // ECC_DBE_VOL_TOTAL: not modelled
  EXPECT_EQ(sim().fn<DeviceFieldValuesFn>("nvmlDeviceGetFieldValues")(gpu, 2, fields), k_success);
  EXPECT_EQ(fields[0].nvmlReturn, k_success);
  EXPECT_EQ(fields[0].valueType, k_value_type_uint);
  EXPECT_EQ(fields[0].value.uiVal, 2u);
  EXPECT_EQ(fields[1].nvmlReturn, k_not_supported);
  EXPECT_EQ(sim().fn<DeviceFieldValuesFn>("nvmlDeviceGetFieldValues")(gpu, 1, nullptr), k_invalid_argument);
  unsigned link = 0;
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetCurrPcieLinkGeneration")(gpu, &link), k_success);
  EXPECT_EQ(link, 3u);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetCurrPcieLinkWidth")(gpu, &link), k_success);
  EXPECT_EQ(link, 8u);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetMaxPcieLinkGeneration")(gpu, &link), k_success);
  EXPECT_EQ(link, 4u);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetMaxPcieLinkWidth")(gpu, &link), k_success);
  EXPECT_EQ(link, 16u);
}

TEST_F(NvmlSim, AbsentOrNullFieldsAreNotSupported) {
  init_with(R"({"gpus": [)" + std::string(k_bare_gpu) + "]}");
  nvmlDevice_t gpu = handle(0);
  char buf[k_system_version_len];
  int i = 0;
  unsigned u = 0;
  unsigned long long ull = 0;
  nvmlEnableState_t e = 0;
  EXPECT_EQ(sim().fn<SystemStringFn>("nvmlSystemGetDriverVersion")(buf, sizeof buf), k_not_supported);
  EXPECT_EQ(sim().fn<SystemIntFn>("nvmlSystemGetCudaDriverVersion_v2")(&i), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceStringFn>("nvmlDeviceGetSerial")(gpu, buf, sizeof buf), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature")(gpu, 0, &u), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceTempThresholdFn>("nvmlDeviceGetTemperatureThreshold")(gpu, 1, &u), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetFanSpeed")(gpu, &u), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetPowerUsage")(gpu, &u), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetMinorNumber")(gpu, &u), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceClockFn>("nvmlDeviceGetClockInfo")(gpu, k_clock_sm, &u), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetCurrPcieLinkGeneration")(gpu, &u), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceUllFn>("nvmlDeviceGetTotalEnergyConsumption")(gpu, &ull), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceUllFn>("nvmlDeviceGetCurrentClocksEventReasons")(gpu, &ull), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceEnableFn>("nvmlDeviceGetPersistenceMode")(gpu, &e), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceSetEnableFn>("nvmlDeviceSetPersistenceMode")(gpu, 1), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceEnableFn>("nvmlDeviceGetRetiredPagesPendingStatus")(gpu, &e), k_not_supported);
  nvmlMemory_t memory;
  EXPECT_EQ(sim().fn<DeviceMemoryFn>("nvmlDeviceGetMemoryInfo")(gpu, &memory), k_not_supported);
  nvmlUtilization_t util;
  EXPECT_EQ(sim().fn<DeviceUtilFn>("nvmlDeviceGetUtilizationRates")(gpu, &util), k_not_supported);
  nvmlEnableState_t pending = 0;
  EXPECT_EQ(sim().fn<DeviceEccModeFn>("nvmlDeviceGetEccMode")(gpu, &e, &pending), k_not_supported);
  EXPECT_EQ(sim().fn<DeviceEccCountFn>("nvmlDeviceGetTotalEccErrors")(gpu, 1, 1, &ull), k_not_supported);
  unsigned a = 0, b = 0, c = 0, d = 0;
  EXPECT_EQ(sim().fn<DeviceRemappedRowsFn>("nvmlDeviceGetRemappedRows")(gpu, &a, &b, &c, &d), k_not_supported);
}

TEST_F(NvmlSim, RejectsBadArguments) {
  init_with(scenario({k_full_gpu, k_bare_gpu}));
  nvmlDevice_t gpu = handle(0);
  nvmlDevice_t device = nullptr;
  unsigned u = 0;
  auto by_index = sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex_v2");
  EXPECT_EQ(by_index(2, &device), k_invalid_argument);
  EXPECT_EQ(by_index(0, nullptr), k_invalid_argument);
  EXPECT_EQ(sim().fn<CountFn>("nvmlDeviceGetCount_v2")(nullptr), k_invalid_argument);
  EXPECT_EQ(sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature")(gpu, 0, nullptr), k_invalid_argument);
  EXPECT_EQ(sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature")(gpu, 1, &u), k_invalid_argument);
  EXPECT_EQ(sim().fn<DeviceClockFn>("nvmlDeviceGetClockInfo")(gpu, 7, &u), k_invalid_argument);
  EXPECT_EQ(sim().fn<DeviceEccCountFn>("nvmlDeviceGetTotalEccErrors")(gpu, 2, 0, nullptr), k_invalid_argument);
  EXPECT_EQ(sim().fn<DevicePciFn>("nvmlDeviceGetPciInfo_v3")(gpu, nullptr), k_invalid_argument);
  EXPECT_EQ(sim().fn<DeviceStringFn>("nvmlDeviceGetName")(gpu, nullptr, 96), k_invalid_argument);
  EXPECT_EQ(sim().fn<DeviceSetEnableFn>("nvmlDeviceSetPersistenceMode")(gpu, 2), k_invalid_argument);
  nvmlEnableState_t e = 0;
  EXPECT_EQ(sim().fn<DeviceEccModeFn>("nvmlDeviceGetEccMode")(gpu, &e, nullptr), k_invalid_argument);

  auto temperature = sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature");
  int not_a_device = 0;
  EXPECT_EQ(temperature(nullptr, 0, &u), k_invalid_argument);
  EXPECT_EQ(temperature(reinterpret_cast<nvmlDevice_t>(&not_a_device), 0, &u), k_invalid_argument);

  // A handle to a GPU that a reloaded scenario no longer lists.
  nvmlDevice_t second = handle(1);
  sim().reset();
  init_with(scenario({k_full_gpu}));
  EXPECT_EQ(temperature(second, 0, &u), k_invalid_argument);
}

TEST_F(NvmlSim, ErrorStringsMatchNvml) {
  auto error_string = sim().fn<ErrorStringFn>("nvmlErrorString");
  EXPECT_STREQ(error_string(0), "Success");
  EXPECT_STREQ(error_string(1), "Uninitialized");
  EXPECT_STREQ(error_string(2), "Invalid Argument");
  EXPECT_STREQ(error_string(3), "Not Supported");
  EXPECT_STREQ(error_string(4), "Insufficient Permissions");
  EXPECT_STREQ(error_string(6), "Not Found");
  EXPECT_STREQ(error_string(9), "Driver Not Loaded");
  EXPECT_STREQ(error_string(15), "GPU is lost");
  EXPECT_STREQ(error_string(18), "Driver/library version mismatch");
  EXPECT_STREQ(error_string(999), "Unknown Error");
  for (int code = 0; code <= 30; ++code) {
    ASSERT_NE(error_string(code), nullptr);
    EXPECT_GT(std::strlen(error_string(code)), 0u) << code;
  }
  EXPECT_STREQ(error_string(12345), "Unknown Error");
}

TEST_F(NvmlSim, InitFaultFailsInitAndCountsNothing) {
  use_scenario(scenario({k_full_gpu}, R"("faults": [{"call": "nvmlInit", "return": "LIB_RM_VERSION_MISMATCH"}])"));
  EXPECT_EQ(sim().init(), k_lib_rm_version_mismatch);
  EXPECT_EQ(sim().fn<InitFn>("nvmlInit")(), k_lib_rm_version_mismatch);
  EXPECT_EQ(sim().fn<InitWithFlagsFn>("nvmlInitWithFlags")(0), k_lib_rm_version_mismatch);
  unsigned n = 0;
  EXPECT_EQ(sim().fn<CountFn>("nvmlDeviceGetCount_v2")(&n), k_uninitialized);
  EXPECT_EQ(sim().shutdown(), k_success);
}

TEST_F(NvmlSim, FaultsApplyPerGpu) {
  init_with(scenario({numbered_gpu(0), numbered_gpu(1), numbered_gpu(2)}, R"("faults": [
      {"call": "nvmlDeviceGetHandleByIndex", "gpu": 1, "return": "NVML_ERROR_GPU_IS_LOST"},
      {"call": "nvmlDeviceGetName", "gpu": 2, "return": "SUCCESS"},
      {"call": "nvmlDeviceGetHandleByIndex", "gpu": 2, "return": "NVML_SUCCESS"},
      {"call": "*", "gpu": 2, "return": 15},
      {"call": "nvmlDeviceGetTemperature", "gpu": 0, "return": "NO_PERMISSION"},
      {"call": "nvmlDeviceGetPowerUsage", "return": "TIMEOUT"}])"));
  EXPECT_EQ(count(), 3u);  // a lost GPU stays counted
  nvmlDevice_t device = nullptr;
  EXPECT_EQ(sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex_v2")(1, &device), k_gpu_is_lost);
  EXPECT_EQ(sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex")(1, &device), k_gpu_is_lost);

  nvmlDevice_t gpu0 = handle(0);
  nvmlDevice_t gpu2 = handle(2);  // first match wins: SUCCESS before "*"
  unsigned u = 0;
  auto temperature = sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature");
  EXPECT_EQ(temperature(gpu0, 0, &u), k_no_permission);
  EXPECT_EQ(temperature(gpu2, 0, &u), k_gpu_is_lost);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetPowerUsage")(gpu2, &u), k_gpu_is_lost);
  EXPECT_EQ(sim().fn<DeviceUintFn>("nvmlDeviceGetPowerUsage")(gpu0, &u), k_timeout);  // no gpu: every GPU
  char name[96];
  EXPECT_EQ(sim().fn<DeviceStringFn>("nvmlDeviceGetName")(gpu2, name, sizeof name), k_success);
  EXPECT_STREQ(name, "GPU 2");
  char version[80];
  EXPECT_EQ(sim().fn<SystemStringFn>("nvmlSystemGetDriverVersion")(version, sizeof version), k_success);
}

TEST_F(NvmlSim, StarFaultOnGpuCoversHandleLookupOnly) {
  init_with(scenario({numbered_gpu(0), numbered_gpu(1)}, R"("faults": [{"call": "*", "gpu": 1, "return": 15}])"));
  nvmlDevice_t device = nullptr;
  auto by_index = sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex_v2");
  EXPECT_EQ(by_index(1, &device), k_gpu_is_lost);
  EXPECT_EQ(by_index(0, &device), k_success);
  EXPECT_EQ(count(), 2u);
  int cuda = 0;
  EXPECT_EQ(sim().fn<SystemIntFn>("nvmlSystemGetCudaDriverVersion_v2")(&cuda), k_success);
}

TEST_F(NvmlSim, StarFaultWithoutGpuCoversEverything) {
  use_scenario(scenario({k_full_gpu}, R"("faults": [{"call": "*", "return": "DRIVER_NOT_LOADED"}])"));
  EXPECT_EQ(sim().init(), k_driver_not_loaded);
  EXPECT_EQ(sim().shutdown(), k_success);
}

TEST_F(NvmlSim, FaultNamesIgnoreVersionSuffixes) {
  init_with(scenario({k_full_gpu}, R"("faults": [
      {"call": "nvmlDeviceGetPciInfo_v3", "return": "NVML_ERROR_IN_USE"},
      {"call": "nvmlDeviceGetCurrentClocksThrottleReasons", "return": 16}])"));
  nvmlPciInfo_t pci;
  for (const char* name : {"nvmlDeviceGetPciInfo", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo_v3"}) {
    EXPECT_EQ(sim().fn<DevicePciFn>(name)(handle(0), &pci), 19) << name;
  }
  unsigned long long reasons = 0;
  EXPECT_EQ(sim().fn<DeviceUllFn>("nvmlDeviceGetCurrentClocksEventReasons")(handle(0), &reasons), 16);
}

// Runs `body` in a child process and returns its exit status (0: all is well).
int run_in_child(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = -1;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST_F(NvmlSim, ShutdownFaultKeepsTheLibraryInitialised) {
  // In a child: a shutdown that fails for good would leak into later tests.
  use_scenario(scenario({k_full_gpu}, R"("faults": [{"call": "nvmlShutdown", "return": "UNKNOWN"}])"));
  int status = run_in_child([] {
    unsigned n = 0;
    if (sim().init() != k_success) return 1;
    if (sim().shutdown() != k_unknown) return 2;
    if (sim().fn<CountFn>("nvmlDeviceGetCount_v2")(&n) != k_success || n != 1) return 3;
    return 0;
  });
  EXPECT_EQ(status, 0);
}

TEST_F(NvmlSim, InitDelaySlowsEveryInit) {
  use_scenario(scenario({k_full_gpu}, R"("init_delay_ms": 250)"));
  for (int i = 0; i < 2; ++i) {
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(sim().init(), k_success);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
  }
}

TEST_F(NvmlSim, InitIsReferenceCounted) {
  use_scenario(scenario({k_full_gpu}));
  EXPECT_EQ(sim().init(), k_success);
  EXPECT_EQ(sim().fn<InitWithFlagsFn>("nvmlInitWithFlags")(0), k_success);
  EXPECT_EQ(sim().shutdown(), k_success);
  EXPECT_EQ(count(), 1u);
  EXPECT_EQ(sim().shutdown(), k_success);
  unsigned n = 0;
  EXPECT_EQ(sim().fn<CountFn>("nvmlDeviceGetCount_v2")(&n), k_uninitialized);
  EXPECT_EQ(sim().shutdown(), k_success);  // an extra shutdown harms nothing
  EXPECT_EQ(sim().init(), k_success);
  EXPECT_EQ(count(), 1u);
}

TEST_F(NvmlSim, ScenarioIsReloadedAfterFullShutdown) {
  init_with(scenario({numbered_gpu(0)}));
  use_scenario(scenario({numbered_gpu(0), numbered_gpu(1)}));
  EXPECT_EQ(sim().init(), k_success);
  EXPECT_EQ(count(), 1u);  // still the scenario read by the first init
  sim().reset();
  EXPECT_EQ(sim().init(), k_success);
  EXPECT_EQ(count(), 2u);
}

TEST_F(NvmlSim, PersistenceModeIsKeptInTheStateFile) {
  fs::path file = use_scenario(scenario({k_full_gpu}));
  fs::path state = file.string() + ".state";
  std::ofstream(state) << R"({"cycles": {"GPU-x": 7}})";
  ASSERT_EQ(sim().init(), k_success);
  nvmlDevice_t gpu = handle(0);
  auto get = sim().fn<DeviceEnableFn>("nvmlDeviceGetPersistenceMode");
  auto set = sim().fn<DeviceSetEnableFn>("nvmlDeviceSetPersistenceMode");
  nvmlEnableState_t mode = -1;
  EXPECT_EQ(get(gpu, &mode), k_success);
  EXPECT_EQ(mode, 0);

  EXPECT_EQ(set(gpu, 1), k_success);
  auto doc = nlohmann::json::parse(read_file(state));
  EXPECT_EQ(doc["persistence"]["GPU-11111111-2222-3333-4444-555555555555"], true);
  EXPECT_EQ(doc["cycles"]["GPU-x"], 7);  // unknown keys survive
  EXPECT_EQ(get(gpu, &mode), k_success);
  EXPECT_EQ(mode, 1);

  // Another process changes the file: the next Get sees it.
  doc["persistence"]["GPU-11111111-2222-3333-4444-555555555555"] = false;
  std::ofstream(state) << doc.dump();
  EXPECT_EQ(get(gpu, &mode), k_success);
  EXPECT_EQ(mode, 0);

  // A corrupt state file is an error, never a crash.
  std::ofstream(state) << "{nope";
  testing::internal::CaptureStderr();
  EXPECT_EQ(get(gpu, &mode), k_unknown);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("not valid JSON"), std::string::npos);
}

TEST_F(NvmlSim, StateFileIsRelativeToTheScenario) {
  fs::create_directory(m_dir / "sub");
  use_scenario(scenario({k_full_gpu}, R"("state_file": "sub/node.state")"));
  ASSERT_EQ(sim().init(), k_success);
  EXPECT_EQ(sim().fn<DeviceSetEnableFn>("nvmlDeviceSetPersistenceMode")(handle(0), 1), k_success);
  EXPECT_TRUE(fs::exists(m_dir / "sub" / "node.state"));
  EXPECT_FALSE(fs::exists(m_dir / "nvml.json.state"));
}

TEST_F(NvmlSim, LegacyLibraryLacksNewerSymbols) {
  ASSERT_TRUE(legacy_sim().loaded()) << dlerror();
  for (const char* name :
       {"nvmlInit_v2", "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetPciInfo_v2",
        "nvmlDeviceGetPciInfo_v3", "nvmlSystemGetCudaDriverVersion_v2", "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetRemappedRows", "nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetFieldValues"}) {
    EXPECT_FALSE(legacy_sim().has(name)) << name;
    EXPECT_TRUE(sim().has(name)) << name;
  }
  use_scenario(scenario({k_full_gpu}));
  ASSERT_EQ(legacy_sim().fn<InitFn>("nvmlInit")(), k_success);
  unsigned n = 0;
  EXPECT_EQ(legacy_sim().fn<CountFn>("nvmlDeviceGetCount")(&n), k_success);
  EXPECT_EQ(n, 1u);
  nvmlDevice_t gpu = nullptr;
  ASSERT_EQ(legacy_sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex")(0, &gpu), k_success);
  nvmlPciInfo_t pci{};
  EXPECT_EQ(legacy_sim().fn<DevicePciFn>("nvmlDeviceGetPciInfo")(gpu, &pci), k_success);
  EXPECT_STREQ(pci.busIdLegacy, "5B0A:3B:1F.0");
  EXPECT_STREQ(pci.busId, "");  // the plain call never writes it
  unsigned long long reasons = 0;
  EXPECT_EQ(legacy_sim().fn<DeviceUllFn>("nvmlDeviceGetCurrentClocksThrottleReasons")(gpu, &reasons), k_success);
  EXPECT_EQ(sim().fn<CountFn>("nvmlDeviceGetCount_v2")(&n), k_uninitialized);  // separate state
  EXPECT_EQ(legacy_sim().shutdown(), k_success);
}

// Runs `call` in a child process and checks it is still running after 200 ms;
// then kills the child with `signal` and checks it died of it.
void expect_hangs(const std::function<void()>& call, int signal) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    call();
    _exit(0);  // returning at all is the failure
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), 0) << "the call returned";
  kill(pid, signal);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), signal);
}

TEST_F(NvmlSim, HangFaultNeverReturns) {
  use_scenario(scenario({numbered_gpu(0), numbered_gpu(1)},
                        R"("faults": [{"call": "nvmlDeviceGetTemperature", "gpu": 1, "hang": true}])"));
  expect_hangs(
      [] {
        nvmlDevice_t gpu = nullptr;
        unsigned temp = 0;
        if (sim().init() != k_success) _exit(2);
        if (sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex_v2")(1, &gpu) != k_success) _exit(3);
        sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature")(gpu, 0, &temp);
      },
      SIGKILL);
  // The parent, on GPU 0, is unaffected.
  ASSERT_EQ(sim().init(), k_success);
  unsigned temp = 0;
  EXPECT_EQ(sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature")(handle(0), 0, &temp), k_success);
  EXPECT_EQ(temp, 30u);
}

TEST_F(NvmlSim, HangingInitCanBeTerminated) {
  use_scenario(scenario({k_full_gpu}, R"("faults": [{"call": "nvmlInit", "hang": true}])"));
  expect_hangs([] { sim().fn<InitWithFlagsFn>("nvmlInitWithFlags")(0); }, SIGTERM);
}

TEST_F(NvmlSim, ConcurrentCallsAreSafe) {
  init_with(scenario({numbered_gpu(0), numbered_gpu(1)}));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        nvmlDevice_t gpu = nullptr;
        unsigned temp = 0;
        if (sim().init() != k_success) ++failures;
        if (sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex_v2")(t % 2, &gpu) != k_success) ++failures;
        if (sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature")(gpu, 0, &temp) != k_success) ++failures;
        if (temp != 30u + t % 2) ++failures;
        if (sim().shutdown() != k_success) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count(), 2u);  // the reference from init_with remains
}

}  // namespace

// ---- readings that change, timed faults, Xid events ------------------------------------

unsigned temperature(nvmlDevice_t gpu) {
  unsigned t = 0;
  EXPECT_EQ(sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature")(gpu, 0, &t), k_success);
  return t;
}

TEST_F(NvmlSim, ReadingsRampAndStepBySample) {
  init_with(scenario({R"({"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0", "temperature_c": 40,
      "clock_event_reasons": 0, "fan_percent": 30,
      "over_time": {"temperature_c": [{"ramp_to": 80, "from_sample": 1, "to_sample": 5}],
                    "clock_event_reasons": [{"set": "0x40", "at_sample": 3}],
                    "fan_percent": [{"set": null, "at_sample": 4}]}})"}));
  auto reasons = sim().fn<DeviceUllFn>("nvmlDeviceGetCurrentClocksEventReasons");
  auto fan = sim().fn<DeviceUintFn>("nvmlDeviceGetFanSpeed");
  std::vector<unsigned> temps;
  std::vector<unsigned long long> masks;
  std::vector<int> fan_returns;
  for (int sample = 1; sample <= 6; ++sample) {
    count();  // one sample
    nvmlDevice_t gpu = handle(0);
    temps.push_back(temperature(gpu));
    unsigned long long r = 99;
    EXPECT_EQ(reasons(gpu, &r), k_success);
    masks.push_back(r);
    unsigned f = 0;
    fan_returns.push_back(fan(gpu, &f));
  }
  EXPECT_EQ(temps, (std::vector<unsigned>{40, 50, 60, 70, 80, 80}));
  EXPECT_EQ(masks, (std::vector<unsigned long long>{0, 0, 0x40, 0x40, 0x40, 0x40}));
  EXPECT_EQ(fan_returns,
            (std::vector<int>{k_success, k_success, k_success, k_not_supported, k_not_supported, k_not_supported}));
}

TEST_F(NvmlSim, ClockIsSharedThroughTheStateFile) {
  fs::path file = use_scenario(scenario({R"({"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0", "temperature_c": 40,
      "over_time": {"temperature_c": [{"set": 90, "at_ms": 5000}, {"set": 99, "at_ms": 600000}]}})"}));
  fs::path state = file.string() + ".state";
  // Another process started the clock 10 s ago.
  auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::ofstream(state) << nlohmann::json{{"clock_started_unix_ms", now_ms - 10000}}.dump();
  ASSERT_EQ(sim().init(), k_success);
  EXPECT_EQ(temperature(handle(0)), 90u);
  sim().reset();

  // No clock yet: this init starts it, and the step is still ahead.
  fs::remove(state);
  ASSERT_EQ(sim().init(), k_success);
  EXPECT_EQ(temperature(handle(0)), 40u);
  auto doc = nlohmann::json::parse(read_file(state));
  ASSERT_TRUE(doc["clock_started_unix_ms"].is_number_integer());
  EXPECT_LE(std::llabs(doc["clock_started_unix_ms"].get<long long>() - now_ms), 5000);
}

TEST_F(NvmlSim, NoiseIsSeededAndBounded) {
  std::string gpu = R"({"name": "a", "uuid": "GPU-a", "bus_id": "0:1:0.0", "temperature_c": 50,
      "over_time": {"temperature_c": [{"noise": 3, "seed": 7}]}})";
  auto run = [&] {
    init_with(scenario({gpu}));
    std::vector<unsigned> temps;
    for (int i = 0; i < 40; ++i) {
      count();
      temps.push_back(temperature(handle(0)));
    }
    sim().reset();
    return temps;
  };
  std::vector<unsigned> first = run(), second = run();
  EXPECT_EQ(first, second);
  std::set<unsigned> distinct(first.begin(), first.end());
  EXPECT_GE(distinct.size(), 4u);  // it does vary
  for (unsigned t : first) {
    EXPECT_GE(t, 47u);
    EXPECT_LE(t, 53u);
  }
}

TEST_F(NvmlSim, FaultsStartAtASample) {
  init_with(scenario({numbered_gpu(0), numbered_gpu(1)},
                     R"("faults": [{"call": "*", "gpu": 1, "return": "GPU_IS_LOST", "at_sample": 3}])"));
  auto by_index = sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex_v2");
  std::vector<int> returns;
  for (int sample = 1; sample <= 4; ++sample) {
    count();
    nvmlDevice_t gpu = nullptr;
    returns.push_back(by_index(1, &gpu));
  }
  EXPECT_EQ(returns, (std::vector<int>{k_success, k_success, k_gpu_is_lost, k_gpu_is_lost}));
  EXPECT_EQ(temperature(handle(0)), 30u);  // GPU 0 unaffected
}

TEST_F(NvmlSim, FaultsStartAtATimeOfTheSharedClock) {
  fs::path file = use_scenario(
      scenario({numbered_gpu(0)}, R"("faults": [{"call": "nvmlDeviceGetTemperature", "return": 15, "at_ms": 300}])"));
  ASSERT_EQ(sim().init(), k_success);
  unsigned t = 0;
  auto get = sim().fn<DeviceTempFn>("nvmlDeviceGetTemperature");
  EXPECT_EQ(get(handle(0), 0, &t), k_success);
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  EXPECT_EQ(get(handle(0), 0, &t), k_gpu_is_lost);
  sim().reset();
  ASSERT_EQ(sim().init(), k_success);  // a new process keeps the clock: still past 300 ms
  EXPECT_EQ(get(handle(0), 0, &t), k_gpu_is_lost);
}

TEST_F(NvmlSim, XidEventsAreDeliveredOnceAndLogged) {
  init_with(scenario({k_full_gpu, numbered_gpu(1)},
                     R"("kernel_log": "kern.log", "xid_events": [
                          {"gpu": 0, "xid": 79, "at_sample": 2},
                          {"gpu": 1, "xid": 13, "at_sample": 2, "pid": 4242, "process": "python3"}])"));
  auto create = sim().fn<EventSetCreateFn>("nvmlEventSetCreate");
  auto reg = sim().fn<DeviceRegisterEventsFn>("nvmlDeviceRegisterEvents");
  auto supported = sim().fn<DeviceUllFn>("nvmlDeviceGetSupportedEventTypes");
  auto wait = sim().fn<EventSetWaitFn>("nvmlEventSetWait_v2");
  auto free_set = sim().fn<EventSetFreeFn>("nvmlEventSetFree");
  count();  // sample 1
  nvmlEventSet_t set = nullptr;
  ASSERT_EQ(create(&set), k_success);
  unsigned long long types = 0;
  EXPECT_EQ(supported(handle(0), &types), k_success);
  EXPECT_EQ(types, k_event_type_xid_critical_error);
  EXPECT_EQ(reg(handle(0), k_event_type_xid_critical_error, set), k_success);  // GPU 1 not registered
  EXPECT_EQ(reg(handle(0), 0x4, set), k_not_supported);
  nvmlEventData_t d{};
  EXPECT_EQ(wait(set, &d, 0), k_timeout);
  EXPECT_FALSE(fs::exists(m_dir / "kern.log"));

  count();  // sample 2: both events are due
  EXPECT_EQ(wait(set, &d, 0), k_success);
  EXPECT_EQ(d.device, handle(0));
  EXPECT_EQ(d.eventType, k_event_type_xid_critical_error);
  EXPECT_EQ(d.eventData, 79u);
  EXPECT_EQ(d.gpuInstanceId, 0xFFFFFFFFu);
  EXPECT_EQ(wait(set, &d, 0), k_timeout);  // once only; GPU 1's Xid is not registered on this set
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(wait(set, &d, 50), k_timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(45));

  std::string log = read_file(m_dir / "kern.log");
  EXPECT_NE(
      log.find("] NVRM: Xid (PCI:5b0a:3b:1f): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n"),
      std::string::npos)
      << log;
  EXPECT_NE(log.find("] NVRM: GPU 5b0a:3b:1f.0: GPU has fallen off the bus.\n"), std::string::npos) << log;
  EXPECT_NE(log.find("] NVRM: Xid (PCI:0000:01:00): 13, pid=4242, name=python3, "), std::string::npos) << log;
  auto state = nlohmann::json::parse(read_file(m_dir / "nvml.json.state"));
  EXPECT_EQ(state["xid_events_logged"], (nlohmann::json{0, 1}));

  // Another process (simulated by a full shutdown) does not log them again,
  // and a set created after an event's time does not receive it.
  sim().reset();
  ASSERT_EQ(sim().init(), k_success);
  count(), count(), count();
  EXPECT_EQ(read_file(m_dir / "kern.log"), log);
  ASSERT_EQ(create(&set), k_success);
  EXPECT_EQ(reg(handle(0), k_event_type_xid_critical_error, set), k_success);
  EXPECT_EQ(wait(set, &d, 0), k_timeout);
  EXPECT_EQ(free_set(set), k_success);
  EXPECT_EQ(free_set(set), k_invalid_argument);
}

TEST_F(NvmlSim, LegacyLibraryWaitsWithTheOldCall) {
  ASSERT_TRUE(legacy_sim().loaded()) << dlerror();
  EXPECT_FALSE(legacy_sim().has("nvmlEventSetWait_v2"));
  use_scenario(scenario({k_full_gpu}, R"("xid_events": [{"gpu": 0, "xid": 48, "at_sample": 1}])"));
  ASSERT_EQ(legacy_sim().fn<InitFn>("nvmlInit")(), k_success);
  nvmlEventSet_t set = nullptr;
  ASSERT_EQ(legacy_sim().fn<EventSetCreateFn>("nvmlEventSetCreate")(&set), k_success);
  nvmlDevice_t gpu = nullptr;
  ASSERT_EQ(legacy_sim().fn<HandleByIndexFn>("nvmlDeviceGetHandleByIndex")(0, &gpu), k_success);
  ASSERT_EQ(legacy_sim().fn<DeviceRegisterEventsFn>("nvmlDeviceRegisterEvents")(gpu, 0x8, set), k_success);
  unsigned n = 0;
  ASSERT_EQ(legacy_sim().fn<CountFn>("nvmlDeviceGetCount")(&n), k_success);
  nvmlEventData_t d{};
  d.gpuInstanceId = 7;
  EXPECT_EQ(legacy_sim().fn<EventSetWaitFn>("nvmlEventSetWait")(set, &d, 0), k_success);
  EXPECT_EQ(d.eventData, 48u);
  EXPECT_EQ(d.gpuInstanceId, 7u);  // the v1 call writes the first 24 bytes only
  EXPECT_EQ(legacy_sim().shutdown(), k_success);
}

namespace {

// The nvml* names the built simulator exports (its dynamic symbol table, via nm).
std::vector<std::string> exported_names(const char* library) {
  std::vector<std::string> out;
  std::string cmd = std::string("nm -D --defined-only '") + library + "'";
  FILE* p = popen(cmd.c_str(), "r");  // a test-only tool run; the path is the build's own
  if (!p) return out;
  char line[512];
  while (std::fgets(line, sizeof line, p)) {
    std::string l(line);
    auto at = l.find(" nvml");
    if (at == std::string::npos) continue;
    std::string name = l.substr(at + 1);
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
    out.push_back(name);
  }
  pclose(p);
  return out;
}

// Every exported function can be faulted from a scenario: a scenario with a
// fault on each one parses (an unknown call name makes nvmlInit fail).
TEST_F(NvmlSim, SampleBuffersAnswerOnlyWhatIsNewerThanTheLastSeen) {
  init_with(scenario({R"({"name": "G", "uuid": "GPU-g", "bus_id": "0000:01:00.0", "power_mw": 61000})"}));
  using SamplesFn = nvmlReturn_t (*)(nvmlDevice_t, int, unsigned long long, int*, unsigned*, nvmlSample_t*);
  auto get = sim().fn<SamplesFn>("nvmlDeviceGetSamples");
  int type = -1;
  unsigned n = 0;
  ASSERT_EQ(get(handle(0), 0, 0, &type, &n, nullptr), k_success);  // NULL buffer: how many there are
  EXPECT_EQ(type, k_value_type_uint);
  ASSERT_EQ(n, 120u);
  std::vector<nvmlSample_t> buf(n);
  ASSERT_EQ(get(handle(0), 0, 0, &type, &n, buf.data()), k_success);
  EXPECT_EQ(buf.back().sampleValue.uiVal, 61000u);
  EXPECT_LT(buf.front().timeStamp, buf.back().timeStamp);  // oldest first
  unsigned one = 1;
  nvmlReturn_t rc = get(handle(0), 0, buf.back().timeStamp, &type, &one, buf.data());
  EXPECT_TRUE(rc == k_not_found || (rc == k_success && one == 1)) << rc;  // nothing newer, or the one since
  EXPECT_EQ(get(handle(0), 1, 0, &type, &n, nullptr), k_not_supported);   // no utilisation in the scenario
  EXPECT_EQ(get(handle(0), 42, 0, &type, &n, nullptr), k_invalid_argument);
  unsigned zero = 0;
  EXPECT_EQ(get(handle(0), 0, 0, &type, &zero, buf.data()), k_invalid_argument);
}

TEST_F(NvmlSim, GpmMetricsComeFromTwoSamplesOfOneHopperGpu) {
  init_with(scenario({R"({"name": "H", "uuid": "GPU-h", "bus_id": "0000:01:00.0", "architecture": 9,
                         "utilization_gpu": 40, "pcie": {"tx_kbps": 2048}})",
                      R"({"name": "V", "uuid": "GPU-v", "bus_id": "0000:02:00.0", "architecture": 5})"}));
  using AllocFn = nvmlReturn_t (*)(nvmlGpmSample_t*);
  using GetFn = nvmlReturn_t (*)(nvmlDevice_t, nvmlGpmSample_t);
  using FreeFn = nvmlReturn_t (*)(nvmlGpmSample_t);
  using MetricsFn = nvmlReturn_t (*)(nvmlGpmMetricsGet_t*);
  nvmlGpmSample_t a = nullptr, b = nullptr;
  ASSERT_EQ(sim().fn<AllocFn>("nvmlGpmSampleAlloc")(&a), k_success);
  ASSERT_EQ(sim().fn<AllocFn>("nvmlGpmSampleAlloc")(&b), k_success);
  auto sample = sim().fn<GetFn>("nvmlGpmSampleGet");
  EXPECT_EQ(sample(handle(1), a), k_not_supported);  // Volta has no GPM
  nvmlGpmMetricsGet_t get{};
  get.version = 1;
  get.numMetrics = 3;
  get.sample1 = a;
  get.sample2 = b;
  get.metrics[0].metricId = 1;   // graphics utilisation
  get.metrics[1].metricId = 20;  // PCIe TX, MiB/s
  get.metrics[2].metricId = 5;   // any tensor: not in a scenario
  auto metrics = sim().fn<MetricsFn>("nvmlGpmMetricsGet");
  EXPECT_EQ(metrics(&get), k_invalid_argument);  // samples not taken yet
  ASSERT_EQ(sample(handle(0), a), k_success);
  ASSERT_EQ(sample(handle(0), b), k_success);
  ASSERT_EQ(metrics(&get), k_success);
  EXPECT_EQ(get.metrics[0].nvmlReturn, k_success);
  EXPECT_DOUBLE_EQ(get.metrics[0].value, 40.0);
  EXPECT_DOUBLE_EQ(get.metrics[1].value, 2.0);
  EXPECT_EQ(get.metrics[2].nvmlReturn, k_not_supported);
  get.version = 2;
  EXPECT_EQ(metrics(&get), 25);  // ARGUMENT_VERSION_MISMATCH
  EXPECT_EQ(sim().fn<FreeFn>("nvmlGpmSampleFree")(a), k_success);
  EXPECT_EQ(sim().fn<FreeFn>("nvmlGpmSampleFree")(a), k_invalid_argument);  // freed twice
  EXPECT_EQ(sim().fn<FreeFn>("nvmlGpmSampleFree")(b), k_success);
}

TEST_F(NvmlSim, ARemovedGpuLeavesTheEnumerationUntilRediscovered) {
  if (geteuid() != 0) GTEST_SKIP() << "removing a GPU needs root, as in the real library";
  init_with(scenario({numbered_gpu(1), numbered_gpu(2)}));
  using PciFn = nvmlReturn_t (*)(nvmlPciInfo_t*);
  using DrainFn = nvmlReturn_t (*)(nvmlPciInfo_t*, nvmlEnableState_t);
  nvmlPciInfo_t pci{};
  ASSERT_EQ(sim().fn<DevicePciFn>("nvmlDeviceGetPciInfo_v3")(handle(0), &pci), k_success);
  EXPECT_EQ(sim().fn<DrainFn>("nvmlDeviceModifyDrainState")(&pci, 1), k_success);
  ASSERT_EQ(sim().fn<PciFn>("nvmlDeviceRemoveGpu")(&pci), k_success);
  EXPECT_EQ(count(), 2u);  // this process keeps its view until the next init
  sim().reset();
  ASSERT_EQ(sim().init(), k_success);
  ASSERT_EQ(count(), 1u);
  char name[96];
  ASSERT_EQ(sim().fn<DeviceStringFn>("nvmlDeviceGetName")(handle(0), name, sizeof name), k_success);
  EXPECT_STREQ(name, "GPU 2");  // the later GPU moved up
  nvmlPciInfo_t everywhere{};
  ASSERT_EQ(sim().fn<PciFn>("nvmlDeviceDiscoverGpus")(&everywhere), k_success);
  sim().reset();
  ASSERT_EQ(sim().init(), k_success);
  EXPECT_EQ(count(), 2u);
}

TEST_F(NvmlSim, EveryExportedFunctionCanBeFaulted) {
  auto names = exported_names(GD_SIM_NVML);
  ASSERT_GT(names.size(), 200u);
  std::string faults;
  for (const auto& n : names) {
    // A fault on init would fail the init itself; one on shutdown would keep the
    // library initialised for the next test (a faulted shutdown keeps its reference).
    if (n == "nvmlInit" || n == "nvmlInit_v2" || n == "nvmlInitWithFlags" || n == "nvmlShutdown") continue;
    faults += (faults.empty() ? "" : ", ") + std::string(R"({"call": ")") + n + R"(", "return": "NOT_SUPPORTED"})";
  }
  use_scenario(scenario({k_bare_gpu}, "\"faults\": [" + faults + "]"));
  EXPECT_EQ(sim().init(), k_success) << "a call name in the export table is unknown to the fault parser";
  unsigned n = 0;
  EXPECT_EQ(sim().fn<CountFn>("nvmlDeviceGetCount_v2")(&n), k_not_supported);  // and the fault applies
}

}  // namespace
