// `watch` (the daemon), `history` and `events` (queries of its database).
#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "gd/cli/cli.hpp"
#include "gd/cli/ledger_ops.hpp"
#include "gd/cli/node_options.hpp"
#include "gd/cli/render.hpp"
#include "gd/sampler/daemon.hpp"
#include "gd/store/gpu_metrics.hpp"
#include "gd/store/store.hpp"
#include "gd/cli/since_option.hpp"
#include "gd/model/bus_id.hpp"
#include "gd/model/history_event.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/time.hpp"

namespace gd::cli {

namespace {

using nlohmann::json;

// --since/--until in unix milliseconds (validated by time_validator()).
std::int64_t time_ms(const std::string& s) { return *util::parse_time_ms(s, util::now_unix_ms()); }

std::string iso(std::int64_t unix_ms) { return util::format_utc(unix_ms / 1000); }

struct WatchCli {
  NodeOptions node;
  std::string interval = "10s";
  std::string integrity_check_interval = "15m";
  std::string db, listen = fmt::format("127.0.0.1:{}", sampler::k_default_port), textfile, compat = "none";
  bool no_listen = false;
  store::Retention retention;
  std::uint64_t max_ticks = 0;
  bool quiet = false;
  bool no_ledger = false;
  std::int64_t quiet_s = ledger::k_default_quiet_s;
};

int do_watch(WatchCli& c, bool timeout_given) {
  auto iv = util::parse_duration(c.interval);
  if (!iv || *iv < std::chrono::milliseconds(100)) {
    fmt::print(stderr, "gpudoctor watch: --interval {}: expected a duration of at least 100ms (10s, 1m)\n", c.interval);
    return k_exit_unknown;
  }
  auto qc = util::parse_duration(c.integrity_check_interval);
  if (!qc || *qc < std::chrono::seconds(1)) {
    fmt::print(stderr, "gpudoctor watch: --integrity-check-interval {}: expected a duration of at least 1s (15m, 1h)\n",
               c.integrity_check_interval);
    return k_exit_unknown;
  }
  if (auto node = probe::check_node_root(host::HostRoot(c.node.root)); !node) {
    fmt::print(stderr, "gpudoctor watch: {}\n", node.error().message);
    return k_exit_unknown;
  }
  // A --db whose folder can never be created (a regular file on the way) would retry forever: refused.
  {
    std::string db = c.db.empty() ? store::default_db_path() : c.db;
    for (std::filesystem::path p = std::filesystem::path(db).parent_path(); !p.empty(); p = p.parent_path()) {
      std::error_code ec;
      auto st = std::filesystem::status(p, ec);
      if (std::filesystem::exists(st)) {
        if (!std::filesystem::is_directory(st)) {
          fmt::print(stderr, "gpudoctor watch: --db {}: {} is not a directory\n", util::printable(db, 300),
                     util::printable(p.string(), 300));
          return k_exit_unknown;
        }
        break;
      }
      if (p == p.root_path()) break;
    }
  }
  sampler::WatchOptions o;
  o.integrity_check_interval = *qc;
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
  o.retention = c.retention;
  if (c.max_ticks) o.max_ticks = c.max_ticks;
  o.quiet = c.quiet;
  o.ledger = !c.no_ledger;
  o.ledger_quiet_s = c.quiet_s;
  return sampler::run_watch(o);
}

// Queries never write: read-only, never created, migrated or moved aside.
Result<std::unique_ptr<store::Store>> open_db(const std::string& db) {
  return store::Store::open_for_query(db.empty() ? store::default_db_path() : db);
}

// A roll-up average: up to three decimals, no trailing zeros.
std::string avg_text(double v) {
  std::string s = fmt::format("{:.3f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

struct HistoryCli {
  std::string db, gpu, since = "1h", until = "now", format = "table", resolution = "auto";
  std::vector<std::string> metrics;
  bool summary = false;
};

// --summary: per GPU and metric, the count, min, average and max over the range.
int print_summary(store::Store& db, const store::HistoryQuery& q, const std::string& format) {
  auto acc = db.summarize(q);
  if (!acc) {
    fmt::print(stderr, "gpudoctor history: {}\n", acc.error().message);
    return k_exit_unknown;
  }
  json out = json::array();
  if (format == "csv") fmt::print("gpu,metric,samples,min,avg,max\n");
  if (format == "table")
    fmt::print("{:<14} {:<26} {:>10} {:>14} {:>14} {:>14}\n", "gpu", "metric", "samples", "min", "avg", "max");
  for (const auto& [key, s] : *acc) {
    std::string metric(store::gpu_metrics()[key.second].column);
    if (format == "json")
      out.push_back({{"gpu", key.first},
                     {"metric", metric},
                     {"samples", s.count},
                     {"min", s.min},
                     {"avg", s.avg()},
                     {"max", s.max}});
    else if (format == "csv")
      fmt::print("{},{},{},{},{},{}\n", key.first, metric, s.count, s.min, avg_text(s.avg()), s.max);
    else
      fmt::print("{:<14} {:<26} {:>10} {:>14} {:>14} {:>14}\n", key.first, metric, s.count, s.min, avg_text(s.avg()),
                 s.max);
  }
  if (format == "json") fmt::print("{}\n", dump_json(out));
  return k_exit_ok;
}

// The output columns of `history`: with --resolution raw one value per
// metric; otherwise the resolution, then per metric the value (a roll-up's
// average) and its min and max (= the value for raw rows).
struct HistoryColumns {
  std::vector<std::size_t> metrics;
  bool stats = false;

  std::vector<std::string> header() const {
    std::vector<std::string> h = {"time", "gpu"};
    if (stats) h.emplace_back("resolution");
    for (auto i : metrics) {
      std::string c(store::gpu_metrics()[i].column);
      h.push_back(c);
      if (stats) h.push_back(c + "_min"), h.push_back(c + "_max");
    }
    return h;
  }
  std::vector<json> cells(const store::HistoryRow& r) const {
    std::vector<json> out = {iso(r.ts * 1000), r.bus_id};
    if (stats) out.emplace_back(std::string(store::resolution_name(r.resolution)));
    for (auto i : metrics) {
      const auto& v = r.values[i];
      if (!v) {
        out.insert(out.end(), stats ? 3 : 1, json());
        continue;
      }
      if (r.resolution == store::Resolution::raw)
        out.emplace_back(v->min);
      else
        out.emplace_back(v->avg());
      if (stats) out.emplace_back(v->min), out.emplace_back(v->max);
    }
    return out;
  }
};

std::string cell_text(const json& j) {
  if (j.is_null()) return "";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_float()) return avg_text(j.get<double>());
  return dump_json(j, -1);
}

int do_history(const HistoryCli& c) {
  std::vector<std::size_t> cols;
  for (const auto& name : c.metrics) {
    if (name == "all") {
      for (std::size_t i = 0; i < store::gpu_metrics().size(); ++i) cols.push_back(i);
      continue;
    }
    auto i = store::metric_index(name);
    if (!i) {
      std::string names;
      for (const auto& m : store::gpu_metrics()) names += fmt::format(" {}", m.column);
      fmt::print(stderr, "gpudoctor history: --metric {}: unknown; one of: all{}\n", name, names);
      return k_exit_unknown;
    }
    cols.push_back(*i);
  }
  if (c.metrics.empty())
    for (const char* n : {"temp_celsius", "power_milliwatts", "util_gpu_percent", "mem_used_bytes", "clock_sm_mhz",
                          "clock_event_reasons"})
      cols.push_back(*store::metric_index(n));
  auto db = open_db(c.db);
  if (!db) {
    fmt::print(stderr, "gpudoctor history: {}\n", db.error().message);
    return k_exit_unknown;
  }
  store::HistoryQuery q;
  if (!c.gpu.empty()) {
    auto known = (*db)->inventory();
    std::vector<std::string> ids;
    for (const auto& g : known.value_or({})) ids.push_back(g.bus_id);
    std::string want = model::normalize_bus_id(c.gpu).value_or(c.gpu);
    if (known && std::find(ids.begin(), ids.end(), want) == ids.end()) {
      fmt::print(stderr, "gpudoctor history: --gpu {}: no such GPU in {} (it has: {})\n", util::printable(c.gpu, 40),
                 (*db)->path(), ids.empty() ? "none yet" : util::join(ids, ", "));
      return k_exit_unknown;
    }
    q.gpu = want;
  }
  q.since = time_ms(c.since) / 1000;
  q.until = time_ms(c.until) / 1000 + 1;
  q.resolution = store::parse_resolution(c.resolution);  // "auto" -> nullopt
  q.metrics = cols;
  if (c.summary) return print_summary(**db, q, c.format);
  HistoryColumns hc{cols, c.resolution != "raw"};
  auto header = hc.header();
  bool csv = c.format == "csv", as_json = c.format == "json";
  auto width = [&](std::size_t k) { return k == 0 ? 20 : k == 1 ? 14 : k == 2 && hc.stats ? 10 : 18; };
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t k = 0; k < cells.size(); ++k) {
      if (csv)
        out += (k ? "," : "") + cells[k];
      else if (k < 2 || (k == 2 && hc.stats))
        out += fmt::format("{}{:<{}}", k ? " " : "", cells[k], width(k));
      else
        out += fmt::format(" {:>{}}", cells[k], width(k));
    }
    return out;
  };
  if (as_json)
    fmt::print("[");
  else
    fmt::print("{}\n", line(header));
  bool first = true;
  auto n = (*db)->history(q, [&](const store::HistoryRow& r) {
    auto cells = hc.cells(r);
    if (as_json) {
      json o = {{"time", cells[0]}, {"ts", r.ts}, {"gpu", cells[1]}};
      for (std::size_t k = 2; k < cells.size(); ++k) o[header[k]] = cells[k];
      fmt::print("{}\n  {}", first ? "" : ",", dump_json(o, -1));
    } else {
      std::vector<std::string> text;
      for (const auto& j : cells) text.push_back(cell_text(j));
      fmt::print("{}\n", line(text));
    }
    first = false;
  });
  if (as_json) fmt::print("{}]\n", first ? "" : "\n");
  if (!n) {
    fmt::print(stderr, "gpudoctor history: {}\n", n.error().message);
    return k_exit_unknown;
  }
  return k_exit_ok;
}

struct EventsCli {
  std::string db, since = "24h", until = "now", format = "table";
  std::vector<std::string> types;
};

std::string event_names() {
  std::vector<std::string> names;
  for (const auto& [kind, name] : model::history_event_table()) names.emplace_back(name);
  return util::join(names, ", ");
}

int do_events(const EventsCli& c) {
  for (const auto& t : c.types)
    if (!model::history_event_from_name(t)) {
      fmt::print(stderr, "gpudoctor events: --type {}: no such event type; one of: {}\n", util::printable(t, 40),
                 event_names());
      return k_exit_unknown;
    }
  auto db = open_db(c.db);
  if (!db) {
    fmt::print(stderr, "gpudoctor events: {}\n", db.error().message);
    return k_exit_unknown;
  }
  auto rows = (*db)->events(time_ms(c.since), time_ms(c.until) + 1000, c.types);
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
    fmt::print("{}\n", dump_json(out));
    return k_exit_ok;
  }
  for (const auto& e : *rows)
    fmt::print("{:<20} {:<18} {:<14} {}\n", iso(e.ts_ms), util::printable(e.type, 40),
               e.gpu.empty() ? "-" : util::printable(e.gpu, 40), util::printable(e.detail, 4096));
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
  sub.add_option("--integrity-check-interval", c->integrity_check_interval,
                 "How often the history database is checked for corrupted pages (PRAGMA quick_check; a corrupt file "
                 "is moved aside and a new one started): 15m (default)");
  sub.add_option("--listen", c->listen,
                 fmt::format("Serve /metrics on ADDR:PORT (default 127.0.0.1:{})", sampler::k_default_port));
  sub.add_flag("--no-listen", c->no_listen, "Serve no HTTP endpoint");
  sub.add_option("--textfile", c->textfile, "Also write the metrics to this .prom file (atomically) every tick");
  sub.add_option("--metrics-compat", c->compat, "Also export dcgm-exporter's names and labels: none (default), dcgm")
      ->check(CLI::IsMember({"none", "dcgm"}));
  sub.add_option("--retention-days", c->retention.raw_days, "Days of raw samples to keep (default 30)")
      ->check(CLI::Range(1, 3650));
  sub.add_option("--minute-retention-days", c->retention.minute_days,
                 "Days of per-minute min/avg/max roll-ups to keep (default 90)")
      ->check(CLI::Range(1, 3650));
  sub.add_option("--hour-retention-days", c->retention.hour_days,
                 "Days of per-hour min/avg/max roll-ups to keep (default 730)")
      ->check(CLI::Range(1, 36500));
  sub.add_option("--max-ticks", c->max_ticks, "Stop after N samples (tests, benchmarks)");
  sub.add_flag("-q,--quiet", c->quiet, "Log nothing on stderr");
  sub.add_flag("--no-ledger", c->no_ledger,
               "Do not keep the health ledger (/var/lib/gpudoctor/ledger.json inside --root); /metrics then has no "
               "gpudoctor_ledger_latched");
  add_quiet_time_option(sub, c->quiet_s);
  sub.callback([c, &sub, &exit_code] { exit_code = do_watch(*c, sub.count("--timeout") > 0); });
}

