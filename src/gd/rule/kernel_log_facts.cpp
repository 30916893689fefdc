#include "gd/rule/kernel_log_facts.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "gd/model/xid_catalog.hpp"

namespace gd::rule {

bool is_fallen_off(const model::KernelEvent& e) {
  return e.kind == model::KernelEventKind::fallen_off_bus || (e.kind == model::KernelEventKind::xid && e.xid == 79);
}

std::string boot_label(std::optional<int> boot) {
  if (!boot) return "unknown boot";
  if (*boot == 0) return "this boot";
  if (*boot == -1) return "previous boot";
  return fmt::format("{} boots ago", -*boot);
}

std::string event_evidence(const model::KernelEvent& e) {
  std::string when = e.timestamp.empty() ? boot_label(e.boot) : fmt::format("{}, {}", boot_label(e.boot), e.timestamp);
  return fmt::format("kernel log, {}: {}", when, e.message);
}

std::vector<std::string> events_evidence(const std::vector<const model::KernelEvent*>& events) {
  constexpr std::size_t k_head = 2, k_tail = 4;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i == k_head && events.size() > k_head + k_tail) {
      out.push_back(fmt::format("... {} more such line(s) ...", events.size() - k_head - k_tail));
      i = events.size() - k_tail;
    }
    out.push_back(event_evidence(*events[i]));
  }
  return out;
}

model::Severity current_severity(const model::KernelEvent& e) {
  auto info = model::kernel_event_info(e);
  if (e.boot.value_or(0) >= 0 || info.action == model::XidAction::inspect_hardware) return info.severity;
  return model::Severity::warning;
}

std::vector<const model::KernelEvent*> fallen_off_events(const model::Snapshot& s, std::string_view bus_id) {
  std::vector<const model::KernelEvent*> out;
  for (const auto& e : s.kernel_log.events)
    if (is_fallen_off(e) && e.bus_id == bus_id) out.push_back(&e);
  return out;
}

std::vector<std::string> fallen_off_this_boot(const model::Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& e : s.kernel_log.events)
    if (is_fallen_off(e) && e.boot == 0 && e.bus_id) out.push_back(*e.bus_id);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace gd::rule
