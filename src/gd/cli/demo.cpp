// `gpudoctor demo`: the seed story on the simulator, in seconds, narrated.
// Builds a 4xV100 node in a temp dir (root tree + NVML simulator scenario with
// the failure model), then runs the real commands against it.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/cli/cli.hpp"
#include "gd/cli/render.hpp"
#include "gd/util/subprocess.hpp"

namespace gd::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* k_version = "460.32.03";
constexpr const char* k_buses[] = {"5b0a:00:00.0", "9e65:00:00.0", "b111:00:00.0", "bd71:00:00.0"};

struct DemoCli {
  unsigned lose_after = 400;
  bool keep = false;
  bool no_color = false;
};

void put(const fs::path& root, const std::string& rel, const std::string& text) {
  fs::path p = root / rel;
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

void build_root(const fs::path& root) {
  put(root, "etc/hostname", "hpc-v100-node\n");
  fs::create_directories(root / "var/log");  // the failure model appends its Xid 79 line to var/log/kern.log
  put(root, "proc/modules",
      "nvidia_uvm 1048576 0 - Live 0x0 (POE)\nnvidia_modeset 1196032 0 - Live 0x0 (POE)\n"
      "nvidia 35332096 2 nvidia_uvm,nvidia_modeset, Live 0x0 (POE)\n");
  put(root, "proc/driver/nvidia/version",
      fmt::format("NVRM version: NVIDIA UNIX x86_64 Kernel Module  {}  Sun Dec 27 19:00:34 UTC 2020\n"
                  "GCC version:  gcc version 9.3.0 (Ubuntu 9.3.0-17ubuntu1~20.04)\n",
                  k_version));
  put(root, "sys/module/nvidia/version", std::string(k_version) + "\n");
  for (const char* dev : {"dev/nvidiactl", "dev/nvidia-uvm", "dev/nvidia-uvm-tools"}) put(root, dev, "");
  for (unsigned i = 0; i < 4; ++i) {
    std::string d = fmt::format("sys/bus/pci/devices/{}/", k_buses[i]);
    put(root, d + "vendor", "0x10de\n");
    put(root, d + "device", "0x1db4\n");
    put(root, d + "class", "0x030200\n");
    for (const char* f : {"current_link_width", "max_link_width"}) put(root, d + f, "16\n");
    for (const char* f : {"current_link_speed", "max_link_speed"}) put(root, d + f, "8.0 GT/s PCIe\n");
    fs::create_symlink("../../../../bus/pci/drivers/nvidia", root / (d + "driver"));
    put(root, fmt::format("proc/driver/nvidia/gpus/{}/information", k_buses[i]),
        fmt::format("Model: \t\t Tesla V100-PCIE-16GB\nGPU UUID: \t GPU-5eed0000-0000-4000-8000-00000000000{}\n"
                    "Bus Location: \t {}\nDevice Minor: \t {}\n",
                    i, k_buses[i], i));
    put(root, fmt::format("dev/nvidia{}", i), "");
  }
}

// Copies a simulator library into the root as libX.so.<version> + libX.so.1.
bool install_library(const fs::path& root, const fs::path& built, const std::string& stem) {
  std::error_code ec;
  if (!fs::exists(built)) return false;
  fs::path dir = root / "usr/lib/x86_64-linux-gnu";
  fs::create_directories(dir);
  fs::copy_file(built, dir / (stem + ".so." + k_version), fs::copy_options::overwrite_existing, ec);
  fs::create_symlink(stem + ".so." + std::string(k_version), dir / (stem + ".so.1"), ec);
  return !ec;
}

json scenario(unsigned lose_after) {
  json gpus = json::array();
  for (unsigned i = 0; i < 4; ++i) {
    std::string b = k_buses[i];
    gpus.push_back({{"name", "Tesla V100-PCIE-16GB"},
                    {"uuid", fmt::format("GPU-5eed0000-0000-4000-8000-00000000000{}", i)},
                    {"serial", fmt::format("032311000{}", i)},
                    {"bus_id", fmt::format("0000{}:00:00.0", b.substr(0, 4))},
                    {"pci_device_id", "0x1DB410DE"}, {"minor", i}, {"persistence_mode", false},
                    {"temperature_c", 38 + i}, {"slowdown_temp_c", 87}, {"shutdown_temp_c", 90},
                    {"power_mw", 25000}, {"power_limit_mw", 250000}, {"memory_total_bytes", 17179869184ull},
                    {"memory_used_bytes", 0}, {"utilization_gpu", 0}, {"utilization_memory", 0},
                    {"ecc_mode", true}, {"pcie", {{"gen", 3}, {"width", 16}, {"max_gen", 3}, {"max_width", 16}}}});
  }
  return {{"driver_version", k_version}, {"nvml_version", std::string("11.") + k_version},
          {"cuda_driver_version", 11020}, {"gpus", gpus},
          {"failure_model", {{"lose_after_cycles", lose_after}, {"lose_gpu", 3}, {"cold_init_delay_ms", 3},
                             {"kernel_log", "root/var/log/kern.log"}}}};
}

bool g_color = false;

void say(const std::string& text) {
  if (g_color)
    fmt::print("\n\033[1m== {}\033[0m\n", text);
  else
    fmt::print("\n== {}\n", text);
}

int step(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {util::self_exe()};
  argv.insert(argv.end(), args.begin(), args.end());
  fmt::print("$ gpudoctor {}\n", fmt::join(args, " "));
  std::fflush(stdout);
  auto r = util::run(argv, std::chrono::seconds(120), 4 << 20);
  fmt::print("{}{}", r.out, r.err);
  return r.exit_code;
}

int do_demo(const DemoCli& c) {
  g_color = use_color(c.no_color);
  fs::path tmp = fs::temp_directory_path() / fmt::format("gpudoctor-demo-{}", ::getpid());
  fs::path root = tmp / "root";
  build_root(root);
  fs::path sim_dir = fs::path(util::self_exe()).parent_path() / "sim";
  if (!install_library(root, sim_dir / "libnvidia-ml.so.1", "libnvidia-ml")) {
    fmt::print(stderr, "gpudoctor demo: the NVML simulator was not found at {} (build the project first)\n",
               (sim_dir / "libnvidia-ml.so.1").string());
    fs::remove_all(tmp);
    return k_exit_unknown;
  }
  install_library(root, sim_dir / "libcuda.so.1", "libcuda");
  std::ofstream(tmp / "nvml.json") << scenario(c.lose_after).dump(2);
  ::setenv("GPUDOCTOR_SIM_SCENARIO", (tmp / "nvml.json").c_str(), 1);
  std::string r = root.string();
  fmt::print("gpudoctor demo: the seed story on a simulated node in {}\n", tmp.string());
  fmt::print("A headless 4x V100 node (Azure-style PCI domains), driver {}, persistence mode off and no\n"
             "nvidia-persistenced. Each driver initialisation costs 3 ms here (4-5 s on the real node).\n",
             k_version);

  say("1. The node looks healthy, apart from persistence mode");
  step({"check", "--root", r, "--no-color"});
  say("2. An autotuner launches thousands of short GPU processes (stops when a GPU is lost)");
  step({"churn", "--root", r, "-n", std::to_string(c.lose_after * 10), "-j", "2", "--no-progress"});
  say("3. nvidia-smi would now hang or say 'No devices were found'; gpudoctor names the cause");
  step({"check", "--root", r, "--no-color"});
  say("4. Reboot (simulated): the lost GPU is back, the counters and the legacy persistence setting are reset");
  fs::remove(tmp / "nvml.json.state");
  // The new boot starts the kernel log anew, as a real reboot would.
  std::ofstream(root / "var/log/kern.log", std::ios::app)
      << "[    0.000000] Linux version 5.15.0-1034-azure (demo) #41-Ubuntu SMP\n";
  say("5. Repair: turn persistence on");
  step({"fix", "--root", r, "--yes"});
  say("6. The same autotuner again, ten times as many launches");
  step({"churn", "--root", r, "-n", std::to_string(c.lose_after * 10), "-j", "2", "--no-progress"});
  say("7. Final check");
  int code = step({"check", "--root", r, "--no-color"});
  if (!c.keep) fs::remove_all(tmp);
  fmt::print("\nDemo finished{}.\n", c.keep ? fmt::format("; files kept in {}", tmp.string()) : "");
  return code == 0 ? k_exit_ok : code;
}

}  // namespace

void setup_demo(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<DemoCli>();
  sub.add_option("--lose-after", c->lose_after, "Driver init cycles without persistence before a GPU is lost")
      ->check(CLI::Range(10u, 100000u));
  sub.add_flag("--keep", c->keep, "Keep the simulated node's files");
  sub.add_flag("--no-color", c->no_color, "Never colour the output");
  sub.callback([c, &exit_code] { exit_code = do_demo(*c); });
}

}  // namespace gd::cli
