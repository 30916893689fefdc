// `gpudoctor report`: the post-mortem of one incident from watch's history —
// one self-contained HTML page (or its JSON) with the charts, the events and
// the verdict on every usual suspect (docs/report.md).
#include <unistd.h>

#include <cctype>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/bundle/bundle.hpp"
#include "gd/cli/cli.hpp"
#include "gd/host/host_root.hpp"
#include "gd/host/kernel_log_source.hpp"
#include "gd/report/render.hpp"
#include "gd/report/report.hpp"
#include "gd/report/verdict.hpp"
#include "gd/sampler/daemon.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/tar_gz.hpp"
#include "gd/util/temp_dir.hpp"
#include "gd/util/time.hpp"

namespace gd::cli {

namespace {

struct ReportCli {
  std::string db, around, window = "2h", out, format = "html", root = "/";
};

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string hostname_of(const std::string& root) {
  if (root != "/") {
    host::HostRoot r(root);
    if (auto h = r.read_file("/etc/hostname", 256)) return std::string(util::trim(*h));
    return "";
  }
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

int do_report(const ReportCli& c) {
  // Megabytes of HTML are no answer on a terminal; a query writes no file it was not asked for.
  if (c.format == "html" && c.out.empty() && ::isatty(1)) {
    fmt::print(stderr, "gpudoctor report: the page is one HTML file: give --out FILE.html (or --format json, "
                       "or redirect standard output)\n");
    return k_exit_unknown;
  }
  report::ReportOptions o;
  o.now_ms = util::now_unix_ms();
  auto w = util::parse_duration(c.window);
  o.window_s = std::chrono::duration_cast<std::chrono::seconds>(*w).count();
  if (!c.around.empty()) {
    if (all_digits(c.around))
      o.around_event = std::stoll(c.around);
    else
      o.around_ms = *util::parse_time_ms(c.around, o.now_ms);
  }
  o.hostname = hostname_of(c.root);
  // The repairs `fix --yes` recorded on this node (inside --root): marked on the charts, listed with the events.
  o.changes = report::fix_records(host::HostRoot(c.root));
  std::string db_path = c.db.empty() ? store::default_db_path() : c.db;
  // An evidence bundle (collect --bundle): its history window, unpacked into a private temp dir for the query.
  util::TempDir unpacked;
  std::string head;
  host::stream_file(db_path, [&](std::string_view c) { head.append(c.substr(0, 2 - std::min<std::size_t>(2, head.size()))); }, 2);
  if (util::looks_gzip(head)) {
    auto b = bundle::read_bundle(db_path);
    if (!b) {
      fmt::print(stderr, "gpudoctor report: {}\n", b.error().message);
      return k_exit_unknown;
    }
    const auto* h = bundle::member(*b, bundle::k_history);
    if (!h) {
      fmt::print(stderr, "gpudoctor report: {}: the bundle holds no history (its manifest says why)\n", db_path);
      return k_exit_unknown;
    }
    if (const auto* m = bundle::member(*b, bundle::k_manifest)) {
      auto j = nlohmann::json::parse(m->data, nullptr, false);
      if (j.is_object() && j.contains("host") && j["host"].is_string()) o.hostname = j["host"].get<std::string>();
    }
    auto dir = unpacked.make("gd-report-");
    std::string err;
    if (!dir || !sampler::write_atomic(*dir + "/history.db", h->data, err)) {
      fmt::print(stderr, "gpudoctor report: cannot unpack {}: {}\n", db_path, dir ? err : dir.error().message);
      return k_exit_unknown;
    }
    db_path = *dir + "/history.db";
    o.changes.clear();  // the bundle's window carries its node's repairs in its report; this node's are not its
  }
  auto db = store::Store::open_for_query(db_path);
  if (!db) {
    fmt::print(stderr, "gpudoctor report: {}\n", db.error().message);
    return k_exit_unknown;
  }
  auto data = report::load(**db, o);
  if (!data) {
    fmt::print(stderr, "gpudoctor report: {}\n", data.error().message);
    return k_exit_unknown;
  }
  if (!unpacked.path().empty()) data->db_path = c.db + " (its history.db)";
  auto verdict = report::judge(*data);
  std::string text = c.format == "json" ? report::render_json(*data, verdict) + "\n" : report::render_html(*data, verdict);
  if (c.out.empty() || c.out == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? k_exit_ok : k_exit_unknown;
  }
  std::string err;
  if (!sampler::write_atomic(c.out, text, err)) {
    fmt::print(stderr, "gpudoctor report: cannot write {}: {}\n", util::printable(c.out, 300), err);
    return k_exit_unknown;
  }
  fmt::print(stderr, "gpudoctor report: wrote {} ({} KB, {} GPU(s), {} event(s), window {} – {})\n{}\n",
             util::printable(c.out, 300), (text.size() + 1023) / 1024, data->gpus.size(), data->events.size(),
             util::format_utc(data->since_s), util::format_utc(data->until_s), verdict.summary);
  return k_exit_ok;
}

}  // namespace

void setup_report(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<ReportCli>();
  sub.add_option("--db", c->db, "History database (default: watch's)");
  sub.add_option("--around", c->around,
                 "The incident: an event id (`gpudoctor events`) or a time (2026-11-27T03:00, @1764300000, 2h); "
                 "default: the latest gpu_lost, else the latest critical event, else the end of the history")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            if (all_digits(v) || util::parse_time_ms(v, util::now_unix_ms())) return std::string();
            return "expected an event id or " + std::string(util::k_time_forms);
          },
          "EVENT_ID|TIME", "around"));
  sub.add_option("--window", c->window, "How much history (default 2h: 100 min before the incident, 20 after)")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            auto d = util::parse_duration(v);
            if (!d) return "not a duration: expected 30m, 2h, 7d";
            if (*d < std::chrono::minutes(1) || *d > std::chrono::hours(24 * 31)) return "must be between 1m and 31d";
            return std::string();
          },
          "DURATION", "window"));
  sub.add_option("--out", c->out, "Write the report to FILE (default: standard output)");
  sub.add_option("--format", c->format, "html (default: one self-contained page) or json (the same content as data)")
      ->check(CLI::IsMember({"html", "json"}));
  sub.add_option("--root", c->root, "The node's root, for fix's change record (default /)");
  sub.callback([c, &exit_code] { exit_code = do_report(*c); });
}

}  // namespace gd::cli
