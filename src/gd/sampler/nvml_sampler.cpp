#include "gd/sampler/nvml_sampler.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/model/json_io.hpp"

#include "gd/nvml/nvml_worker.hpp"
#include "gd/util/line_worker.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/subprocess.hpp"

namespace gd::sampler {

namespace {

constexpr std::size_t k_max_stderr = 4096;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// The worker with stdin/stdout/stderr pipes, through util::spawn_in_group
// (own process group, killed with gpudoctor).
pid_t spawn_piped(const std::vector<std::string>& argv, int& in, int& out, int& err, std::string& error) {
  int p_in[2], p_out[2], p_err[2];
  if (::pipe2(p_in, O_CLOEXEC) != 0) return error = std::strerror(errno), -1;
  if (::pipe2(p_out, O_CLOEXEC) != 0) return ::close(p_in[0]), ::close(p_in[1]), error = std::strerror(errno), -1;
  if (::pipe2(p_err, O_CLOEXEC) != 0) {
    for (int fd : {p_in[0], p_in[1], p_out[0], p_out[1]}) ::close(fd);
    return error = std::strerror(errno), -1;
  }
  auto pid = util::spawn_in_group(argv, p_in[0], p_out[1], p_err[1]);
  ::close(p_in[0]), ::close(p_out[1]), ::close(p_err[1]);
  if (!pid) {
    ::close(p_in[1]), ::close(p_out[0]), ::close(p_err[0]);
    return error = pid.error().message, -1;
  }
  in = p_in[1], out = p_out[0], err = p_err[0];
  return *pid;
}

}  // namespace

NvmlSampler::NvmlSampler(SamplerOptions o) : m_o(std::move(o)), m_backoff_s(m_o.backoff_min_s) {}

NvmlSampler::~NvmlSampler() {
  if (m_pid > 0) {
    close_fd(m_in);  // EOF on stdin: the worker shuts NVML down and exits
    auto until = Clock::now() + std::chrono::milliseconds(500);
    while (Clock::now() < until && ::waitpid(m_pid, nullptr, WNOHANG) == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stop_worker(true);
  }
}

bool NvmlSampler::start(model::NvmlInfo& info) {
  ::signal(SIGPIPE, SIG_IGN);  // a worker that died: a write error on its stdin, not our death
  std::string error;
  std::string exe = m_o.worker_exe.empty() ? util::worker_exe() : m_o.worker_exe;
  m_pid = spawn_piped({exe, "__nvml-sampler", m_o.library}, m_in, m_out, m_err, error);
  if (m_pid < 0) {
    info.state = model::NvmlState::worker_failed;
    info.load_error = fmt::format("cannot start the NVML worker {}: {}", exe, error);
    back_off();
    return false;
  }
  ++m_started;
  m_pending.clear();
  m_stderr.clear();
  m_base = model::NvmlInfo{};
  return true;
}

void NvmlSampler::stop_worker(bool killed) {
  close_fd(m_in), close_fd(m_out), close_fd(m_err);
  if (m_pid <= 0) return;
  if (killed) {
    ::kill(-m_pid, SIGKILL);
    ::kill(m_pid, SIGKILL);
  }
  auto until = Clock::now() + std::chrono::milliseconds(100);
  while (true) {
    pid_t r = ::waitpid(m_pid, nullptr, WNOHANG);
    if (r == m_pid || (r < 0 && errno == ECHILD)) break;
    if (Clock::now() >= until) {
      m_wedged = m_pid;  // stuck in the kernel: abandoned, reaped later if ever
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  m_pid = -1;
}

void NvmlSampler::reap_wedged() {
  if (m_wedged <= 0) return;
  pid_t r = ::waitpid(m_wedged, nullptr, WNOHANG);
  if (r == m_wedged || (r < 0 && errno == ECHILD)) m_wedged = -1;
}

void NvmlSampler::back_off() {
  m_next_start = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m_backoff_s));
  m_backoff_s = std::min(m_backoff_s * 2, m_o.backoff_max_s);
}

bool NvmlSampler::read_answer(Clock::time_point deadline, model::NvmlInfo& info, bool& done, bool& eof) {
  char buf[65536];
  while (!done && !eof) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd fds[2] = {{m_out, POLLIN, 0}, {m_err, POLLIN, 0}};
    int n = ::poll(fds, m_err >= 0 ? 2 : 1, static_cast<int>(left));
    if (n < 0 && errno != EINTR) return false;
    if (n <= 0) continue;
    if (m_err >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = ::read(m_err, buf, sizeof buf);
      if (r > 0) {
        m_stderr.append(buf, static_cast<size_t>(r));
        if (m_stderr.size() > k_max_stderr) m_stderr.erase(0, m_stderr.size() - k_max_stderr);
      } else if (r == 0) {
        close_fd(m_err);
      }
    }
    if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t r = ::read(m_out, buf, sizeof buf);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      eof = true;
      break;
    }
    m_pending.append(buf, static_cast<size_t>(r));
    size_t start = 0, pos;
    while (!done && (pos = m_pending.find('\n', start)) != std::string::npos) {
      std::string_view line(m_pending.data() + start, pos - start);
      start = pos + 1;
      if (!take_xid_line(line)) nvml::apply_worker_line(line, info, done);
    }
    m_pending.erase(0, start);  // once per read, not once per line
  }
  return true;
}

