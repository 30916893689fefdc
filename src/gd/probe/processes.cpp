#include "gd/probe/processes.hpp"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "gd/util/strings.hpp"

namespace gd::probe {

namespace {

using util::starts_with;

constexpr std::size_t k_max_stack_frames = 16;

bool is_pid_name(std::string_view name) {
  return !name.empty() && name.size() <= 10 && std::all_of(name.begin(), name.end(), [](char c) {
           return c >= '0' && c <= '9';
         });
}

// "/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-caps/nvidia-cap1", ...
bool is_nvidia_node(std::string_view target) { return starts_with(target, "/dev/nvidia"); }

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
  ProcStat st;
  auto pid = util::parse_u64(util::trim(text.substr(0, open)));
  if (!pid || *pid == 0 || *pid > 0x7fffffff) return std::nullopt;
  st.pid = static_cast<int>(*pid);
  st.comm = util::printable(text.substr(open + 1, close - open - 1), 64);
  auto fields = util::split_ws(text.substr(close + 1));  // fields 3.. : state ppid pgrp ...
  if (fields.empty() || fields[0].size() != 1) return std::nullopt;
  st.state = std::string(fields[0]);
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

model::ProcessesInfo read_processes(const host::HostRoot& root, const ProcessesOptions& options) {
  model::ProcessesInfo out;
  out.holders_scanned = options.scan_holders;
  out.holders_note = options.holders_note;
  auto entries = root.list_dir("/proc");
  if (!entries) {
    out.problems.push_back(entries.error().message);
    return out;
  }
  out.read = true;
  std::vector<int> pids;
  for (const auto& name : *entries)
    if (is_pid_name(name)) pids.push_back(static_cast<int>(*util::parse_u64(name)));
  std::sort(pids.begin(), pids.end());
  if (pids.size() > k_max_processes) {
    out.not_read += pids.size() - k_max_processes;
    pids.resize(k_max_processes);
  }
  const double ticks = root.is_live() ? static_cast<double>(::sysconf(_SC_CLK_TCK)) : 100.0;  // USER_HZ
  std::size_t done = 0;
  for (int pid : pids) {
    if ((done & 63) == 0 && std::chrono::steady_clock::now() > options.deadline) break;
    ++done;
    std::string dir = fmt::format("/proc/{}", pid);
    auto stat_text = root.read_file(dir + "/stat", 4096);
    if (!stat_text) continue;  // gone since the listing, or not a process dir
    auto st = parse_proc_stat(*stat_text);
    if (!st) {
      out.problems.push_back(fmt::format("{}/stat: not in the kernel's format", root.display_path(dir).string()));
      continue;
    }
    ++out.processes;
    bool blocked = st->state == "D";
    if (blocked) ++out.uninterruptible;
    if (!blocked && !options.scan_holders) continue;
    model::GpuTask t;
    if (auto fds = root.read_links(dir + "/fd", k_max_fds_per_process)) {
      for (const auto& [fd, target] : *fds)
        if (is_nvidia_node(target) && std::find(t.devices.begin(), t.devices.end(), target) == t.devices.end() &&
            t.devices.size() < 64)
          t.devices.push_back(util::printable(target, 96));
      std::sort(t.devices.begin(), t.devices.end());
    }
    if (!blocked && t.devices.empty()) continue;
    t.pid = st->pid;
    t.comm = st->comm;
    t.state = st->state;
    if (options.boot_time_unix_s && st->start_ticks)
      t.started_unix_s = *options.boot_time_unix_s + static_cast<std::int64_t>(st->start_ticks / ticks);
    if (blocked) {
      if (auto w = root.read_file(dir + "/wchan", 256)) {
        std::string_view symbol = util::trim(*w);
        if (symbol != "0") t.wchan = util::printable(symbol, 96);
      }
      if (auto stack = root.read_file(dir + "/stack", 16384)) t.stack = parse_proc_stack(*stack);
      bool frames = std::any_of(t.stack.begin(), t.stack.end(), [](const std::string& f) { return frame_in_driver(f); });
      t.in_driver = frames || (!t.wchan.empty() && wchan_in_driver(t.wchan)) || !t.devices.empty();
    }
    if (out.tasks.size() < k_max_tasks) out.tasks.push_back(std::move(t));
  }
  if (done < pids.size()) {
    out.not_read += pids.size() - done;
    out.problems.push_back(fmt::format("/proc: {} of {} processes not read: the {} ms budget ran out", pids.size() - done,
                                       pids.size(), k_process_budget.count()));
  }
  return out;
}

}  // namespace gd::probe
