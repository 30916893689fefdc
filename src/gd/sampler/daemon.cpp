#include "gd/sampler/daemon.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/host/log_follower.hpp"
#include "gd/probe/nvml_probe.hpp"
#include "gd/ledger/ledger.hpp"
#include "gd/util/strings.hpp"
#include "gd/rule/rule.hpp"
#include "gd/model/json_io.hpp"
#include "gd/sampler/live_server.hpp"
#include "gd/util/time.hpp"
#include "gd/sampler/nvml_sampler.hpp"
#include "gd/sampler/tick_events.hpp"
#include "gd/sampler/xid_feed.hpp"
#include "gd/store/gpu_metrics.hpp"
#include "gd/store/store.hpp"
#include "gd/util/fd.hpp"

namespace gd::sampler {

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::size_t k_max_pending_samples = 200000;  // about 7 hours of 8 GPUs at 1 s
constexpr std::size_t k_max_pending_events = 20000;
constexpr std::size_t k_kernel_log_bytes_per_chunk = 1 << 20;
constexpr std::size_t k_kernel_log_chunks_per_tick = 256;  // at most 256 MB a tick
constexpr std::chrono::milliseconds k_kernel_log_time_per_tick{250};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The cheap host probes run at most this often (every tick when the interval
// is longer): sysfs/procfs change rarely, and they were most of a tick's CPU.
constexpr std::chrono::seconds k_host_probe_period{30};

bool cheap_probe(std::string_view name) {
  return name == "pci" || name == "driver" || name == "devnodes" || name == "persistenced" || name == "state";
}
bool slow_probe(std::string_view name) { return name == "libs" || name == "kernel_log"; }

class Watch {
 public:
  explicit Watch(WatchOptions o)
      : m_o(std::move(o)),
        m_root(m_o.root),
        m_ctx{m_root, m_o.probe},
        m_xids(std::max<std::int64_t>(5000, 2 * m_o.interval.count())) {}

  int run();

 private:
  // Every log line may carry node text (GPU names, paths, event details): one printable line each.
  void log(const std::string& msg) {
    if (!m_o.quiet) fmt::print(stderr, "gpudoctor watch: {}\n", util::printable(msg, 16 * 1024));
  }
  void open_store();
  void load_nvml_and_slow_probes();
  void follow_kernel_log();
  void collect_xids(std::int64_t wall_ms);
  void tick();
  void flush();
  void record_ledger(const std::vector<model::Finding>& findings, std::int64_t wall_ms, LiveState& next);
  void publish();
  void maintain_store();
  bool wait_until(SteadyClock::time_point t);  // false when asked to stop
  void record(store::EventRow e) { m_pending_events.push_back(std::move(e)); }

  WatchOptions m_o;
  host::HostRoot m_root;
  probe::ProbeContext m_ctx;
  model::Snapshot m_snap;
  model::NvmlLibrary m_lib;
  std::string m_lib_error;
  std::unique_ptr<NvmlSampler> m_sampler;
  std::unique_ptr<store::Store> m_store;
  util::Fd m_db_lock;  // held while the daemon runs: one writer per database
  SteadyClock::time_point m_last_quick_check = SteadyClock::now();
  SteadyClock::time_point m_next_store_retry{};
  std::deque<store::SampleRow> m_pending_samples;
  std::vector<store::GpuIdentity> m_pending_inventory;
  std::vector<store::EventRow> m_pending_events;
  std::string m_last_store_error;
  std::string m_history_error;  // the latest failed write's message, "" after a good one
  std::string m_maintain_error;
  LiveState m_state;
  std::unique_ptr<LiveServer> m_server;  // --listen: /metrics, the live page, its API
  sigset_t m_signals{};
  bool m_reload = false;
  bool m_reloaded = false;  // the next tick re-runs the host probes
  std::string m_stop_signal;
  std::uint64_t m_ticks = 0;
  SteadyClock::time_point m_last_prune{};
  std::optional<host::LogFollower> m_kernel_log;
  LineAssembler m_kernel_lines;
  XidTracker m_xids;
  std::string m_xid_status;
};

void Watch::follow_kernel_log() {
  const std::string& file = m_o.probe.kernel_log_file;
  if (file == "-") {
    log("--kernel-log -: standard input is read once at start, not followed");
  } else if (!file.empty()) {
    m_kernel_log = host::LogFollower::file(file);
  } else if (auto k = host::LogFollower::kmsg(m_root)) {
    m_kernel_log = std::move(*k);
  } else {
    log(k.error().message + ": new Xid lines are not followed (NVML events still are)");
    return;
  }
  if (m_kernel_log) log("following " + m_kernel_log->describe() + " for new Xid lines");
}

void Watch::collect_xids(std::int64_t wall_ms) {
  std::vector<XidSighting> seen;
  if (m_kernel_log) {
    // Drain what the log grew by, a chunk at a time (bounded memory), until it
    // is caught up or the tick's budget is spent: at one chunk per tick, 60 MB
    // of noise held a followed Xid 79 back by a minute.
    auto until = SteadyClock::now() + k_kernel_log_time_per_tick;
    for (std::size_t chunk = 0; chunk < k_kernel_log_chunks_per_tick; ++chunk) {
      std::string text;
      std::vector<std::string> problems;
      m_kernel_log->poll(text, k_kernel_log_bytes_per_chunk, problems);
      for (const auto& p : problems) log(p);
      if (!text.empty())
        for (const auto& e : parse_new_kernel_lines(m_kernel_lines.feed(text), wall_ms / 1000))
          seen.push_back(sighting_from_kernel(e, wall_ms));
      if (text.size() < k_kernel_log_bytes_per_chunk || SteadyClock::now() >= until) break;
    }
  }
  if (m_sampler) {
    for (auto& x : m_sampler->take_xids())
      seen.push_back(
          {XidSighting::Source::nvml, x.bus_id, static_cast<int>(x.code), std::nullopt, std::nullopt, "", wall_ms});
    if (m_sampler->xid_events_status() != m_xid_status) {
      m_xid_status = m_sampler->xid_events_status();
      log("NVML Xid events: " + m_xid_status);
    }
  }
  for (const auto& s : seen)
    if (auto e = m_xids.add(s)) {
      log(fmt::format("{} {} {}", e->type, e->gpu, e->detail));
      record(std::move(*e));
    }
  m_state.xid_errors = m_xids.counts();
}

void Watch::open_store() {
  std::string path = m_o.db_path.empty() ? store::default_db_path() : m_o.db_path;
  std::string notice;
  auto s = store::Store::open(path, &notice);
  if (!notice.empty()) log(notice);
  if (s && (*s)->read_only()) s = make_error(fmt::format("history database {} is read-only", path));
  if (!s) {
    if (s.error().message != m_last_store_error) log(s.error().message + " (keeping samples in memory, retrying)");
    m_last_store_error = s.error().message;
    m_state.history_ok = false;
    m_next_store_retry = SteadyClock::now() + std::chrono::seconds(5);
    return;
  }
  m_store = std::move(*s);
  m_last_store_error.clear();
  if (!notice.empty()) record(node_event(now_ms(), model::HistoryEvent::history_moved_aside, nlohmann::json{{"message", notice}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  if (auto inv = m_store->inventory())
    for (const auto& g : *inv) m_state.gpus.emplace(g.bus_id, KnownGpu{g.uuid, g.model, g.serial, false, std::nullopt,
                                                             g.slowdown_celsius, g.shutdown_celsius});
  if (auto lost = m_store->lost_gpus())
    for (const auto& bus : *lost)
      if (auto it = m_state.gpus.find(bus); it != m_state.gpus.end()) it->second.lost = true;
}

void Watch::load_nvml_and_slow_probes() {
  model::NvmlInfo info;
  auto lib = probe::locate_nvml(m_root, m_o.probe, info);
  m_lib = info.library;
  m_lib_error = info.load_error;
  m_sampler.reset();
  if (lib) {
    SamplerOptions so;
    so.worker_exe = m_o.probe.worker_exe;
    so.library = *lib;
    so.timeout_s = m_o.probe.timeout_s;
    so.backoff_min_s = std::max(1.0, std::chrono::duration<double>(m_o.interval).count());
    m_sampler = std::make_unique<NvmlSampler>(so);
  }
  for (const auto& p : probe::probe_table()) {
    if (!slow_probe(p.name)) continue;
    try {
      p.run(m_ctx, m_snap);
    } catch (const std::exception& e) {
      log(fmt::format("probe {}: {}", p.name, e.what()));
    }
  }
}

void Watch::tick() {
  auto wall_ms = now_ms();
  LiveState next = m_state;
  std::vector<model::ProbeRun> runs;
  auto every = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(k_host_probe_period / m_o.interval));
  bool host_probes = m_ticks % every == 0 || m_reloaded;
  m_reloaded = false;
  for (const auto& p : probe::probe_table()) {
    if (!cheap_probe(p.name) && p.name != "nvml") continue;
    if (p.name != "nvml" && !host_probes) {
      for (const auto& r : m_state.probes)
        if (r.name == p.name) runs.push_back(r);  // the last run's duration and success stand
      continue;
    }
    model::ProbeRun run{std::string(p.name), true, "", 0};
    auto t0 = SteadyClock::now();
    if (p.name == "nvml") {
      if (m_sampler) {
        m_snap.nvml = m_sampler->sample();
      } else {
        m_snap.nvml = model::NvmlInfo{};
        // (--no-tree-libs refused the library: not run, nvml.not_loaded says so; else it is missing)
        m_snap.nvml.state = m_lib.not_loaded.empty() ? model::NvmlState::library_missing : model::NvmlState::not_run;
        m_snap.nvml.load_error = m_lib_error;
      }
      m_snap.nvml.library = m_lib;
      run.ok = m_snap.nvml.state == model::NvmlState::ok;
      if (!run.ok) run.error = m_snap.nvml.load_error;
    } else {
      try {
        p.run(m_ctx, m_snap);
      } catch (const std::exception& e) {
        run.ok = false, run.error = e.what();
      }
    }
    run.duration_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
    runs.push_back(std::move(run));
  }
  m_snap.probes = runs;
  next.probes = std::move(runs);
  collect_xids(wall_ms);
  next.xid_errors = m_state.xid_errors;
  next.nvml = m_snap.nvml;
  next.findings.clear();
  m_snap.watch = model::WatchInfo{m_o.db_path.empty() ? store::default_db_path() : m_o.db_path, m_state.history_ok,
                                  m_history_error.empty() ? m_last_store_error : m_history_error,
                                  m_state.history_pending_rows, m_state.history_write_errors_total};
  auto all_findings = rule::evaluate({m_snap, std::nullopt});
  record_ledger(all_findings, wall_ms, next);
  for (auto& f : all_findings)
    if (f.severity != model::Severity::ok) next.findings.push_back(std::move(f));
  next.sample_unix_s = static_cast<double>(wall_ms) / 1000.0;
  if (m_sampler) {
    next.nvml_hangs_total = m_sampler->hangs();
    next.nvml_worker_starts_total = m_sampler->workers_started();
  }
  auto changes = diff_tick(m_state, next, wall_ms);
  next.samples_total = m_state.samples_total + 1;
  for (auto& e : changes.events) {
    log(fmt::format("{} {} {}", e.type, e.gpu, e.detail));
    if (e.type == model::history_event_name(model::HistoryEvent::inventory_changed)) ++next.inventory_changes_total;
    record(std::move(e));
  }
  for (auto& g : changes.inventory) m_pending_inventory.push_back(std::move(g));
  if (next.nvml.state == model::NvmlState::ok) {
    for (const auto& g : next.nvml.gpus) {
      if (g.handle_return != 0 || !g.bus_id) continue;
      store::SampleRow row{wall_ms / 1000, *g.bus_id, {}};
      for (const auto& m : store::gpu_metrics()) row.values.push_back(m.get(g));
      m_pending_samples.push_back(std::move(row));
    }
  }
  m_state = std::move(next);
  flush();
  publish();
}

// The health ledger: what this tick's rules raised, what a re-check after a
// repair proves gone. A ledger that cannot be written is said once (and
// again when it recovers); sampling goes on.
void Watch::record_ledger(const std::vector<model::Finding>& findings, std::int64_t wall_ms, LiveState& next) {
  next.inventory_changes_total = m_state.inventory_changes_total;
  if (!m_o.ledger) return;
  auto rec = ledger::record(m_root, m_snap, findings, ledger::UpdateOptions{wall_ms / 1000, "watch", m_o.ledger_quiet_s, wall_ms});
  if (!rec) {
    if (m_state.ledger_ok) log("health ledger: " + rec.error().message);
    next.ledger_ok = false;
    next.ledger_open = m_state.ledger_open;
    return;
  }
  if (!m_state.ledger_ok) log("health ledger: written again");
  if (!rec->notice.empty()) log("health ledger: " + rec->notice);
  for (const auto& x : rec->report.raised) log("ledger raised " + util::printable(x, 300));
  for (const auto& x : rec->report.cleared) log("ledger cleared " + util::printable(x, 300));
  for (const auto& x : rec->report.escalated) log("ledger escalated " + util::printable(x, 300));
  next.ledger_open.clear();
  for (const auto* e : model::open_entries(rec->ledger)) next.ledger_open.push_back(*e);
  if (!rec->ledger.entries.empty()) m_snap.state.ledger = std::move(rec->ledger);
}

void Watch::flush() {
  if (!m_store && SteadyClock::now() >= m_next_store_retry) open_store();
  while (m_pending_samples.size() > k_max_pending_samples) m_pending_samples.pop_front();
  if (m_pending_events.size() > k_max_pending_events)
    m_pending_events.erase(
        m_pending_events.begin(),
        m_pending_events.begin() + static_cast<long>(m_pending_events.size() - k_max_pending_events));
  m_state.history_pending_rows = m_pending_samples.size() + m_pending_events.size();
  if (m_store)
    if (auto why = m_store->file_changed()) {
      // Rows written into a deleted file are lost: start over at the path, and say so.
      log(*why + ": opening the file at that path");
      ++m_state.history_write_errors_total;
      m_store.reset();
      open_store();
      if (m_store)
        record(node_event(now_ms(), model::HistoryEvent::history_moved_aside,
                          nlohmann::json{{"message", *why}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    }
  if (!m_store) return;
  std::vector<store::SampleRow> rows(m_pending_samples.begin(), m_pending_samples.end());
  auto err = m_store->write(rows, m_pending_inventory, m_pending_events);
  if (!err) {
    if (!m_state.history_ok && m_state.samples_total > 1) log("history writable again: pending rows written");
    m_pending_samples.clear(), m_pending_inventory.clear(), m_pending_events.clear();
    m_state.history_ok = true;
    m_state.history_pending_rows = 0;
    m_history_error.clear();
    return;
  }
  ++m_state.history_write_errors_total;
  m_history_error = err->message;
  if (m_state.history_ok) log(err->message + " (keeping samples in memory, retrying every tick)");
  m_state.history_ok = false;
  if (err->kind == store::WriteError::Kind::corrupt || err->kind == store::WriteError::Kind::read_only) {
    m_store.reset();  // reopening moves a corrupt file aside, or finds the filesystem writable again
    m_next_store_retry = SteadyClock::now();
  }
}

// Packs finished hours into blocks and roll-ups, applies retention (bounded
// work per call; a backlog goes on at the next tick).
void Watch::maintain_store() {
  if (SteadyClock::now() - m_last_quick_check >= m_o.integrity_check_interval) {
    m_last_quick_check = SteadyClock::now();
    auto qc = m_store->quick_check();
    if (!qc || *qc != "ok") {
      log(fmt::format("history database {} failed its check ({}): moving it aside and starting a new one",
                      m_store->path(), qc ? *qc : qc.error().message));
      ++m_state.history_write_errors_total;
      m_state.history_ok = false;
      m_store.reset();
      open_store();  // (Store::open's quick_check moves the file aside)
      return;
    }
  }
  auto rep = m_store->maintain(now_ms() / 1000, m_o.retention);
  std::string err = rep ? "" : rep.error().message;
  if (!err.empty() && err != m_maintain_error) log("history maintenance: " + err);
  m_maintain_error = err;
  if (rep && rep->more) m_last_prune = {};
}

void Watch::publish() {
  auto text = std::make_shared<const std::string>(render_metrics(m_state, m_o.compat));
  if (!m_o.textfile.empty()) {
    std::string err;
    if (!write_atomic(m_o.textfile, *text, err)) log(err);
  }
  if (!m_server) return;
  // The live page's /api/findings: what this tick found (warnings and criticals), newest state only.
  nlohmann::json f = nlohmann::json::array();
  for (const auto& x : m_state.findings)
    f.push_back({{"id", x.id}, {"severity", model::severity_name(x.severity)}, {"gpu", x.gpu.value_or("")},
                 {"summary", x.summary}, {"evidence", x.evidence}});
  nlohmann::json doc = {{"time", util::format_utc(static_cast<std::int64_t>(m_state.sample_unix_s))},
                        {"nvml", model::nvml_state_name(m_state.nvml.state)},
                        {"findings", f}};
  m_server->publish(text, std::make_shared<const std::string>(
                              doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

bool Watch::wait_until(SteadyClock::time_point t) {
  while (true) {
    auto left = t - SteadyClock::now();
    if (left <= SteadyClock::duration::zero()) return true;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    siginfo_t info{};
    int sig = ::sigtimedwait(&m_signals, &info, &ts);
    if (sig == SIGHUP) {
      m_reload = true;
      return true;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      m_stop_signal = sig == SIGTERM ? "SIGTERM" : "SIGINT";
      return false;
    }
  }
}

int Watch::run() {
  // At most two malloc arenas: the HTTP threads' own arenas were a few MB of
  // RSS for a daemon that allocates little.
  ::mallopt(M_ARENA_MAX, 2);
  ::sigemptyset(&m_signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) ::sigaddset(&m_signals, s);
  ::pthread_sigmask(SIG_BLOCK, &m_signals, nullptr);  // before any thread: all inherit it
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGXFSZ, SIG_IGN);  // a file-size limit is a write error, not death

  // One database, one daemon: a second watch on the same file is refused
  // (every event was written twice), as is a second one on the same port.
  auto lock = store::Store::lock_writer(m_o.db_path.empty() ? store::default_db_path() : m_o.db_path);
  if (!lock) {
    fmt::print(stderr, "gpudoctor watch: {}\n", lock.error().message);
    return 3;
  }
  m_db_lock = std::move(*lock);

  // The server (live_server.hpp over http_server.hpp): read-only, one epoll thread, bounded in connections,
  // request size and time, so scrapes answer under slow, idle or hostile clients (cpp-httplib's 8 workers were
  // starved by 40 slowloris); the live page and its JSON API beside /metrics.
  std::string host_name = [] {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    return std::string(buf);
  }();
  if (!m_o.listen.empty()) {
    auto addr = parse_listen(m_o.listen);
    if (!addr) {
      fmt::print(stderr, "gpudoctor watch: --listen {}: expected ADDR:PORT\n", m_o.listen);
      return 3;
    }
    m_server = std::make_unique<LiveServer>(LiveServerOptions{
        m_o.db_path.empty() ? store::default_db_path() : m_o.db_path, m_o.root, host_name});
    if (auto b = m_server->start(addr->first, addr->second); !b) {
      fmt::print(stderr, "gpudoctor watch: cannot listen on {}: {}\n", m_o.listen, b.error().message);
      return 3;
    }
  }
  m_state.hostname = m_snap.hostname = host_name;
  open_store();
  follow_kernel_log();  // before the kernel_log probe reads it: no line falls between the two
  load_nvml_and_slow_probes();
  record(node_event(now_ms(), model::HistoryEvent::daemon_start,
                    nlohmann::json{{"version", GD_VERSION},
                                   {"interval_s", std::chrono::duration<double>(m_o.interval).count()},
                                   {"pid", ::getpid()},
                                   // What its Xid feed follows ("" = none): `report` trusts "no Xid" only then.
                                   {"kernel_log", m_kernel_log ? m_kernel_log->describe() : std::string()}}
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  log(fmt::format("sampling every {} ms into {}{}", m_o.interval.count(),
                  m_store ? m_store->path() : std::string("memory"),
                  m_o.listen.empty() ? "" : ", serving http://" + m_o.listen + "/metrics"));
  auto start = SteadyClock::now();
  std::uint64_t k = 0;
  while (true) {
    tick();
    ++m_ticks;
    if (m_o.max_ticks && m_ticks >= *m_o.max_ticks) break;
    if (m_store && m_state.history_ok) {
      auto now = SteadyClock::now();
      bool prune_due = now - m_last_prune >= std::chrono::minutes(1);
      if (prune_due || now - m_last_quick_check >= m_o.integrity_check_interval) {
        if (prune_due) m_last_prune = now;
        maintain_store();
      }
    }
    auto elapsed = SteadyClock::now() - start;
    std::uint64_t next_k = static_cast<std::uint64_t>(elapsed / m_o.interval) + 1;
    if (next_k > k + 1) m_state.missed_ticks_total += next_k - k - 1;
    k = next_k;
    if (!wait_until(start + k * m_o.interval)) break;
    if (m_reload) {
      m_reload = false;
      log("SIGHUP: reloading (NVML library, slow probes, history)");
      m_store.reset();
      open_store();
      load_nvml_and_slow_probes();
      m_reloaded = true;
      record(node_event(now_ms(), model::HistoryEvent::daemon_reload));
    }
  }
  record(node_event(now_ms(), model::HistoryEvent::daemon_stop,
                    nlohmann::json{{"signal", m_stop_signal.empty() ? "max-ticks" : m_stop_signal},
                                   {"ticks", m_ticks},
                                   {"missed_ticks", m_state.missed_ticks_total}}
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
  flush();
  if (m_store) m_store->checkpoint();
  m_sampler.reset();
  if (m_server) m_server->stop();
  log(fmt::format("stopped after {} ticks ({} missed)", m_ticks, m_state.missed_ticks_total));
  return 0;
}

}  // namespace

std::optional<std::pair<std::string, int>> parse_listen(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) return std::nullopt;
  std::string host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  for (char c : s.substr(colon + 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + (c - '0');
    if (port > 65535) return std::nullopt;
  }
  return std::make_pair(host, port);
}

bool write_atomic(const std::string& path, const std::string& data, std::string& err) {
  // The temp file is created new (O_EXCL, O_NOFOLLOW: a link planted at its
  // name in a writable directory is removed, never followed) and given 0644
  // whatever the umask (node_exporter must read it, nobody else write it).
  std::string tmp = fmt::format("{}.{}.tmp", path, ::getpid());
  int fd = -1;
  for (int attempt = 0; attempt < 2 && fd < 0; ++attempt) {
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) ::unlink(tmp.c_str());
  }
  if (fd < 0) {
    err = fmt::format("cannot create {}: {}", tmp, std::strerror(errno));
    return false;
  }
  ::fchmod(fd, 0644);
  bool ok = true;
  for (std::size_t off = 0; ok && off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    off += n > 0 ? static_cast<std::size_t>(n) : 0;
  }
  ok = ::close(fd) == 0 && ok;
  if (!ok) {
    err = fmt::format("cannot write {}", tmp);
    ::unlink(tmp.c_str());
    return false;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = fmt::format("cannot rename {} to {}", tmp, path);
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

int run_watch(WatchOptions o) { return Watch(std::move(o)).run(); }

}  // namespace gd::sampler
