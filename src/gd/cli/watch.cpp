// `watch` (the daemon), `history` and `events` (queries of its database).
#include <cmath>
#include <ctime>
#include <memory>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "gd/cli/cli.hpp"
#include "gd/cli/node_options.hpp"
#include "gd/sampler/daemon.hpp"
#include "gd/store/gpu_metrics.hpp"
#include "gd/store/store.hpp"
#include "gd/util/strings.hpp"

namespace gd::cli {

namespace {

using nlohmann::json;

// "10s", "500ms", "2m", "1h" or plain seconds; nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_duration(std::string s) {
  double mult = 1000;
  if (s.ends_with("ms"))
    mult = 1, s.resize(s.size() - 2);
  else if (s.ends_with("s"))
    s.pop_back();
  else if (s.ends_with("m"))
    mult = 60e3, s.pop_back();
  else if (s.ends_with("h"))
    mult = 3600e3, s.pop_back();
  else if (s.ends_with("d"))
    mult = 86400e3, s.pop_back();
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end || !(v > 0)) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(std::llround(v * mult)));
}

// --since/--until: "2h" (ago), unix seconds ("@1700000000" or digits), or
// ISO "2026-11-27", "2026-11-27T03:00[:00][Z]" (UTC). Unix milliseconds.
std::optional<std::int64_t> parse_time(const std::string& s) {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                 .count();
  if (s == "now") return now;
  std::string digits = s.starts_with("@") ? s.substr(1) : s;
  if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos && digits.size() >= 9)
    return std::stoll(digits) * 1000;
  if (auto d = parse_duration(s); d && s.find('-') == std::string::npos) return now - d->count();
  std::tm tm{};
  for (const char* f : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    tm = std::tm{};
    const char* end = strptime(s.c_str(), f, &tm);
    if (end && (*end == 0 || std::string_view(end) == "Z")) return static_cast<std::int64_t>(timegm(&tm)) * 1000;
  }
  return std::nullopt;
}

std::string iso(std::int64_t unix_ms) {
  std::time_t t = unix_ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

CLI::Validator time_validator() {
  return CLI::Validator(
      [](std::string& s) {
        return parse_time(s) ? std::string() : "expected 2h, 7d, unix seconds or 2026-11-27[T03:00]";
      },
      "TIME");
}

struct WatchCli {
  NodeOptions node;
  std::string interval = "10s";
  std::string db, listen = fmt::format("127.0.0.1:{}", sampler::k_default_port), textfile, compat = "none";
  bool no_listen = false;
  int retention_days = 30;
  std::uint64_t max_ticks = 0;
  bool quiet = false;
};

int do_watch(WatchCli& c, bool timeout_given) {
  auto iv = parse_duration(c.interval);
  if (!iv || *iv < std::chrono::milliseconds(100)) {
    fmt::print(stderr, "gpudoctor watch: --interval {}: expected a duration of at least 100ms (10s, 1m)\n", c.interval);
    return k_exit_unknown;
  }
  sampler::WatchOptions o;
  o.root = c.node.root;
  o.probe = c.node.probe;
  if (const char* llp = std::getenv("LD_LIBRARY_PATH"))
    for (auto d : util::split(llp, ':'))
      if (!d.empty()) o.probe.ld_library_path.emplace_back(d);
  if (!timeout_given) o.probe.timeout_s = std::min(10.0, std::chrono::duration<double>(*iv).count());
  o.interval = *iv;
  o.db_path = c.db;
  o.listen = c.no_listen ? "" : c.listen;
  o.textfile = c.textfile;
  o.compat = c.compat == "dcgm" ? sampler::MetricsCompat::dcgm : sampler::MetricsCompat::none;
  o.retention_days = c.retention_days;
  if (c.max_ticks) o.max_ticks = c.max_ticks;
  o.quiet = c.quiet;
  return sampler::run_watch(o);
}

Result<std::unique_ptr<store::Store>> open_db(const std::string& db) {
  std::string path = db.empty() ? store::default_db_path() : db;
  if (!std::filesystem::exists(path))
    return make_error(fmt::format("no history database at {} (is `gpudoctor watch` running?)", path));
  return store::Store::open(path, nullptr, store::Store::Check::none);
}

struct HistoryCli {
  std::string db, gpu, metric, since = "1h", until = "now", format = "table";
};

int do_history(const HistoryCli& c) {
  std::vector<std::size_t> cols;
  if (!c.metric.empty()) {
    auto i = store::metric_index(c.metric);
    if (!i) {
      std::string names;
      for (const auto& m : store::gpu_metrics()) names += fmt::format(" {}", m.column);
      fmt::print(stderr, "gpudoctor history: --metric {}: unknown; one of:{}\n", c.metric, names);
      return k_exit_unknown;
    }
    cols.push_back(*i);
  } else {
    for (const char* n : {"temp_celsius", "power_milliwatts", "util_gpu_percent", "mem_used_bytes", "clock_sm_mhz",
                          "clock_event_reasons"})
      cols.push_back(*store::metric_index(n));
  }
  auto db = open_db(c.db);
  if (!db) {
    fmt::print(stderr, "gpudoctor history: {}\n", db.error().message);
    return k_exit_unknown;
  }
  store::SampleQuery q;
  if (!c.gpu.empty()) q.gpu = c.gpu;
  q.since = *parse_time(c.since) / 1000;
  q.until = *parse_time(c.until) / 1000 + 1;
  auto rows = (*db)->samples(q);
  if (!rows) {
    fmt::print(stderr, "gpudoctor history: {}\n", rows.error().message);
    return k_exit_unknown;
  }
  auto cell = [](const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : std::string(); };
  if (c.format == "json") {
    json out = json::array();
    for (const auto& r : *rows) {
      json o = {{"time", iso(r.ts * 1000)}, {"ts", r.ts}, {"gpu", r.bus_id}};
      for (auto i : cols) o[std::string(store::gpu_metrics()[i].column)] = r.values[i] ? json(*r.values[i]) : json();
      out.push_back(std::move(o));
    }
    fmt::print("{}\n", out.dump(2));
    return k_exit_ok;
  }
  bool csv = c.format == "csv";
  std::string header = csv ? "time,gpu" : fmt::format("{:<20} {:<14}", "time", "gpu");
  for (auto i : cols)
    header += csv ? fmt::format(",{}", store::gpu_metrics()[i].column)
                  : fmt::format(" {:>18}", store::gpu_metrics()[i].column);
  fmt::print("{}\n", header);
  for (const auto& r : *rows) {
    std::string line = csv ? fmt::format("{},{}", iso(r.ts * 1000), r.bus_id)
                           : fmt::format("{:<20} {:<14}", iso(r.ts * 1000), r.bus_id);
    for (auto i : cols) line += csv ? "," + cell(r.values[i]) : fmt::format(" {:>18}", cell(r.values[i]));
    fmt::print("{}\n", line);
  }
  return k_exit_ok;
}

struct EventsCli {
  std::string db, since = "24h", until = "now", format = "table";
  std::vector<std::string> types;
};

int do_events(const EventsCli& c) {
  auto db = open_db(c.db);
  if (!db) {
    fmt::print(stderr, "gpudoctor events: {}\n", db.error().message);
    return k_exit_unknown;
  }
  auto rows = (*db)->events(*parse_time(c.since), *parse_time(c.until) + 1000, c.types);
  if (!rows) {
    fmt::print(stderr, "gpudoctor events: {}\n", rows.error().message);
    return k_exit_unknown;
  }
  if (c.format == "json") {
    json out = json::array();
    for (const auto& e : *rows) {
      json d = json::parse(e.detail, nullptr, false);
      out.push_back({{"id", e.id},
                     {"time", iso(e.ts_ms)},
                     {"ts_ms", e.ts_ms},
                     {"type", e.type},
                     {"gpu", e.gpu},
                     {"detail", d.is_discarded() ? json(e.detail) : d}});
    }
    fmt::print("{}\n", out.dump(2));
    return k_exit_ok;
  }
  for (const auto& e : *rows)
    fmt::print("{:<20} {:<18} {:<14} {}\n", iso(e.ts_ms), e.type, e.gpu.empty() ? "-" : e.gpu, e.detail);
  return k_exit_ok;
}

}  // namespace

