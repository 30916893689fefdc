#include "gd/util/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace gd::util {

Child::Child(Child&& o) noexcept
    : m_pid(std::exchange(o.m_pid, -1)),
      m_out(std::exchange(o.m_out, -1)),
      m_err(std::exchange(o.m_err, -1)),
      m_reaped(o.m_reaped) {}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    close_fds();
    m_pid = std::exchange(o.m_pid, -1);
    m_out = std::exchange(o.m_out, -1);
    m_err = std::exchange(o.m_err, -1);
    m_reaped = o.m_reaped;
  }
  return *this;
}

Child::~Child() {
  if (m_pid > 0 && !m_reaped) kill_and_reap(std::chrono::milliseconds(20));
  close_fds();
}

void Child::close_fds() {
  if (m_out >= 0) ::close(m_out);
  if (m_err >= 0) ::close(m_err);
  m_out = m_err = -1;
}

bool Child::drain(Clock::time_point deadline, const std::function<void(std::string_view)>& on_out,
                  const std::function<void(std::string_view)>& on_err) {
  char buf[65536];
  while (m_out >= 0 || m_err >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd fds[2] = {{m_out, POLLIN, 0}, {m_err, POLLIN, 0}};
    int n = ::poll(fds, 2, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) return false;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r > 0) {
        (i == 0 ? on_out : on_err)(std::string_view(buf, static_cast<size_t>(r)));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(fds[i].fd);
        (i == 0 ? m_out : m_err) = -1;
      }
    }
  }
  return true;
}

bool Child::kill_and_reap(std::chrono::milliseconds grace) {
  if (m_pid <= 0 || m_reaped) return true;
  ::kill(-m_pid, SIGKILL);
  ::kill(m_pid, SIGKILL);
  auto until = Clock::now() + grace;
  while (true) {
    int st = 0;
    pid_t r = ::waitpid(m_pid, &st, WNOHANG);
    if (r == m_pid || (r < 0 && errno == ECHILD)) {
      m_reaped = true;
      return true;
    }
    if (Clock::now() >= until) return false;  // stuck in the kernel: abandon
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

int Child::wait_status(Clock::time_point deadline) {
  while (m_pid > 0 && !m_reaped) {
    int st = 0;
    pid_t r = ::waitpid(m_pid, &st, WNOHANG);
    if (r == m_pid) {
      m_reaped = true;
      return st;
    }
    if (r < 0) return -1;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return -1;
    // Sleep until the child exits (a pidfd turns readable), not a fixed
    // slice: `churn` reaps thousands of children and each ms shows.
#ifdef SYS_pidfd_open
    int pfd = static_cast<int>(::syscall(SYS_pidfd_open, m_pid, 0));
    if (pfd >= 0) {
      pollfd p{pfd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
      ::close(pfd);
      continue;
    }
#endif
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return -1;
}

namespace {

// argv[0] as execvp would find it: as given when it has a slash, else the
// first executable of that name in PATH (default /usr/local/bin:/usr/bin:/bin).
std::string find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) return name;  // execve then says ENOENT
    dirs.remove_prefix(colon + 1);
  }
}

}  // namespace

Result<pid_t> spawn_in_group(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd) {
  if (argv.empty()) return make_error("spawn: empty argv");
  std::string path = find_executable(argv[0]);
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  const int fds[3] = {in_fd >= 0 ? in_fd : devnull, out_fd >= 0 ? out_fd : devnull, err_fd >= 0 ? err_fd : devnull};
  int report[2];  // the child writes execve's errno here; EOF (close-on-exec) means it ran
  if (::pipe2(report, O_CLOEXEC) != 0) {
    if (devnull >= 0) ::close(devnull);
    return make_error(fmt::format("cannot run {}: pipe: {}", argv[0], std::strerror(errno)));
  }
  sigset_t none;
  sigemptyset(&none);
  pid_t parent = ::getpid();
  // vfork: no copy of the parent's page tables (churn starts thousands). The
  // child only makes system calls before execve.
  pid_t pid = ::vfork();
  if (pid == 0) {
    ::setpgid(0, 0);                       // own process group: killed as one
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);    // never outlives the gpudoctor that started it
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    for (int target = 0; target < 3; ++target)
      if (fds[target] >= 0) ::dup2(fds[target], target);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // watch blocks SIGTERM/SIGHUP for sigtimedwait: not its children
    ::execve(path.c_str(), cargv.data(), environ);
    int err = errno;
    [[maybe_unused]] auto n = ::write(report[1], &err, sizeof err);
    ::_exit(127);
  }
  int spawn_errno = errno;
  ::close(report[1]);
  if (devnull >= 0) ::close(devnull);
  if (pid < 0) {
    ::close(report[0]);
    return make_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(spawn_errno)));
  }
  int child_err = 0;
  ssize_t got;
  while ((got = ::read(report[0], &child_err, sizeof child_err)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (got == static_cast<ssize_t>(sizeof child_err)) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return make_error(fmt::format("cannot run {}: {}", argv[0], std::strerror(child_err)));
  }
  return pid;
}

Result<Child> spawn(const std::vector<std::string>& argv) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return make_error(fmt::format("pipe: {}", std::strerror(errno)));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return make_error(fmt::format("pipe: {}", std::strerror(errno)));
  }
  auto pid = spawn_in_group(argv, -1, out[1], err[1]);
  ::close(out[1]);
  ::close(err[1]);
  if (!pid) {
    ::close(out[0]);
    ::close(err[0]);
    return make_error(pid.error().message);
  }
  return Child(*pid, out[0], err[0]);
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout, std::size_t max_output) {
  RunResult res;
  auto start = Clock::now();
  auto child = spawn(argv);
  if (!child) {
    res.err = child.error().message;
    return res;
  }
  res.started = true;
  auto keep = [max_output](std::string& dst) {
    return [&dst, max_output](std::string_view chunk) {
      if (dst.size() < max_output) dst.append(chunk.substr(0, max_output - dst.size()));
    };
  };
  auto deadline = start + timeout;
  bool finished = child->drain(deadline, keep(res.out), keep(res.err));
  int st = finished ? child->wait_status(deadline) : -1;
  if (!finished || st == -1) {
    res.timed_out = true;
    child->kill_and_reap();
  } else if (WIFEXITED(st)) {
    res.exit_code = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    res.signal = WTERMSIG(st);
  }
  res.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return res;
}

std::string describe_wait_status(int status) {
  if (status < 0) return "unknown status";
  if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return fmt::format("status {}", status);
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "gpudoctor";
  return std::string(buf, static_cast<size_t>(n));
}

std::string helper_exe(std::string_view name, const std::string& beside) {
  auto slash = beside.rfind('/');
  if (slash == std::string::npos) return "";
  std::string dir = beside.substr(0, slash + 1);
  // The build tree keeps helpers beside gpudoctor; the package puts them in <prefix>/libexec/gpudoctor.
  for (const std::string& candidate : {dir + std::string(name), dir + "../libexec/gpudoctor/" + std::string(name)})
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  return "";
}

std::string worker_exe() {
  std::string self = self_exe();
  std::string w = helper_exe("gpudoctor-worker", self);
  return w.empty() ? self : w;
}

}  // namespace gd::util
