// `gpudoctor xid [FILE|-] [--json] [--since WINDOW]`: explains the NVIDIA
// events of a kernel log (a pasted file, stdin, or this node's own log).
#include <algorithm>
#include <ctime>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "gd/cli/cli.hpp"
#include "gd/cli/render.hpp"
#include "gd/cli/since_option.hpp"
#include "gd/host/kernel_log_source.hpp"
#include "gd/model/json_io.hpp"
#include "gd/model/xid_catalog.hpp"
#include "gd/probe/kernel_log.hpp"
#include "gd/rule/kernel_log_facts.hpp"
#include "gd/rule/xid_judge.hpp"
#include "gd/util/strings.hpp"

namespace gd::cli {

namespace {

struct XidOptions {
  std::string file;  // "" = this node's journal or /dev/kmsg
  std::string since;
  bool json = false;
};

Result<model::KernelLog> read_log(const XidOptions& o) {
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (o.file.empty()) {
    auto log = probe::read_kernel_log(host::HostRoot("/"), probe::KernelLogOptions{"", o.since});
    if (!log.unavailable.empty()) return make_error(log.unavailable);
    return log;
  }
  auto window = probe::parse_since(o.since.empty() ? "all" : o.since, now);
  if (!window) return window.error();
  probe::KernelLogParser parser(*window, now);
  auto bytes = host::stream_file(o.file, [&parser](std::string_view chunk) { parser.feed(chunk); });
  if (!bytes) return bytes.error();
  auto log = parser.finish();
  log.source = o.file == "-" ? "stdin" : o.file;
  return log;
}

nlohmann::json event_json(const model::KernelLog& log, const model::KernelEvent& e, const rule::XidVerdict& v) {
  auto info = model::kernel_event_info(e.kind, e.xid);
  auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  nlohmann::json j = {{"xid", opt(e.xid)},
                      {"bus_id", opt(e.bus_id)},
                      {"pid", opt(e.pid)},
                      {"process", opt(e.process)},
                      {"message", e.message},
                      {"meaning", info.meaning},
                      {"severity", model::severity_name(v.severity)},
                      {"catalogue_severity", model::severity_name(info.severity)},
                      {"action", model::xid_action_name(v.action)},
                      {"catalogue_action", model::xid_action_name(info.action)},
                      {"burst", v.burst >= 0 ? nlohmann::json(v.burst) : nlohmann::json(nullptr)},
                      {"judged", v.note.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.note)},
                      {"advice", info.advice},
                      {"mnemonic", info.mnemonic},
                      {"kind", model::kernel_event_kind_name(e.kind)},
                      {"timestamp", e.timestamp},
                      {"boot", opt(e.boot)},
                      {"uuid", nullptr},
                      {"cpu", opt(e.cpu)},
                      {"stalled_s", opt(e.stalled_s)},
                      {"rip", opt(e.rip)},
                      {"driver_frames", e.driver_frames},
                      {"client_version", opt(e.client_version)},
                      {"module_version", opt(e.module_version)}};
  if (e.bus_id)
    if (auto it = log.gpu_uuids.find(*e.bus_id); it != log.gpu_uuids.end()) j["uuid"] = it->second;
  return j;
}

std::string boot_text(std::optional<int> boot) {
  if (!boot) return "-";
  if (*boot == 0) return "latest";
  if (*boot == -1) return "previous";
  return fmt::format("{}", *boot);
}

// Identical events (same boot, GPU, kind, Xid, process name, burst, verdict) shown once with a count.
struct Row {
  std::size_t first, last;  // indices into the log's events
  std::size_t count = 1;
};

std::vector<Row> group_repeats(const model::KernelLog& log, const std::vector<rule::XidVerdict>& v) {
  std::vector<Row> rows;
  auto same = [&](std::size_t i, std::size_t j) {
    const auto &a = log.events[i], &b = log.events[j];
    return a.boot == b.boot && a.bus_id == b.bus_id && a.kind == b.kind && a.xid == b.xid && a.process == b.process &&
           v[i].burst == v[j].burst && v[i].note == v[j].note;
  };
  for (std::size_t i = 0; i < log.events.size(); ++i) {
    auto it = std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return same(r.first, i); });
    if (it == rows.end()) rows.push_back({i, i, 1});
    else it->last = i, ++it->count;
  }
  return rows;
}

