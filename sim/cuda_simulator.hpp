// The simulated CUDA driver API behind the exported cu* functions
// (cuda_exports.cpp): the loaded scenario, which GPUs CUDA sees, contexts,
// allocations and the "cuda" section's faults, all under one mutex.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "gd/cuda/cuda_abi.hpp"
#include "scenario.hpp"

// What a CUcontext points at: a GPU's primary context (fixed table) or one
// made by cuCtxCreate (freed by cuCtxDestroy).
struct CUctx_st {
  unsigned gpu = 0;  // index into Scenario::gpus
};

namespace gd::sim {

using CudaDeviceQuery = std::function<CUresult(const Gpu&)>;

class CudaSimulator {
 public:
  static CudaSimulator& instance();

  // cuInit: loads the scenario named by GPUDOCTOR_SIM_SCENARIO unless it is
  // the one loaded (NO_DEVICE when unset, UNKNOWN when unreadable; one line on
  // stderr), then once per process: sleeps cuda.init_delay_ms, applies faults,
  // counts an init cycle for the failure model and fixes the visible GPUs
  // (none: NO_DEVICE).
  CUresult init(unsigned flags);
  // cuDriverGetVersion: needs no cuInit (loads the scenario itself).
  CUresult driver_version(int* version);
  CUresult device_count(int* count);
  CUresult device_get(CUdevice* device, int ordinal);
  // Runs `query` on the GPU behind `device` after the init, device and fault checks.
  CUresult device_call(std::string_view symbol, CUdevice device, const CudaDeviceQuery& query);

  CUresult primary_ctx_retain(CUcontext* ctx, CUdevice device);
  CUresult primary_ctx_release(std::string_view symbol, CUdevice device);
  // Creates a context and makes it current on the calling thread.
  CUresult ctx_create(std::string_view symbol, CUcontext* ctx, unsigned flags, CUdevice device);
  CUresult ctx_destroy(std::string_view symbol, CUcontext ctx);
  CUresult ctx_set_current(CUcontext ctx);
  // Allocates on the current context's GPU: OUT_OF_MEMORY beyond
  // memory_total_bytes - memory_used_bytes - what is allocated already.
  CUresult mem_alloc(std::string_view symbol, CUdeviceptr* ptr, std::size_t bytes);
  CUresult mem_free(std::string_view symbol, CUdeviceptr ptr);

 private:
  struct Allocation {
    const CUctx_st* ctx;
    unsigned gpu;
    std::size_t bytes;
  };
  CudaSimulator();

  CUresult load_from_environment();
  void forget();
  // The first "cuda" fault for `symbol` on `gpu`: hangs (releasing `lock`) or
  // gives the code to return; nullopt when the call proceeds normally.
  std::optional<CUresult> apply_fault(std::unique_lock<std::mutex>& lock, std::string_view symbol,
                                      std::optional<unsigned> gpu) const;
  // NOT_INITIALIZED, INVALID_DEVICE or a fault for a device call; nullopt to proceed.
  std::optional<CUresult> enter_device(std::unique_lock<std::mutex>& lock, std::string_view symbol, CUdevice device);
  std::optional<unsigned> gpu_of(CUdevice device) const;
  bool valid(const CUctx_st* ctx) const;
  void drop_allocations(const CUctx_st* ctx);

  std::mutex m_mutex;
  std::optional<Scenario> m_scenario;
  bool m_initialized = false;
  std::vector<unsigned> m_visible;  // CUDA ordinal -> index into Scenario::gpus
  std::array<CUctx_st, k_max_gpus> m_primary;
  std::array<unsigned, k_max_gpus> m_primary_refs{};
  std::set<CUctx_st*> m_created;
  std::map<CUdeviceptr, Allocation> m_allocations;
  std::array<std::uint64_t, k_max_gpus> m_allocated{};
  CUdeviceptr m_next_address = 0x7f0000000000ULL;
};

}  // namespace gd::sim
