#include "gd/rule/hang_causes.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gd/rule/facts.hpp"
#include "gd/rule/kernel_log_facts.hpp"
#include "gd/util/strings.hpp"

namespace gd::rule {

namespace {

using model::KernelEvent;
using model::KernelEventKind;
using model::Snapshot;

std::vector<const KernelEvent*> this_boot(const Snapshot& s, bool (*pick)(const KernelEvent&)) {
  std::vector<const KernelEvent*> out;
  for (const auto& e : s.kernel_log.events)
    if (e.boot.value_or(0) == 0 && pick(e)) out.push_back(&e);
  return out;
}

std::string where(const KernelEvent& e) { return e.bus_id ? fmt::format(" on GPU {}", *e.bus_id) : std::string(); }

// What the kernel log can rule out: nothing when it could not be read.
std::string log_note(const Snapshot& s, std::string_view what) {
  if (!s.kernel_log.unavailable.empty()) return fmt::format("{}: the kernel log could not be read", what);
  return fmt::format("{} in the kernel log of this boot ({})", what,
                     s.kernel_log.source.empty() ? "no source" : s.kernel_log.source);
}

HangCause gsp_timeout(const Snapshot& s) {
  HangCause c;
  c.name = "GSP RPC timeout (Xid 119/120)";
  auto events = this_boot(s, [](const KernelEvent& e) { return e.xid == 119 || e.xid == 120; });
  if (events.empty()) {
    c.evidence.push_back(log_note(s, "no Xid 119 or 120"));
    return c;
  }
  c.found = true;
  for (const auto* e : events) c.evidence.push_back(event_evidence(*e));
  const auto& bus = events.front()->bus_id;
  c.recovery = fmt::format(
      "The GPU's GSP firmware stopped answering the driver{}: reset the GPU once nothing holds it (sudo nvidia-smi -r "
      "-i {}), else reboot; if it recurs, update the driver",
      where(*events.front()), bus ? *bus : "<bus id>");
  return c;
}

std::string_view action_name(unsigned v) {
  static constexpr std::string_view k_names[] = {"none",         "GPU reset",       "node reboot",
                                                 "drain P2P",    "drain and reset", "recover IMEX domain",
                                                 "bus reset",    "system reboot"};
  return v < std::size(k_names) ? k_names[v] : "an unknown action";
}

HangCause recovery_action(const Snapshot& s) {
  HangCause c;
  c.name = "a pending recovery action (NVML field 230, Xid 154)";
  bool read = false;
  for (const auto& g : s.nvml.gpus) {
    if (!g.recovery_action) continue;
    read = true;
    if (*g.recovery_action == 0) continue;
    c.found = true;
    c.evidence.push_back(fmt::format("GPU {}: NVML field 230 = {} ({})", g.bus_id.value_or("?"), *g.recovery_action,
                                     action_name(*g.recovery_action)));
  }
  for (const auto* e : this_boot(s, [](const KernelEvent& e) { return e.xid == 154; })) {
    c.found = true;
    c.evidence.push_back(event_evidence(*e));
  }
  if (c.found) {
    c.recovery = "Do what the driver asks (the field / the Xid 154 message names it): a GPU reset once its work is "
                 "drained, or a node reboot";
    return c;
  }
  c.evidence.push_back(read ? "NVML field 230 reads 0 (none) on the GPUs that answered"
                            : "NVML field 230 was not read (the hang, or a driver older than R570)");
  c.evidence.push_back(log_note(s, "no Xid 154"));
  return c;
}

HangCause fallen_off(const Snapshot& s) {
  HangCause c;
  c.name = "a GPU fallen off the bus";
  auto events = this_boot(s, [](const KernelEvent& e) { return is_fallen_off(e); });
  if (events.empty()) {
    c.evidence.push_back(log_note(s, "no Xid 79 or 'fallen off the bus' message"));
    return c;
  }
  c.found = true;
  for (const auto* e : events) c.evidence.push_back(event_evidence(*e));
  c.recovery = "Reboot the node: a GPU that fell off the bus does not come back without one; if it recurs, inspect "
               "its power, cooling and seating";
  return c;
}

std::string task_text(const model::GpuTask& t) {
  std::string frames;
  for (const auto& f : t.stack)
    if (f.find(" [nvidia") != std::string::npos) {
      frames = f;
      break;
    }
  std::string who = t.thread_tid ? fmt::format("{} (pid {}): its thread {} ({}) in D state", t.comm, t.pid,
                                                *t.thread_tid, t.thread_comm)
                                 : fmt::format("{} (pid {}) in D state", t.comm, t.pid);
  return fmt::format("{}{}{}{}", who,
                     t.wchan.empty() ? "" : fmt::format(", waiting in {}", t.wchan),
                     frames.empty() ? "" : fmt::format(", at {}", frames),
                     t.devices.empty() ? "" : fmt::format(", holding {}", fmt::join(t.devices, " ")));
}

HangCause stuck_tasks(const Snapshot& s) {
  HangCause c;
  c.name = "tasks stuck in the driver";
  for (const auto& t : s.processes.tasks)
    if (t.in_driver) c.evidence.push_back("now: " + task_text(t));
  for (const auto* e : this_boot(s, [](const KernelEvent& e) { return model::is_stall(e.kind); }))
    c.evidence.push_back(event_evidence(*e));
  if (!c.evidence.empty()) {
    c.found = true;
    c.recovery = "The driver is held by tasks that cannot be killed: drain the node and reboot it (power-cycle "
                 "through the BMC if the reboot hangs)";
    return c;
  }
  c.evidence.push_back(s.processes.read ? fmt::format("no process of {} is in D state inside the driver",
                                                      s.processes.processes)
                                        : "the processes could not be read");
  c.evidence.push_back(log_note(s, "no hung-task, soft-lockup or RCU-stall report inside the driver"));
  return c;
}

HangCause fullchip_reset(const Snapshot& s) {
  HangCause c;
  c.name = "a GPU reset in progress or stuck";
  // The driver's reset messages (kernel_log.gpu_reset): in full-chip reset, not back on the bus after it, ...
  auto events = this_boot(s, [](const KernelEvent& e) { return e.kind == KernelEventKind::gpu_reset; });
  if (events.empty()) {
    c.evidence.push_back(log_note(s, "no GPU reset message"));
    return c;
  }
  c.found = true;
  bool stuck = false;
  for (const auto* e : events) {
    c.evidence.push_back(event_evidence(*e));
    stuck = stuck || (e->form && *e->form != "fullchip_reset");
  }
  c.recovery = stuck ? "The GPU's reset did not complete (or was refused): reboot the node"
                     : "Wait a minute for the reset to finish and try again; if calls still hang, reboot";
  return c;
}

HangCause init_storm(const Snapshot& s) {
  HangCause c;
  c.name = "an init storm with persistence off";
  std::vector<std::string> off;
  for (const auto& g : s.nvml.gpus)
    if (g.persistence_mode == false) off.push_back(g.bus_id.value_or("?"));
  bool daemon = persistenced_running(s);
  unsigned inits = 0;
  for (const auto& m : s.kernel_log.init_marks)
    if (m.boot == 0) inits = std::max(inits, m.lines);
  bool persistence_off = !off.empty() || (!daemon && s.nvml.gpus.empty());
  bool slow_init = s.nvml.init_ms && *s.nvml.init_ms >= 1000;
  if (persistence_off && (inits >= 2 || slow_init)) {
    c.found = true;
    c.evidence.push_back(off.empty() ? "nvidia-persistenced is not running and no GPU reported persistence on"
                                     : fmt::format("persistence mode off on {}", fmt::join(off, ", ")));
    if (inits >= 2) c.evidence.push_back(fmt::format("kernel log: a GPU was initialised {} times this boot", inits));
    if (slow_init) c.evidence.push_back(fmt::format("nvmlInit took {}", format_ms(*s.nvml.init_ms)));
    c.recovery = "Keep the driver loaded between processes: enable persistence (sudo gpudoctor fix --yes starts "
                 "nvidia-persistenced), then reboot if the driver is already wedged";
    return c;
  }
  c.evidence.push_back(!persistence_off ? (daemon ? "nvidia-persistenced is running" : "persistence mode is on")
                                        : "persistence is off, but there is no sign of repeated initialisations");
  return c;
}

}  // namespace

std::vector<HangCause> hang_causes(const Snapshot& s) {
  return {gsp_timeout(s), recovery_action(s), fallen_off(s), stuck_tasks(s), fullchip_reset(s), init_storm(s)};
}

void add_hang_why(const Snapshot& s, model::Finding& f) {
  auto causes = hang_causes(s);
  std::vector<std::string> found, fixes;
  for (const auto& c : causes) {
    if (!c.found) continue;
    found.push_back(c.name);
    for (const auto& e : c.evidence) f.evidence.push_back(fmt::format("why: {}: {}", c.name, e));
    fixes.push_back(c.recovery);
  }
  if (found.empty()) {
    for (const auto& c : causes)
      for (const auto& e : c.evidence) f.evidence.push_back(fmt::format("ruled out: {}: {}", c.name, e));
    f.cause = "None of the known causes (GSP RPC timeout, pending recovery action, GPU fallen off the bus, tasks "
              "stuck in the driver, reset in progress, init storm) shows in the evidence: " + f.cause;
    return;
  }
  f.cause = fmt::format("Why it hangs: {}. {}", fmt::join(found, "; "), f.cause);
  f.fix.insert(f.fix.begin(), fixes.begin(), fixes.end());
}

model::Finding hang_finding(const Snapshot& s, const HangReport& h) {
  model::Finding f;
  f.severity = model::Severity::critical;
  f.gpu = h.gpu;
  f.summary = fmt::format("{} did not answer within {:.3g} s: {}{} never returned", h.api, h.timeout_s, h.call, h.where);
  f.evidence.push_back(fmt::format("worker killed after {}", format_ms(h.elapsed_ms)));
  f.cause = fmt::format("The driver is wedged: {}", h.what_else);
  f.fix = {"Reboot the node if it keeps hanging; a hung driver does not recover by itself"};
  f.needs_root = true;
  f.needs_reboot = true;
  add_hang_why(s, f);
  return f;
}

std::optional<std::string> bus_id_of_node(const Snapshot& s, std::string_view node) {
  constexpr std::string_view k_prefix = "/dev/nvidia";
  if (!util::starts_with(node, k_prefix)) return std::nullopt;
  auto minor = util::parse_u64(node.substr(k_prefix.size()));
  if (!minor) return std::nullopt;
  for (const auto& g : s.driver.gpus)
    if (g.minor == *minor) return g.bus_id;
  for (const auto& g : s.nvml.gpus)
    if (g.minor == *minor && g.bus_id) return g.bus_id;
  return std::nullopt;
}

}  // namespace gd::rule
