#include "gd/util/line_worker.hpp"

#include <unistd.h>

#include <chrono>

#include "gd/util/strings.hpp"
#include "gd/util/subprocess.hpp"

namespace gd::util {

namespace {

constexpr std::size_t k_max_stderr = 4096;

}  // namespace

bool write_line(int fd, std::string_view line) {
  std::string s(line);
  s += '\n';
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

LineWorkerEnd run_line_worker(const std::vector<std::string>& argv, double timeout_s,
                              const std::function<bool(std::string_view)>& on_line, const bool& done) {
  LineWorkerEnd end;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  auto child = spawn(argv);
  if (!child) {
    end.spawn_error = child.error().message;
    return end;
  }
  end.started = true;
  std::string pending, err;
  auto on_out = [&](std::string_view chunk) {
    pending.append(chunk);
    size_t pos;
    while ((pos = pending.find('\n')) != std::string::npos) {
      if (!on_line(std::string_view(pending).substr(0, pos))) err += "gpudoctor: unreadable worker line\n";
      pending.erase(0, pos + 1);
    }
  };
  auto on_err = [&](std::string_view chunk) {
    if (err.size() < k_max_stderr) err.append(chunk.substr(0, k_max_stderr - err.size()));
  };
  bool finished = child->drain(deadline, on_out, on_err);
  end.stderr_text = std::string(trim(printable(err, k_max_stderr)));
  if (!finished && !done) {
    end.timed_out = true;
    child->kill_and_reap();
  } else {
    int st = child->wait_status(Clock::now() + std::chrono::milliseconds(200));
    if (!done) {
      end.ended_early = true;
      end.exit_description = describe_wait_status(st);
    }
  }
  end.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  return end;
}

}  // namespace gd::util
