// The worker side of the CUDA probe: runs in a separate process
// (`gpudoctor __cuda-worker LIB`), loads libcuda, and streams what it learns
// as JSON lines on out_fd. Before every CUDA call it writes a {"call": ...}
// line, so the parent can name the call that never returned.
//
// Lines: {"call":NAME[,"device":I]}  {"load_error":TEXT}  {"missing":[...]}
//        {"version":{"return":R,"version":V}}  {"init":{"return":R,"ms":T}}
//        {"init_error":{"name":N,"text":S}}  {"count":{"return":R,"count":N}}
//        {"device":{CudaDevice}}  {"done":true}
#pragma once

#include <string>

namespace gd::cuda {

// Returns the process exit code (0 even when CUDA reports errors: those are data).
int worker_main(const std::string& library_path, int out_fd);

}  // namespace gd::cuda
