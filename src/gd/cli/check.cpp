// `gpudoctor check` and `gpudoctor collect`.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "gd/bundle/bundle.hpp"
#include "gd/cli/bundle_ops.hpp"
#include "gd/cli/cli.hpp"
#include "gd/cli/node_options.hpp"
#include "gd/cli/render.hpp"
#include "gd/cli/since_option.hpp"
#include "gd/host/kernel_log_source.hpp"
#include "gd/model/json_io.hpp"
#include "gd/probe/probe.hpp"
#include "gd/rule/rule.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/tar_gz.hpp"
#include "gd/util/time.hpp"

namespace gd::cli {

void add_node_options(CLI::App& sub, NodeOptions& o) {
  sub.add_option("--root", o.root, "Directory that stands in for the node's / (sys/, proc/, dev/, etc/, usr/lib, run/)")
      ->check(CLI::ExistingDirectory);
  sub.add_option("--nvml", o.probe.nvml_override, "Load this file instead of finding libnvidia-ml.so.1")
      ->check(CLI::ExistingFile);
  sub.add_option("--cuda", o.probe.cuda_override, "Load this file instead of finding libcuda.so.1")
      ->check(CLI::ExistingFile);
  sub.add_flag("--no-tree-libs", o.probe.no_tree_libs,
               "With --root: load no library from the tree (a library's code runs as you when loaded: use this for "
               "a tree you do not trust). NVML and CUDA are then not consulted (a warning says so) unless --nvml or "
               "--cuda names a file");
  sub.add_option("--timeout", o.probe.timeout_s,
                 "Seconds NVML may take in all before it counts as hung (CUDA gets as long again)")
      ->transform(timeout_validator());
  sub.add_option("--kernel-log", o.probe.kernel_log_file,
                 "Read this kernel log (dmesg, dmesg -T, syslog/journal export, kmsg records) instead of the journal")
      ->check(CLI::ExistingFile);
  sub.add_option("--container-cli", o.probe.container_cli,
                 "Run this file as nvidia-container-cli (default: the one on PATH, live root only)")
      ->check(CLI::ExistingFile);
  sub.add_option("--since", o.probe.since,
                 "Kernel log window: boot, previous-boot (default), all, 2h, 7d, 2026-11-27[T03:00]")
      ->check(since_validator());
}

Result<model::Snapshot> snapshot_node(NodeOptions& o) {
  host::HostRoot root(o.root);
  if (auto node = probe::check_node_root(root); !node) return node.error();
  if (o.probe.ld_library_path.empty())
    if (const char* llp = std::getenv("LD_LIBRARY_PATH"))
      for (auto d : util::split(llp, ':'))
        if (!d.empty()) o.probe.ld_library_path.emplace_back(d);
  probe::ProbeContext ctx{root, o.probe};
  return probe::take_snapshot(ctx);
}

namespace {

// A snapshot is a few MB at most; more is not a snapshot.
constexpr std::size_t k_max_snapshot_bytes = 256u << 20;

// Reads a regular file (or stdin), never a FIFO or device that could block
// or never end, at most k_max_snapshot_bytes.
Result<std::string> read_input(const std::string& path) {
  std::string out;
  auto sink = [&out](std::string_view chunk) {
    if (out.size() <= k_max_snapshot_bytes) out.append(chunk.substr(0, k_max_snapshot_bytes + 1 - out.size()));
  };
  auto read = host::stream_file(path, sink, k_max_snapshot_bytes + 1);
  if (!read) return read.error();
  if (out.size() > k_max_snapshot_bytes)
    return make_error(fmt::format("{}: larger than {} MiB: not a snapshot", path == "-" ? "stdin" : path,
                                  k_max_snapshot_bytes >> 20));
  return out;
}

struct CheckOptions {
  NodeOptions node;
  std::string from;
  bool json = false;
  std::string format = "text";
  bool verbose = false;
  bool no_color = false;
  std::optional<unsigned> expect_gpus;
};

// node-problem-detector's custom plugin (0 OK, 1 problem, 2 unknown; one line
// of at most 80 characters) and Nagios (0/1/2/3, one status line): the worst
// finding's summary, and how many more problems there are.
int print_one_line(const std::string& format, const std::vector<model::Finding>& findings, int code,
                   const std::string& unknown) {
  std::size_t problems = 0;
  const model::Finding* worst = nullptr;
  for (const auto& f : findings)
    if (f.severity != model::Severity::ok) {
      ++problems;
      if (!worst) worst = &f;  // findings are sorted critical first
    }
  std::string what = !unknown.empty() ? unknown
                     : worst ? fmt::format("{}: {}{}", worst->id, worst->summary,
                                           problems > 1 ? fmt::format(" (+{} more)", problems - 1) : "")
                             : "all checks passed";
  if (format == "npd") {
    // A warning (persistence off) does not make the node unhealthy; a critical finding does.
    int npd = !unknown.empty() ? 2 : code == k_exit_critical ? 1 : 0;
    std::string line = npd == 0 && worst ? "OK (warnings: " + what + ")" : what;
    std::string out = util::printable(line, 76);  // printable adds " ..." when it cuts: at most 80 in all
    fmt::print("{}\n", out);
    return npd;
  }
  static constexpr const char* k_names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
  int nagios = !unknown.empty() ? 3 : std::clamp(code, 0, 2);
  fmt::print("GPUDOCTOR {} - {}\n", k_names[nagios], util::printable(what, 300));
  return nagios;
}

int do_check(CheckOptions& o) {
  if (o.json) o.format = "json";
  bool one_line = o.format == "npd" || o.format == "nagios";
  model::Snapshot snap;
  std::vector<std::string> input_problems;
  if (!o.from.empty()) {
    auto text = read_input(o.from);
    if (text && util::looks_gzip(*text)) {  // an evidence bundle (collect --bundle): its snapshot
      auto b = bundle::parse_bundle(*text, o.from == "-" ? "stdin" : o.from);
      const util::TarEntry* snap_entry = b ? bundle::member(*b, bundle::k_snapshot) : nullptr;
      if (b && !snap_entry) b = make_error(fmt::format("{}: the bundle holds no {}", o.from, bundle::k_snapshot));
      text = b ? Result<std::string>(snap_entry->data) : Result<std::string>(b.error());
    }
    std::vector<std::string> unknown;
    auto parsed = text ? model::parse_snapshot(*text, o.from, &unknown) : Result<model::Snapshot>(text.error());
    if (!parsed) {
      fmt::print(stderr, "gpudoctor: could not diagnose: {}\n", parsed.error().message);
      if (one_line) return print_one_line(o.format, {}, k_exit_unknown, "could not diagnose: " + parsed.error().message);
      return k_exit_unknown;
    }
    snap = std::move(*parsed);
    for (const auto& k : unknown)
      input_problems.push_back(fmt::format("{}: key {} is not understood by gpudoctor {} (ignored; a newer "
                                           "gpudoctor wrote it?)", o.from, util::printable(k, 80), GD_VERSION));
  } else {
    auto taken = snapshot_node(o.node);
    if (!taken) {
      fmt::print(stderr, "gpudoctor: could not diagnose: {}\n", taken.error().message);
      if (one_line) return print_one_line(o.format, {}, k_exit_unknown, "could not diagnose: " + taken.error().message);
      return k_exit_unknown;
    }
    snap = std::move(*taken);
  }
  auto findings = rule::evaluate(rule::RuleInput{snap, o.expect_gpus, input_problems});
  int code = rule::exit_code_for(findings);
  if (one_line) return print_one_line(o.format, findings, code, "");
  if (o.format == "json") {
    fmt::print("{}\n", dump_json(render_json(snap, findings, code)));
  } else {
    bool color = use_color(o.no_color);
    fmt::print("{}", render_text(snap, findings, code, TextOptions{color, o.verbose}));
  }
  return code;
}

bool write_file_atomic(const std::string& path, const std::string& data, std::string& err) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      err = fmt::format("{}: cannot create", tmp);
      return false;
    }
    out << data;
    out.flush();
    if (!out) {
      err = fmt::format("{}: write failed (disk full?)", tmp);
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = fmt::format("{}: cannot rename into place", path);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

void setup_check(CLI::App& sub, int& exit_code) {
  auto o = std::make_shared<CheckOptions>();
  add_node_options(sub, o->node);
  sub.add_option("--from", o->from,
                 "Diagnose a snapshot written by `gpudoctor collect` (- for stdin), or the snapshot in a bundle "
                 "(`collect --bundle`)");
  sub.add_flag("--json", o->json, "Print findings as JSON (same as --format json)");
  sub.add_option("--format", o->format,
                 "text (default), json, npd (node-problem-detector plugin: exit 0 OK, 1 critical, 2 unknown; one "
                 "line <= 80 chars), nagios (0/1/2/3 and one status line)")
      ->check(CLI::IsMember({"text", "json", "npd", "nagios"}));
  sub.add_flag("-v,--verbose", o->verbose, "Also print probe timings and a per-GPU table");
  sub.add_flag("--no-color", o->no_color, "Never colour the output");
  sub.add_option("--expect-gpus", o->expect_gpus, "Number of GPUs this node should have");
  sub.footer(
      "Exit codes: 0 healthy (every finding ok), 1 warning, 2 critical, 3 could not diagnose (bad input or usage, "
      "not a node root, not a snapshot).\n--timeout (default 10 s) bounds the whole check: NVML, CUDA and "
      "nvidia-container-cli together; a call still running at the deadline is reported as hung.");
  sub.callback([o, &exit_code] { exit_code = do_check(*o); });
}

void setup_collect(CLI::App& sub, int& exit_code) {
  auto o = std::make_shared<NodeOptions>();
  auto out = std::make_shared<std::string>();
  auto b = std::make_shared<BundleOptions>();
  auto window = std::make_shared<std::string>("2h");
  add_node_options(sub, *o);
  sub.add_option("-o,--out", *out, "Write the snapshot to FILE instead of stdout");
  sub.add_option("--bundle", b->path,
                 "Write the evidence bundle FILE.tar.gz instead: snapshot, findings, kernel log of this and the "
                 "previous boot, the history window and its report, fix records; within --timeout");
  sub.add_flag("--redact", b->redact, "In the bundle, replace serials, UUIDs and host names consistently");
  sub.add_option("--db", b->db, "The bundle's history (default: watch's)");
  sub.add_option("--window", *window, "The bundle's history window around the latest incident (default 2h)")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            auto d = util::parse_duration(v);
            if (!d || *d < std::chrono::minutes(1) || *d > std::chrono::hours(24 * 31)) return "expected 1m to 31d";
            return std::string();
          },
          "DURATION", "window"));
  sub.callback([o, out, b, window, &sub, &exit_code] {
    if (b->path.empty() && (b->redact || sub.count("--db") || sub.count("--window"))) {
      fmt::print(stderr, "gpudoctor collect: --redact, --db and --window belong to --bundle FILE\n");
      exit_code = k_exit_unknown;
      return;
    }
    if (!b->path.empty()) {
      if (!out->empty()) {
        fmt::print(stderr, "gpudoctor collect: --out and --bundle: give one\n");
        exit_code = k_exit_unknown;
        return;
      }
      b->window_s = std::chrono::duration_cast<std::chrono::seconds>(*util::parse_duration(*window)).count();
      exit_code = write_bundle(*o, *b);
      return;
    }
    auto snap = snapshot_node(*o);
    if (!snap) {
      fmt::print(stderr, "gpudoctor: cannot collect: {}\n", snap.error().message);
      exit_code = k_exit_unknown;
      return;
    }
    std::string text = dump_json(model::to_json(*snap)) + "\n";
    exit_code = k_exit_ok;
    if (out->empty()) {
      fmt::print("{}", text);
      return;
    }
    std::string err;
    if (!write_file_atomic(*out, text, err)) {
      fmt::print(stderr, "gpudoctor: {}\n", err);
      exit_code = k_exit_unknown;
    }
  });
}

void setup_list(CLI::App& sub, int& exit_code) {
  auto markdown = std::make_shared<bool>(false);
  sub.add_flag("--markdown", *markdown, "Print the reference (docs/findings.md) as Markdown");
  sub.callback([markdown, &exit_code] {
    exit_code = k_exit_ok;
    if (*markdown) {
      fmt::print("{}", render_rules_markdown());
      return;
    }
    for (const auto& r : rule::rule_table())
      fmt::print("{:<26} {:<9} {}\n", r.id, model::severity_name(r.worst), r.summary);
  });
}

void setup_version(CLI::App& sub, int& exit_code) {
  sub.callback([&exit_code] {
    fmt::print("gpudoctor {}\n", GD_VERSION);
    exit_code = k_exit_ok;
  });
}

}  // namespace gd::cli
