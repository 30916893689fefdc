#include "gd/cuda/cuda_cycle.hpp"

#include <chrono>

namespace gd::cuda {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Records the first failure in r; true when `result` is success.
bool step(CycleResult& r, const char* name, int result) {
  if (result == k_success) return true;
  if (r.failed_call.empty()) {
    r.failed_call = name;
    r.result = result;
  }
  return false;
}

template <class F>
bool present(CycleResult& r, const Sym<F>& sym) {
  if (sym) return true;
  return step(r, sym.name, -1);
}

// A context on `dev`, made current: the primary one when the library has it.
bool open_context(const CudaApi& a, CUdevice dev, CycleResult& r, CUcontext& ctx, bool& primary) {
  primary = a.primary_ctx_retain && a.primary_ctx_release && a.ctx_set_current;
  if (primary) {
    if (!step(r, a.primary_ctx_retain.name, a.primary_ctx_retain.fn(&ctx, dev))) return false;
    if (step(r, a.ctx_set_current.name, a.ctx_set_current.fn(ctx))) return true;
    a.primary_ctx_release.fn(dev);
    return false;
  }
  return present(r, a.ctx_create) && present(r, a.ctx_destroy) &&
         step(r, a.ctx_create.name, a.ctx_create.fn(&ctx, 0, dev));
}

void close_context(const CudaApi& a, CUdevice dev, CUcontext ctx, bool primary, CycleResult& r) {
  if (primary) {
    a.ctx_set_current.fn(nullptr);
    step(r, a.primary_ctx_release.name, a.primary_ctx_release.fn(dev));
  } else {
    step(r, a.ctx_destroy.name, a.ctx_destroy.fn(ctx));
  }
}

}  // namespace

CycleResult run_cycle(const CudaApi& a, int ordinal, std::size_t bytes) {
  CycleResult r;
  auto t0 = Clock::now();
  int init = a.init.fn(0);
  r.init_ms = ms_since(t0);
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  bool primary = false;
  if (step(r, a.init.name, init) && present(r, a.device_get) && present(r, a.mem_alloc) && present(r, a.mem_free) &&
      step(r, a.device_get.name, a.device_get.fn(&dev, ordinal)) && open_context(a, dev, r, ctx, primary)) {
    CUdeviceptr ptr = 0;
    if (step(r, a.mem_alloc.name, a.mem_alloc.fn(&ptr, bytes))) step(r, a.mem_free.name, a.mem_free.fn(ptr));
    close_context(a, dev, ctx, primary, r);
  }
  r.total_ms = ms_since(t0);
  return r;
}

}  // namespace gd::cuda