void setup_history(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<HistoryCli>();
  sub.add_option("--db", c->db, "History database (default: watch's)");
  sub.add_option("--gpu", c->gpu, "Only this GPU (bus id, 0000:3b:00.0)");
  sub.add_option("--metric", c->metrics,
                 "Only these metrics (repeat the option): temp_celsius, power_milliwatts, ..., or all");
  sub.add_option("--since", c->since, "From (default 1h ago): 2h, 7d, unix seconds, 2026-11-27[T03:00]")
      ->check(time_validator());
  sub.add_option("--until", c->until, "To (default now)")->check(time_validator());
  sub.add_option("--format", c->format, "table (default), csv, json")->check(CLI::IsMember({"table", "csv", "json"}));
  sub.add_option("--resolution", c->resolution,
                 "raw, minute, hour (min/avg/max roll-ups) or auto (default: raw where kept, else roll-ups)")
      ->check(CLI::IsMember({"auto", "raw", "minute", "hour"}));
  sub.add_flag("--summary", c->summary,
               "Per GPU and metric: samples, min, avg, max over the range (e.g. max temperature before an event)");
  sub.callback([c, &exit_code] { exit_code = do_history(*c); });
}

void setup_events(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<EventsCli>();
  sub.add_option("--db", c->db, "History database (default: watch's)");
  sub.add_option("--since", c->since, "From (default 24h ago): 2h, 7d, unix seconds, 2026-11-27[T03:00]")
      ->check(time_validator());
  sub.add_option("--until", c->until, "To (default now)")->check(time_validator());
  sub.add_option("--type", c->types, "Only these types (repeat the option): " + event_names());
  sub.add_option("--format", c->format, "table (default), json")->check(CLI::IsMember({"table", "json"}));
  sub.callback([c, &exit_code] { exit_code = do_events(*c); });
}

}  // namespace gd::cli
