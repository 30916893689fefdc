// The evidence bundle (`collect --bundle FILE.tar.gz [--redact]`): what a
// support engineer needs from a node, in one bounded archive — the snapshot,
// the findings, the kernel log of this and the previous boot, the history
// window around the latest incident and its report, fix's change record, and
// a manifest saying what was skipped and why (docs/report.md, "The bundle").
// `check --from` and `report --db` read it back.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gd/util/result.hpp"
#include "gd/util/tar_gz.hpp"

namespace gd::bundle {

// The members, by name.
inline constexpr std::string_view k_manifest = "manifest.json";
inline constexpr std::string_view k_snapshot = "snapshot.json";
inline constexpr std::string_view k_findings = "findings.json";
inline constexpr std::string_view k_kernel_log = "kernel.log";
inline constexpr std::string_view k_history = "history.db";
inline constexpr std::string_view k_report = "report.html";
inline constexpr std::string_view k_changes = "changes.jsonl";

// Replaces the node's identifiers consistently in every text of a bundle: each UUID
// (GPU-/MIG- followed by 8-4-4-4-12 hex, whether it was named or found in the text) by
// GPU-00000000-0000-0000-0000-00000000000N of the same shape, each serial named by
// SERIAL-N, each host name (whole words only) by node-N.
class Redactor {
 public:
  void add_serial(const std::string& serial);
  void add_host(const std::string& host);
  std::string apply(std::string_view text);
  std::size_t replacements() const { return m_count; }
  std::size_t identifiers() const { return m_uuids.size() + m_serials.size() + m_hosts.size(); }

 private:
  std::string uuid_for(const std::string& uuid);
  std::map<std::string, std::string> m_uuids, m_serials, m_hosts;
  std::size_t m_count = 0;
};

// Reads a bundle file (at most 256 MiB compressed, 512 MiB inflated): its members, or an error naming the file.
Result<std::vector<util::TarEntry>> read_bundle(const std::string& path);
// The same, of bytes already read (name: for messages).
Result<std::vector<util::TarEntry>> parse_bundle(std::string_view data, const std::string& name);
const util::TarEntry* member(const std::vector<util::TarEntry>& entries, std::string_view name);

}  // namespace gd::bundle
