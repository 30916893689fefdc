// watch's HTTP face, split out of the daemon: /metrics, the live page at /
// (the report's page, refreshing) and the read-only JSON API behind it —
// /api/findings (the latest tick's findings) and /api/report/2h, /24h, /7d
// (the report document of the window ending now, from the history, computed
// on the server thread at most once per 10 s per window and cached).
// Everything is served by the one bounded epoll thread (http_server.hpp).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "gd/sampler/http_server.hpp"
#include "gd/util/result.hpp"

namespace gd::sampler {

struct LiveServerOptions {
  std::string db_path;   // the history the reports read (read-only)
  std::string root = "/";  // for fix's change record
  std::string hostname;
  std::chrono::milliseconds report_ttl{10000};
};

class LiveServer {
 public:
  explicit LiveServer(LiveServerOptions o, HttpLimits limits = {});
  ~LiveServer();
  LiveServer(const LiveServer&) = delete;
  LiveServer& operator=(const LiveServer&) = delete;

  // Binds (a second daemon on the port fails here) and starts the server thread.
  Result<bool> start(const std::string& host, int port);
  void stop();
  // The latest tick's /metrics text and findings JSON (any thread).
  void publish(std::shared_ptr<const std::string> metrics, std::shared_ptr<const std::string> findings_json);

 private:
  HttpResponse handle(std::string_view path);
  HttpResponse report(std::string_view window);

  LiveServerOptions m_o;
  std::unique_ptr<HttpServer> m_http;
  std::thread m_thread;
  std::mutex m_mutex;
  std::shared_ptr<const std::string> m_metrics, m_findings;
  struct Cached {
    std::chrono::steady_clock::time_point at;
    HttpResponse response;
  };
  std::map<std::string, Cached, std::less<>> m_reports;  // server thread only
};

}  // namespace gd::sampler
