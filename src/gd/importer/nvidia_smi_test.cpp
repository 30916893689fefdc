#include "gd/importer/nvidia_smi.hpp"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "gd/util/time.hpp"

namespace gd::importer {
namespace {

// A file under tests/corpus/ (tests/corpus/nvidia-smi/ unless the name says otherwise).
std::string corpus(const std::string& name, const std::string& dir = "nvidia-smi/") {
  std::ifstream f(std::string(GD_SOURCE_DIR) + "/tests/corpus/" + dir + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

std::int64_t local_ms(int y, int mo, int d, int h, int mi, int s) { return *util::local_unix_time(y, mo - 1, d, h, mi, s) * 1000; }

TEST(NvidiaSmiTable, The450LayoutOfTheSeedsNode) {
  auto p = parse_nvidia_smi(corpus("table-450-seed.txt"));
  ASSERT_EQ(p.dumps.size(), 1u);
  const auto& d = p.dumps[0];
  EXPECT_EQ(d.format, SmiFormat::table);
  EXPECT_EQ(d.state, SmiDump::State::gpus);
  EXPECT_EQ(d.unix_ms, local_ms(2022, 5, 26, 3, 11, 57));
  EXPECT_EQ(d.driver_version, "450.191.01");
  ASSERT_EQ(d.gpus.size(), 4u);
  const auto& g = d.gpus[1];
  EXPECT_EQ(g.index, 1u);
  EXPECT_EQ(g.bus_id, "9e65:00:00.0");
  EXPECT_EQ(g.name, "Tesla V100-PCIE...");
  EXPECT_EQ(g.persistence_mode, false);
  EXPECT_EQ(g.temp_celsius, 33u);
  EXPECT_EQ(g.pstate, 0u);
  EXPECT_EQ(g.power_watts, 36.0);
  EXPECT_EQ(g.power_limit_watts, 250.0);
  EXPECT_EQ(g.mem_used_bytes, 309ull << 20);
  EXPECT_EQ(g.mem_total_bytes, 16160ull << 20);
  EXPECT_EQ(g.util_gpu_percent, 0u);
  EXPECT_EQ(g.ecc_enabled, false);
  EXPECT_FALSE(g.fan_percent);  // "N/A"
  EXPECT_EQ(d.gpus[0].util_gpu_percent, 2u);
  EXPECT_EQ(p.skipped_count, 0u) << (p.skipped.empty() ? "" : p.skipped[0]);
}

TEST(NvidiaSmiTable, The460LayoutWithPersistenceOnAndTheProcessesTable) {
  auto p = parse_nvidia_smi(corpus("table-460-seed.txt") + "\n" + corpus("table-460-processes.txt"));
  ASSERT_EQ(p.dumps.size(), 2u);
  EXPECT_EQ(p.dumps[0].gpus[3].persistence_mode, true);
  EXPECT_EQ(p.dumps[0].gpus[3].power_watts, 40.0);
  EXPECT_EQ(p.dumps[1].unix_ms, local_ms(2022, 5, 29, 5, 59, 31));
  EXPECT_EQ(p.dumps[1].gpus.size(), 4u);
  EXPECT_EQ(p.skipped_count, 0u) << (p.skipped.empty() ? "" : p.skipped[0]);  // "No running processes found"
}

TEST(NvidiaSmiTable, TheNewerLayoutWithAFanEccCountAndAProcess) {
  auto p = parse_nvidia_smi(corpus("table-535.txt"));
  ASSERT_EQ(p.dumps.size(), 1u);
  const auto& d = p.dumps[0];
  EXPECT_EQ(d.driver_version, "535.104.05");
  ASSERT_EQ(d.gpus.size(), 2u);
  const auto& g = d.gpus[1];
  EXPECT_EQ(g.bus_id, "0000:2a:00.0");
  EXPECT_EQ(g.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(g.fan_percent, 30u);
  EXPECT_EQ(g.temp_celsius, 81u);
  EXPECT_EQ(g.pstate, 2u);
  EXPECT_EQ(g.power_watts, 650.0);
  EXPECT_EQ(g.util_gpu_percent, 100u);
  EXPECT_EQ(g.ecc_uncorrected_volatile, 2u);
  ASSERT_EQ(p.skipped_count, 1u);  // the process row is named, not dropped
  EXPECT_NE(p.skipped[0].find("Processes"), std::string::npos);
}

TEST(NvidiaSmiTable, EmptyNoDevicesAndFailuresAreDumpsOfTheirOwn) {
  EXPECT_EQ(parse_nvidia_smi("").dumps.at(0).state, SmiDump::State::empty);
  EXPECT_EQ(parse_nvidia_smi(" \n\n").dumps.at(0).state, SmiDump::State::empty);
  auto nd = parse_nvidia_smi("No devices were found\n");
  ASSERT_EQ(nd.dumps.size(), 1u);
  EXPECT_EQ(nd.dumps[0].state, SmiDump::State::no_devices);
  auto f = parse_nvidia_smi(
      "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA "
      "driver is installed and running.\n\n");
  ASSERT_EQ(f.dumps.size(), 1u);
  EXPECT_EQ(f.dumps[0].state, SmiDump::State::failed);
  EXPECT_NE(f.dumps[0].message.find("couldn't communicate"), std::string::npos);
  // A loop's log: a dump, then the date line of one that found no devices.
  auto loop = parse_nvidia_smi(corpus("table-450-seed.txt") + "Thu May 26 09:40:12 2022\nNo devices were found\n");
  ASSERT_EQ(loop.dumps.size(), 2u);
  EXPECT_EQ(loop.dumps[1].state, SmiDump::State::no_devices);
  EXPECT_EQ(loop.dumps[1].unix_ms, local_ms(2022, 5, 26, 9, 40, 12));
}

TEST(NvidiaSmiTable, ACutShortDumpIsEmptyAndNamed) {
  std::string t = corpus("table-450-seed.txt");
  auto p = parse_nvidia_smi(t.substr(0, t.find("|   0 ")));
  ASSERT_EQ(p.dumps.size(), 1u);
  EXPECT_EQ(p.dumps[0].state, SmiDump::State::empty);
  EXPECT_EQ(p.skipped_count, 1u);
}

TEST(NvidiaSmiQuery, The535FormWithEccRemapAndClockEvents) {
  auto p = parse_nvidia_smi(corpus("query-535.txt"));
  ASSERT_EQ(p.dumps.size(), 1u);
  const auto& d = p.dumps[0];
  EXPECT_EQ(d.format, SmiFormat::query);
  EXPECT_EQ(d.unix_ms, local_ms(2023, 11, 28, 10, 15, 32));
  EXPECT_EQ(d.driver_version, "535.104.05");
  ASSERT_EQ(d.gpus.size(), 1u);
  const auto& g = d.gpus[0];
  EXPECT_EQ(g.bus_id, "0000:18:00.0");
  EXPECT_EQ(g.name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(g.uuid, "GPU-4a3f0c2e-7b1d-4c2a-9e0f-5d6c7b8a9e01");
  EXPECT_EQ(g.serial, "1654422020345");
  EXPECT_EQ(g.persistence_mode, true);
  EXPECT_EQ(g.temp_celsius, 33u);
  EXPECT_EQ(g.temp_slowdown_celsius, 89u);
  EXPECT_EQ(g.temp_shutdown_celsius, 92u);
  EXPECT_EQ(g.power_watts, 72.27);
  EXPECT_EQ(g.power_limit_watts, 700.0);
  EXPECT_EQ(g.mem_total_bytes, 81559ull << 20);
  EXPECT_EQ(g.mem_used_bytes, 4ull << 20);
  EXPECT_EQ(g.util_gpu_percent, 7u);
  EXPECT_EQ(g.util_mem_percent, 1u);
  EXPECT_EQ(g.clock_graphics_mhz, 1980u);
  EXPECT_EQ(g.clock_mem_mhz, 2619u);
  EXPECT_EQ(g.clock_mem_max_mhz, 2619u);
  EXPECT_EQ(g.pcie_gen, 5u);
  EXPECT_EQ(g.pcie_width, 16u);
  EXPECT_EQ(g.clock_event_reasons, 0x4u);  // SW Power Cap
  EXPECT_EQ(g.ecc_enabled, true);
  EXPECT_EQ(g.ecc_corrected_volatile, 3u);
  EXPECT_EQ(g.ecc_uncorrected_volatile, 1u);
  EXPECT_EQ(g.ecc_uncorrected_aggregate, 1u);
  EXPECT_EQ(g.remapped_rows_uncorrectable, 1u);
  EXPECT_EQ(g.remapped_rows_pending, true);
  EXPECT_EQ(g.remapped_rows_failure, false);
  EXPECT_FALSE(g.retired_pages_pending);  // N/A
  EXPECT_EQ(p.skipped_count, 0u) << (p.skipped.empty() ? "" : p.skipped[0]);
}

TEST(NvidiaSmiQuery, The460FormAndTwoDumpsOfALoop) {
  std::string one = corpus("query-460-v100.txt");
  auto p = parse_nvidia_smi(one + one);
  ASSERT_EQ(p.dumps.size(), 2u);
  const auto& g = p.dumps[1].gpus.at(0);
  EXPECT_EQ(g.bus_id, "5b0a:00:00.0");
  EXPECT_EQ(g.persistence_mode, false);
  EXPECT_EQ(g.power_watts, 35.12);
  EXPECT_EQ(g.power_limit_watts, 250.0);  // the enforced limit
  EXPECT_EQ(g.clock_event_reasons, 0x48u);  // HW Slowdown + HW Thermal Slowdown ("Clocks Throttle Reasons")
  EXPECT_EQ(g.temp_slowdown_celsius, 87u);
  EXPECT_EQ(g.ecc_enabled, false);
  EXPECT_FALSE(g.ecc_uncorrected_volatile);  // N/A
  EXPECT_EQ(g.pcie_gen, 3u);
}

TEST(NvidiaSmiCsv, HeaderWithUnitsOneDumpPerTimestamp) {
  auto p = parse_nvidia_smi(corpus("query-gpu-units.csv"));
  ASSERT_EQ(p.dumps.size(), 2u);
  EXPECT_EQ(p.dumps[0].format, SmiFormat::csv);
  EXPECT_EQ(p.dumps[0].unix_ms, local_ms(2022, 5, 29, 3, 4, 47) + 123);
  ASSERT_EQ(p.dumps[0].gpus.size(), 2u);
  ASSERT_EQ(p.dumps[1].gpus.size(), 2u);
  EXPECT_EQ(p.dumps[0].gpus[1].bus_id, "9e65:00:00.0");
  EXPECT_EQ(p.dumps[0].gpus[1].mem_used_bytes, 309ull << 20);
  EXPECT_EQ(p.dumps[0].gpus[1].clock_event_reasons, 1u);
  EXPECT_FALSE(p.dumps[1].gpus[0].power_watts);  // [N/A]
  EXPECT_EQ(p.dumps[1].gpus[1].persistence_mode, true);
  EXPECT_EQ(p.dumps[1].gpus[1].clock_event_reasons, 0x48u);
  EXPECT_EQ(p.skipped_count, 0u) << (p.skipped.empty() ? "" : p.skipped[0]);
}

TEST(NvidiaSmiCsv, NoheaderNeedsTheFieldList) {
  std::string text = corpus("query-gpu-nounits-noheader.csv");
  auto without = parse_nvidia_smi(text);
  EXPECT_EQ(without.dumps.size(), 1u);  // only the "No devices" line
  ASSERT_GE(without.skipped_count, 1u);
  EXPECT_NE(without.skipped.back().find("--query-gpu"), std::string::npos);
  auto with = parse_nvidia_smi(text, {"timestamp", "pci.bus_id", "temperature.gpu", "power.draw", "utilization.gpu"});
  ASSERT_EQ(with.dumps.size(), 3u);
  EXPECT_EQ(with.dumps[1].gpus.at(0).temp_celsius, 32u);
  EXPECT_EQ(with.dumps[1].gpus.at(0).power_watts, 35.5);
  EXPECT_EQ(with.dumps[1].gpus.at(0).util_gpu_percent, 3u);
  EXPECT_EQ(with.dumps[2].state, SmiDump::State::no_devices);
  EXPECT_EQ(with.skipped_count, 0u) << (with.skipped.empty() ? "" : with.skipped[0]);
}

TEST(NvidiaSmiCsv, BadRowsAreNamedNotGuessed) {
  auto p = parse_nvidia_smi(
      "timestamp, pci.bus_id, temperature.gpu, fan.speed [%], bogus.field\n"
      "2022/05/29 03:04:47.123, 00005B0A:00:00.0, 31, 30 %, 1\n"
      "2022/05/29 03:04:48.000, not-a-bus, 31, 30 %, 1\n"
      "2022/05/29 03:04:49.000, 00005B0A:00:00.0, 31\n"
      "yesterday, 00005B0A:00:00.0, 31, 30 %, 1\n"
      "2022/05/29 03:04:50.000, 00005B0A:00:00.0, hot, 30 %, 1\n");
  EXPECT_EQ(p.dumps.size(), 2u);
  EXPECT_FALSE(p.dumps[1].gpus.at(0).temp_celsius);
  EXPECT_EQ(p.skipped_count, 5u);  // the field, the bus id, the count, the time, the value
}

// Inputs that once crashed fuzz_nvidia_smi (tests/corpus/fuzz/nvidia_smi/): a negative or huge number where a
// count or temperature goes was converted to an unsigned field (undefined behaviour).
TEST(NvidiaSmi, FuzzFindsParseWithoutCrashing) {
  (void)parse_nvidia_smi(corpus("negative-temperature", "fuzz/nvidia_smi/"));
  auto p = parse_nvidia_smi(
      "| 0  A  On | 0000:01:00.0 Off | 0 |\n| N/A  -81C  P0  -5W / 99999999999999999999999W | "
      "-1MiB / 99999999999999999999MiB | -3% Default |\n");
  ASSERT_EQ(p.dumps.size(), 1u);
  ASSERT_EQ(p.dumps[0].gpus.size(), 1u);
  const auto& g = p.dumps[0].gpus[0];
  EXPECT_FALSE(g.temp_celsius);
  EXPECT_FALSE(g.power_watts);
  EXPECT_FALSE(g.mem_total_bytes);
  EXPECT_FALSE(g.util_gpu_percent);
}

TEST(NvidiaSmi, GarbageNeitherCrashesNorInventsGpus) {
  std::string junk;
  for (int i = 0; i < 2000; ++i) junk += static_cast<char>((i * 7919) % 256);
  for (const auto& text : {junk, std::string("|||||\n| 0 x | y | z |\n"), std::string("| 0  A  On | 0000:01:00.0 Off | 0 |\n"),
                           std::string("GPU 0000:01:00.0\n    Temperature\n        GPU Current Temp : 9999999999999999999999 C\n")}) {
    auto p = parse_nvidia_smi(text);
    for (const auto& d : p.dumps)
      for (const auto& g : d.gpus) EXPECT_TRUE(g.bus_id);
  }
}

}  // namespace
}  // namespace gd::importer
