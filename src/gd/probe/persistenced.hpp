// Persistence-daemon probe: is nvidia-persistenced running, going by its pid
// file, the process it names, and its socket.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::probe {

// Parses a pid file ("1234\n"): a pid in 1..4194304 (the kernel's pid_max
// limit), or nullopt on anything else.
std::optional<int> parse_pid_file(std::string_view text);
// True when /proc/<pid>/comm names the daemon; the kernel cuts comm to 15
// characters, so "nvidia-persiste" counts too.
bool is_persistenced_comm(std::string_view comm);
// Reads /run/nvidia-persistenced/{nvidia-persistenced.pid,socket} (or the
// /var/run copies) and /proc/<pid>/comm. No daemon is a normal result.
model::Persistenced read_persistenced(const host::HostRoot& host);

struct UnitInfo {
  std::optional<std::string> exec_start;  // the last non-empty ExecStart=
  bool no_persistence_mode = false;       // it passes --no-persistence-mode
};
// Parses a systemd unit or drop-in for nvidia-persistenced's ExecStart.
UnitInfo parse_persistenced_unit(std::string_view text);

}  // namespace gd::probe
