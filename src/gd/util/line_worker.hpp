// A worker process that reports in lines: the child side writes whole lines
// to a file descriptor, the parent side runs the worker under one deadline and
// hands over each stdout line as it arrives. Used by the NVML and CUDA probes,
// whose workers load a driver library that may hang or crash.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace gd::util {

// Child side: writes `line` and a newline to fd, retrying short writes. False
// when the reader is gone (nothing useful is left to do then).
bool write_line(int fd, std::string_view line);

struct LineWorkerEnd {
  bool started = false;
  std::string spawn_error;       // when !started
  bool timed_out = false;        // the deadline passed before the worker finished: it was killed
  bool ended_early = false;      // it exited without reporting done (crash, exit)
  std::string exit_description;  // "exit 3", "killed by signal 11 (Segmentation fault)" when ended_early
  std::string stderr_text;       // what the worker (and its library) printed: trimmed, printable, at most 4 KiB
  double elapsed_ms = 0;
};

// Parent side: starts argv (own process group, stdin /dev/null), hands each
// stdout line to on_line until EOF or the deadline (timeout_s from now). A
// line on_line rejects is noted in stderr_text. `done` is the caller's flag,
// set by on_line at the protocol's last line; a worker still running at the
// deadline without it is killed with its group (abandoned if unkillable).
LineWorkerEnd run_line_worker(const std::vector<std::string>& argv, double timeout_s,
                              const std::function<bool(std::string_view)>& on_line, const bool& done);

}  // namespace gd::util
