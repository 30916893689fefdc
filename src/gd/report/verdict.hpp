// The verdict of a report: every usual suspect of a lost or failing GPU
// tested against the window's data, with its numbers. Pure: ReportData in,
// Verdict out (docs/report.md, "The verdict"). One table lists the suspects.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gd/report/report.hpp"

namespace gd::report {

// ruled_out: the data covers the suspect up to the event and shows it normal.
// remains: the data cannot tell (missing, stops early, or only weakly points at it).
// supported: the data shows it (a threshold crossed, a throttle bit, a counter risen, a change recorded).
enum class SuspectStatus { ruled_out, remains, supported };
std::string_view suspect_status_name(SuspectStatus s);

struct Suspect {
  std::string name;   // "thermal"
  std::string title;  // "Overheating"
  SuspectStatus status = SuspectStatus::remains;
  std::vector<std::string> evidence;
};

struct Verdict {
  std::string summary;  // one sentence: what the data supports, what it rules out
  std::vector<Suspect> suspects;
};

struct SuspectRule {
  std::string_view name;
  std::string_view title;
  std::string_view question;  // what it tests, for docs/report.md and the page
  Suspect (*judge)(const ReportData&);
};
std::span<const SuspectRule> suspect_table();

Verdict judge(const ReportData& r);

}  // namespace gd::report
