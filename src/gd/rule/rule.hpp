// The rule table: one entry per finding id, with the rule that raises it, how
// `gpudoctor fix` repairs it and its documentation. A rule is a pure function
// of the Snapshot (and the check's options) that appends findings; evaluate()
// gives them the entry's id, so an id is written once, here. Rules never touch
// the host.
#pragma once

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "gd/model/finding.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::rule {

struct RuleInput {
  const model::Snapshot& snap;
  std::optional<unsigned> expect_gpus;  // --expect-gpus
  std::vector<std::string> input_problems = {};  // about the input itself (a snapshot's unknown keys)
};

// How `gpudoctor fix` answers a finding (fix::make_plan has one planner each).
enum class Repair {
  manual,          // the finding's own fix steps, listed, never performed
  persistence,     // nvidia-persistenced enabled/restarted (drop-in for --no-persistence-mode), else NVML
  ldconfig,        // the linker cache rebuilt: ldconfig (ldconfig -r ROOT)
  devnodes,        // nvidia-modprobe creates the device nodes (live root)
  dev_char_links,  // /dev/char/MAJ:MIN links to the NVIDIA device nodes
};
std::string_view repair_name(Repair r);
// One line for docs/findings.md: what `fix` does for such a finding.
std::string_view repair_description(Repair r);

struct RuleEntry {
  std::string_view id;
  model::Severity worst;     // the most severe finding it can raise
  std::string_view summary;  // what it detects, one line (for `gpudoctor list`)
  std::string_view details;  // how it decides: inputs and thresholds (for docs/findings.md)
  void (*run)(const RuleInput&, std::vector<model::Finding>&);
  Repair repair = Repair::manual;
  // How the health ledger lets it go: none (when a re-check no longer raises
  // it), transient (after a quiet time), hardware (a repair, then a passing
  // re-check; never by a reboot alone when it came back).
  model::Latch latch = model::Latch::none;
};

std::span<const RuleEntry> rule_table();
// The entry of a finding id; nullptr when no rule has it.
const RuleEntry* find_rule(std::string_view id);

// Runs every rule in table order; findings sorted critical first, stable.
std::vector<model::Finding> evaluate(const RuleInput& in);

// Exit code for a set of findings: 0 all ok, 1 worst is warning, 2 critical.
int exit_code_for(const std::vector<model::Finding>& findings);

// Rule functions, one per id (declared here, defined in the family files).
void rule_gpu_none(const RuleInput&, std::vector<model::Finding>&);
void rule_gpu_fell_off_bus(const RuleInput&, std::vector<model::Finding>&);
void rule_gpu_count(const RuleInput&, std::vector<model::Finding>&);
void rule_nvml_missing(const RuleInput&, std::vector<model::Finding>&);
void rule_nvml_not_loaded(const RuleInput&, std::vector<model::Finding>&);
void rule_nvml_hung(const RuleInput&, std::vector<model::Finding>&);
void rule_nvml_init_failed(const RuleInput&, std::vector<model::Finding>&);
void rule_nvml_worker_failed(const RuleInput&, std::vector<model::Finding>&);
void rule_cuda_missing(const RuleInput&, std::vector<model::Finding>&);
void rule_cuda_init_failed(const RuleInput&, std::vector<model::Finding>&);
void rule_cuda_hung(const RuleInput&, std::vector<model::Finding>&);
void rule_persistence_off(const RuleInput&, std::vector<model::Finding>&);
void rule_driver_version_mismatch(const RuleInput&, std::vector<model::Finding>&);
void rule_driver_not_loaded(const RuleInput&, std::vector<model::Finding>&);
void rule_driver_nouveau(const RuleInput&, std::vector<model::Finding>&);
void rule_devnodes_missing(const RuleInput&, std::vector<model::Finding>&);
void rule_probe_problems(const RuleInput&, std::vector<model::Finding>&);
void rule_libs_missing(const RuleInput&, std::vector<model::Finding>&);
void rule_libs_stale_ldcache(const RuleInput&, std::vector<model::Finding>&);
void rule_libs_empty_file(const RuleInput&, std::vector<model::Finding>&);
void rule_libs_not_elf(const RuleInput&, std::vector<model::Finding>&);
void rule_libs_dangling_link(const RuleInput&, std::vector<model::Finding>&);
void rule_libs_version_mismatch(const RuleInput&, std::vector<model::Finding>&);
void rule_libs_multiple_versions(const RuleInput&, std::vector<model::Finding>&);
void rule_libs_stub_first(const RuleInput&, std::vector<model::Finding>&);
void rule_gpu_recovery_action(const RuleInput&, std::vector<model::Finding>&);
void rule_container_cli_failed(const RuleInput&, std::vector<model::Finding>&);
void rule_container_cli_hung(const RuleInput&, std::vector<model::Finding>&);
void rule_container_config_invalid(const RuleInput&, std::vector<model::Finding>&);
void rule_container_cdi_stale(const RuleInput&, std::vector<model::Finding>&);
void rule_container_dev_char_links(const RuleInput&, std::vector<model::Finding>&);
void rule_container_nvml_blocked(const RuleInput&, std::vector<model::Finding>&);
void rule_container_inside(const RuleInput&, std::vector<model::Finding>&);
void rule_libs_soname_mismatch(const RuleInput&, std::vector<model::Finding>&);
void rule_libs_world_writable_dir(const RuleInput&, std::vector<model::Finding>&);
void rule_thermal_hot(const RuleInput&, std::vector<model::Finding>&);
void rule_thermal_throttled(const RuleInput&, std::vector<model::Finding>&);
void rule_thermal_fan_stopped(const RuleInput&, std::vector<model::Finding>&);
void rule_pcie_link_degraded(const RuleInput&, std::vector<model::Finding>&);
void rule_memory_ecc(const RuleInput&, std::vector<model::Finding>&);
void rule_xid_fallen_off_bus(const RuleInput&, std::vector<model::Finding>&);
void rule_xid_memory(const RuleInput&, std::vector<model::Finding>&);
void rule_xid_gsp(const RuleInput&, std::vector<model::Finding>&);
void rule_xid_nvlink(const RuleInput&, std::vector<model::Finding>&);
void rule_xid_critical(const RuleInput&, std::vector<model::Finding>&);
void rule_xid_app_error(const RuleInput&, std::vector<model::Finding>&);
void rule_kernel_log_api_mismatch(const RuleInput&, std::vector<model::Finding>&);
void rule_kernel_log_adapter_init_failed(const RuleInput&, std::vector<model::Finding>&);
void rule_kernel_log_gpu_reset(const RuleInput&, std::vector<model::Finding>&);
void rule_history_write_failed(const RuleInput&, std::vector<model::Finding>&);
void rule_driver_stuck_tasks(const RuleInput&, std::vector<model::Finding>&);
void rule_kernel_log_driver_stall(const RuleInput&, std::vector<model::Finding>&);
void rule_ledger_latched(const RuleInput&, std::vector<model::Finding>&);

}  // namespace gd::rule
