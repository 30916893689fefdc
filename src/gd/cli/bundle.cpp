// `gpudoctor collect --bundle FILE.tar.gz [--redact]`: the evidence bundle
// (gd/bundle/bundle.hpp), finished within --timeout whatever the driver does.
#include "gd/cli/bundle_ops.hpp"

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/bundle/bundle.hpp"
#include "gd/cli/cli.hpp"
#include "gd/cli/render.hpp"
#include "gd/host/host_root.hpp"
#include "gd/host/kernel_log_source.hpp"
#include "gd/model/json_io.hpp"
#include "gd/report/render.hpp"
#include "gd/report/report.hpp"
#include "gd/report/verdict.hpp"
#include "gd/rule/rule.hpp"
#include "gd/sampler/daemon.hpp"
#include "gd/store/gpu_metrics.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/temp_dir.hpp"
#include "gd/util/time.hpp"

namespace gd::cli {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::size_t k_kernel_log_max = 16u << 20;  // bytes of kernel log kept (the newest)

double left_s(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

// The kernel log of this and the previous boot: the journal, else /dev/kmsg (this boot), else --kernel-log.
std::string kernel_log(const host::HostRoot& root, const NodeOptions& o, Clock::time_point deadline,
                       const std::string& hostname, json& skipped, std::string& source) {
  std::string out;
  if (!o.probe.kernel_log_file.empty() && o.probe.kernel_log_file != "-") {
    bool cut = false;
    auto r = host::stream_file(o.probe.kernel_log_file, [&](std::string_view c) { out.append(c); }, k_kernel_log_max,
                               deadline, &cut);
    if (!r) skipped.push_back({{"what", "kernel log"}, {"why", r.error().message}});
    if (cut) skipped.push_back({{"what", "kernel log"}, {"why", "cut short at the deadline"}});
    source = o.probe.kernel_log_file;
    return out;
  }
  host::JournalLimits lim;
  lim.max_boots = 2;
  lim.keep_substring = "";
  lim.max_seconds = std::max(0.1, std::min(3.0, left_s(deadline)));
  lim.max_entries = 400000;
  auto j = host::read_journal(root, lim);
  if (j) {
    int boot = 1;
    for (const auto& r : j->records) {
      if (r.boot != boot) {
        out += fmt::format("-- Boot {} --\n", r.boot);
        boot = r.boot;
      }
      out += fmt::format("{} {} kernel: {}\n", util::format_utc(r.realtime_usec / 1000000), hostname,
                         util::printable(r.message, 4096));
    }
    for (const auto& p : j->problems) skipped.push_back({{"what", "kernel log"}, {"why", p}});
    source = j->source;
  } else if (auto k = host::read_kmsg(root, k_kernel_log_max, std::max(0.1, std::min(2.0, left_s(deadline))))) {
    out = std::move(k->text);
    source = "/dev/kmsg (this boot only)";
    skipped.push_back({{"what", "kernel log of the previous boot"}, {"why", j.error().message}});
  } else {
    skipped.push_back({{"what", "kernel log"}, {"why", j.error().message + "; " + k.error().message}});
  }
  if (out.size() > k_kernel_log_max) {
    out.erase(0, out.size() - k_kernel_log_max);
    out.erase(0, out.find('\n') + 1);
    skipped.push_back({{"what", "kernel log"}, {"why", fmt::format("older lines beyond {} MiB left out", k_kernel_log_max >> 20)}});
  }
  return out;
}

// The window around the latest incident, written into a new history database (temp file) and its report.
struct HistoryPart {
  std::string db_bytes, report_html, summary;
};

Result<HistoryPart> history_part(const BundleOptions& b, const std::string& hostname, bundle::Redactor* redact,
                                 const std::vector<model::ChangeRecord>& changes) {
  auto db = store::Store::open_for_query(b.db.empty() ? store::default_db_path() : b.db);
  if (!db) return db.error();
  report::ReportOptions o;
  o.now_ms = util::now_unix_ms();
  o.window_s = b.window_s;
  o.hostname = hostname;
  o.changes = changes;
  auto data = report::load(**db, o);
  if (!data) return data.error();
  if (redact) {
    data->hostname = redact->apply(data->hostname);
    for (auto& g : data->gpus) {
      redact->add_serial(g.id.serial);
      g.id.uuid = redact->apply(g.id.uuid), g.id.serial = redact->apply(g.id.serial);
    }
    auto scrub = [&](store::EventRow& e) { e.detail = redact->apply(e.detail); };
    for (auto& e : data->events) scrub(e);
    for (auto& e : data->earlier) scrub(e);
    if (data->anchor.event) scrub(*data->anchor.event);
    for (auto& f : data->fixes) f.detail = redact->apply(f.detail), f.before = redact->apply(f.before);
  }
  HistoryPart out;
  auto verdict = report::judge(*data);
  out.summary = verdict.summary;
  // The window as a history of its own (what `report --db BUNDLE` reads back): samples, inventory, events.
  util::TempDir tmp;
  auto dir = tmp.make("gd-bundle-");
  if (!dir) return dir.error();
  std::string path = *dir + "/history.db";
  {
    auto w = store::Store::open(path, nullptr, store::Store::Check::none);
    if (!w) return w.error();
    std::vector<store::SampleRow> rows;
    std::vector<store::GpuIdentity> inv;
    auto metrics = report::report_metrics();
    for (const auto& g : data->gpus) {
      inv.push_back(g.id);
      for (std::size_t i = 0; i < g.ts.size(); ++i) {
        store::SampleRow r{g.ts[i], g.id.bus_id, std::vector<std::optional<std::int64_t>>(store::gpu_metrics().size())};
        for (std::size_t k = 0; k < metrics.size(); ++k) r.values[*store::metric_index(metrics[k])] = g.values[k][i];
        rows.push_back(std::move(r));
      }
    }
    std::vector<store::EventRow> events = data->earlier;
    events.insert(events.end(), data->events.begin(), data->events.end());
    if (auto e = (*w)->write(rows, inv, events)) return make_error(e->message);
    (*w)->checkpoint();
  }
  std::string bytes;
  auto read = host::stream_file(path, [&](std::string_view c) { bytes.append(c); });
  if (!read) return read.error();
  out.db_bytes = std::move(bytes);
  out.report_html = report::render_html(*data, verdict);
  return out;
}

}  // namespace

int write_bundle(NodeOptions& o, const BundleOptions& b) {
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.probe.timeout_s));
  // The snapshot gets 70 % of the time (its NVML/CUDA workers are killed at their deadline); the rest is for the
  // kernel log, the history and the archive.
  o.probe.deadline = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.probe.timeout_s * 0.7));
  json skipped = json::array(), parts = json::object();
  auto t0 = Clock::now();
  auto ms = [](Clock::time_point a) { return std::chrono::duration<double, std::milli>(Clock::now() - a).count(); };
  auto snap = snapshot_node(o);
  if (!snap) {
    fmt::print(stderr, "gpudoctor: cannot collect: {}\n", snap.error().message);
    return k_exit_unknown;
  }
  parts["snapshot_ms"] = ms(t0);
  auto findings = rule::evaluate(rule::RuleInput{*snap, std::nullopt, {}});
  int code = rule::exit_code_for(findings);
  host::HostRoot root(o.root);
  std::string hostname = snap->hostname;

  std::optional<bundle::Redactor> redact;
  if (b.redact) {
    redact.emplace();
    redact->add_host(hostname);
    for (const auto& g : snap->nvml.gpus)
      if (g.serial) redact->add_serial(*g.serial);
  }
  auto scrub = [&](std::string text) { return redact ? redact->apply(text) : text; };

  std::vector<util::TarEntry> entries;
  const std::int64_t now_s = util::now_unix_ms() / 1000;
  auto add = [&](std::string_view name, std::string data) {
    entries.push_back({std::string(name), std::move(data), now_s});
  };
  add(bundle::k_snapshot, scrub(dump_json(model::to_json(*snap)) + "\n"));
  add(bundle::k_findings, scrub(dump_json(render_json(*snap, findings, code)) + "\n"));

  std::string log_source;
  t0 = Clock::now();
  if (left_s(deadline) > 0.05) {
    std::string log = kernel_log(root, o, deadline, hostname, skipped, log_source);
    if (!log.empty()) add(bundle::k_kernel_log, scrub(std::move(log)));
  } else {
    skipped.push_back({{"what", "kernel log"}, {"why", "no time left before --timeout"}});
  }
  parts["kernel_log_ms"] = ms(t0);

  auto changes = report::fix_records(root);
  if (!changes.empty()) {
    std::string text;
    for (const auto& c : changes)
      text += json{{"ts", c.ts_unix_s}, {"boot_id", c.boot_id}, {"finding", c.finding}, {"action", c.action},
                   {"before", c.before}, {"detail", c.detail}}
                  .dump(-1, ' ', false, json::error_handler_t::replace) +
              "\n";
    add(bundle::k_changes, scrub(std::move(text)));
  }

  std::string verdict;
  t0 = Clock::now();
  if (left_s(deadline) > 0.2) {
    auto h = history_part(b, hostname, redact ? &*redact : nullptr, changes);
    if (h) {
      add(bundle::k_history, std::move(h->db_bytes));
      add(bundle::k_report, scrub(std::move(h->report_html)));
      verdict = h->summary;
    } else {
      skipped.push_back({{"what", "history and report"}, {"why", h.error().message}});
    }
  } else {
    skipped.push_back({{"what", "history and report"}, {"why", "no time left before --timeout"}});
  }
  parts["history_ms"] = ms(t0);

  json files = json::array();
  for (const auto& e : entries) files.push_back({{"name", e.name}, {"bytes", e.data.size()}});
  json manifest = {{"kind", "gpudoctor-bundle"},
                   {"schema", 1},
                   {"gpudoctor", GD_VERSION},
                   {"created", util::format_utc(now_s)},
                   {"host", redact ? redact->apply(hostname) : hostname},
                   {"redacted", b.redact},
                   {"timeout_s", o.probe.timeout_s},
                   {"exit_code_of_check", code},
                   {"kernel_log_source", log_source},
                   {"verdict", verdict},
                   {"files", files},
                   {"skipped", skipped},
                   {"elapsed", parts}};
  if (redact) manifest["redactions"] = {{"identifiers", redact->identifiers()}, {"replacements", redact->replacements()}};
  entries.insert(entries.begin(), {std::string(bundle::k_manifest), dump_json(manifest) + "\n", now_s});
  auto gz = util::make_tar_gz(entries);
  if (!gz) {
    fmt::print(stderr, "gpudoctor: cannot write the bundle: {}\n", gz.error().message);
    return k_exit_unknown;
  }
  std::string err;
  if (!sampler::write_atomic(b.path, *gz, err)) {
    fmt::print(stderr, "gpudoctor: {}\n", err);
    return k_exit_unknown;
  }
  fmt::print(stderr, "gpudoctor collect: wrote {} ({} KB in {:.1f} s{}): {}{}\n", util::printable(b.path, 300),
             (gz->size() + 1023) / 1024, std::chrono::duration<double>(Clock::now() - started).count(),
             b.redact ? fmt::format(", {} identifiers redacted", redact->identifiers()) : "",
             util::join([&] {
               std::vector<std::string> n;
               for (const auto& e : entries) n.push_back(e.name);
               return n;
             }(), ", "),
             skipped.empty() ? "" : fmt::format("; skipped: {}", skipped.size()));
  for (const auto& s : skipped)
    fmt::print(stderr, "  skipped {}: {}\n", s["what"].get<std::string>(), util::printable(s["why"].get<std::string>(), 300));
  return k_exit_ok;
}

}  // namespace gd::cli
