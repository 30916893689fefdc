#include "gd/probe/processes.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <span>
#include <thread>

#include <fmt/format.h>

#include "gd/util/strings.hpp"

namespace gd::probe {

namespace {

using util::starts_with;

constexpr std::size_t k_max_stack_frames = 16;

// The pid (or tid) a /proc entry's name is; nullopt for other names ("self", "sys", ...).
std::optional<int> pid_of(std::string_view name) {
  if (name.empty() || name.size() > 10 || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  auto pid = util::parse_u64(name);
  if (!pid || *pid == 0 || *pid > 0x7fffffff) return std::nullopt;
  return static_cast<int>(*pid);
}

// "/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-caps/nvidia-cap1", ...
bool is_nvidia_node(std::string_view target) { return starts_with(target, "/dev/nvidia"); }

}  // namespace

std::optional<char> proc_stat_state(std::string_view text) {
  auto open = text.find(" (");
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
  auto pid = util::parse_u64(text.substr(0, open));
  if (!pid || *pid == 0 || *pid > 0x7fffffff) return std::nullopt;
  auto rest = util::trim(text.substr(close + 1));  // "S 1 4242 ..."
  if (rest.empty() || (rest.size() > 1 && rest[1] != ' ' && rest[1] != '\n' && rest[1] != '\t')) return std::nullopt;
  return rest[0];
}

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  auto state = proc_stat_state(text);
  if (!state) return std::nullopt;
  auto open = text.find(" (");
  auto close = text.rfind(')');
  ProcStat st;
  st.pid = static_cast<int>(*util::parse_u64(text.substr(0, open)));
  st.comm = util::printable(text.substr(open + 2, close - open - 2), 64);
  st.state = std::string(1, *state);
  auto fields = util::split_ws(text.substr(close + 1));  // fields 3.. : state ppid pgrp ...
  if (fields.size() > 1)
    if (auto ppid = util::parse_u64(fields[1]); ppid && *ppid <= 0x7fffffff) st.ppid = static_cast<int>(*ppid);
  if (fields.size() > 19) st.start_ticks = util::parse_u64(fields[19]).value_or(0);  // field 22
  return st;
}

std::vector<std::string> parse_proc_stack(std::string_view text) {
  std::vector<std::string> frames;
  for (auto raw : util::lines(text)) {
    auto line = util::trim(raw);
    if (starts_with(line, "[<")) {
      auto close = line.find(">] ");
      if (close == std::string_view::npos) continue;
      line.remove_prefix(close + 3);
    }
    if (line.empty()) continue;
    frames.push_back(util::printable(line, 160));
    if (frames.size() >= k_max_stack_frames) break;
  }
  return frames;
}

bool frame_in_driver(std::string_view frame) {
  auto open = frame.rfind(" [");
  return open != std::string_view::npos && starts_with(frame.substr(open + 2), "nvidia");
}

bool wchan_in_driver(std::string_view s) {
  if (frame_in_driver(s)) return true;
  for (std::string_view prefix : {"nv_", "nvidia_", "os_", "uvm_", "nvkms_", "_nv"})
    if (starts_with(s, prefix)) return true;
  return false;
}

namespace {

constexpr std::size_t k_max_threads_per_process = 4096;

// The wait channel and stack of pid's task `dir` ("PID" or "PID/task/TID"), into t; whether they are in the driver.
bool read_wait(int proc_fd, std::string_view dir, model::GpuTask& t, char* buf, std::size_t cap) {
  using host::HostRoot;
  char path[64];
  auto at = [&](std::string_view leaf) {
    auto r = fmt::format_to_n(path, sizeof path - 1, "{}/{}", dir, leaf);
    *r.out = '\0';
    return path;
  };
  t.wchan.clear();
  t.stack.clear();
  if (long w = HostRoot::read_beneath(proc_fd, at("wchan"), buf, std::min<std::size_t>(cap, 256)); w >= 0) {
    std::string_view symbol = util::trim(std::string_view(buf, static_cast<std::size_t>(w)));
    if (symbol != "0" && !symbol.empty()) t.wchan = util::printable(symbol, 96);
  }
  if (long k = HostRoot::read_beneath(proc_fd, at("stack"), buf, cap); k >= 0)
    t.stack = parse_proc_stack(std::string_view(buf, static_cast<std::size_t>(k)));
  bool frames = std::any_of(t.stack.begin(), t.stack.end(), [](const std::string& f) { return frame_in_driver(f); });
  return frames || (!t.wchan.empty() && wchan_in_driver(t.wchan));
}

// A holder whose main thread is not in D: the first of its other threads that is (a CUDA worker inside an
// ioctl while the main thread waits for it), into t. The first in the driver is preferred.
bool stuck_thread(int proc_fd, int pid, model::GpuTask& t, char* buf, std::size_t cap,
                  const ProcessesOptions& options) {
  using host::HostRoot;
  char rel[48];
  auto r = fmt::format_to_n(rel, sizeof rel - 1, "{}/task", pid);
  *r.out = '\0';
  std::vector<int> tids;
  auto listed = HostRoot::list_beneath(proc_fd, rel, rel, [&](std::string_view name, unsigned char) {
    if (auto tid = pid_of(name); tid && *tid != pid && tids.size() < k_max_threads_per_process) tids.push_back(*tid);
  });
  if (!listed.ok() || tids.empty()) return false;
  std::sort(tids.begin(), tids.end());
  std::optional<int> found;
  std::string comm;
  model::GpuTask wait;  // the thread found: its wait channel and stack
  for (int tid : tids) {
    if (std::chrono::steady_clock::now() > options.deadline) break;
    char path[64];
    auto w = fmt::format_to_n(path, sizeof path - 1, "{}/task/{}/stat", pid, tid);
    *w.out = '\0';
    long n = HostRoot::read_beneath(proc_fd, path, buf, cap);
    if (n < 0) continue;
    std::string_view text(buf, static_cast<std::size_t>(n));
    if (proc_stat_state(text) != 'D') continue;
    std::string name = parse_proc_stat(text)->comm;  // (before read_wait reuses buf)
    model::GpuTask here;
    bool in_driver = read_wait(proc_fd, fmt::format("{}/task/{}", pid, tid), here, buf, cap);
    if (!found || in_driver) {
      found = tid;
      comm = std::move(name);
      wait = std::move(here);
    }
    if (in_driver) break;
  }
  if (!found) return false;
  t.thread_tid = found;
  t.thread_comm = std::move(comm);
  t.wchan = std::move(wait.wchan);
  t.stack = std::move(wait.stack);
  return true;
}

// One thread's share of the walk: a run of pids, in order.
struct Share {
  std::span<const int> pids;
  std::size_t done = 0;  // pids looked at (the rest: the budget ran out)
  std::uint64_t processes = 0, uninterruptible = 0;
  std::vector<model::GpuTask> tasks;
  std::vector<std::string> problems;
};

// Reads each pid's stat beneath /proc's descriptor (one open, one read), and
// looks closer at those in D (or at all of them for the holder scan).
void walk(const host::HostRoot& root, int proc_fd, const ProcessesOptions& options, Share& share) noexcept try {
  using host::HostRoot;
  const double ticks = root.is_live() ? static_cast<double>(::sysconf(_SC_CLK_TCK)) : 100.0;  // USER_HZ
  char path[40];
  char buf[4096];
  auto at = [&](int pid, std::string_view leaf) {
    auto r = fmt::format_to_n(path, sizeof path - 1, "{}/{}", pid, leaf);
    *r.out = '\0';
    return path;
  };
  auto display = [&](int pid, std::string_view leaf) {
    return root.display_path(fmt::format("/proc/{}/{}", pid, leaf)).string();
  };
  for (int pid : share.pids) {
    if ((share.done & 63) == 0 && std::chrono::steady_clock::now() > options.deadline) break;
    ++share.done;
    long n = HostRoot::read_beneath(proc_fd, at(pid, "stat"), buf, sizeof buf);
    if (n < 0) continue;  // gone since the listing, or not a process dir
    std::string_view text(buf, static_cast<std::size_t>(n));
    auto state = proc_stat_state(text);
    if (!state) {
      share.problems.push_back(fmt::format("{}: not in the kernel's format", display(pid, "stat")));
      continue;
    }
    ++share.processes;
    bool blocked = *state == 'D';
    if (blocked) ++share.uninterruptible;
    if (!blocked && !options.scan_holders) continue;
    model::GpuTask t;
    if (auto fds = HostRoot::read_links_beneath(proc_fd, at(pid, "fd"), "fd", k_max_fds_per_process)) {
      for (const auto& [fd, target] : *fds)
        if (is_nvidia_node(target) && std::find(t.devices.begin(), t.devices.end(), target) == t.devices.end() &&
            t.devices.size() < 64)
          t.devices.push_back(util::printable(target, 96));
      std::sort(t.devices.begin(), t.devices.end());
    }
    if (!blocked && t.devices.empty()) continue;
    auto st = parse_proc_stat(text);  // proc_stat_state took it: it parses
    t.pid = st->pid;
    t.comm = st->comm;
    t.state = st->state;
    if (options.boot_time_unix_s && st->start_ticks)
      t.started_unix_s = *options.boot_time_unix_s + static_cast<std::int64_t>(st->start_ticks / ticks);
    if (blocked) {
      t.in_driver = read_wait(proc_fd, fmt::format("{}", pid), t, buf, sizeof buf) || !t.devices.empty();
    } else if (stuck_thread(proc_fd, pid, t, buf, sizeof buf, options)) {  // (a holder: devices not empty)
      ++share.uninterruptible;
      t.in_driver = true;
    }
    if (share.tasks.size() < k_max_tasks) share.tasks.push_back(std::move(t));
  }
} catch (const std::exception& e) {
  share.problems.push_back(fmt::format("/proc: stopped reading processes: {}", e.what()));
}

}  // namespace

model::ProcessesInfo read_processes(const host::HostRoot& root, const ProcessesOptions& options) {
  model::ProcessesInfo out;
  out.holders_scanned = options.scan_holders;
  out.holders_note = options.holders_note;
  // One descriptor of /proc for the listing and every read beneath it; the
  // names are taken as numbers straight from the directory (no string each).
  auto proc = root.open("/proc", O_RDONLY | O_DIRECTORY);
  if (!proc) {
    out.problems.push_back(proc.error().message);
    return out;
  }
  int proc_fd = proc->get();
  std::vector<int> pids;
  auto listed = host::HostRoot::for_each_entry(proc_fd, "/proc", [&](std::string_view name, unsigned char) {
    if (auto pid = pid_of(name)) pids.push_back(*pid);
  });
  if (!listed.ok()) {
    out.problems.push_back(listed.error().message);
    return out;
  }
  out.read = true;
  std::sort(pids.begin(), pids.end());
  if (pids.size() > k_max_processes) {
    out.not_read += pids.size() - k_max_processes;
    pids.resize(k_max_processes);
  }
  // A node of many processes is read by one thread per core (at most 8), each
  // a run of pids: the time goes into the kernel's opens, which run side by side.
  std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  std::size_t per = std::max<std::size_t>(1, options.min_per_thread);
  std::size_t n_threads = std::clamp<std::size_t>(pids.size() / per, 1, std::min<std::size_t>(cores, 8));
  std::vector<Share> shares(n_threads);
  for (std::size_t i = 0; i < n_threads; ++i) {
    std::size_t lo = pids.size() * i / n_threads, hi = pids.size() * (i + 1) / n_threads;
    shares[i].pids = std::span<const int>(pids).subspan(lo, hi - lo);
  }
  {
    std::vector<std::jthread> threads;
    for (std::size_t i = 1; i < n_threads; ++i)
      threads.emplace_back([&, i] { walk(root, proc_fd, options, shares[i]); });
    walk(root, proc_fd, options, shares[0]);
  }
  std::size_t done = 0;
  for (auto& sh : shares) {
    done += sh.done;
    out.processes += sh.processes;
    out.uninterruptible += sh.uninterruptible;
    for (auto& t : sh.tasks)
      if (out.tasks.size() < k_max_tasks) out.tasks.push_back(std::move(t));
    for (auto& p : sh.problems) out.problems.push_back(std::move(p));
  }
  if (done < pids.size()) {
    out.not_read += pids.size() - done;
    out.problems.push_back(fmt::format("/proc: {} of {} processes not read: the {} ms budget ran out", pids.size() - done,
                                       pids.size(), k_process_budget.count()));
  }
  return out;
}

}  // namespace gd::probe
