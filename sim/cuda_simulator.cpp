#include "cuda_simulator.hpp"

#include <signal.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "failure_model.hpp"
#include "simulator.hpp"

namespace gd::sim {
namespace {

namespace cu = gd::cuda;

constexpr const char* k_scenario_env = "GPUDOCTOR_SIM_SCENARIO";
constexpr int k_nvml_gpu_is_lost = 15;
constexpr std::uint64_t k_alignment = 2ULL << 20;

thread_local CUctx_st* t_current = nullptr;

// GPUs CUDA enumerates: listed, not lost to the failure model, and not made
// lost by an nvmlDeviceGetHandleByIndex fault returning GPU_IS_LOST.
std::vector<unsigned> visible_gpus(const Scenario& s) {
  std::vector<unsigned> out;
  for (unsigned i = 0; i < s.gpus.size(); ++i) {
    if (i < s.lost.size() && s.lost[i]) continue;
    const Fault* f = find_fault(s.faults, "nvmlDeviceGetHandleByIndex", i);
    if (f && !f->hang && f->return_code == k_nvml_gpu_is_lost) continue;
    out.push_back(i);
  }
  return out;
}

}  // namespace

CudaSimulator& CudaSimulator::instance() {
  static CudaSimulator simulator;
  return simulator;
}

CudaSimulator::CudaSimulator() {
  for (unsigned i = 0; i < m_primary.size(); ++i) m_primary[i].gpu = i;
}

void CudaSimulator::forget() {
  for (CUctx_st* c : m_created) delete c;
  m_created.clear();
  m_allocations.clear();
  m_allocated.fill(0);
  m_primary_refs.fill(0);
  m_visible.clear();
  m_initialized = false;
  m_scenario.reset();
}

CUresult CudaSimulator::load_from_environment() {
  const char* env = std::getenv(k_scenario_env);
  if (!env || !*env) {
    forget();
    complain(k_scenario_env, "not set; it must name the scenario file to simulate");
    return cu::k_no_device;
  }
  std::error_code ec;
  std::filesystem::path file = std::filesystem::absolute(env, ec);
  if (ec) file = env;
  if (m_scenario && m_scenario->file == file) return cu::k_success;
  Result<Scenario> scenario = load_scenario(file);
  forget();
  if (!scenario) {
    complain(file.string(), scenario.error().message);
    return cu::k_unknown;
  }
  m_scenario = std::move(*scenario);
  return cu::k_success;
}

std::optional<CUresult> CudaSimulator::apply_fault(std::unique_lock<std::mutex>& lock, std::string_view symbol,
                                                   std::optional<unsigned> gpu) const {
  const Fault* fault = find_fault(m_scenario->cuda.faults, symbol, gpu);
  if (!fault) return std::nullopt;
  if (fault->crash) {
    lock.unlock();
    ::raise(SIGSEGV);
    std::abort();
  }
  if (fault->hang) {
    lock.unlock();
    hang_forever();
  }
  if (fault->return_code == cu::k_success) return std::nullopt;
  return fault->return_code;
}

CUresult CudaSimulator::init(unsigned flags) {
  std::unique_lock lock(m_mutex);
  if (flags != 0) return cu::k_invalid_value;
  if (CUresult loaded = load_from_environment(); loaded != cu::k_success) return loaded;
  if (m_initialized) return cu::k_success;
  if (m_scenario->cuda.init_delay.count() > 0) std::this_thread::sleep_for(m_scenario->cuda.init_delay);
  if (auto fault = apply_fault(lock, "cuInit", std::nullopt)) return *fault;
  on_init(*m_scenario);
  m_visible = visible_gpus(*m_scenario);
  if (m_visible.empty()) return cu::k_no_device;  // libcuda fails init when it finds no GPU
  m_initialized = true;
  return cu::k_success;
}

CUresult CudaSimulator::driver_version(int* version) {
  std::unique_lock lock(m_mutex);
  if (CUresult loaded = load_from_environment(); loaded != cu::k_success) return loaded;
  if (auto fault = apply_fault(lock, "cuDriverGetVersion", std::nullopt)) return *fault;
  if (!version) return cu::k_invalid_value;
  if (!m_scenario->cuda.driver_version) return cu::k_not_supported;
  *version = *m_scenario->cuda.driver_version;
  return cu::k_success;
}

CUresult CudaSimulator::device_count(int* count) {
  std::unique_lock lock(m_mutex);
  if (!m_initialized) return cu::k_not_initialized;
  if (auto fault = apply_fault(lock, "cuDeviceGetCount", std::nullopt)) return *fault;
  if (!count) return cu::k_invalid_value;
  *count = static_cast<int>(m_visible.size());
  return cu::k_success;
}

std::optional<unsigned> CudaSimulator::gpu_of(CUdevice device) const {
  if (device < 0 || static_cast<std::size_t>(device) >= m_visible.size()) return std::nullopt;
  return m_visible[static_cast<std::size_t>(device)];
}

CUresult CudaSimulator::device_get(CUdevice* device, int ordinal) {
  std::unique_lock lock(m_mutex);
  if (!m_initialized) return cu::k_not_initialized;
  std::optional<unsigned> gpu = gpu_of(ordinal);
  if (auto fault = apply_fault(lock, "cuDeviceGet", gpu)) return *fault;
  if (!device) return cu::k_invalid_value;
  if (!gpu) return cu::k_invalid_device;
  *device = ordinal;
  return cu::k_success;
}

std::optional<CUresult> CudaSimulator::enter_device(std::unique_lock<std::mutex>& lock, std::string_view symbol,
                                                    CUdevice device) {
  if (!m_initialized) return cu::k_not_initialized;
  std::optional<unsigned> gpu = gpu_of(device);
  if (!gpu) return cu::k_invalid_device;
  return apply_fault(lock, symbol, gpu);
}

CUresult CudaSimulator::device_call(std::string_view symbol, CUdevice device, const CudaDeviceQuery& query) {
  std::unique_lock lock(m_mutex);
  if (auto early = enter_device(lock, symbol, device)) return *early;
  return query(m_scenario->gpus[*gpu_of(device)]);
}

bool CudaSimulator::valid(const CUctx_st* ctx) const {
  if (!ctx) return false;
  if (m_created.count(const_cast<CUctx_st*>(ctx))) return true;
  for (unsigned i = 0; i < m_primary.size(); ++i)
    if (ctx == &m_primary[i]) return m_primary_refs[i] > 0;
  return false;
}

void CudaSimulator::drop_allocations(const CUctx_st* ctx) {
  for (auto it = m_allocations.begin(); it != m_allocations.end();) {
    if (it->second.ctx != ctx) {
      ++it;
      continue;
    }
    m_allocated[it->second.gpu] -= it->second.bytes;
    it = m_allocations.erase(it);
  }
  if (t_current == ctx) t_current = nullptr;
}

CUresult CudaSimulator::primary_ctx_retain(CUcontext* ctx, CUdevice device) {
  std::unique_lock lock(m_mutex);
  if (auto early = enter_device(lock, "cuDevicePrimaryCtxRetain", device)) return *early;
  if (!ctx) return cu::k_invalid_value;
  unsigned gpu = *gpu_of(device);
  ++m_primary_refs[gpu];
  *ctx = &m_primary[gpu];
  return cu::k_success;
}

CUresult CudaSimulator::primary_ctx_release(std::string_view symbol, CUdevice device) {
  std::unique_lock lock(m_mutex);
  if (auto early = enter_device(lock, symbol, device)) return *early;
  unsigned gpu = *gpu_of(device);
  if (m_primary_refs[gpu] == 0) return cu::k_invalid_context;
  if (--m_primary_refs[gpu] == 0) drop_allocations(&m_primary[gpu]);
  return cu::k_success;
}

CUresult CudaSimulator::ctx_create(std::string_view symbol, CUcontext* ctx, unsigned /*flags*/, CUdevice device) {
  std::unique_lock lock(m_mutex);
  if (auto early = enter_device(lock, symbol, device)) return *early;
  if (!ctx) return cu::k_invalid_value;
  auto* created = new CUctx_st{*gpu_of(device)};
  m_created.insert(created);
  t_current = created;
  *ctx = created;
  return cu::k_success;
}

CUresult CudaSimulator::ctx_destroy(std::string_view symbol, CUcontext ctx) {
  std::unique_lock lock(m_mutex);
  if (!m_initialized) return cu::k_not_initialized;
  if (!ctx || !m_created.count(ctx)) return cu::k_invalid_context;
  if (auto fault = apply_fault(lock, symbol, ctx->gpu)) return *fault;
  drop_allocations(ctx);
  m_created.erase(ctx);
  delete ctx;
  return cu::k_success;
}

CUresult CudaSimulator::ctx_set_current(CUcontext ctx) {
  std::unique_lock lock(m_mutex);
  if (!m_initialized) return cu::k_not_initialized;
  if (ctx && !valid(ctx)) return cu::k_invalid_context;
  if (auto fault = apply_fault(lock, "cuCtxSetCurrent", ctx ? std::optional(ctx->gpu) : std::nullopt)) return *fault;
  t_current = ctx;
  return cu::k_success;
}

CUresult CudaSimulator::mem_alloc(std::string_view symbol, CUdeviceptr* ptr, std::size_t bytes) {
  std::unique_lock lock(m_mutex);
  if (!m_initialized) return cu::k_not_initialized;
  if (!valid(t_current)) return cu::k_invalid_context;
  unsigned gpu = t_current->gpu;
  if (auto fault = apply_fault(lock, symbol, gpu)) return *fault;
  if (!ptr || bytes == 0) return cu::k_invalid_value;
  const Gpu& g = m_scenario->gpus[gpu];
  if (g.memory_total_bytes) {
    std::uint64_t used = g.memory_used_bytes + m_allocated[gpu];
    std::uint64_t free = *g.memory_total_bytes > used ? *g.memory_total_bytes - used : 0;
    if (bytes > free) return cu::k_out_of_memory;
  }
  *ptr = m_next_address;
  m_next_address += (bytes + k_alignment - 1) / k_alignment * k_alignment;
  m_allocations[*ptr] = Allocation{t_current, gpu, bytes};
  m_allocated[gpu] += bytes;
  return cu::k_success;
}

CUresult CudaSimulator::mem_free(std::string_view symbol, CUdeviceptr ptr) {
  std::unique_lock lock(m_mutex);
  if (!m_initialized) return cu::k_not_initialized;
  auto it = m_allocations.find(ptr);
  if (it == m_allocations.end()) return cu::k_invalid_value;
  if (auto fault = apply_fault(lock, symbol, it->second.gpu)) return *fault;
  m_allocated[it->second.gpu] -= it->second.bytes;
  m_allocations.erase(it);
  return cu::k_success;
}

}  // namespace gd::sim
