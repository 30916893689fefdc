// The parent side of `watch`'s long-lived NVML worker (`gpudoctor
// __nvml-sampler LIB`): NVML is initialised once in the worker, each sample()
// sends one request line and reads the answer under a deadline. A worker that
// does not answer is killed (or, when it cannot be reaped, abandoned) and a new
// one started after a back-off; at most one wedged worker exists at a time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gd/model/snapshot.hpp"

namespace gd::sampler {

using Clock = std::chrono::steady_clock;

struct SamplerOptions {
  std::string worker_exe;  // the gpudoctor binary (empty: this one)
  std::string library;     // the NVML library to load
  double timeout_s = 10;   // deadline for one sample (the first one includes nvmlInit)
  double backoff_min_s = 1;
  double backoff_max_s = 300;
};

// An Xid NVML's event API reported (XidCriticalError) during a sample.
struct NvmlXid {
  std::optional<unsigned> gpu_index;
  std::string bus_id;  // lowercase sysfs form; "" when the worker could not tell
  unsigned long long code = 0;
};

class NvmlSampler {
 public:
  explicit NvmlSampler(SamplerOptions o);
  ~NvmlSampler();
  NvmlSampler(const NvmlSampler&) = delete;
  NvmlSampler& operator=(const NvmlSampler&) = delete;

  // One sample; returns within timeout_s plus a small grace whatever NVML
  // does. state is ok, hung (this call or a wedged worker still backing off),
  // init_failed, library_missing or worker_failed, as the NVML probe reports.
  model::NvmlInfo sample();

  unsigned workers_started() const { return m_started; }
  unsigned hangs() const { return m_hangs; }
  bool has_wedged_worker() const { return m_wedged > 0; }
  pid_t worker_pid() const { return m_pid; }
  // Xids the worker reported since the last call (nvmlEventSetWait_v2 with
  // timeout 0 after every sample, so a sample never waits for events).
  std::vector<NvmlXid> take_xids() { return std::exchange(m_xids, {}); }
  // How the current worker's Xid event registration went: "registered on N
  // GPUs" or why not; "" until it reported.
  const std::string& xid_events_status() const { return m_xid_status; }

 private:
  bool start(model::NvmlInfo& info);
  void stop_worker(bool killed);
  void reap_wedged();
  void back_off();
  bool read_answer(Clock::time_point deadline, model::NvmlInfo& info, bool& done, bool& eof);
  bool take_xid_line(std::string_view line);

  SamplerOptions m_o;
  pid_t m_pid = -1;
  int m_in = -1, m_out = -1, m_err = -1;
  pid_t m_wedged = -1;
  std::string m_pending, m_stderr;
  Clock::time_point m_next_start{};
  double m_backoff_s;
  model::NvmlInfo m_base;  // load/init results of the current worker
  // The last load/init failure while waiting to start the next worker: what
  // a sample in the back-off reports (it is not a hang).
  std::optional<model::NvmlInfo> m_last_failure;
  std::optional<std::string> m_last_hung_call;
  std::optional<unsigned> m_last_hung_gpu;
  unsigned m_started = 0, m_hangs = 0;
  std::vector<NvmlXid> m_xids;
  std::string m_xid_status;
};

}  // namespace gd::sampler
