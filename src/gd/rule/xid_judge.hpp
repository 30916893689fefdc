// Xids judged in context, not one line at a time (docs/kernel-log.md,
// "Bursts and workflows"): events of one GPU and boot form a burst until 3
// minutes of silence; an Xid 45 after another Xid of its burst is sympathetic;
// an Xid 154 is rated by the recovery action its message names; an Xid 48 is
// qualified by a 171 (DRAM) or 172 (SRAM) of its burst; an Xid 13 that keeps
// hitting one GPC/TPC on different SMs points at the hardware; an NVLink5 Xid
// (144-150) is rated by its decoded unit, IntrInfo and error status
// (gd/model/nvlink5.hpp), with the encoding of the driver its boot loaded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gd/model/finding.hpp"
#include "gd/model/snapshot.hpp"
#include "gd/model/xid_catalog.hpp"

namespace gd::rule {

inline constexpr double k_burst_gap_s = 180;  // a burst ends after 3 minutes of silence

struct XidVerdict {
  model::Severity severity = model::Severity::warning;  // for the node now (earlier boots: at most warning)
  model::XidAction action = model::XidAction::investigate;
  std::string note;  // why it differs from the catalogue row; "" when it does not
  int burst = -1;    // the burst (numbered from 1 in log order); -1 for events that are not Xids
};

// One verdict per event of log.events, index for index. module_now: the
// loaded kernel module's version, for this boot's events when the log has no
// load banner for it.
std::vector<XidVerdict> judge_events(const model::KernelLog& log, std::optional<std::string_view> module_now = {});

// The driver's major version for an event of boot: its load banner, else module_now for boot 0.
std::optional<int> driver_major(const model::KernelLog& log, int boot, std::optional<std::string_view> module_now = {});

// The recovery action an Xid 154 message names ("... to 0x4 (Drain and Reset)"), if any.
std::optional<unsigned> recovery_action_in(std::string_view message);

}  // namespace gd::rule
