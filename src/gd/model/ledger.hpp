// The node's health ledger: every problem gpudoctor raised on this node, with
// its evidence, whether it latches, the repairs seen since and the re-check
// that cleared it. Kept in /var/lib/gpudoctor/ledger.json (inside --root);
// written by the commands that act (watch, slurm-health, slurm-repair, fix
// --yes, ledger update/ack), read by everything (`check`, /metrics). Plain
// structs; the judgement is in gd/ledger.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gd/model/finding.hpp"

namespace gd::model {

inline constexpr std::string_view k_ledger_file = "/var/lib/gpudoctor/ledger.json";
inline constexpr std::string_view k_ledger_lock = "/var/lib/gpudoctor/ledger.lock";
inline constexpr const char* k_ledger_kind = "gpudoctor-ledger";
inline constexpr int k_ledger_schema = 1;

// How a problem leaves the ledger (the rule table gives each finding id one).
enum class Latch {
  none,       // clears when a complete re-check no longer raises it (configuration, live state)
  transient,  // clears after a quiet time without it (application Xids)
  hardware,   // stays, across reboots, until a repair is followed by a passing re-check
};
std::string_view latch_name(Latch l);

enum class LedgerState {
  open,          // raised and not cleared
  cleared,       // a re-check (or the quiet time) proved it gone
  acknowledged,  // an operator closed it, with a recorded reason
};
std::string_view ledger_state_name(LedgerState s);

// A repair seen after the problem was last raised: a reboot, a `fix` record,
// a card swapped in the slot (serial changed).
struct LedgerRepair {
  std::int64_t ts_unix_s = 0;
  std::string boot_id;
  std::string what;  // "reboot", "fix: persistence (...)", "card replaced: serial A -> B"
};

struct LedgerEntry {
  std::string id;   // the finding id: "xid.fallen_off_bus"
  std::string gpu;  // bus id; "" for a node-wide problem
  Latch latch = Latch::none;
  LedgerState state = LedgerState::open;
  Severity severity = Severity::warning;  // the worst seen while open
  std::string summary;                    // the latest finding's summary
  std::vector<std::string> evidence;      // the latest finding's evidence (capped)
  std::int64_t raised_unix_s = 0;
  std::string raised_boot_id;  // "" when raised from an earlier boot's log
  std::int64_t last_seen_unix_s = 0;
  std::string last_seen_boot_id;
  bool seen_now = false;                // the latest update raised it from this boot's evidence
  int occurrences = 1;                  // times raised: in another boot, or again after a clear
  std::vector<std::string> boots_seen;  // boot ids it was raised in (capped)
  std::string gpu_serial;               // the GPU's serial when raised (a swap is a repair)
  std::string gpu_uuid;                 // its UUID then (NVML, else the kernel log's "GPU at PCI" line)
  std::vector<LedgerRepair> repairs;    // since it was (re)opened
  std::string escalation;               // "needs hardware: ..." when a reboot cannot clear it
  std::int64_t cleared_unix_s = 0;
  std::string cleared_how;  // "re-check passed after reboot: ...", "quiet for 1h", "acknowledged: REASON"
  std::string cleared_by;   // the command that cleared it: "watch", "slurm-health", "ledger ack"
};

struct Ledger {
  std::string kind = k_ledger_kind;
  int schema = k_ledger_schema;
  std::vector<std::string> boots;  // boot ids seen, oldest first (capped)
  std::int64_t updated_unix_s = 0;
  std::string updated_by;
  // When the newest check folded in began (ms): a check that began earlier but
  // finishes later (a slow health check beside a repair's re-check) is dropped.
  std::int64_t newest_check_unix_ms = 0;
  std::vector<LedgerEntry> entries;
};

// "xid.fallen_off_bus@0000:bd:00.0" (the id alone for a node-wide problem).
std::string key(const LedgerEntry& e);
// Open entries, worst first (critical before warning), then oldest first.
std::vector<const LedgerEntry*> open_entries(const Ledger& l);
// The worst severity among the open entries; ok when none.
Severity worst_open(const Ledger& l);
// "this boot" / "boot -1" / "an earlier boot" for a boot id.
std::string boot_label(const Ledger& l, std::string_view boot_id, std::string_view current_boot);
// One line: "latched since boot -1 (2026-12-03T10:00:00Z), not yet verified: no repair since".
std::string status_text(const LedgerEntry& e, const Ledger& l, std::string_view current_boot);

}  // namespace gd::model
