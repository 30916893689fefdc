// driver.stuck_tasks, kernel_log.driver_stall: processes that wait inside the
// NVIDIA driver and cannot be killed, now (the processes probe) and as the
// kernel reported them (hung-task, lockup and RCU-stall reports whose frames
// are in [nvidia*] modules). docs/hangs.md.
#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gd/rule/facts.hpp"
#include "gd/rule/hang_causes.hpp"
#include "gd/rule/kernel_log_facts.hpp"
#include "gd/rule/rule.hpp"
#include "gd/util/time.hpp"

namespace gd::rule {

using model::Finding;
using model::KernelEvent;
using model::Severity;

namespace {

constexpr const char* k_unkillable =
    "A task in uninterruptible sleep (D) inside the driver cannot be ended: kill -9 is delivered only when it leaves "
    "the kernel, a GPU reset is refused while it holds the GPU, and new NVML and CUDA calls queue behind the lock it "
    "waits on. Only a reboot releases it.";

std::vector<std::string> reboot_steps() {
  return {"Do not rely on kill -9: a task in D state does not die until the driver lets it go",
          "Drain the node so no new job lands on it (Slurm: scontrol update NodeName=$(hostname -s) State=DRAIN "
          "Reason=\"GPU driver stuck\")",
          "Reboot the node (sudo systemctl reboot); if the reboot hangs on the driver, power-cycle it through the BMC"};
}

// The GPUs a task holds, as bus ids where the minor is known.
std::vector<std::string> held_gpus(const model::Snapshot& s, const model::GpuTask& t) {
  std::vector<std::string> out;
  for (const auto& d : t.devices)
    if (auto bus = bus_id_of_node(s, d); bus && std::find(out.begin(), out.end(), *bus) == out.end())
      out.push_back(*bus);
  return out;
}

// The GPU a stalled process was using: an Xid that names its pid, or the devices it holds now.
std::optional<std::string> gpu_of_pid(const model::Snapshot& s, std::optional<int> pid) {
  if (!pid) return std::nullopt;
  for (const auto& e : s.kernel_log.events)
    if (e.kind == model::KernelEventKind::xid && e.pid == pid && e.bus_id) return e.bus_id;
  for (const auto& t : s.processes.tasks)
    if (t.pid == *pid)
      if (auto g = held_gpus(s, t); !g.empty()) return g.front();
  return std::nullopt;
}

std::string_view stall_what(model::KernelEventKind k) {
  switch (k) {
    case model::KernelEventKind::hung_task: return "hung task";
    case model::KernelEventKind::soft_lockup: return "soft lockup";
    case model::KernelEventKind::hard_lockup: return "hard lockup";
    default: return "RCU stall";
  }
}

std::string stall_text(const KernelEvent& e) {
  std::string who = e.process ? fmt::format(" {}{}", *e.process, e.pid ? fmt::format(" (pid {})", *e.pid) : "")
                              : std::string();
  std::string cpu = e.cpu ? fmt::format(" on CPU {}", *e.cpu) : std::string();
  std::string how = e.stalled_s ? fmt::format(", {} for {:g} s", e.kind == model::KernelEventKind::hung_task
                                                                      ? "blocked"
                                                                      : "stuck",
                                              *e.stalled_s)
                                : std::string();
  return fmt::format("{}{}{}{}", stall_what(e.kind), who, cpu, how);
}

}  // namespace

void rule_driver_stuck_tasks(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  std::vector<const model::GpuTask*> stuck;
  for (const auto& t : s.processes.tasks)
    if (t.in_driver) stuck.push_back(&t);
  if (stuck.empty()) return;
  Finding f;
  f.severity = Severity::critical;
  std::vector<std::string> names, gpus;
  for (const auto* t : stuck) {
    names.push_back(fmt::format("{} (pid {})", t->comm, t->pid));
    for (auto& g : held_gpus(s, *t))
      if (std::find(gpus.begin(), gpus.end(), g) == gpus.end()) gpus.push_back(g);
    std::string line = t->thread_tid ? fmt::format("pid {} {}: its thread {} ({}) in state D, the main thread {}",
                                                   t->pid, t->comm, *t->thread_tid, t->thread_comm, t->state)
                                     : fmt::format("pid {} {}: state D", t->pid, t->comm);
    if (t->started_unix_s) line += fmt::format(", running since {}", util::format_utc(*t->started_unix_s));
    if (!t->wchan.empty()) line += ", waiting in " + t->wchan;
    for (const auto& frame : t->stack)
      if (frame.find(" [nvidia") != std::string::npos) {
        line += ", at " + frame;
        break;
      }
    if (!t->devices.empty()) line += fmt::format(", holding {}", fmt::join(t->devices, " "));
    if (auto g = held_gpus(s, *t); !g.empty()) line += fmt::format(" (GPU {})", fmt::join(g, ", "));
    f.evidence.push_back(std::move(line));
    for (const auto& e : s.kernel_log.events)
      if (model::is_stall(e.kind) && e.pid == t->pid) f.evidence.push_back(event_evidence(e));
  }
  if (gpus.size() == 1) f.gpu = gpus.front();
  f.summary = fmt::format("{} process(es) stuck inside the NVIDIA driver{}: {}", stuck.size(),
                          gpus.empty() ? "" : fmt::format(" on GPU {}", fmt::join(gpus, ", ")), fmt::join(names, ", "));
  for (const auto& t : s.processes.tasks)  // the other processes holding the same GPUs
    if (!t.in_driver && !t.devices.empty())
      if (auto g = held_gpus(s, t); std::any_of(g.begin(), g.end(), [&](const std::string& b) {
            return std::find(gpus.begin(), gpus.end(), b) != gpus.end();
          }))
        f.evidence.push_back(fmt::format("also holding it: {} (pid {}, state {})", t.comm, t.pid, t.state));
  if (s.nvml.state == model::NvmlState::hung)
    f.evidence.push_back(fmt::format("NVML hung in {}: it waits behind them", s.nvml.hung_call.value_or("a call")));
  f.cause = k_unkillable;
  f.fix = reboot_steps();
  f.needs_root = true;
  f.needs_reboot = true;
  out.push_back(std::move(f));
}

void rule_kernel_log_driver_stall(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  std::map<int, std::vector<const KernelEvent*>> by_boot;  // newest boot first below
  for (const auto& e : s.kernel_log.events)
    if (model::is_stall(e.kind)) by_boot[e.boot.value_or(0)].push_back(&e);
  for (auto it = by_boot.rbegin(); it != by_boot.rend(); ++it) {
    const auto& events = it->second;
    Finding f;
    f.severity = current_severity(*events.front());
    std::vector<std::string> what;
    for (const auto* e : events) {
      std::string t = stall_text(*e);
      if (std::find(what.begin(), what.end(), t) == what.end() && what.size() < 3) what.push_back(t);
    }
    f.summary = fmt::format("The kernel reported {} stall(s) inside the NVIDIA driver {}: {}{}", events.size(),
                            boot_label(it->first), fmt::join(what, "; "), events.size() > what.size() ? "; ..." : "");
    f.evidence = events_evidence(events);
    for (const auto* e : events) {
      if (!e->driver_frames.empty())
        f.evidence.push_back(fmt::format("{} in the driver at: {}", stall_text(*e), fmt::join(e->driver_frames, " <- ")));
      else if (e->rip)
        f.evidence.push_back(fmt::format("{} in the driver at RIP {}", stall_text(*e), *e->rip));
      if (auto g = gpu_of_pid(s, e->pid); g && !f.gpu) f.gpu = g;
      if (f.evidence.size() > 12) break;
    }
    if (f.gpu) f.evidence.push_back(fmt::format("the stalled process was using GPU {}", *f.gpu));
    if (it->first == 0 && s.nvml.state == model::NvmlState::hung)
      f.evidence.push_back(fmt::format("NVML hung in {} this run: consistent with the driver still being held",
                                       s.nvml.hung_call.value_or("a call")));
    if (it->first == 0) {
      f.cause = k_unkillable;
      f.fix = reboot_steps();
      f.fix.insert(f.fix.begin(), "Look at what came before it on the same GPU: gpudoctor xid --since boot");
      f.needs_reboot = true;
    } else {
      f.cause = "An earlier boot ended with the driver stuck; the reboot released it. If it recurs, look at the Xids "
                "that preceded it (gpudoctor xid --since previous-boot) and at the GPU's PCIe link and power.";
      f.fix = {"gpudoctor xid --since previous-boot"};
      f.earlier_boots_only = true;
    }
    f.needs_root = true;
    out.push_back(std::move(f));
  }
}

}  // namespace gd::rule
