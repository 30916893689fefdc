// What the commands that act share about the health ledger: a check of the
// node folded into the ledger (watch does the same in its daemon loop), and
// the ledger rendered as text or JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gd/cli/node_options.hpp"
#include "gd/ledger/ledger.hpp"
#include "gd/model/finding.hpp"

namespace CLI {
class App;
}

namespace gd::cli {

struct CheckedNode {
  model::Snapshot snap;
  std::vector<model::Finding> findings;
  std::int64_t started_unix_ms = 0;  // when the probes began
};
// Probes the node and runs the rules (what `check` does).
Result<CheckedNode> check_node(NodeOptions& node, std::optional<unsigned> expect_gpus = std::nullopt);

// Folds a check into the ledger under node.root (lock, update, atomic write).
// A malformed ledger moved aside is said on stderr, prefixed with `who`.
Result<ledger::Recorded> record_check(const NodeOptions& node, const CheckedNode& c, std::string_view who,
                                      std::int64_t quiet_s);

// Adds --quiet-time (seconds stored in quiet_s).
void add_quiet_time_option(CLI::App& sub, std::int64_t& quiet_s);

// The open problems (all entries with all=true), one block each.
std::string render_ledger_text(const model::Ledger& l, std::string_view current_boot, bool all,
                               std::string_view path);
// The ledger with each entry's key and status text added.
nlohmann::json ledger_json(const model::Ledger& l, std::string_view current_boot);

}  // namespace gd::cli