void setup_watch(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<WatchCli>();
  add_node_options(sub, c->node);
  sub.add_option("--interval", c->interval, "Sampling interval: 10s (default), 1s, 500ms, 1m");
  sub.add_option("--db", c->db,
                 "History database (default /var/lib/gpudoctor/history.db as root, else "
                 "$XDG_STATE_HOME/gpudoctor/history.db)");
  sub.add_option("--listen", c->listen,
                 fmt::format("Serve /metrics on ADDR:PORT (default 127.0.0.1:{})", sampler::k_default_port));
  sub.add_flag("--no-listen", c->no_listen, "Serve no HTTP endpoint");
  sub.add_option("--textfile", c->textfile, "Also write the metrics to this .prom file (atomically) every tick");
  sub.add_option("--metrics-compat", c->compat, "Also export dcgm-exporter's names and labels: none (default), dcgm")
      ->check(CLI::IsMember({"none", "dcgm"}));
  sub.add_option("--retention-days", c->retention_days, "Days of raw samples to keep (default 30)")
      ->check(CLI::Range(1, 3650));
  sub.add_option("--max-ticks", c->max_ticks, "Stop after N samples (tests, benchmarks)");
  sub.add_flag("-q,--quiet", c->quiet, "Log nothing on stderr");
  sub.callback([c, &sub, &exit_code] { exit_code = do_watch(*c, sub.count("--timeout") > 0); });
}

void setup_history(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<HistoryCli>();
  sub.add_option("--db", c->db, "History database (default: watch's)");
  sub.add_option("--gpu", c->gpu, "Only this GPU (bus id, 0000:3b:00.0)");
  sub.add_option("--metric", c->metric, "Only this metric (temp_celsius, power_milliwatts, ...)");
  sub.add_option("--since", c->since, "From (default 1h ago): 2h, 7d, unix seconds, 2026-11-27[T03:00]")
      ->check(time_validator());
  sub.add_option("--until", c->until, "To (default now)")->check(time_validator());
  sub.add_option("--format", c->format, "table (default), csv, json")->check(CLI::IsMember({"table", "csv", "json"}));
  sub.callback([c, &exit_code] { exit_code = do_history(*c); });
}

void setup_events(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<EventsCli>();
  sub.add_option("--db", c->db, "History database (default: watch's)");
  sub.add_option("--since", c->since, "From (default 24h ago): 2h, 7d, unix seconds, 2026-11-27[T03:00]")
      ->check(time_validator());
  sub.add_option("--until", c->until, "To (default now)")->check(time_validator());
  sub.add_option("--type", c->types,
                 "Only these types: gpu_lost, gpu_back, nvml_hung, nvml_answering, finding_raised, finding_cleared, "
                 "inventory_changed, gpu_added, daemon_start, daemon_stop, daemon_reload");
  sub.add_option("--format", c->format, "table (default), json")->check(CLI::IsMember({"table", "json"}));
  sub.callback([c, &exit_code] { exit_code = do_events(*c); });
}

}  // namespace gd::cli
