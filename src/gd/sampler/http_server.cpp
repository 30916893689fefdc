#include "gd/sampler/http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "gd/util/fd.hpp"

namespace gd::sampler {

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  util::Fd fd;
  std::string in;              // bytes of the request being read
  std::string head;            // the response headers being written
  std::shared_ptr<const std::string> body;
  std::size_t sent = 0;        // of head + body
  bool writing = false;
  bool close_after = false;
  unsigned served = 0;
  Clock::time_point last_progress;     // last byte read or written
  Clock::time_point request_started;   // first byte of the request being read
};

std::string_view reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

}  // namespace

struct HttpServer::Impl {
  Handler handler;
  HttpLimits limits;
  util::Fd listener, epoll, wake;
  std::unordered_map<int, Conn> conns;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> evicted{0}, timed_out{0};

  void close_conn(int fd) {
    ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
    conns.erase(fd);
  }

  void watch(int fd, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(epoll.get(), op, fd, &ev);
  }

  // The connection waiting longest without a complete request (idle or slow): the one to drop for a new one.
  void evict_one() {
    int victim = -1;
    Clock::time_point oldest = Clock::time_point::max();
    for (const auto& [fd, c] : conns)
      if (!c.writing && c.last_progress < oldest) oldest = c.last_progress, victim = fd;
    if (victim < 0) return;
    close_conn(victim);
    ++evicted;
  }

  void accept_all() {
    for (;;) {
      int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if ((errno == EMFILE || errno == ENFILE) && !conns.empty()) {
          evict_one();  // out of descriptors: the oldest waiting connection makes room
          continue;
        }
        return;  // EAGAIN, or nothing to evict
      }
      if (conns.size() >= limits.max_connections) evict_one();
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      Conn c;
      c.fd = util::Fd(fd);
      c.last_progress = c.request_started = Clock::now();
      conns.emplace(fd, std::move(c));
      watch(fd, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
    }
  }

  void respond(Conn& c, int status, const HttpResponse* r, bool head_only, bool keep_alive) {
    std::shared_ptr<const std::string> body;
    std::string type = "text/plain; charset=utf-8";
    if (r) {
      body = r->body;
      type = r->content_type;
    } else {
      body = std::make_shared<const std::string>(fmt::format("{} {}\n", status, reason(status)));
    }
    std::size_t length = body ? body->size() : 0;
    c.head = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}{}\r\n", status,
                         reason(status), type, length, status == 405 ? "Allow: GET, HEAD\r\n" : "",
                         keep_alive ? "" : "Connection: close\r\n");
    c.body = head_only ? nullptr : body;
    c.sent = 0;
    c.writing = true;
    c.close_after = !keep_alive;
  }

  // A complete request head is in c.in: answer it.
  void handle(Conn& c, std::size_t head_end) {
    std::string_view head(c.in.data(), head_end);
    auto line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    auto sp1 = line.find(' ');
    auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    ++c.served;
    if (sp2 == std::string_view::npos) return respond(c, 400, nullptr, false, false);
    std::string_view method = line.substr(0, sp1), path = line.substr(sp1 + 1, sp2 - sp1 - 1),
                     version = line.substr(sp2 + 1);
    if (version != "HTTP/1.1" && version != "HTTP/1.0") return respond(c, 505, nullptr, false, false);
    bool keep_alive = version == "HTTP/1.1";
    bool has_body = false;
    for (std::size_t at = line_end; at != std::string_view::npos && at < head.size();) {
      std::size_t next = head.find("\r\n", at + 2);
      std::string_view h = head.substr(at + 2, (next == std::string_view::npos ? head.size() : next) - at - 2);
      if (iequals_prefix(h, "connection:")) {
        std::string_view v = h.substr(11);
        if (v.find("close") != std::string_view::npos) keep_alive = false;
        if (v.find("keep-alive") != std::string_view::npos || v.find("Keep-Alive") != std::string_view::npos)
          keep_alive = true;
      } else if (iequals_prefix(h, "content-length:")) {
        has_body = h.find_first_not_of(" \t0", 15) != std::string_view::npos;
      } else if (iequals_prefix(h, "transfer-encoding:")) {
        has_body = true;
      }
      at = next;
    }
    if (c.served >= limits.max_requests_per_connection) keep_alive = false;
    // A body is never read: a request with one is answered and the connection closed.
    if (has_body) keep_alive = false;
    if (method != "GET" && method != "HEAD") return respond(c, 405, nullptr, false, false);
    auto q = path.find('?');
    HttpResponse r = handler(path.substr(0, q));
    respond(c, r.status, &r, method == "HEAD", keep_alive);
  }

  // Reads what is there; answers a complete request. false: close it.
  bool on_readable(Conn& c) {
    char buf[4096];
    bool eof = false;
    for (;;) {
      ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
      if (n == 0) {
        eof = true;  // (a client that half-closes after its request still gets the answer)
        break;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return false;
      }
      auto now = Clock::now();
      if (c.in.empty() && !c.writing) c.request_started = now;
      c.last_progress = now;
      c.in.append(buf, static_cast<std::size_t>(n));
      if (c.in.size() > limits.max_request_bytes + 4) break;  // (advance answers 431)
    }
    if (eof) {
      if (c.writing) c.close_after = true;
      else if (c.in.find("\r\n\r\n") == std::string::npos) return false;
      else {
        bool ok = advance(c);
        if (c.writing) c.close_after = true;
        return ok && c.writing;
      }
      return true;
    }
    if (c.writing) return true;  // (pipelined bytes wait for the answer in progress)
    return advance(c);
  }

  // Answers the next buffered request, if complete. false: close it.
  bool advance(Conn& c) {
    auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (c.in.size() > limits.max_request_bytes) {
        respond(c, 431, nullptr, false, false);
        c.in.clear();
        return flush(c);
      }
      return true;
    }
    if (end + 4 > limits.max_request_bytes + 4) {
      respond(c, 431, nullptr, false, false);
      c.in.clear();
      return flush(c);
    }
    handle(c, end);
    c.in.erase(0, end + 4);
    return flush(c);
  }

  // Writes what the socket takes. false: close it.
  bool flush(Conn& c) {
    while (c.writing) {
      std::size_t body_size = c.body ? c.body->size() : 0;
      iovec iov[2];
      int n_iov = 0;
      if (c.sent < c.head.size()) iov[n_iov++] = {c.head.data() + c.sent, c.head.size() - c.sent};
      std::size_t body_off = c.sent > c.head.size() ? c.sent - c.head.size() : 0;
      if (body_off < body_size)
        iov[n_iov++] = {const_cast<char*>(c.body->data()) + body_off, body_size - body_off};
      if (n_iov == 0) {
        c.writing = false;
        c.body.reset();
        if (c.close_after) return false;
        watch(c.fd.get(), EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
        c.request_started = c.last_progress = Clock::now();
        if (!c.in.empty()) return advance(c);  // a pipelined request
        return true;
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<std::size_t>(n_iov);
      ssize_t w = ::sendmsg(c.fd.get(), &msg, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          watch(c.fd.get(), EPOLLOUT, EPOLL_CTL_MOD);  // (no EPOLLIN while answering: a half-closed peer would spin)
          return true;
        }
        return false;
      }
      c.sent += static_cast<std::size_t>(w);
      c.last_progress = Clock::now();
    }
    return true;
  }

  void sweep() {
    auto now = Clock::now();
    std::vector<int> dead;
    for (const auto& [fd, c] : conns) {
      bool slow_head = !c.writing && !c.in.empty() && now - c.request_started > limits.header_timeout;
      bool idle = !c.writing && c.in.empty() && now - c.last_progress > limits.idle_timeout;
      bool stuck = c.writing && now - c.last_progress > limits.write_timeout;
      if (slow_head || idle || stuck) dead.push_back(fd);
    }
    for (int fd : dead) close_conn(fd);
    timed_out += dead.size();
  }
};

