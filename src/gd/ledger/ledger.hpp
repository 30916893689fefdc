// The health ledger's judgement (pure: `update`, `acknowledge`, the status
// texts) and its file (`Session`: the lock, the read, the atomic write).
// A problem enters when a rule raises it and leaves only as its rule table
// entry's latch allows (model::Latch): hardware faults stay, across reboots,
// until a repair is followed by a re-check that passes — and a reboot alone
// does not clear one that came back. Nothing is cleared on an incomplete
// re-check (NVML not answering for the GPU, a kernel log not read to its end).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gd/host/host_root.hpp"
#include "gd/model/finding.hpp"
#include "gd/model/ledger.hpp"
#include "gd/model/snapshot.hpp"
#include "gd/util/fd.hpp"
#include "gd/util/result.hpp"

namespace gd::ledger {

inline constexpr std::int64_t k_default_quiet_s = 3600;                 // transient problems
inline constexpr std::int64_t k_recurrence_window_s = 30 * 86400;       // a clear this recent still counts
inline constexpr std::size_t k_max_entries = 256;
inline constexpr std::size_t k_max_boots = 32;

struct UpdateOptions {
  std::int64_t now_unix_s = 0;
  std::string writer;  // "watch", "slurm-health", "fix", "ledger update"
  std::int64_t quiet_s = k_default_quiet_s;
  std::int64_t check_started_unix_ms = 0;  // when the check began; 0: unknown, never dropped
};

// What one update changed, in words (for logs and the commands' output).
struct UpdateReport {
  std::vector<std::string> raised;
  std::vector<std::string> cleared;
  std::vector<std::string> repairs;   // repairs noticed: "reboot", "fix: ..."
  std::vector<std::string> escalated;
  bool stale = false;  // the check began before the newest one already folded in: dropped
};

// Folds one complete check (the snapshot and its findings) into the ledger.
UpdateReport update(model::Ledger& l, const model::Snapshot& s, const std::vector<model::Finding>& findings,
                    const UpdateOptions& o);

// Closes the open entries `selector` names ("ID", "ID@GPU" or "all") with the
// operator's reason; an error when none matches or the reason is empty.
Result<std::vector<std::string>> acknowledge(model::Ledger& l, std::string_view selector, std::string_view reason,
                                             std::int64_t now_unix_s);

// The ledger file under a root, held under its lock (flock on ledger.lock)
// from open() to destruction, so watch, slurm-health and an operator's ack
// never lose each other's writes.
class Session {
 public:
  // Waits up to `wait` for the lock. A missing file starts an empty ledger; a
  // malformed one is moved aside (ledger.json.corrupt-UNIX) and named in
  // notice, and an empty ledger starts.
  static Result<Session> open(const host::HostRoot& root, std::chrono::milliseconds wait, std::string* notice);
  model::Ledger& ledger() { return m_ledger; }
  // Writes the ledger atomically (0640) when it differs from what was read.
  Status save(std::string_view writer, std::int64_t now_unix_s);

 private:
  Session(const host::HostRoot& root, util::Fd lock) : m_root(&root), m_lock(std::move(lock)) {}
  const host::HostRoot* m_root;
  util::Fd m_lock;
  model::Ledger m_ledger;
  std::string m_read;  // the text as read, to skip writes that change nothing
};

std::int64_t now_unix_s();

struct Recorded {
  model::Ledger ledger;  // as written
  UpdateReport report;
  std::string notice;  // a malformed ledger moved aside, when one was
};
// Session::open + update + save: what the acting commands call after a check.
// Findings of the ledger's own rule (ledger.*) are not fed back into it.
Result<Recorded> record(const host::HostRoot& root, const model::Snapshot& s,
                        const std::vector<model::Finding>& findings, const UpdateOptions& o);

}  // namespace gd::ledger
