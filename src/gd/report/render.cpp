#include "gd/report/render.hpp"

#include <nlohmann/json.hpp>

#include "gd/report/web_assets.hpp"
#include "gd/util/json_writer.hpp"
#include "gd/util/time.hpp"

namespace gd::report {

namespace {

struct Unit {
  std::string_view column;
  std::string_view unit;     // of the stored integer
  double scale;              // stored integer × scale = the display value
  std::string_view display;  // the display unit
  std::int64_t chart_div;    // chart encoding: stored integer / chart_div (rounded) is written
};

// Display units of the report metrics; the chart encoding carries the rows with a chart_div.
constexpr Unit k_units[] = {
    {"temp_celsius", "°C", 1, "°C", 1},
    {"fan_percent", "%", 1, "%", 1},
    {"power_milliwatts", "mW", 0.001, "W", 100},
    {"power_limit_milliwatts", "mW", 0.001, "W", 100},
    {"util_gpu_percent", "%", 1, "%", 1},
    {"util_mem_percent", "%", 1, "%", 1},
    {"mem_used_bytes", "B", 1.0 / 1048576, "MiB", 1048576},
    {"mem_total_bytes", "B", 1.0 / 1048576, "MiB", 1048576},
    {"clock_sm_mhz", "MHz", 1, "MHz", 1},
    {"clock_mem_mhz", "MHz", 1, "MHz", 1},
    {"clock_graphics_mhz", "MHz", 1, "MHz", 1},
    {"clock_event_reasons", "mask", 1, "mask", 1},
    {"pstate", "P", 1, "P", 0},
    {"pcie_gen", "gen", 1, "gen", 0},
    {"pcie_width", "lanes", 1, "lanes", 1},
    {"persistence_mode", "on", 1, "on", 1},
    {"ecc_corrected_volatile", "errors", 1, "errors", 0},
    {"ecc_uncorrected_volatile", "errors", 1, "errors", 1},
    {"remapped_rows_uncorrectable", "rows", 1, "rows", 0},
    {"remapped_rows_failure", "flag", 1, "flag", 0},
    {"retired_pages_pending", "flag", 1, "flag", 0},
};
static_assert(std::size(k_units) == 21);

const Unit& unit_of(std::string_view column) {
  for (const auto& u : k_units)
    if (u.column == column) return u;
  std::abort();
}

std::int64_t div_round(std::int64_t v, std::int64_t d) {
  if (d == 1) return v;
  return v >= 0 ? (v + d / 2) / d : -((-v + d / 2) / d);
}

void write_event(util::JsonWriter& w, const store::EventRow& e) {
  w.begin_object();
  w.member("id", e.id).member("ts_ms", e.ts_ms).member("time", util::format_utc(e.ts_ms / 1000));
  w.member("type", e.type).member("gpu", e.gpu);
  auto d = nlohmann::json::parse(e.detail, nullptr, false);
  w.key("detail");
  if (d.is_object())
    w.raw(d.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  else
    w.begin_object().member("unparsed", e.detail).end_object();  // a detail that is not JSON is shown as text
  w.end_object();
}

// Delta-encoded (chart) or plain.
void write_series(util::JsonWriter& w, const std::vector<std::optional<std::int64_t>>& v, std::int64_t div,
                  bool delta) {
  w.begin_array();
  std::optional<std::int64_t> last;
  for (const auto& x : v) {
    if (!x) {
      w.null();
      continue;
    }
    std::int64_t y = div_round(*x, div);
    w.value(delta && last ? y - *last : y);
    last = y;
  }
  w.end_array();
}

std::string document(const ReportData& r, const Verdict& v, SeriesEncoding enc) {
  const bool chart = enc == SeriesEncoding::chart;
  std::string out;
  out.reserve(1 << 20);
  util::JsonWriter w(out, -1);
  w.begin_object();
  w.member("kind", "gpudoctor-report").member("schema", 1).member("encoding", chart ? "chart" : "lossless");
  w.member("generated", util::format_utc(r.generated_ms / 1000)).member("host", r.hostname).member("db", r.db_path);
  w.member("charts_available", charts_available());
  w.key("window").begin_object();
  w.member("since", util::format_utc(r.since_s)).member("until", util::format_utc(r.until_s));
  w.member("since_s", r.since_s).member("until_s", r.until_s).member("resolution", r.resolution);
  w.end_object();
  w.key("anchor").begin_object();
  w.member("kind", anchor_kind_name(r.anchor.kind)).member("time", util::format_utc(r.anchor.ts_ms / 1000));
  w.member("ts_ms", r.anchor.ts_ms).key("event");
  if (r.anchor.event)
    write_event(w, *r.anchor.event);
  else
    w.null();
  w.end_object();

  std::vector<std::size_t> cols;
  for (std::size_t k = 0; k < report_metrics().size(); ++k)
    if (!chart || unit_of(report_metrics()[k]).chart_div) cols.push_back(k);
  w.key("metrics").begin_array();
  for (auto k : cols) {
    const auto& u = unit_of(report_metrics()[k]);
    w.begin_object().member("column", u.column);
    if (chart)
      w.member("unit", u.display).member("scale", u.scale * static_cast<double>(u.chart_div));
    else
      w.member("unit", u.unit).member("scale", u.scale).member("display", u.display);
    w.end_object();
  }
  w.end_array();

  w.key("gpus").begin_array();
  for (const auto& g : r.gpus) {
    w.begin_object();
    w.member("bus_id", g.id.bus_id).member("uuid", g.id.uuid).member("serial", g.id.serial).member("model", g.id.model);
    w.member("slowdown_celsius", g.id.slowdown_celsius).member("shutdown_celsius", g.id.shutdown_celsius);
    w.key("ts").begin_array();
    std::int64_t prev = 0;
    for (std::size_t i = 0; i < g.ts.size(); ++i) {
      w.value(chart && i ? g.ts[i] - prev : g.ts[i]);
      prev = g.ts[i];
    }
    w.end_array();
    w.key("series").begin_object();
    for (auto k : cols) {
      w.key(report_metrics()[k]);
      write_series(w, g.values[k], chart ? unit_of(report_metrics()[k]).chart_div : 1, chart);
    }
    w.end_object();
    w.end_object();
  }
  w.end_array();

  w.key("events").begin_array();
  for (const auto& e : r.events) write_event(w, e);
  w.end_array();
  w.key("fixes").begin_array();
  for (const auto& f : r.fixes) {
    w.begin_object().member("ts_s", f.ts_unix_s).member("time", util::format_utc(f.ts_unix_s));
    w.member("finding", f.finding).member("action", f.action).member("before", f.before).member("detail", f.detail);
    w.end_object();
  }
  w.end_array();
  w.key("verdict").begin_object().member("summary", v.summary).key("suspects").begin_array();
  for (const auto& s : v.suspects) {
    w.begin_object().member("name", s.name).member("title", s.title).member("status", suspect_status_name(s.status));
    w.member("evidence", s.evidence).end_object();
  }
  w.end_array().end_object();
  w.member("notes", r.notes);
  w.end_object();
  return out;
}

// Text safe inside a <script> element: '<' only occurs inside JSON strings, where \u003c is the same character.
std::string script_safe(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (char c : json) {
    if (c == '<')
      out += "\\u003c";
    else
      out += c;
  }
  return out;
}

std::string page(std::string_view title, std::string_view data_json, bool live) {
  std::string out;
  out.reserve(data_json.size() + 128 * 1024);
  out += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  // Nothing is fetched from elsewhere: the page's own script, styles and data only (the live page: its /api).
  out += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; "
         "style-src 'unsafe-inline'; img-src data:; connect-src 'self'\">\n";
  out += "<title>";
  out += title;
  out += "</title>\n<style>\n";
  out += uplot_css();
  out += "\n";
  out += report_css();
  out += "\n</style>\n</head>\n<body data-live=\"";
  out += live ? "1" : "0";
  out += "\">\n<div id=\"gd-app\"><noscript>The charts need JavaScript; `gpudoctor report --format json` gives the "
         "same content as data.</noscript></div>\n";
  if (!data_json.empty()) {
    out += "<script id=\"gd-data\" type=\"application/json\">";
    out += script_safe(data_json);
    out += "</script>\n";
  }
  out += "<script>\n";
  out += uplot_js();
  out += "\n</script>\n<script>\n";
  out += report_js();
  out += "\n</script>\n</body></html>\n";
  return out;
}

std::string html_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string render_json(const ReportData& r, const Verdict& v, SeriesEncoding enc) { return document(r, v, enc); }

std::string render_html(const ReportData& r, const Verdict& v) {
  std::string title = "gpudoctor report";
  if (!r.hostname.empty()) title += " — " + r.hostname;
  title += " — " + util::format_utc(r.anchor.ts_ms / 1000);
  return page(html_text(title), document(r, v, SeriesEncoding::chart), false);
}

std::string live_page_html() { return page("gpudoctor watch — live", "", true); }

bool charts_available() { return !uplot_js().empty(); }

}  // namespace gd::report
