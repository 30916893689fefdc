// The scenario: what the simulated node looks like, read from the JSON file
// named by GPUDOCTOR_SIM_SCENARIO (format: docs/simulator.md). Immutable once
// loaded; what changes at run time lives in the State file (state.hpp).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fault.hpp"
#include "gd/util/result.hpp"
#include "timeline.hpp"

namespace gd::sim {

// Every optional below is "the GPU cannot report it": its query returns
// NVML_ERROR_NOT_SUPPORTED.

struct PciAddress {
  unsigned domain = 0;  // 0..0xffffffff
  unsigned bus = 0;     // 0..0xff
  unsigned device = 0;  // 0..0x1f
};

struct ClocksMhz {
  std::optional<unsigned> graphics;
  std::optional<unsigned> sm;
  std::optional<unsigned> mem;
};

struct EccErrorCounts {
  std::optional<std::uint64_t> corrected_volatile;
  std::optional<std::uint64_t> corrected_aggregate;
  std::optional<std::uint64_t> uncorrected_volatile;
  std::optional<std::uint64_t> uncorrected_aggregate;
};

struct RemappedRows {
  unsigned correctable = 0;
  unsigned uncorrectable = 0;
  bool pending = false;
  bool failure = false;
};

struct PcieLink {
  std::optional<unsigned> gen;
  std::optional<unsigned> width;
  std::optional<unsigned> max_gen;
  std::optional<unsigned> max_width;
};

// A process using the GPU (nvmlDevice*RunningProcesses).
struct GpuProcess {
  unsigned pid = 0;
  std::optional<std::uint64_t> used_bytes;  // absent: NVML_VALUE_NOT_AVAILABLE
  enum class Kind { compute, graphics, mps } kind = Kind::compute;
  std::optional<unsigned> sm_util, mem_util;  // percent (nvmlDeviceGetProcessUtilization)
  std::optional<unsigned> mig_device;         // runs on this MIG device (index into mig_devices)
};

// One NvLink of the GPU: up or down, and the PCI device at its far end.
struct NvLink {
  bool active = false;
  std::optional<PciAddress> remote;  // an NVSwitch or a peer GPU
  std::uint32_t remote_device_id = 0x000010DE;
};

// A MIG device (one compute instance of one GPU instance) of a GPU in MIG mode.
struct MigDevice {
  std::string uuid;                  // "MIG-..."
  std::string profile;               // "1g.10gb": the name's suffix
  unsigned gpu_instance_id = 0;
  unsigned compute_instance_id = 0;
  unsigned slices = 1;               // GPU instance slices (the "1g" of 1g.10gb)
  unsigned multiprocessor_count = 0;
  std::uint64_t memory_total_bytes = 0;
  std::uint64_t memory_used_bytes = 0;
};

// What the GPU tells real clients beyond gpudoctor's own queries
// (docs/simulator.md, "For real clients"). Absent: NOT_SUPPORTED.
struct ClientFacts {
  std::optional<int> brand;          // nvmlBrandType_t
  std::optional<unsigned> architecture;  // nvmlDeviceArchitecture_t
  std::optional<int> cc_major, cc_minor;  // CUDA compute capability
  std::optional<std::string> vbios_version;
  std::optional<std::string> board_part_number;
  std::optional<std::string> inforom_image_version;
  std::optional<unsigned> board_id;
  std::optional<unsigned> power_default_limit_mw, power_min_limit_mw, power_max_limit_mw;
  std::optional<unsigned> app_graphics_mhz, app_mem_mhz;          // current application clocks
  std::optional<unsigned> default_app_graphics_mhz, default_app_mem_mhz;
  std::vector<unsigned> supported_mem_mhz;       // descending
  std::vector<unsigned> supported_graphics_mhz;  // descending, the same for every memory clock
  std::optional<unsigned> encoder_util, decoder_util;  // percent, sampling period below
  unsigned codec_sampling_us = 167000;
  std::optional<unsigned> pcie_tx_kbps, pcie_rx_kbps;  // KB/s
  std::optional<unsigned> pcie_replay_counter;
  std::optional<bool> mig_mode;  // absent: the GPU has no MIG (pre-Ampere)
  std::optional<bool> mig_mode_pending;
  std::vector<MigDevice> mig_devices;  // with mig_mode on: its MIG devices, at most 7
  std::optional<unsigned> numa_node;
  std::vector<unsigned> cpus;  // CPUs near the GPU (CPU affinity)
  std::vector<NvLink> nvlinks;
  std::optional<unsigned> multiprocessor_count;
  std::optional<unsigned> num_gpu_cores;
  std::optional<unsigned> memory_bus_width;
  std::optional<std::uint64_t> bar1_total_bytes;
  std::optional<std::uint64_t> memory_reserved_bytes;  // _v2 memory info
  std::optional<int> compute_mode;  // nvmlComputeMode_t
  std::vector<GpuProcess> processes;
  std::array<std::optional<std::string>, 3> inforom_versions;  // OEM, ECC, POWER objects
  std::optional<unsigned> inforom_checksum;
  bool inforom_corrupted = false;
  std::optional<bool> display;              // display mode = display active (headless: false)
  std::optional<int> virtualization_mode;   // nvmlGpuVirtualizationMode_t: 0 bare metal
  std::optional<bool> ecc_default;          // default ECC mode; absent: the current one
  std::optional<unsigned long long> supported_event_reasons;
  std::optional<std::array<std::vector<unsigned long long>, 2>> retired_pages;  // single-bit, double-bit
  std::optional<bool> accounting_mode;
  std::optional<bool> multi_gpu_board;
  std::optional<unsigned> irq;
  std::optional<unsigned> nvlink_version;
  std::optional<bool> gsp_firmware;  // GSP firmware mode (Turing and later); absent: no GSP
  std::optional<std::string> pcie_switch;  // GPUs naming the same switch share it (topology SINGLE)
  // NVML_GPU_FABRIC_STATE_* (0 not supported .. 3 completed); absent: derived
  // (Hopper with links to NVSwitches: completed; other Hopper: not supported).
  std::optional<int> fabric_state;
  std::optional<unsigned> remap_banks;  // HBM banks (row-remapper histogram); absent: NOT_SUPPORTED
};

struct Gpu {
  std::string name;
  std::string uuid;
  std::optional<std::string> serial;
  PciAddress pci;
  std::uint32_t pci_device_id = 0x000010DE;
  std::uint32_t pci_subsystem_id = 0x000010DE;
  std::optional<unsigned> minor;
  std::optional<bool> persistence_mode;  // the value before any state file override
  std::optional<unsigned> temperature_c;
  std::optional<unsigned> slowdown_temp_c;
  std::optional<unsigned> shutdown_temp_c;
  std::optional<unsigned> power_mw;
  std::optional<unsigned> power_limit_mw;
  std::optional<std::uint64_t> energy_mj;
  std::optional<std::uint64_t> memory_total_bytes;
  std::uint64_t memory_used_bytes = 0;
  std::optional<unsigned> utilization_gpu;  // percent
  unsigned utilization_memory = 0;          // percent
  ClocksMhz clocks_mhz;
  ClocksMhz max_clocks_mhz;
  std::optional<std::uint64_t> clock_event_reasons;  // bitmask
  std::optional<int> pstate;                         // 0..15, 32 unknown
  std::optional<unsigned> fan_percent;
  std::optional<bool> ecc_mode;
  std::optional<bool> ecc_mode_pending;  // defaults to ecc_mode
  EccErrorCounts ecc_errors;
  std::optional<bool> retired_pages_pending;
  std::optional<RemappedRows> remapped_rows;
  std::optional<unsigned> recovery_action;  // field 230 (nvmlDeviceGetFieldValues); absent: not supported
  PcieLink pcie;
  // nvmlDeviceGetSupportedEventTypes; default XidCriticalError (0x8).
  unsigned long long event_types = 0x8;
  ClientFacts client;
  // "over_time": readings that change; applied before every call on this GPU.
  std::vector<Timeline> over_time;
};

// The seed's failure model (issue: fix/churn/demo): while persistence is off
// on any GPU, every nvmlInit counts one driver init/teardown cycle (shared by
// all processes through the state file) and costs cold_init_delay; after
// lose_after_cycles cycles GPU lose_gpu is lost and an Xid 79 line is
// appended to kernel_log. With persistence on for every GPU nothing counts.
struct FailureModel {
  std::uint64_t lose_after_cycles = 0;  // 0: never lose a GPU
  std::optional<unsigned> lose_gpu;     // default: the last GPU
  std::chrono::milliseconds cold_init_delay{0};
  std::optional<std::filesystem::path> kernel_log;  // absolute, or relative to the scenario's folder
};

// The "cuda" section: what the fake libcuda.so.1 does (docs/simulator.md).
struct CudaSection {
  std::optional<int> driver_version;  // cuDriverGetVersion; default: Scenario::cuda_driver_version
  std::chrono::milliseconds init_delay{0};
  // cu* faults with CUresult codes. "init_return", or failing that a
  // system-wide nvmlInit fault mirrored onto cuInit, comes last.
  std::vector<Fault> faults;
};

struct Scenario {
  std::filesystem::path file;  // where it was read from
  std::optional<std::string> driver_version;
  std::optional<std::string> nvml_version;
  std::optional<int> cuda_driver_version;  // e.g. 11020 for CUDA 11.2
  std::chrono::milliseconds init_delay{0};
  std::filesystem::path state_file;  // absolute or relative to the working directory
  std::vector<Fault> faults;
  std::vector<Gpu> gpus;
  CudaSection cuda;
  std::optional<FailureModel> failure_model;
  std::vector<XidEvent> xid_events;
  // Where Xid events (and the failure model's lines) are appended; absolute.
  std::optional<std::filesystem::path> kernel_log;
  bool uses_clock = false;  // some change, fault or Xid event is timed in ms
  // Run-time, not from the file: when the scenario's clock started (state
  // file, shared by processes), this process's samples, Xid events it knows
  // are in the kernel log.
  std::optional<std::int64_t> clock_started_unix_ms;
  std::uint64_t samples = 0;
  std::vector<bool> xid_logged;
  // Run-time, not from the file: GPUs lost by the failure model, as seen by
  // this process at its last nvmlInit. Lost GPUs are missing from the count.
  std::vector<bool> lost;
};

// The most GPUs a scenario may list.
inline constexpr std::size_t k_max_gpus = 64;

// Builds a Scenario from the text of `file`. The error names the JSON path and
// what was expected, e.g. "gpus[1].temperature_c: expected a number, got string".
// Relative state_file paths are resolved against the folder of `file`.
Result<Scenario> parse_scenario(std::string_view text, const std::filesystem::path& file);

// Reads and parses `file`; the error message does not repeat the file name.
Result<Scenario> load_scenario(const std::filesystem::path& file);

}  // namespace gd::sim
