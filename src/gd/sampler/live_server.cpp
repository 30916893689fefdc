#include "gd/sampler/live_server.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/host/host_root.hpp"
#include "gd/report/render.hpp"
#include "gd/report/report.hpp"
#include "gd/report/verdict.hpp"
#include "gd/store/store.hpp"
#include "gd/util/time.hpp"

namespace gd::sampler {

namespace {

std::shared_ptr<const std::string> text(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

constexpr std::pair<std::string_view, std::int64_t> k_windows[] = {{"2h", 7200}, {"24h", 86400}, {"7d", 7 * 86400}};

}  // namespace

LiveServer::LiveServer(LiveServerOptions o, HttpLimits limits)
    : m_o(std::move(o)),
      m_http(std::make_unique<HttpServer>([this](std::string_view path) { return handle(path); }, limits)),
      m_metrics(text("")),
      m_findings(text("{\"findings\":[]}")) {}

LiveServer::~LiveServer() { stop(); }

Result<bool> LiveServer::start(const std::string& host, int port) {
  auto b = m_http->bind(host, port);
  if (!b) return b;
  m_thread = std::thread([this] { m_http->run(); });
  return true;
}

void LiveServer::stop() {
  if (!m_thread.joinable()) return;
  m_http->stop();
  m_thread.join();
}

void LiveServer::publish(std::shared_ptr<const std::string> metrics, std::shared_ptr<const std::string> findings_json) {
  std::lock_guard lock(m_mutex);
  m_metrics = std::move(metrics);
  m_findings = std::move(findings_json);
}

HttpResponse LiveServer::handle(std::string_view path) {
  static const auto k_page = text(report::live_page_html());
  static const auto k_not_found = text("404 Not Found: try /, /metrics, /api/findings, /api/report/2h|24h|7d\n");
  HttpResponse r;
  if (path == "/metrics") {
    std::lock_guard lock(m_mutex);
    r.body = m_metrics;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  } else if (path == "/") {
    r.body = k_page;
    r.content_type = "text/html; charset=utf-8";
  } else if (path == "/api/findings") {
    std::lock_guard lock(m_mutex);
    r.body = m_findings;
    r.content_type = "application/json";
  } else if (path == "/api/report") {
    return report("2h");
  } else if (path.starts_with("/api/report/")) {
    return report(path.substr(12));
  } else {
    r.status = 404;
    r.body = k_not_found;
  }
  return r;
}

HttpResponse LiveServer::report(std::string_view window) {
  std::int64_t seconds = 0;
  for (const auto& [name, s] : k_windows)
    if (name == window) seconds = s;
  HttpResponse r;
  r.content_type = "application/json";
  if (!seconds) {
    r.status = 404;
    r.body = text("{\"error\":\"unknown window: /api/report/2h, /24h or /7d\"}");
    return r;
  }
  auto now = std::chrono::steady_clock::now();
  if (auto it = m_reports.find(window); it != m_reports.end() && now - it->second.at < m_o.report_ttl)
    return it->second.response;
  // Read-only, opened per report: a history moved aside (corrupt) and started again is read where it now is.
  auto db = store::Store::open_for_query(m_o.db_path);
  report::ReportOptions o;
  o.now_ms = util::now_unix_ms();
  o.end_ms = o.now_ms;
  o.window_s = seconds;
  o.hostname = m_o.hostname;
  o.changes = report::fix_records(host::HostRoot(m_o.root));
  Result<report::ReportData> data = db ? report::load(**db, o) : Result<report::ReportData>(db.error());
  if (!data) {
    r.status = 503;
    r.body = text(nlohmann::json{{"error", data.error().message}}.dump(-1, ' ', false,
                                                                      nlohmann::json::error_handler_t::replace));
  } else {
    r.body = text(report::render_json(*data, report::judge(*data), report::SeriesEncoding::chart));
  }
  m_reports[std::string(window)] = {now, r};
  return r;
}

}  // namespace gd::sampler