std::string text_report(const model::KernelLog& log) {
  std::string out = fmt::format("{}: {} NVIDIA event(s) in {} ({} line(s) scanned)\n", log.source, log.events.size(),
                                log.window, log.lines_scanned);
  if (log.events.empty()) {
    if (log.stalls_elsewhere)
      out += fmt::format("{} stall report(s) outside the NVIDIA driver (not the driver's)\n", log.stalls_elsewhere);
    return out;
  }
  auto verdicts = rule::judge_events(log);
  out += fmt::format("\n{:<28} {:<8} {:<12} {:>4} {:>5} {:>6} {:<24} {:<8} {:<16} {}\n", "TIME (FIRST)", "BOOT",
                     "BUS ID", "XID", "BURST", "COUNT", "PROCESS", "SEVERITY", "ACTION", "MEANING");
  std::vector<std::string> advice, judged;
  for (const auto& row : group_repeats(log, verdicts)) {
    const auto& e = log.events[row.first];
    const auto& v = verdicts[row.first];
    auto info = model::kernel_event_info(e.kind, e.xid);
    std::string process = e.process ? util::printable(*e.process, 14) : "-";
    if (e.pid && row.count == 1) process = fmt::format("{} ({})", process, *e.pid);
    // Rated in context, as check rates it: an earlier boot's event is at most a warning (the reboot reset the GPU).
    out += fmt::format("{:<28} {:<8} {:<12} {:>4} {:>5} {:>6} {:<24} {:<8} {:<16} {}{}\n",
                       e.timestamp.empty() ? "-" : e.timestamp, boot_text(e.boot), e.bus_id.value_or("-"),
                       e.xid ? fmt::format("{}", *e.xid) : "-", v.burst >= 0 ? fmt::format("{}", v.burst) : "-",
                       row.count, process, model::severity_name(v.severity), model::xid_action_name(v.action),
                       info.meaning, row.count > 1 ? fmt::format(" (last at {})", log.events[row.last].timestamp) : "");
    if (!v.note.empty()) {
      std::string line = fmt::format("  Xid {} (burst {}): {}", e.xid.value_or(0), v.burst, v.note);
      if (std::find(judged.begin(), judged.end(), line) == judged.end() && judged.size() < 20) judged.push_back(line);
    }
    std::string line = fmt::format(
        "{}: {}", e.xid ? fmt::format("Xid {} {}", *e.xid, info.mnemonic) : std::string(info.mnemonic), info.advice);
    if (std::find(advice.begin(), advice.end(), line) == advice.end()) advice.push_back(line);
  }
  if (!judged.empty())
    out += fmt::format("\njudged in context (a burst ends after {:g} minutes of silence):\n{}\n",
                       rule::k_burst_gap_s / 60, fmt::join(judged, "\n"));
  std::vector<std::string> stalls;  // each stall report, with where in the driver it was
  for (const auto& e : log.events) {
    if (!model::is_stall(e.kind) || stalls.size() >= 20) continue;
    std::string line = fmt::format("  {} {}{}{}{}{}", e.timestamp.empty() ? "-" : e.timestamp,
                                   model::kernel_event_kind_name(e.kind),
                                   e.process ? fmt::format(" {}", util::printable(*e.process, 32)) : "",
                                   e.pid ? fmt::format(" (pid {})", *e.pid) : "",
                                   e.cpu ? fmt::format(" CPU {}", *e.cpu) : "",
                                   e.stalled_s ? fmt::format(" {:g} s", *e.stalled_s) : "");
    if (e.rip) line += fmt::format("\n      RIP {}", *e.rip);
    for (const auto& f : e.driver_frames) line += fmt::format("\n      {}", f);
    stalls.push_back(std::move(line));
  }
  if (!stalls.empty()) out += fmt::format("\nstuck inside the driver:\n{}\n", fmt::join(stalls, "\n"));
  if (log.stalls_elsewhere)
    out += fmt::format("\n{} stall report(s) outside the NVIDIA driver (not shown: not the driver's)\n",
                       log.stalls_elsewhere);
  out += "\nwhat to do:\n";
  for (const auto& a : advice) out += fmt::format("  {}\n", a);
  return out;
}

int do_xid(const XidOptions& o) {
  auto log = read_log(o);
  if (!log) {
    fmt::print(stderr, "gpudoctor: cannot read the kernel log: {}\n", log.error().message);
    return k_exit_unknown;
  }
  if (log->lines_cut)
    fmt::print(stderr, "gpudoctor: note: {} line(s) longer than {} bytes were cut to that length\n", log->lines_cut,
               probe::k_kernel_log_max_line);
  for (const auto& p : log->problems) fmt::print(stderr, "gpudoctor: note: {}\n", p);
  bool critical = false;
  nlohmann::json array = nlohmann::json::array();
  auto verdicts = rule::judge_events(*log);
  for (std::size_t i = 0; i < log->events.size(); ++i) {
    critical = critical || verdicts[i].severity == model::Severity::critical;
    if (o.json) array.push_back(event_json(*log, log->events[i], verdicts[i]));
  }
  fmt::print("{}", o.json ? dump_json(array) + "\n" : text_report(*log));
  return critical ? k_exit_critical : k_exit_ok;
}

}  // namespace

void setup_xid(CLI::App& sub, int& exit_code) {
  auto o = std::make_shared<XidOptions>();
  sub.add_option("file", o->file,
                 "Kernel log to explain (dmesg, dmesg -T, journalctl, syslog, kmsg); - for stdin; "
                 "none: this node's journal or /dev/kmsg");
  sub.add_flag("--json", o->json, "Print the events as a JSON array");
  sub.add_option("--since", o->since,
                 "Window: boot, previous-boot, all, 2h, 7d, 2026-11-27[T03:00] (default: all "
                 "of a file; this boot and the previous one of the node's log)")
      ->check(since_validator());
  sub.callback([o, &exit_code] { exit_code = do_xid(*o); });
}

}  // namespace gd::cli
