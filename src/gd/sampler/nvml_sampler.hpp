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

 private:
  bool start(model::NvmlInfo& info);
  void stop_worker(bool killed);
  void reap_wedged();
  void back_off();
  bool read_answer(Clock::time_point deadline, model::NvmlInfo& info, bool& done, bool& eof);

  SamplerOptions m_o;
  pid_t m_pid = -1;
  int m_in = -1, m_out = -1, m_err = -1;
  pid_t m_wedged = -1;
  std::string m_pending, m_stderr;
  Clock::time_point m_next_start{};
  double m_backoff_s;
  model::NvmlInfo m_base;  // load/init results of the current worker
  std::optional<std::string> m_last_hung_call;
  std::optional<unsigned> m_last_hung_gpu;
  unsigned m_started = 0, m_hangs = 0;
};

}  // namespace gd::sampler
