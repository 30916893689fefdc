// Runs programs by argv (never through a shell) under a deadline. A child that
// does not finish in time is killed with its process group; one that cannot
// be reaped (stuck in the kernel) is abandoned, never waited on.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "gd/util/result.hpp"

namespace gd::util {

using Clock = std::chrono::steady_clock;

class Child {
 public:
  Child() = default;
  Child(pid_t pid, int out_fd, int err_fd) : m_pid(pid), m_out(out_fd), m_err(err_fd) {}
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  pid_t pid() const { return m_pid; }
  int out_fd() const { return m_out; }  // for callers that read stdout themselves
  // Reads stdout/stderr until both reach EOF (true) or the deadline passes
  // (false). Chunks are handed over as they arrive.
  bool drain(Clock::time_point deadline, const std::function<void(std::string_view)>& on_out,
             const std::function<void(std::string_view)>& on_err);
  // Kills the process group (SIGKILL) and reaps the child if it dies within
  // grace; returns false when it had to be abandoned.
  bool kill_and_reap(std::chrono::milliseconds grace = std::chrono::milliseconds(100));
  // Waits for exit (after drain saw EOF); returns the wait status or -1.
  int wait_status(Clock::time_point deadline);

 private:
  void close_fds();
  pid_t m_pid = -1;
  int m_out = -1;
  int m_err = -1;
  bool m_reaped = false;
};

// Starts argv[0] (a path, or a name searched in PATH) with stdin from
// /dev/null, stdout and stderr as pipes, in its own process group.
Result<Child> spawn(const std::vector<std::string>& argv);

// The primitive under spawn: posix_spawnp (no copy of the parent's page
// tables) of argv in its own process group, with in_fd / out_fd / err_fd as
// its 0 / 1 / 2 (-1: /dev/null). The caller keeps and closes its fds.
Result<pid_t> spawn_in_group(const std::vector<std::string>& argv, int in_fd, int out_fd, int err_fd);

struct RunResult {
  bool started = false;
  bool timed_out = false;
  int exit_code = -1;  // -1 when killed by a signal or not started
  int signal = 0;
  std::string out;
  std::string err;  // includes the spawn error when !started
  double elapsed_ms = 0;
};

// Runs to completion or deadline; keeps at most max_output bytes of each stream.
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              std::size_t max_output = 1 << 20);

// Describes a wait status: "exit 3", "killed by signal 11 (Segmentation fault)".
std::string describe_wait_status(int status);

// Absolute path of the running gpudoctor binary.
std::string self_exe();

// A helper executable (gpudoctor-worker, gpudoctor-churn-child) for the
// binary at `beside`: next to it (the build tree) or in ../libexec/gpudoctor
// (the package); "" when neither is executable.
std::string helper_exe(std::string_view name, const std::string& beside);

// The executable to run driver-library workers in: gpudoctor-worker (see
// helper_exe) when it exists (cheaper to start), else this binary.
std::string worker_exe();

}  // namespace gd::util
