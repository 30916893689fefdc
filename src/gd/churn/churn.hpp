// `gpudoctor churn`: the autotuner's pattern — many short-lived processes,
// each initialising the GPU driver and exiting — with per-process init
// latency, failures by return code, and an early stop when a GPU is lost.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gd::churn {

enum class Mode { nvml, cuda };

struct ChurnOptions {
  unsigned launches = 1000;
  unsigned jobs = 2;
  Mode mode = Mode::nvml;
  std::string library;            // file each child dlopens
  double process_timeout_s = 30;  // a child running longer counts as hung and is killed
  std::string worker_exe;         // gpudoctor binary run as the child (empty: this one)
  bool exec_each = false;         // exec a new child per launch (loads the library each time), not the fork server
  std::optional<unsigned> expected_count;  // GPUs answering before the run (else: the first child's count)
};

struct ChurnProgress {
  unsigned done = 0;
  unsigned total = 0;
  double elapsed_s = 0;
  double last_init_ms = 0;
};

struct ChurnResult {
  unsigned launched = 0;
  unsigned succeeded = 0;
  std::map<int, unsigned> failures_by_code;  // driver return code -> count
  unsigned hung = 0;                         // children killed at process_timeout_s
  unsigned crashed = 0;                      // children that died or printed nothing usable
  std::vector<double> init_ms;               // per successful launch, in launch-completion order
  std::vector<double> overhead_ms;           // wall per launch minus its init time (start, teardown)
  double elapsed_s = 0;
  std::optional<unsigned> first_count;       // GPUs the first successful child saw
  std::optional<unsigned> lost_at_launch;    // launch number at which fewer GPUs answered
  bool stopped_early = false;
};

// Runs the launches, jobs at a time; stops early when a child sees fewer GPUs
// than the first one did or a GPU_IS_LOST / CUDA error on a known GPU.
// progress (optional) is called about ten times a second from this thread.
ChurnResult run_churn(const ChurnOptions& options, const std::function<void(const ChurnProgress&)>& progress = {});

// Quantile q (0..1) of values (copied and sorted); 0 when empty.
double quantile(std::vector<double> values, double q);

// The child process: `gpudoctor __churn-child nvml|cuda LIB`. Prints one JSON
// line {"ret":R,"init_ms":T,"count":N,"lost":[...]} and returns 0.
int churn_child_main(const std::string& mode, const std::string& library);

// The fork server (`gpudoctor-churn-child --fork-server nvml|cuda LIB`): loads
// the library once; each byte read on stdin forks one process that runs the
// same cycle and exits; one JSON line per request on stdout
// ({"crashed": "signal N"} when that process died without reporting).
int churn_zygote_main(const std::string& mode, const std::string& library);

}  // namespace gd::churn
