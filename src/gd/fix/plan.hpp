// `gpudoctor fix`, part 1: turn findings into a plan. Pure: the plan depends
// only on the Snapshot, the findings and where the node's root is.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gd/model/finding.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::fix {

enum class ActionKind {
  exec,              // run each argv in `commands`, in order, under a deadline
  write_file,        // write `content` to `path` (a host path inside the root)
  nvml_persistence,  // nvmlDeviceSetPersistenceMode(1) on every GPU that has it off
  symlinks,          // create each `links` entry (link path -> target) inside the root
  manual,            // listed, never performed (reboots, hardware work)
};

struct Action {
  std::string finding_id;
  std::optional<std::string> gpu;
  std::string title;
  ActionKind kind = ActionKind::manual;
  std::vector<std::vector<std::string>> commands{};  // argv lists, never a shell line
  std::string path{};                              // write_file
  std::string content{};                           // write_file
  std::vector<std::string> steps{};                // manual: what a person does
  std::vector<std::pair<std::string, std::string>> links{};  // symlinks: host path -> target as written
  std::string note{};                              // caveats ("lost at reboot")
  bool needs_root = true;
  bool needs_reboot = false;
};

struct PlanContext {
  std::string root = "/";  // the node's root; commands then act inside it (ldconfig -r, systemctl --root)
  bool live = true;        // root is this machine's "/"
};

// One action (or more) per non-ok finding that gpudoctor knows how to answer,
// in finding order; `--only ID` filtering is the caller's.
std::vector<Action> make_plan(const model::Snapshot& s, const std::vector<model::Finding>& findings,
                              const PlanContext& ctx);

std::string_view action_kind_name(ActionKind k);

// The drop-in that turns persistence on for a unit started with
// --no-persistence-mode: the same ExecStart without that flag.
std::string persistence_dropin(const std::string& exec_start);

inline constexpr const char* k_dropin_path =
    "/etc/systemd/system/nvidia-persistenced.service.d/10-gpudoctor-persistence.conf";

}  // namespace gd::fix
