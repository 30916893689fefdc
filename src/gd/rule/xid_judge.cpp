#include "gd/rule/xid_judge.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "gd/model/nvlink5.hpp"
#include "gd/rule/kernel_log_facts.hpp"
#include "gd/util/strings.hpp"

namespace gd::rule {

namespace {

using model::KernelEvent;
using model::Severity;
using model::XidAction;

// Seconds on one clock for events of one boot: the wall clock, else the
// seconds-since-boot stamp; nullopt when neither is known.
std::optional<double> event_time(const KernelEvent& e) {
  if (e.unix_s) return static_cast<double>(*e.unix_s);
  if (e.timestamp.empty() || e.timestamp.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;
  return std::strtod(e.timestamp.c_str(), nullptr);
}

std::optional<unsigned> number_after(std::string_view s, std::string_view word, int base = 10) {
  auto at = s.find(word);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = s.substr(at + word.size());
  std::size_t n = 0;
  while (n < rest.size() && n < 8 && std::isxdigit(static_cast<unsigned char>(rest[n])) &&
         (base == 16 || std::isdigit(static_cast<unsigned char>(rest[n]))))
    ++n;
  if (n == 0) return std::nullopt;
  return static_cast<unsigned>(std::strtoul(std::string(rest.substr(0, n)).c_str(), nullptr, base));
}

// "(GPC 2, TPC 5, SM 1)" of an Xid 13's "Graphics SM ... Exception on (GPC g, TPC t, SM s)".
struct GraphicsUnit {
  unsigned gpc, tpc, sm;
};
std::optional<GraphicsUnit> graphics_unit(std::string_view m) {
  auto at = m.find("(GPC ");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = m.substr(at);
  auto gpc = number_after(rest, "(GPC "), tpc = number_after(rest, ", TPC "), sm = number_after(rest, ", SM ");
  if (!gpc || !tpc || !sm) return std::nullopt;
  return GraphicsUnit{*gpc, *tpc, *sm};
}

struct ActionRow {
  std::string_view name;
  Severity severity;
  XidAction action;
};
// NVML's recovery actions (nvmlDeviceGpuRecoveryAction_t), as an Xid 154 names them.
constexpr ActionRow k_recovery[] = {
    {"none", Severity::ok, XidAction::ignore},
    {"GPU reset", Severity::critical, XidAction::reset_gpu},
    {"node reboot", Severity::critical, XidAction::reboot},
    {"drain P2P", Severity::warning, XidAction::restart_app},
    {"drain and reset", Severity::critical, XidAction::reset_gpu},
    {"recover IMEX domain", Severity::critical, XidAction::investigate},
    {"bus reset", Severity::critical, XidAction::reset_gpu},
    {"system reboot", Severity::critical, XidAction::reboot},
};

// An earlier boot's event is at most a warning (the reboot reset the GPU), unless it calls for the hardware.
Severity for_now(Severity s, XidAction a, const KernelEvent& e) {
  if (e.boot.value_or(0) >= 0 || a == XidAction::inspect_hardware) return s;
  return std::min(s, Severity::warning);
}

std::optional<int> major_of(std::string_view version) {
  std::size_t n = 0;
  while (n < version.size() && n < 4 && std::isdigit(static_cast<unsigned char>(version[n]))) ++n;
  if (n == 0) return std::nullopt;
  return std::atoi(std::string(version.substr(0, n)).c_str());
}

// An NVLink5 Xid (144-150) rated by NVIDIA's decode sheet.
void judge_nvlink5(const KernelEvent& e, std::optional<int> major, bool burst_has_154, XidVerdict& v) {
  auto m = model::parse_nvlink5(e.message);
  if (!m) return;
  auto d = model::decode_nvlink5(*e.xid, *m, major);
  std::string where = m->link ? fmt::format(" link {}", *m->link) : "";
  if (!d) {
    // Not in the sheet (or no IntrInfo): the message's own Fatal/Nonfatal word.
    if (!m->fatal) return;
    v.severity = *m->fatal ? Severity::critical : Severity::warning;
    v.action = *m->fatal ? XidAction::reset_gpu : XidAction::investigate;
    v.note = fmt::format("NVLink5 {}{}: {} by its message; IntrInfo {} matches no row of NVIDIA's decode sheet{}",
                         m->unit.empty() ? "?" : m->unit, where, *m->fatal ? "fatal" : "non-fatal",
                         m->intr_info ? fmt::format("{:#010x}", *m->intr_info) : std::string("(none)"),
                         major ? fmt::format(" (driver R{}: {})", *major, *major < 575 ? "V1" : "V2") : "");
    return;
  }
  auto imm = d->immediate();
  if (imm == "RESET_GPU") {
    v.severity = Severity::critical;
    v.action = XidAction::reset_gpu;
  } else if (imm == "XID_154_EVAL") {
    v.severity = Severity::warning;
    v.action = burst_has_154 ? XidAction::investigate : XidAction::restart_app;
  } else {
    v.severity = Severity::ok;
    v.action = XidAction::ignore;
  }
  v.severity = for_now(v.severity, v.action, e);
  std::string reason = *e.xid == 149 && d->reason ? fmt::format(", reason {}", d->reason) : "";
  std::string then = imm == "XID_154_EVAL"
                         ? (burst_has_154 ? "; follow the Xid 154 of its burst" : "; no Xid 154 in its burst: restart the application")
                         : "";
  v.note = fmt::format("NVLink5 {}{}{}: IntrInfo {:#010x} ({}{}), error status {:#010x}: NVIDIA {} / {}, {}{}; {}{}",
                       d->row->unit, where, reason, *m->intr_info, d->encoding == model::Nvlink5Encoding::v1 ? "V1, before R575" : "V2, R575 on",
                       d->encoding_guessed ? ", driver version unknown" : "", m->error_status.value_or(0), imm,
                       d->row->investigatory, d->row->severity, d->promoted ? " (promoted: IntrInfo's action-2 bit)" : "",
                       d->row->effect, then);
}

}  // namespace

std::optional<int> driver_major(const model::KernelLog& log, int boot, std::optional<std::string_view> module_now) {
  for (auto it = log.module_loads.rbegin(); it != log.module_loads.rend(); ++it)
    if (it->boot == boot) return major_of(it->version);
  if (boot == 0 && module_now) return major_of(*module_now);
  return std::nullopt;
}

std::optional<unsigned> recovery_action_in(std::string_view message) {
  return number_after(message, " to 0x", 16);
}

std::vector<XidVerdict> judge_events(const model::KernelLog& log, std::optional<std::string_view> module_now) {
  const auto& events = log.events;
  std::vector<XidVerdict> out(events.size());
  // Bursts: per GPU and boot, in log order.
  std::map<std::tuple<int, std::string>, std::pair<int, std::optional<double>>> open;  // -> burst, last time
  int bursts = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    auto info = model::kernel_event_info(e);
    out[i].severity = current_severity(e);
    out[i].action = info.action;
    if (e.kind != model::KernelEventKind::xid || !e.xid) continue;
    auto key = std::make_tuple(e.boot.value_or(0), e.bus_id.value_or(""));
    auto t = event_time(e);
    auto it = open.find(key);
    bool fresh = it == open.end() || (t && it->second.second && *t - *it->second.second > k_burst_gap_s);
    if (fresh) it = open.insert_or_assign(key, std::make_pair(++bursts, t)).first;
    if (t) it->second.second = t;
    out[i].burst = it->second.first;
  }
  // What each burst holds: its first Xid other than 45, and whether a 171 or 172 is in it.
  struct BurstFacts {
    std::optional<std::size_t> first_other;
    bool has171 = false, has172 = false, has154 = false;
  };
  std::vector<BurstFacts> facts(static_cast<std::size_t>(bursts) + 1);
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (out[i].burst < 0) continue;
    auto& f = facts[static_cast<std::size_t>(out[i].burst)];
    int x = *events[i].xid;
    if (x != 45 && !f.first_other) f.first_other = i;
    f.has171 = f.has171 || x == 171;
    f.has172 = f.has172 || x == 172;
    f.has154 = f.has154 || x == 154;
  }
  // Workflows, judged within each burst (and, for Xid 13, the boot).
  std::map<std::tuple<int, std::string, unsigned, unsigned>, std::vector<unsigned>> gr_hits;  // boot,gpu,GPC,TPC -> SMs
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (out[i].burst < 0) continue;
    auto& v = out[i];
    const auto& bf = facts[static_cast<std::size_t>(v.burst)];
    switch (*e.xid) {
      case 45:
        if (bf.first_other && *bf.first_other < i) {
          v.severity = Severity::ok;
          v.action = XidAction::ignore;
          v.note = fmt::format("sympathetic: follows Xid {} in the same burst (NVIDIA: not solo, ignore)",
                               *events[*bf.first_other].xid);
        } else {
          v.note = "solo: no other Xid in its burst (NVIDIA: restart the fabric manager on NVSwitch systems)";
        }
        break;
      case 154:
        if (auto a = recovery_action_in(e.message)) {
          const ActionRow* row = *a < std::size(k_recovery) ? &k_recovery[*a] : nullptr;
          v.severity = for_now(row ? row->severity : Severity::critical, row ? row->action : XidAction::investigate, e);
          v.action = row ? row->action : XidAction::investigate;
          v.note = fmt::format("the recovery action is now {:#x} ({})", *a, row ? row->name : "unknown");
        }
        break;
      case 48:
        if (bf.has171) {
          v.action = XidAction::reboot;
          v.note = "with Xid 171 (uncorrectable DRAM error) in its burst: reboot so the row is remapped";
        } else if (bf.has172) {
          v.action = XidAction::inspect_hardware;
          v.severity = Severity::critical;
          v.note = "with Xid 172 (uncorrectable SRAM error) in its burst: reset, then check the SRAM error "
                   "threshold (NVML); above it the card is an RMA case";
        }
        break;
      case 13: {
        if (auto where = graphics_unit(e.message))
          gr_hits[{e.boot.value_or(0), e.bus_id.value_or(""), where->gpc, where->tpc}].push_back(where->sm);
        break;
      }
      default:
        if (*e.xid >= 144 && *e.xid <= 150)
          judge_nvlink5(e, driver_major(log, e.boot.value_or(0), module_now), bf.has154, v);
        break;
    }
  }
  // Xid 13 workflow: the same GPC/TPC on different SMs, again and again, is the hardware, not the application.
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.xid != 13 || e.kind != model::KernelEventKind::xid) continue;
    auto where = graphics_unit(e.message);
    if (!where) continue;
    const auto& sms = gr_hits[{e.boot.value_or(0), e.bus_id.value_or(""), where->gpc, where->tpc}];
    std::vector<unsigned> distinct(sms);
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    if (sms.size() >= 3 && distinct.size() >= 2) {
      out[i].action = XidAction::inspect_hardware;
      out[i].note = fmt::format("GPC {} TPC {} hit {} times on {} SMs this boot: points at the hardware (run a DCGM "
                                "diag), not the application",
                                where->gpc, where->tpc, sms.size(), distinct.size());
    }
  }
  return out;
}

}  // namespace gd::rule
