// The Xid catalogue: what each NVIDIA Xid code (and each un-numbered kernel
// log event gpudoctor recognises) means, how bad it is and what to do. One
// table, from NVIDIA's Xid catalogue as summarised in docs/kernel-log.md.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "gd/model/finding.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::model {

// The next step for an event, least to most disruptive (investigate: not in
// the catalogue, look it up).
enum class XidAction { ignore, restart_app, investigate, reset_gpu, reboot, inspect_hardware };

struct XidInfo {
  int first = 0;                          // the code, or the first of a range (144..150)
  int last = 0;                           // == first unless the row covers a range
  std::string_view mnemonic;              // NVIDIA's name: "GPU_HAS_FALLEN_OFF_THE_BUS"
  std::string_view meaning;               // one short phrase
  Severity severity = Severity::warning;  // critical: the GPU or node needs a reset, reboot or repair
  XidAction action = XidAction::investigate;
  std::string_view advice;  // the next step, one sentence
  // NVIDIA's resolution buckets (the catalogue's "immediate action" and
  // "investigatory action" columns): "RESET_GPU", "WORKFLOW_XID_48", ...; ""
  // where the catalogue gives none.
  std::string_view immediate = {};
  std::string_view investigatory = {};
};

// Every row, sorted by code.
std::span<const XidInfo> xid_table();
// The row covering code (ranges included); for a code not in the table, a
// generic "unknown Xid" row (warning, investigate) with first == last == code.
XidInfo xid_info(int code);
// "restart app", "reset GPU", "reboot", "inspect hardware", "ignore", "investigate".
std::string_view xid_action_name(XidAction a);

// Explains a kernel log event by kind ("xid", "fallen_off_bus",
// "api_mismatch", "rm_init_failed"): Xid events use xid_info(*xid).
XidInfo kernel_event_info(KernelEventKind kind, std::optional<int> xid);
// The same for an event: a gsp_failed, probe_failed or gpu_reset event is
// explained by its form's row.
XidInfo kernel_event_info(const KernelEvent& e);

// The driver's messages that are events without an Xid number, one row per
// form (several needles may share a form), from the format strings of
// NVIDIA's open kernel modules (docs/kernel-log.md, "Driver messages").
struct DriverMessageForm {
  KernelEventKind kind;
  std::string_view form;    // "gsp_firmware_missing"
  std::string_view prefix;  // the message must start with it ("" = anywhere)
  std::string_view needle;  // ... and contain it
  XidInfo info;             // mnemonic, meaning, severity, action, advice
};
std::span<const DriverMessageForm> driver_message_forms();
// The form an NVRM message (the text after "NVRM: ") matches, by the needle that starts first in it; nullptr
// when none (needles are at least two bytes).
const DriverMessageForm* match_driver_message(std::string_view body);

// RmInitAdapter's first field: the init stage that failed ("firmware init (GSP)"); "" when unknown.
std::string_view rm_init_stage_name(unsigned stage);
// An NV_STATUS code: "NV_ERR_TIMEOUT (Call timed out)"; "" when unknown.
std::string_view nv_status_name(unsigned status);

}  // namespace gd::model
