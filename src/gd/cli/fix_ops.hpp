// Applying a repair plan the way `fix --yes` does, for the commands that
// repair on their own (slurm-repair): apply, then record each change made in
// the node's change record (which the ledger counts as a repair).
#pragma once

#include <string_view>
#include <vector>

#include "gd/cli/node_options.hpp"
#include "gd/fix/apply.hpp"
#include "gd/fix/plan.hpp"
#include "gd/model/finding.hpp"

namespace gd::cli {

std::vector<fix::ActionResult> apply_and_record(const NodeOptions& node, const model::Snapshot& snap,
                                                const std::vector<model::Finding>& findings,
                                                const std::vector<fix::Action>& plan, std::string_view who);

}  // namespace gd::cli
