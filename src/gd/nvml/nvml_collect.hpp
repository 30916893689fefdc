// The worker side of the NVML probe: runs in a separate process
// (`gpudoctor __nvml-worker LIB`), loads NVML, and streams what it learns as
// JSON lines on out_fd. Before every NVML call it writes a {"call": ...} line,
// so the parent can name the call that never returned.
//
// Lines: {"call":NAME[,"gpu":I]}  {"load_error":TEXT}  {"missing":[...]}
//        {"init":{"return":R,"ms":T}}  {"system":{...}}  {"gpu":{NvmlGpu}}  {"done":true}
#pragma once

#include <string>

namespace gd::nvml {

// Returns the process exit code (0 even when NVML reports errors: those are data).
int worker_main(const std::string& library_path, int out_fd);

// `gpudoctor __nvml-sampler LIB` (the long-lived worker of `watch`): loads
// NVML and calls nvmlInit once (same lines as worker_main up to "init"), then
// answers every line read from in_fd with one sample: call markers, "system",
// one "gpu" line per GPU, {"done":true}. Shuts NVML down at EOF on in_fd.
int sampler_main(const std::string& library_path, int in_fd, int out_fd);

// `gpudoctor __nvml-set-persistence LIB`: turns persistence mode on for every
// GPU that has it off (nvmlDeviceSetPersistenceMode, needs root on a real
// node; lost at reboot). One line per GPU:
// {"index":I,"bus_id":B,"was_on":bool,"ret":R}; then {"done":true}.
int set_persistence_main(const std::string& library_path, int out_fd);

}  // namespace gd::nvml
