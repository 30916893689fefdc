#include "gd/churn/churn.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <chrono>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "gd/util/subprocess.hpp"

namespace gd::churn {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int k_gpu_is_lost = 15;

struct Shared {
  std::mutex mutex;
  ChurnResult result;
  std::atomic<unsigned> next{0};
  std::atomic<unsigned> done{0};
  std::atomic<bool> stop{false};
  double last_init_ms = 0;
  std::optional<unsigned> expected;
};

// Records one child's report; returns true when it shows a lost GPU.
bool record(Shared& sh, unsigned launch_no, const util::RunResult& r) {
  std::lock_guard lock(sh.mutex);
  auto& res = sh.result;
  ++res.launched;
  if (r.timed_out) {
    ++res.hung;
    return false;
  }
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("ret")) {
    ++res.crashed;
    return false;
  }
  int ret = j.value("ret", -1);
  if (ret != 0) {
    ++res.failures_by_code[ret];
    return false;
  }
  ++res.succeeded;
  double init = j.value("init_ms", 0.0);
  res.init_ms.push_back(init);
  res.overhead_ms.push_back(std::max(0.0, r.elapsed_ms - init));
  sh.last_init_ms = init;
  unsigned count = j.value("count", 0u);
  bool lost = j.contains("lost") && j["lost"].is_array() && !j["lost"].empty();
  if (!res.first_count) res.first_count = sh.expected.value_or(count);
  if ((count < *res.first_count || lost) && !res.lost_at_launch) {
    res.lost_at_launch = launch_no;
    return true;
  }
  return false;
}

void worker(Shared& sh, const ChurnOptions& o, const std::vector<std::string>& argv) {
  auto timeout = std::chrono::milliseconds(static_cast<long long>(o.process_timeout_s * 1000));
  while (!sh.stop) {
    unsigned i = sh.next.fetch_add(1);
    if (i >= o.launches) break;
    auto r = util::run(argv, timeout, 64 * 1024);
    if (record(sh, i + 1, r)) sh.stop = true;
    ++sh.done;
  }
}

// The minimal child executable beside gpudoctor when present, else
// `gpudoctor __churn-child`.
std::vector<std::string> child_argv(const ChurnOptions& o) {
  std::string mode = o.mode == Mode::cuda ? "cuda" : "nvml";
  std::string self = o.worker_exe.empty() ? util::self_exe() : o.worker_exe;
  auto small = std::filesystem::path(self).parent_path() / "gpudoctor-churn-child";
  std::error_code ec;
  if (std::filesystem::exists(small, ec)) return {small.string(), mode, o.library};
  return {self, "__churn-child", mode, o.library};
}

}  // namespace

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto idx = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(idx, values.size() - 1)];
}

ChurnResult run_churn(const ChurnOptions& o, const std::function<void(const ChurnProgress&)>& progress) {
  Shared sh;
  sh.expected = o.expected_count;
  std::vector<std::string> argv = child_argv(o);
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < std::max(1u, o.jobs); ++t) threads.emplace_back(worker, std::ref(sh), std::cref(o), argv);
  while (progress && sh.done < o.launches && !sh.stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard lock(sh.mutex);
    progress(ChurnProgress{sh.done, o.launches, std::chrono::duration<double>(Clock::now() - start).count(),
                           sh.last_init_ms});
  }
  for (auto& t : threads) t.join();
  sh.result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  sh.result.stopped_early = sh.stop && sh.result.launched < o.launches;
  if (progress)
    progress(ChurnProgress{sh.done, o.launches, sh.result.elapsed_s, sh.last_init_ms});
  return sh.result;
}

}  // namespace gd::churn
