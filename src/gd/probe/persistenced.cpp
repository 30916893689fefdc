#include "gd/probe/persistenced.hpp"

#include <string>

#include <fmt/format.h>

#include "gd/util/strings.hpp"

namespace gd::probe {

namespace {

constexpr std::string_view k_daemon = "nvidia-persistenced";
constexpr std::string_view k_run_dirs[] = {"/run/nvidia-persistenced", "/var/run/nvidia-persistenced"};
constexpr int k_pid_max = 4194304;  // PID_MAX_LIMIT on 64-bit Linux

// The first of the run dirs holding `name`, as a host path with the dir's
// links (/var/run -> /run) resolved inside the root; nullopt when none does.
std::optional<std::string> find_run_file(const host::HostRoot& host, std::string_view name) {
  for (auto dir : k_run_dirs) {
    auto real_dir = host.resolve(dir);
    if (!real_dir) continue;
    std::string file = host::join(*real_dir, name);
    host::FileKind kind = host.kind(file);
    if (kind == host::FileKind::symlink) kind = host.kind_followed(file);
    if (kind != host::FileKind::missing) return file;
  }
  return std::nullopt;
}

bool process_is_daemon(const host::HostRoot& host, int pid) {
  auto comm = host.read_file(fmt::format("/proc/{}/comm", pid), 256);
  return comm && is_persistenced_comm(*comm);
}

}  // namespace

std::optional<int> parse_pid_file(std::string_view text) {
  auto pid = util::parse_u64(util::trim(text));
  if (!pid || *pid < 1 || *pid > static_cast<std::uint64_t>(k_pid_max)) return std::nullopt;
  return static_cast<int>(*pid);
}

bool is_persistenced_comm(std::string_view comm) {
  auto name = util::trim(comm);
  return name == k_daemon || name == k_daemon.substr(0, 15);
}

UnitInfo parse_persistenced_unit(std::string_view text) {
  UnitInfo u;
  for (auto raw : util::lines(text)) {
    auto line = util::trim(raw);
    if (!util::starts_with(line, "ExecStart=")) continue;
    auto cmd = util::trim(line.substr(10));
    if (cmd.empty()) continue;  // "ExecStart=" resets the list in drop-ins
    u.exec_start = std::string(cmd);
    u.no_persistence_mode = cmd.find("--no-persistence-mode") != std::string_view::npos;
  }
  return u;
}

namespace {

// The unit as systemd would pick it: /etc overrides /run overrides /lib and
// /usr/lib; drop-ins under <unit>.d/*.conf refine ExecStart in name order.
void read_unit(const host::HostRoot& host, model::Persistenced& out) {
  constexpr std::string_view k_dirs[] = {"/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system",
                                         "/usr/lib/systemd/system"};
  for (auto dir : k_dirs) {
    std::string path = host::join(dir, "nvidia-persistenced.service");
    if (!host.exists(path)) continue;
    out.unit_file = path;
    auto target = host.read_link(path);
    out.unit_masked = target && *target == "/dev/null";
    auto text = host.read_file(path, 65536);
    if (text) {
      auto u = parse_persistenced_unit(*text);
      out.unit_exec_start = u.exec_start;
      out.unit_no_persistence_mode = u.no_persistence_mode;
    }
    break;
  }
  if (!out.unit_file) return;
  for (auto dir : k_dirs) {
    std::string d = host::join(dir, "nvidia-persistenced.service.d");
    auto names = host.list_dir(d);
    if (!names) continue;
    for (const auto& n : *names) {
      if (!util::ends_with(n, ".conf")) continue;
      auto text = host.read_file(host::join(d, n), 65536);
      if (!text) continue;
      auto u = parse_persistenced_unit(*text);
      if (u.exec_start) {
        out.unit_exec_start = u.exec_start;
        out.unit_no_persistence_mode = u.no_persistence_mode;
      }
    }
  }
}

}  // namespace

model::Persistenced read_persistenced(const host::HostRoot& host) {
  model::Persistenced out;
  read_unit(host, out);
  out.socket = find_run_file(host, "socket").has_value();
  auto pid_file = find_run_file(host, "nvidia-persistenced.pid");
  if (!pid_file) return out;
  out.pid_file = true;
  auto text = host.read_file(*pid_file, 4096);
  if (!text) {
    out.problems.push_back(text.error().message);
    return out;
  }
  out.pid = parse_pid_file(*text);
  if (!out.pid) {
    out.problems.push_back(
        fmt::format("{}: expected a process id, got \"{}\"", *pid_file, util::printable(util::trim(*text), 60)));
    return out;
  }
  out.process_alive = process_is_daemon(host, *out.pid);
  return out;
}

}  // namespace gd::probe
