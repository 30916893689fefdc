// Follows a growing log without ever blocking: a file like `tail -F` (new
// lines only, survives rotation and truncation) or the live root's /dev/kmsg
// (new records only). `watch` polls it once per tick.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "gd/host/host_root.hpp"
#include "gd/util/result.hpp"

namespace gd::host {

class LogFollower {
 public:
  // Follows `path` from its current end. A missing file is waited for (and
  // then read from its start); another file at the path (rotation) is read
  // from its start once the old one is read to its end; a file that shrank
  // (truncation) is read again from 0. FIFOs, devices and directories are
  // refused (reported once as a problem).
  static LogFollower file(std::string path);
  // The live root's /dev/kmsg, O_NONBLOCK, from after its last record.
  // Error names why (not the live root, permission: needs CAP_SYSLOG when
  // kernel.dmesg_restrict is 1).
  static Result<LogFollower> kmsg(const HostRoot& root);

  LogFollower(LogFollower&& o) noexcept;
  LogFollower& operator=(LogFollower&& o) noexcept;
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;
  ~LogFollower();

  // Appends to `out` the bytes added since the last call, at most max_bytes
  // (the rest waits for the next call). Never blocks. Trouble (unreadable
  // file, kmsg records overwritten) goes to `problems`, each kind once until
  // it clears.
  void poll(std::string& out, std::size_t max_bytes, std::vector<std::string>& problems);

  // "file PATH" or "/dev/kmsg".
  std::string describe() const;

 private:
  LogFollower() = default;
  void poll_file(std::string& out, std::size_t max_bytes, std::vector<std::string>& problems);
  void poll_kmsg(std::string& out, std::size_t max_bytes, std::vector<std::string>& problems);
  bool open_file(bool from_end, std::vector<std::string>& problems);
  void close();

  bool m_kmsg = false;
  std::string m_path;
  int m_fd = -1;
  dev_t m_dev = 0;
  ino_t m_ino = 0;
  std::uint64_t m_offset = 0;
  bool m_started = false;      // the first open happened (later opens read from the start)
  std::string m_last_problem;  // reported once
};

}  // namespace gd::host
