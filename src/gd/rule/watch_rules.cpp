// Rules about `gpudoctor watch` itself, from Snapshot::watch (set by the
// daemon before it runs the rules): history.write_failed.
#include <fmt/format.h>

#include "gd/rule/rule.hpp"

namespace gd::rule {

void rule_history_write_failed(const RuleInput& in, std::vector<model::Finding>& out) {
  const auto& w = in.snap.watch;
  if (!w || w->history_write_ok) return;
  model::Finding f;
  f.severity = model::Severity::warning;
  f.summary = fmt::format("watch cannot write its history database {}", w->history_path);
  f.evidence = {fmt::format("database: {}", w->history_path),
                fmt::format("error: {}", w->history_error.empty() ? "(no message)" : w->history_error),
                fmt::format("rows waiting in memory: {} (failed writes so far: {})", w->history_pending_rows,
                            w->history_write_errors_total)};
  f.cause =
      "The filesystem holding the database is full or read-only (or the file cannot be written). Sampling and "
      "/metrics are unaffected; history is kept in memory until a write succeeds.";
  f.fix = {fmt::format("df -h {0}; findmnt -T {0}", w->history_path),
           "Free space or remount the filesystem read-write; watch retries every tick and writes the waiting rows",
           "Or restart watch with --db on another filesystem"};
  out.push_back(std::move(f));
}

}  // namespace gd::rule