HttpServer::HttpServer(Handler handler, HttpLimits limits) : m(std::make_unique<Impl>()) {
  m->handler = std::move(handler);
  m->limits = limits;
}

HttpServer::~HttpServer() = default;

Result<bool> HttpServer::bind(const std::string& host_in, int port) {
  std::string host = host_in == "localhost" ? "127.0.0.1" : host_in;
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *v6;
  } else {
    return make_error(fmt::format("{}: not an IP address (use 127.0.0.1, ::1, 0.0.0.0 or ::)", host_in));
  }
  m->listener = util::Fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!m->listener) return make_error(fmt::format("socket: {}", std::strerror(errno)));
  int one = 1;
  ::setsockopt(m->listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(m->listener.get(), reinterpret_cast<sockaddr*>(&storage), len) != 0 ||
      ::listen(m->listener.get(), 1024) != 0)
    return make_error(fmt::format("{}:{}: {}", host_in, port, std::strerror(errno)));
  m->epoll = util::Fd(::epoll_create1(EPOLL_CLOEXEC));
  m->wake = util::Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!m->epoll || !m->wake) return make_error(fmt::format("epoll: {}", std::strerror(errno)));
  m->watch(m->listener.get(), EPOLLIN, EPOLL_CTL_ADD);
  m->watch(m->wake.get(), EPOLLIN, EPOLL_CTL_ADD);
  return true;
}

void HttpServer::run() {
  epoll_event events[64];
  auto next_sweep = Clock::now();
  while (!m->stopping) {
    int n = ::epoll_wait(m->epoll.get(), events, 64, 250);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == m->wake.get()) continue;
      if (fd == m->listener.get()) {
        m->accept_all();
        continue;
      }
      auto it = m->conns.find(fd);
      if (it == m->conns.end()) continue;
      bool keep = true;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) keep = false;
      else if (events[i].events & EPOLLOUT) keep = m->flush(it->second);
      else if (events[i].events & (EPOLLIN | EPOLLRDHUP)) keep = m->on_readable(it->second);
      if (!keep) m->close_conn(fd);
    }
    if (Clock::now() >= next_sweep) {
      m->sweep();
      next_sweep = Clock::now() + std::chrono::milliseconds(250);
    }
  }
  m->conns.clear();
}

void HttpServer::stop() {
  m->stopping = true;
  std::uint64_t one = 1;
  if (m->wake) (void)!::write(m->wake.get(), &one, sizeof one);
}

std::uint64_t HttpServer::evicted() const { return m->evicted; }
std::uint64_t HttpServer::timed_out() const { return m->timed_out; }

}  // namespace gd::sampler
