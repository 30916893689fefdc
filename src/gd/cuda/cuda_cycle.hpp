// One CUDA client's life as a short-lived job lives it (what `gpudoctor churn
// --mode cuda` repeats in many processes): cuInit, the device's primary
// context made current (as the CUDA runtime does; cuCtxCreate_v2 when the
// library lacks primary contexts), a small allocation, and teardown.
#pragma once

#include <cstddef>
#include <string>

#include "gd/cuda/cuda_api.hpp"

namespace gd::cuda {

struct CycleResult {
  std::string failed_call;  // the symbol that failed; empty when every step succeeded
  int result = k_success;   // its CUresult; -1 when the library lacks the symbol
  double init_ms = 0;       // cuInit alone
  double total_ms = 0;      // the whole cycle
  bool ok() const { return failed_call.empty(); }
};

// Runs the cycle on device `ordinal`, allocating `bytes`; stops at the first
// failing call (cleaning up what it set up). Safe to call once per process;
// cuInit is not undone (the driver API has no shutdown).
CycleResult run_cycle(const CudaApi& api, int ordinal = 0, std::size_t bytes = std::size_t{1} << 20);

}  // namespace gd::cuda
