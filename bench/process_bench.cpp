// gd-process-bench [N] [DIR]: the processes probe on a node root with N
// processes (default 10,000), against the floor of opening and reading each
// /proc/PID/stat once with the probe's own read (HostRoot::read_beneath: openat2
// beneath /proc's descriptor, no link followed), on one thread and on every
// core, in the same run.
// Each process has a stat file and an fd dir with three links; one in a
// hundred holds /dev/nvidia0, one in a thousand sleeps in D inside the
// driver. Reports the median of 5 for: the floor, the probe when NVML
// answered (only D-state processes looked at closely) and when it did not
// (every process's fds read for holders).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "gd/host/host_root.hpp"
#include "gd/probe/processes.hpp"

namespace fs = std::filesystem;

namespace {

void make_root(const fs::path& root, int n) {
  fs::create_directories(root / "sys/bus/pci/devices");
  for (int pid = 1; pid <= n; ++pid) {
    fs::path d = root / "proc" / std::to_string(pid);
    fs::create_directories(d / "fd");
    bool blocked = pid % 1000 == 7;
    std::ofstream(d / "stat") << fmt::format(
        "{} (worker{}) {} 1 {} {} 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 {} 1000 200 18446744073709551615 1 1 0\n",
        pid, pid % 97, blocked ? 'D' : 'S', pid, pid, pid * 10);
    std::ofstream(d / "wchan") << (blocked ? "os_acquire_rwlock_write" : "0");
    if (blocked) std::ofstream(d / "stack") << "[<0>] os_acquire_rwlock_write+0x31/0x40 [nvidia]\n";
    const char* targets[] = {"/dev/null", "socket:[1234]", "/var/log/x.log"};
    for (int fd = 0; fd < 3; ++fd) fs::create_symlink(targets[fd], d / "fd" / std::to_string(fd));
    if (pid % 100 == 3 || blocked) fs::create_symlink("/dev/nvidia0", d / "fd" / "3");
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class F>
double time_ms(F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  fs::path root = argc > 2 ? fs::path(argv[2]) : fs::temp_directory_path() / fmt::format("gd-process-bench-{}", n);
  if (!fs::exists(root / "proc")) make_root(root, n);
  gd::host::HostRoot host(root);
  int proc_fd = ::open((root / "proc").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  // Opens and reads the stat of pids lo..hi-1, with the probe's own read.
  auto read_stats = [&](int lo, int hi) {
    char buf[4096];
    for (int pid = lo; pid < hi; ++pid) {
      std::string rel = fmt::format("{}/stat", pid);
      (void)gd::host::HostRoot::read_beneath(proc_fd, rel.c_str(), buf, sizeof buf);
    }
  };
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<double> floor, floor_cores, quiet, scan;
  std::size_t tasks_quiet = 0, tasks_scan = 0;
  for (int run = 0; run < 5; ++run) {
    floor.push_back(time_ms([&] { read_stats(1, n + 1); }));
    floor_cores.push_back(time_ms([&] {
      std::vector<std::jthread> threads;
      for (int i = 0; i < cores; ++i) threads.emplace_back(read_stats, 1 + n * i / cores, 1 + n * (i + 1) / cores);
    }));
    gd::probe::ProcessesOptions o;
    o.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    o.scan_holders = false;
    quiet.push_back(time_ms([&] { tasks_quiet = gd::probe::read_processes(host, o).tasks.size(); }));
    o.scan_holders = true;
    scan.push_back(time_ms([&] { tasks_scan = gd::probe::read_processes(host, o).tasks.size(); }));
  }
  double f = median(floor), fc = median(floor_cores), q = median(quiet), s = median(scan);
  fmt::print("processes: {} (root {}), {} cores\n", n, root.string(), cores);
  fmt::print("floor: open+read+close of each /proc/PID/stat   {:8.1f} ms\n", f);
  fmt::print("the same on every core                          {:8.1f} ms\n", fc);
  fmt::print("probe, NVML answered (D-state tasks only)      {:8.1f} ms  {:.2f}x the floor, {:.2f}x on every core  ({} tasks)\n",
             q, q / f, q / fc, tasks_quiet);
  fmt::print("probe, NVML hung (every process's fds read)     {:8.1f} ms  {:.2f}x the floor  ({} tasks)\n", s, s / f,
             tasks_scan);
  return 0;
}