bool NvmlSampler::take_xid_line(std::string_view line) {
  if (!line.starts_with("{\"xid")) return false;
  auto j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (!j.is_object()) return false;
  if (auto x = j.find("xid"); x != j.end() && x->is_object()) {
    NvmlXid xid;
    xid.gpu_index = model::json_field<unsigned>(*x, "gpu");
    xid.bus_id = model::json_field<std::string>(*x, "bus_id").value_or("");
    xid.code = model::json_field<unsigned long long>(*x, "code").value_or(0);
    if (m_xids.size() < 4096) m_xids.push_back(std::move(xid));
    return true;
  }
  if (auto e = j.find("xid_events"); e != j.end() && e->is_object()) {
    auto n = model::json_field<unsigned>(*e, "registered").value_or(0);
    m_xid_status = n > 0 ? fmt::format("registered on {} GPUs", n)
                         : model::json_field<std::string>(*e, "reason").value_or("no GPU supports them");
    return true;
  }
  return false;
}

model::NvmlInfo NvmlSampler::sample() {
  auto t0 = Clock::now();
  reap_wedged();
  model::NvmlInfo info;
  info.timeout_s = m_o.timeout_s;
  if (m_pid < 0) {
    if (m_last_failure && m_wedged <= 0 && t0 < m_next_start) {
      model::NvmlInfo last = *m_last_failure;  // the worker that failed to load or init: not retried yet
      last.elapsed_ms = 0;
      return last;
    }
    if (t0 < m_next_start || m_wedged > 0) {
      info.state = model::NvmlState::hung;  // still the last hang: waiting to replace the worker
      info.hung_call = m_last_hung_call;
      info.hung_gpu = m_last_hung_gpu;
      return info;
    }
    if (!start(info)) return info;
  } else {
    info.state = m_base.state;
    info.load_error = m_base.load_error;
    info.init_return = m_base.init_return;
    info.init_ms = m_base.init_ms;
    info.missing_symbols = m_base.missing_symbols;
  }
  bool done = false, eof = false;
  if (!util::write_line(m_in, "sample")) eof = true;
  auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m_o.timeout_s));
  bool in_time = eof || read_answer(deadline, info, done, eof);
  info.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  info.worker_stderr = std::string(util::trim(util::printable(m_stderr, k_max_stderr)));
  if (!in_time) {
    info.state = model::NvmlState::hung;
    m_last_hung_call = info.hung_call, m_last_hung_gpu = info.hung_gpu;
    ++m_hangs;
    m_last_failure.reset();
    stop_worker(true);
    back_off();
    return info;
  }
  if (done && info.state == model::NvmlState::ok) {
    info.hung_call.reset(), info.hung_gpu.reset();
    m_base.state = info.state, m_base.init_return = info.init_return, m_base.init_ms = info.init_ms;
    m_base.missing_symbols = info.missing_symbols;
    m_backoff_s = m_o.backoff_min_s;
    m_last_failure.reset();
    return info;
  }
  // Load or init failed (the worker exits after "done"), or it died mid-answer.
  if (!done && info.state != model::NvmlState::library_missing) {
    info.state = model::NvmlState::worker_failed;
    if (info.load_error.empty()) {
      // How it ended (a crash in the library, the OOM killer's SIGKILL, an exit) is what tells them apart:
      // reap it now (its output ended: it is exiting) to say so.
      int status = -1;
      bool reaped = false;
      for (auto until = Clock::now() + std::chrono::milliseconds(200); m_pid > 0 && Clock::now() < until;) {
        pid_t r = ::waitpid(m_pid, &status, WNOHANG);
        if (r == m_pid) {
          reaped = true;
          break;
        }
        if (r < 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (reaped) m_pid = -1;  // (stop_worker then only closes the pipes)
      info.load_error = reaped ? "NVML worker ended early: " + util::describe_wait_status(status)
                               : std::string("NVML worker ended early");
    }
  }
  if (done) info.hung_call.reset(), info.hung_gpu.reset();
  m_last_failure = info;
  stop_worker(true);
  back_off();
  return info;
}

}  // namespace gd::sampler
