#include "gd/churn/churn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <chrono>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/util/subprocess.hpp"

namespace gd::churn {

namespace {

using Clock = std::chrono::steady_clock;

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

void exec_worker(Shared& sh, const ChurnOptions& o, const std::vector<std::string>& argv) {
  auto timeout = std::chrono::milliseconds(static_cast<long long>(o.process_timeout_s * 1000));
  while (!sh.stop) {
    unsigned i = sh.next.fetch_add(1);
    if (i >= o.launches) break;
    auto r = util::run(argv, timeout, 64 * 1024);
    if (record(sh, i + 1, r)) sh.stop = true;
    ++sh.done;
  }
}

// One fork server (`gpudoctor-churn-child --fork-server`): a byte on its stdin
// starts one launch, one line on its stdout reports it.
class ForkServer {
 public:
  explicit ForkServer(std::vector<std::string> argv) : m_argv(std::move(argv)) {}
  ~ForkServer() { stop(); }

  // One launch; fills r like util::run would (out = the child's line).
  void launch(std::chrono::milliseconds timeout, util::RunResult& r) {
    auto t0 = Clock::now();
    if (m_child.pid() <= 0 && !start(r.err)) return;
    r.started = true;
    char go = 'g';
    if (::write(m_in, &go, 1) != 1) {
      stop();
      return;  // died since the last launch: counted as crashed, restarted next time
    }
    auto deadline = t0 + timeout;
    while (true) {
      auto nl = m_buf.find('\n');
      if (nl != std::string::npos) {
        r.out = m_buf.substr(0, nl);
        m_buf.erase(0, nl + 1);
        r.exit_code = 0;
        break;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        r.timed_out = true;
        stop();
        break;
      }
      pollfd p{m_child.out_fd(), POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (n < 0 && errno != EINTR) break;
      if (n <= 0) continue;
      char buf[4096];
      ssize_t got = ::read(m_child.out_fd(), buf, sizeof buf);
      if (got <= 0) {
        stop();  // the server died: this launch has no line (crashed)
        break;
      }
      m_buf.append(buf, static_cast<std::size_t>(got));
    }
    r.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  }

 private:
  bool start(std::string& error) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) {
      error = std::strerror(errno);
      return false;
    }
    if (::pipe2(out, O_CLOEXEC) != 0) {
      error = std::strerror(errno);
      ::close(in[0]);
      ::close(in[1]);
      return false;
    }
    auto pid = util::spawn_in_group(m_argv, in[0], out[1], -1);
    ::close(in[0]);
    ::close(out[1]);
    if (!pid) {
      error = pid.error().message;
      ::close(in[1]);
      ::close(out[0]);
      return false;
    }
    m_child = util::Child(*pid, out[0], -1);
    m_in = in[1];
    m_buf.clear();
    return true;
  }

  // Closes its stdin, kills its process group (a hung launch) and reaps it;
  // one stuck in the kernel is abandoned after the grace period.
  void stop() {
    if (m_in >= 0) ::close(m_in);
    m_in = -1;
    if (m_child.pid() > 0) m_child.kill_and_reap(std::chrono::milliseconds(200));
    m_child = util::Child();
  }

  std::vector<std::string> m_argv;
  util::Child m_child;  // owns the server's stdout
  int m_in = -1;
  std::string m_buf;
};

void fork_worker(Shared& sh, const ChurnOptions& o, const std::vector<std::string>& argv) {
  auto timeout = std::chrono::milliseconds(static_cast<long long>(o.process_timeout_s * 1000));
  ForkServer server(argv);
  while (!sh.stop) {
    unsigned i = sh.next.fetch_add(1);
    if (i >= o.launches) break;
    util::RunResult r;
    server.launch(timeout, r);
    if (record(sh, i + 1, r)) sh.stop = true;
    ++sh.done;
  }
}

// The minimal child executable beside gpudoctor when present, else
// `gpudoctor __churn-child` / `__churn-fork-server`.
std::vector<std::string> child_argv(const ChurnOptions& o) {
  std::string mode = o.mode == Mode::cuda ? "cuda" : "nvml";
  std::string self = o.worker_exe.empty() ? util::self_exe() : o.worker_exe;
  if (auto small = util::helper_exe("gpudoctor-churn-child", self); !small.empty()) {
    if (o.exec_each) return {small, mode, o.library};
    return {small, "--fork-server", mode, o.library};
  }
  return {self, o.exec_each ? "__churn-child" : "__churn-fork-server", mode, o.library};
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
  ::signal(SIGPIPE, SIG_IGN);  // a fork server that died: a write error, not our death
  auto* run = o.exec_each ? exec_worker : fork_worker;
  for (unsigned t = 0; t < std::max(1u, o.jobs); ++t) threads.emplace_back(run, std::ref(sh), std::cref(o), argv);
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
