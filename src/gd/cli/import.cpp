// `gpudoctor import nvidia-smi PATH...` and `gpudoctor import kernel-log FILE`:
// what people already logged, into watch's history (docs/import.md).
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/cli/cli.hpp"
#include "gd/cli/render.hpp"
#include "gd/importer/import.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/time.hpp"

namespace gd::cli {

namespace {

struct ImportCli {
  std::string db;
  std::vector<std::string> paths;
  std::string query_gpu;
  std::string kernel_log;
  bool json = false;
};

std::string when(const std::optional<std::int64_t>& ms) { return ms ? util::format_utc(*ms / 1000) : "-"; }

nlohmann::json report_json(const importer::ImportReport& r, const std::string& db) {
  return {{"db", db},
          {"files_read", r.files_read},
          {"files_unreadable", r.files_unreadable},
          {"dumps", r.dumps},
          {"time_from", r.time_from},
          {"samples", r.samples},
          {"gpus", r.gpus},
          {"events", r.events},
          {"events_already", r.events_already},
          {"first", r.first_ms ? nlohmann::json(when(r.first_ms)) : nlohmann::json(nullptr)},
          {"last", r.last_ms ? nlohmann::json(when(r.last_ms)) : nlohmann::json(nullptr)},
          {"skipped", r.skipped},
          {"skipped_count", r.skipped_count},
          {"hours_packed", r.hours_packed}};
}

std::string counts(const std::map<std::string, std::size_t>& m) {
  std::vector<std::string> parts;
  for (const auto& [k, n] : m) parts.push_back(fmt::format("{} {}", k, n));
  return parts.empty() ? "none" : util::join(parts, ", ");
}

void print_report(const importer::ImportReport& r, const std::string& what, const std::string& db) {
  std::size_t dumps = 0;
  for (const auto& [k, n] : r.dumps) dumps += n;
  fmt::print("import {}: {} file(s) read{}\n", what, r.files_read,
             r.files_unreadable ? fmt::format(", {} not readable", r.files_unreadable) : "");
  if (!r.dumps.empty()) fmt::print("  dumps: {} ({})\n", dumps, counts(r.dumps));
  if (!r.time_from.empty()) fmt::print("  time taken from: {}\n", counts(r.time_from));
  if (r.samples) fmt::print("  samples: {} of {} GPU(s), {} to {}\n", r.samples, r.gpus, when(r.first_ms), when(r.last_ms));
  fmt::print("  events recorded: {}{}\n", counts(r.events),
             r.events_already ? fmt::format(" ({} already in the history, not recorded again)", r.events_already) : "");
  if (r.skipped_count) {
    fmt::print("  not imported, or only in part: {}\n", r.skipped_count);
    for (const auto& s : r.skipped) fmt::print("    {}\n", s);
    if (r.skipped_count > r.skipped.size()) fmt::print("    ... and {} more\n", r.skipped_count - r.skipped.size());
  }
  fmt::print("  into {}\n", util::printable(db, 300));
}

int do_import(const ImportCli& c, bool kernel) {
  std::string db = c.db.empty() ? store::default_db_path() : c.db;
  // One writer at a time: a running `watch` on this database holds its lock.
  auto lock = store::Store::lock_writer(db);
  if (!lock) {
    fmt::print(stderr, "gpudoctor: import: {} (stop it, or import into another --db)\n", lock.error().message);
    return k_exit_unknown;
  }
  std::string notice;
  auto s = store::Store::open(db, &notice, store::Store::Check::quick);
  if (!s) {
    fmt::print(stderr, "gpudoctor: import: {}\n", s.error().message);
    return k_exit_unknown;
  }
  if (!notice.empty()) fmt::print(stderr, "gpudoctor: import: {}\n", notice);
  Result<importer::ImportReport> r = make_error("");
  if (kernel) {
    r = importer::import_kernel_log(**s, c.kernel_log);
  } else {
    importer::SmiImportOptions o;
    o.paths = c.paths;
    for (auto f : util::split(c.query_gpu, ','))
      if (!util::trim(f).empty()) o.csv_fields.emplace_back(util::trim(f));
    r = importer::import_nvidia_smi(**s, o);
  }
  if (!r) {
    fmt::print(stderr, "gpudoctor: import: {}\n", r.error().message);
    return k_exit_unknown;
  }
  if (c.json) fmt::print("{}\n", dump_json(report_json(*r, db)));
  else print_report(*r, kernel ? "kernel-log" : "nvidia-smi", db);
  // Everything readable was imported; a file that could not be read at all, or an input with nothing in it that
  // could be imported, is exit 3 (what was imported stays).
  bool nothing = r->samples == 0 && r->events.empty() && r->events_already == 0;
  return r->files_unreadable || nothing ? k_exit_unknown : k_exit_ok;
}

}  // namespace

void setup_import(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<ImportCli>();
  sub.require_subcommand(1);
  auto* smi = sub.add_subcommand("nvidia-smi",
                                 "nvidia-smi dumps (the default table, -q, --query-gpu CSV): files or directories");
  smi->add_option("path", c->paths, "Dump files, or directories of them (e.g. a loop's nvidia-smi-<time>.log files)")
      ->required();
  smi->add_option("--db", c->db, "History database (default: watch's)");
  smi->add_option("--query-gpu", c->query_gpu,
                  "The --query-gpu fields a CSV written with noheader holds, comma-separated, in order");
  smi->add_flag("--json", c->json, "Print the report as JSON");
  smi->callback([c, &exit_code] { exit_code = do_import(*c, false); });
  auto* kl = sub.add_subcommand("kernel-log", "A kernel log's Xid and fallen-off-the-bus events (syslog, journal, dmesg -T)");
  kl->add_option("file", c->kernel_log, "The log file")->required();
  kl->add_option("--db", c->db, "History database (default: watch's)");
  kl->add_flag("--json", c->json, "Print the report as JSON");
  kl->callback([c, &exit_code] { exit_code = do_import(*c, true); });
}

}  // namespace gd::cli
