// The processes probe: which processes sleep uninterruptibly (D) inside the
// NVIDIA driver, and which hold which /dev/nvidia* node open, from
// /proc/PID/{stat,wchan,stack,fd} inside the root (docs/hangs.md). Bounded: at
// most k_max_processes entries and k_process_budget of time; what was left
// out is counted, never guessed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::probe {

inline constexpr std::size_t k_max_processes = 200'000;  // /proc entries read at most
inline constexpr std::size_t k_max_tasks = 4096;         // tasks kept
inline constexpr std::size_t k_max_fds_per_process = 65'536;
inline constexpr std::chrono::milliseconds k_process_budget{1500};

// What /proc/PID/stat says: "1234 (nvidia-smi) D 1200 ... starttime ...".
struct ProcStat {
  int pid = 0;
  std::string comm;  // between the first '(' and the last ')', printable
  std::string state;
  int ppid = 0;
  std::uint64_t start_ticks = 0;  // field 22: clock ticks after boot
};
std::optional<ProcStat> parse_proc_stat(std::string_view text);
// Only the state letter of the same (what most processes need): nullopt when
// parse_proc_stat would refuse the text.
std::optional<char> proc_stat_state(std::string_view text);

// "[<0>] os_acquire_rwlock_write+0x31/0x40 [nvidia]" lines -> the frames
// ("os_acquire_rwlock_write+0x31/0x40 [nvidia]"), at most 16.
std::vector<std::string> parse_proc_stack(std::string_view text);

// A frame or wait channel inside the driver: an [nvidia*] module, or (a wait
// channel has no module) a symbol of the driver's own families (nv_, _nv…rm,
// os_, uvm_, nvidia_, nvkms_).
bool frame_in_driver(std::string_view frame);
bool wchan_in_driver(std::string_view symbol);

struct ProcessesOptions {
  // Read every process's fds for /dev/nvidia* holders (else only those in D).
  bool scan_holders = true;
  std::string holders_note;
  std::optional<std::int64_t> boot_time_unix_s;  // /proc/stat btime, for start times
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::now() + k_process_budget;
  // Processes per thread before a second thread (one per core, at most 8) joins the walk.
  std::size_t min_per_thread = 2048;
};

model::ProcessesInfo read_processes(const host::HostRoot& root, const ProcessesOptions& options);

}  // namespace gd::probe
