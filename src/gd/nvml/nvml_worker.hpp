// The parent side of the NVML probe: starts `gpudoctor __nvml-worker LIB`,
// reads its JSON lines until "done" or the deadline, and fills NvmlInfo. A
// worker stuck in a call is killed (or abandoned if unkillable) and the call
// it was in is recorded, so `check` never hangs with the driver.
#pragma once

#include <string>

#include "gd/model/snapshot.hpp"

namespace gd::nvml {

// Fills every field of out except out.library. Returns within timeout_s plus
// a small grace, whatever NVML does.
// worker_exe: the gpudoctor binary to run as the worker (empty: this one).
void run_nvml_worker(const std::string& library_path, double timeout_s, model::NvmlInfo& out,
                     const std::string& worker_exe = "");

// Applies one protocol line to out; tracks the last call marker in out.hung_*.
// Returns false on a line that is not valid protocol (recorded in worker_stderr).
bool apply_worker_line(std::string_view line, model::NvmlInfo& out, bool& done);

}  // namespace gd::nvml
