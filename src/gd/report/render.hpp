// The report's two presentations: the JSON document (`report --format json`,
// watch's /api/report) and the self-contained HTML page (uPlot, our script
// and the data in one file; nothing fetched when it is opened). Renderers only
// format what load() read and judge() decided.
#pragma once

#include <string>
#include <string_view>

#include "gd/report/report.hpp"
#include "gd/report/verdict.hpp"

namespace gd::report {

// How the series are written.
//  lossless: every report metric in the store's units (milliwatts, bytes), plain arrays.
//  chart: the charted metrics only, in display steps (power in 0.1 W, memory in MiB), each array
//         delta-encoded (first value, then differences; null stays null and the next value is the
//         difference from the last non-null one). What the page embeds: 2 h of 8 GPUs at 1 s in ~2 MB.
enum class SeriesEncoding { lossless, chart };

// Compact JSON (one line): {"kind": "gpudoctor-report", "schema": 1, ...} (docs/report.md, "JSON").
std::string render_json(const ReportData& r, const Verdict& v, SeriesEncoding enc = SeriesEncoding::lossless);

// The whole page, data embedded (chart encoding).
std::string render_html(const ReportData& r, const Verdict& v);

// watch's live page: the same script and styles; it fetches /api/report and refreshes.
std::string live_page_html();

// True when uPlot was embedded at build time (scripts/setup installs it with npm); without it the pages
// say so where the charts would be and still give the verdict and the events.
bool charts_available();

}  // namespace gd::report
