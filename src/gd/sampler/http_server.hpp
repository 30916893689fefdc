// The watch daemon's HTTP server: read-only, one thread, epoll, bounded in
// every dimension (docs/watch.md, "The server"). cpp-httplib could not be
// configured to hold scrapes under slow or idle clients: its fixed worker
// pool (8 threads) was starved by 40 slowloris or 300 idle connections.
//
// - GET and HEAD only; any other method is 405 (Allow: GET, HEAD) and the
//   connection closed without reading a body.
// - The request line and headers are capped (max_request_bytes: 431) and must
//   arrive within header_timeout of their first byte (slowloris).
// - At most max_connections; a new one beyond that evicts the connection that
//   has been waiting longest without a complete request.
// - Keep-alive up to max_requests_per_connection, idle connections closed
//   after idle_timeout, writes that make no progress for write_timeout closed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "gd/util/result.hpp"

namespace gd::sampler {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::shared_ptr<const std::string> body;
};

struct HttpLimits {
  std::size_t max_connections = 512;
  std::size_t max_request_bytes = 8192;
  std::chrono::milliseconds header_timeout{5000};
  std::chrono::milliseconds idle_timeout{15000};
  std::chrono::milliseconds write_timeout{10000};
  unsigned max_requests_per_connection = 1000;
};

class HttpServer {
 public:
  // handler(path) for GET/HEAD; called on the server's thread.
  using Handler = std::function<HttpResponse(std::string_view path)>;

  explicit HttpServer(Handler handler, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (SO_REUSEADDR only: a second daemon on the port fails here).
  Result<bool> bind(const std::string& host, int port);
  // Serves until stop() (from any thread).
  void run();
  void stop();

  // Counters for /metrics and tests (read from any thread).
  std::uint64_t evicted() const;
  std::uint64_t timed_out() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

}  // namespace gd::sampler
