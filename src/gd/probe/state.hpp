// gpudoctor's own records on the node: the changes `fix --yes` made, kept in
// the node's state dir (inside --root), and when this boot began. Rules read
// them to judge a failure by the moment it happened, not by the state now.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "gd/host/host_root.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::probe {

using model::k_changes_file;
using model::k_state_dir;
inline constexpr std::size_t k_max_change_records = 1000;

// One JSON object per line; malformed lines are named in problems (by line
// number), the newest k_max_change_records kept.
void parse_change_records(std::string_view text, model::StateInfo& out);
// "btime 1764300000" of /proc/stat; nullopt when absent or malformed.
std::optional<std::int64_t> parse_boot_time(std::string_view proc_stat);
// The boot id as /proc/sys/kernel/random/boot_id gives it (lowercase UUID).
std::optional<std::string> parse_boot_id(std::string_view text);

model::StateInfo read_state(const host::HostRoot& root);
// The health ledger (ledger.json) as the queries see it, without its lock:
// nullopt when the node has none; an error naming the file when it cannot be
// read or is not a ledger.
Result<std::optional<model::Ledger>> read_ledger(const host::HostRoot& root);

}  // namespace gd::probe
