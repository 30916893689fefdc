// `gpudoctor fix`, part 2: carry out a plan. Commands are exec'd by argv
// under a deadline, never through a shell; files are written atomically
// inside the root; manual actions are never performed.
#pragma once

#include <string>
#include <vector>

#include "gd/fix/plan.hpp"
#include "gd/host/host_root.hpp"

namespace gd::fix {

struct ApplyOptions {
  std::string nvml_library;  // file to dlopen for nvml_persistence actions (empty: unavailable)
  std::string worker_exe;    // gpudoctor binary for the NVML worker (empty: this one)
  double timeout_s = 60;     // per command
};

struct ActionResult {
  bool performed = false;  // false for manual actions and ones skipped as already done
  bool ok = false;
  std::string detail;      // what happened, one line
};

// Appends a change to the node's record (model::k_changes_file, created 0640
// in a 0750 dir inside the root), so later diagnoses know what was changed when.
Status record_change(const host::HostRoot& root, const model::ChangeRecord& change);

std::vector<ActionResult> apply_plan(const std::vector<Action>& plan, const host::HostRoot& root,
                                     const ApplyOptions& options);

}  // namespace gd::fix
