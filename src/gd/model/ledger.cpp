#include "gd/model/ledger.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "gd/util/time.hpp"

namespace gd::model {

std::string key(const LedgerEntry& e) { return e.gpu.empty() ? e.id : fmt::format("{}@{}", e.id, e.gpu); }

std::vector<const LedgerEntry*> open_entries(const Ledger& l) {
  std::vector<const LedgerEntry*> out;
  for (const auto& e : l.entries)
    if (e.state == LedgerState::open) out.push_back(&e);
  std::stable_sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
    if (a->severity != b->severity) return a->severity > b->severity;
    return a->raised_unix_s < b->raised_unix_s;
  });
  return out;
}

Severity worst_open(const Ledger& l) {
  Severity w = Severity::ok;
  for (const auto& e : l.entries)
    if (e.state == LedgerState::open) w = std::max(w, e.severity);
  return w;
}

std::string boot_label(const Ledger& l, std::string_view boot_id, std::string_view current_boot) {
  if (boot_id.empty()) return "an earlier boot";
  if (boot_id == current_boot) return "this boot";
  auto it = std::find(l.boots.begin(), l.boots.end(), boot_id);
  auto cur = std::find(l.boots.begin(), l.boots.end(), current_boot);
  if (it == l.boots.end()) return fmt::format("boot {}", boot_id.substr(0, 8));
  // A boot the ledger has not recorded yet (no writer ran in it) comes after the last one it has.
  auto cur_index = cur == l.boots.end() ? static_cast<std::ptrdiff_t>(l.boots.size()) : cur - l.boots.begin();
  return fmt::format("boot {}", (it - l.boots.begin()) - cur_index);
}

std::string status_text(const LedgerEntry& e, const Ledger& l, std::string_view current_boot) {
  std::string times = e.occurrences > 1 ? fmt::format(", {} times", e.occurrences) : "";
  switch (e.state) {
    case LedgerState::cleared:
    case LedgerState::acknowledged:
      return fmt::format("{} {} by {}: {}", ledger_state_name(e.state), util::format_utc(e.cleared_unix_s),
                         e.cleared_by, e.cleared_how);
    case LedgerState::open: break;
  }
  std::string since = fmt::format("{} ({})", boot_label(l, e.raised_boot_id, current_boot),
                                  util::format_utc(e.raised_unix_s));
  // Rebooted since the last writer saw it, and not re-checked in this boot yet.
  bool rebooted = !current_boot.empty() && !e.last_seen_boot_id.empty() && e.last_seen_boot_id != current_boot &&
                  std::none_of(e.repairs.begin(), e.repairs.end(),
                               [&](const LedgerRepair& r) { return r.boot_id == current_boot; });
  if (e.seen_now && !rebooted) return fmt::format("active now, raised in {}{}", since, times);
  if (!e.escalation.empty()) return fmt::format("latched since {}{}: {}", since, times, e.escalation);
  if (e.latch == Latch::transient)
    return fmt::format("open since {}{}, last seen {}: clears after a quiet time", since, times,
                       util::format_utc(e.last_seen_unix_s));
  if (!e.repairs.empty())
    return fmt::format("latched since {}{}: repaired ({}), awaiting a re-check that passes", since, times,
                       e.repairs.back().what);
  if (rebooted)
    return fmt::format("latched since {}{}, not yet verified: rebooted since, not re-checked in this boot yet "
                       "(gpudoctor ledger update)", since, times);
  if (e.latch == Latch::hardware) return fmt::format("latched since {}{}, not yet verified: no repair since", since, times);
  return fmt::format("open since {}{}, not re-checked since (the latest check could not see it)", since, times);
}

}  // namespace gd::model
