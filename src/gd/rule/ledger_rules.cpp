// Rules about the node's health ledger (Snapshot::state.ledger, read by the
// state probe): ledger.latched. A hardware fault stays a finding after its
// evidence is gone (a reboot rotated the log, NVML answers again) until the
// ledger has seen a repair and a passing re-check. It is the rule table's
// last entry: where a rule before it raised the same problem from this
// boot's evidence, that finding speaks and this one stays silent.
#include <algorithm>

#include <fmt/format.h>

#include "gd/rule/rule.hpp"

namespace gd::rule {

void rule_ledger_latched(const RuleInput& in, std::vector<model::Finding>& out) {
  const auto& l = in.snap.state.ledger;
  if (!l) return;
  const std::string boot = in.snap.state.boot_id.value_or("");
  for (const auto* e : model::open_entries(*l)) {
    if (e->latch != model::Latch::hardware) continue;  // the others follow the check itself
    bool raised_now = std::any_of(out.begin(), out.end(), [e](const model::Finding& f) {
      return f.id == e->id && f.gpu.value_or("") == e->gpu && !f.earlier_boots_only;
    });
    if (raised_now) continue;
    model::Finding f;
    f.severity = e->severity;
    if (!e->gpu.empty()) f.gpu = e->gpu;
    f.summary = fmt::format("{}{}: {}", e->id, e->gpu.empty() ? "" : " on " + e->gpu,
                            model::status_text(*e, *l, boot));
    f.evidence.push_back(fmt::format("ledger {}: raised {} ({}): {}", in.snap.state.dir + "/ledger.json",
                                     model::boot_label(*l, e->raised_boot_id, boot), e->raised_unix_s, e->summary));
    for (const auto& x : e->evidence) f.evidence.push_back("at the time: " + x);
    for (const auto& r : e->repairs) f.evidence.push_back(fmt::format("repair seen: {}", r.what));
    f.cause = "A hardware fault the ledger latched: gpudoctor does not take a reboot, a rotated log or a quiet "
              "period for a recovery. It clears when a repair (a reboot, `gpudoctor fix`, a new card in the slot) "
              "is followed by a check that passes; a fault that came back after a reboot needs the hardware "
              "looked at.";
    if (!e->escalation.empty()) f.cause += " " + e->escalation + ".";
    f.fix = {"gpudoctor ledger   (what is latched, since when, and the repairs seen)",
             fmt::format("After the repair: gpudoctor ledger update (re-checks and clears it when the check passes)"),
             fmt::format("Or, with a reason: gpudoctor ledger ack {} --reason \"card replaced, RMA 1234\"",
                         model::key(*e))};
    out.push_back(std::move(f));
  }
}

}  // namespace gd::rule
