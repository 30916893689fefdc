// The churn child: one short-lived process that initialises the driver the
// way a candidate-kernel timing process does, then exits.
#include <sys/prctl.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "gd/churn/churn.hpp"
#include "gd/cuda/cuda_api.hpp"
#include "gd/cuda/cuda_cycle.hpp"
#include "gd/nvml/nvml_api.hpp"

namespace gd::churn {

namespace {

using nlohmann::json;

json nvml_cycle(const nvml::NvmlApi& api) {
  auto t0 = std::chrono::steady_clock::now();
  int ret = api.init.fn();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  json out = {{"ret", ret}, {"init_ms", ms}};
  if (ret != 0) return out;
  unsigned count = 0;
  api.count.fn(&count);
  json lost = json::array();
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t d = nullptr;
    if (api.handle_by_index.fn(i, &d) == 15) lost.push_back(i);
  }
  out["count"] = count;
  out["lost"] = lost;
  api.shutdown.fn();
  return out;
}

// cuInit + the primary context + a 1 MiB allocation + teardown.
json cuda_cycle(const cuda::CudaApi& api) {
  auto r = cuda::run_cycle(api);
  json out = {{"ret", r.ok() ? 0 : r.result}, {"init_ms", r.init_ms}, {"lost", json::array()}};
  if (!r.ok()) out["failed_call"] = r.failed_call;
  int count = 0;
  if (r.ok() && api.device_count.fn(&count) == 0) out["count"] = count;
  return out;
}

// The library loaded once; cycle() runs one driver init/teardown cycle.
struct Loaded {
  std::optional<nvml::NvmlApi> nvml;
  std::optional<cuda::CudaApi> cuda;
  std::string error;
  json cycle() const {
    if (nvml) return nvml_cycle(*nvml);
    if (cuda) return cuda_cycle(*cuda);
    return {{"ret", -1}, {"error", error}};
  }
};

Loaded load(const std::string& mode, const std::string& library) {
  Loaded l;
  if (mode == "nvml") {
    auto api = nvml::load_nvml(library);
    if (api) l.nvml = std::move(*api);
    else l.error = api.error().message;
  } else if (mode == "cuda") {
    auto api = cuda::load_cuda(library);
    if (api) l.cuda = std::move(*api);
    else l.error = api.error().message;
  } else {
    l.error = "mode " + mode + " not supported";
  }
  return l;
}

std::string line_of(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

int churn_child_main(const std::string& mode, const std::string& library) {
  std::string line = line_of(load(mode, library).cycle());
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  return 0;
}

// The fork server: loads the library once, then for each byte on stdin forks
// a process that runs one init/teardown cycle and exits. That child's line
// comes back through a pipe; exactly one line per request goes to stdout (a
// crash line when the child died without one). EOF on stdin ends it.
int churn_zygote_main(const std::string& mode, const std::string& library) {
  Loaded lib = load(mode, library);
  char req = 0;
  while (true) {
    ssize_t n = ::read(0, &req, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return 1;
    pid_t pid = ::fork();
    if (pid < 0) return 1;
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // ends with the fork server (which ends with churn)
      ::close(fds[0]);
      write_all(fds[1], line_of(lib.cycle()));
      ::_exit(0);
    }
    ::close(fds[1]);
    std::string got;
    char buf[4096];
    while (true) {
      ssize_t r = ::read(fds[0], buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got.append(buf, static_cast<std::size_t>(r));
    }
    ::close(fds[0]);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0 && !got.empty() && got.back() == '\n';
    if (!clean)
      got = line_of({{"crashed", WIFSIGNALED(st) ? fmt::format("signal {}", WTERMSIG(st))
                                                  : fmt::format("exit {}", WEXITSTATUS(st))}});
    if (!write_all(1, got)) return 0;
  }
}

}  // namespace gd::churn
