#include "gd/cli/render.hpp"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "gd/model/json_io.hpp"
#include "gd/rule/facts.hpp"
#include "gd/rule/rule.hpp"
#include "gd/util/json_writer.hpp"
#include "gd/util/strings.hpp"

namespace gd::cli {

namespace {

using model::Severity;

struct Style {
  bool on;
  std::string operator()(std::string_view text, std::string_view code) const {
    return on ? fmt::format("\033[{}m{}\033[0m", code, text) : std::string(text);
  }
};

std::string_view severity_color(Severity s) {
  switch (s) {
    case Severity::critical: return "1;31";
    case Severity::warning: return "1;33";
    default: return "32";
  }
}

std::string headline(const model::Snapshot& s) {
  std::vector<std::string> parts;
  parts.push_back(fmt::format("{} NVIDIA GPU(s) on PCI", s.pci.gpus.size()));
  if (s.driver.kernel_version) parts.push_back(fmt::format("kernel module {}", *s.driver.kernel_version));
  if (s.nvml.init_ms) parts.push_back(fmt::format("nvmlInit {}", rule::format_ms(*s.nvml.init_ms)));
  // "NVML ok" only when it answers for every GPU this host's driver should have.
  auto a = rule::account_gpus(s);
  std::size_t expected = a.on_pci - a.other_driver.size() - a.not_given.size();
  if (s.nvml.state == model::NvmlState::ok && a.answering.size() != expected)
    parts.push_back(fmt::format("NVML answers for {} of {} GPU(s)", a.answering.size(), expected));
  else
    parts.push_back(fmt::format("NVML {}", model::nvml_state_name(s.nvml.state)));
  // (the host name and the root come from the node: never raw to a terminal)
  std::string root = s.root == "/" ? "" : fmt::format(" (root {})", util::printable(s.root, 4096));
  return fmt::format("gpudoctor {} — {}{}: {}\n", s.gpudoctor_version,
                     s.hostname.empty() ? "node" : util::printable(s.hostname, 256), root, fmt::join(parts, ", "));
}

void render_finding(std::string& out, const model::Finding& f, const Style& st) {
  std::string sev = fmt::format("{:<8}", model::severity_name(f.severity));
  for (auto& c : sev) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out += fmt::format("{} {:<24} {}\n", st(sev, severity_color(f.severity)), f.id, f.summary);
  if (f.severity == Severity::ok) return;
  for (const auto& e : f.evidence) out += fmt::format("         evidence: {}\n", e);
  if (!f.cause.empty()) out += fmt::format("         cause:    {}\n", f.cause);
  for (size_t i = 0; i < f.fix.size(); ++i)
    out += fmt::format("         {} {}. {}\n", i == 0 ? "fix:   " : "       ", i + 1, f.fix[i]);
  std::vector<std::string> needs;
  if (f.needs_root) needs.emplace_back("root");
  if (f.needs_reboot) needs.emplace_back("a reboot");
  if (!needs.empty()) out += fmt::format("         needs:    {}\n", fmt::join(needs, ", "));
}

// The verbose part carries node text (paths, GPU names, errors): each field is made printable, so a name with
// a newline or an escape sequence cannot forge a line or reach the terminal raw.
void render_verbose(std::string& out, const model::Snapshot& s) {
  auto p = [](std::string_view v) { return util::printable(v, 4096); };
  out += "\nprobes:\n";
  for (const auto& pr_ : s.probes)
    out += fmt::format("  {:<13} {:>9.2f} ms  {}\n", pr_.name, pr_.duration_ms, pr_.ok ? "ok" : "FAILED: " + p(pr_.error));
  if (s.nvml.library.path)
    out += fmt::format("NVML library: {} via {}{}{}\n", p(*s.nvml.library.path), p(s.nvml.library.found_via),
                       s.nvml.library.resolved_path ? " -> " + p(*s.nvml.library.resolved_path) : "",
                       s.nvml.library.file_version ? " (version " + p(*s.nvml.library.file_version) + ")" : "");
  if (!s.kernel_log.unavailable.empty())
    out += fmt::format("kernel log: unavailable ({})\n", p(s.kernel_log.unavailable));
  else if (!s.kernel_log.source.empty())
    out += fmt::format("kernel log: {}, {} lines, {} NVIDIA event(s) in {}\n", p(s.kernel_log.source),
                       s.kernel_log.lines_scanned, s.kernel_log.events.size(), s.kernel_log.window);
  if (s.nvml.driver_version)
    out += fmt::format("NVML: driver {}, NVML {}, CUDA {}\n", p(*s.nvml.driver_version), p(s.nvml.nvml_version.value_or("?")),
                       s.nvml.cuda_driver_version ? std::to_string(*s.nvml.cuda_driver_version) : "?");
  if (s.cuda.state != model::CudaState::not_run)
    out += fmt::format("CUDA: {} via {}, cuInit {}, driver API {}, {} device(s){}\n",
                       p(s.cuda.library.resolved_path.value_or(s.cuda.library.path.value_or("libcuda.so.1"))),
                       s.cuda.library.found_via.empty() ? "-" : s.cuda.library.found_via,
                       s.cuda.init_return ? std::to_string(*s.cuda.init_return) : model::cuda_state_name(s.cuda.state),
                       s.cuda.driver_version ? std::to_string(*s.cuda.driver_version) : "?",
                       s.cuda.device_count.value_or(0),
                       s.cuda.init_ms ? " in " + rule::format_ms(*s.cuda.init_ms) : "");
  for (const auto& g : s.nvml.gpus) {
    auto opt = [](const auto& v, std::string_view unit) {
      return v ? fmt::format("{}{}", *v, unit) : std::string("n/a");
    };
    out += fmt::format("  GPU {} {} {}  temp {}  power {}  persistence {}\n", g.index, p(g.bus_id.value_or("?")),
                       p(g.name.value_or("?")), opt(g.temp_celsius, " C"), opt(g.power_watts, " W"),
                       g.persistence_mode ? (*g.persistence_mode ? "on" : "off") : "n/a");
  }
}

}  // namespace

bool use_color(bool no_color_flag, int fd) {
  const char* env = std::getenv("NO_COLOR");
  return !no_color_flag && ::isatty(fd) && !(env && *env);
}

std::string dump_json(const nlohmann::json& j, int indent) {
  return util::escape_json_c1(j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::string render_text(const model::Snapshot& s, const std::vector<model::Finding>& findings, int exit_code,
                        const TextOptions& opt) {
  Style st{opt.color};
  std::string out = headline(s);
  out += '\n';
  int counts[3] = {0, 0, 0};
  for (const auto& f : findings) {
    render_finding(out, f, st);
    ++counts[static_cast<int>(f.severity)];
  }
  if (opt.verbose) render_verbose(out, s);
  out += fmt::format("\n{} critical, {} warning, {} ok — exit {}\n", counts[2], counts[1], counts[0], exit_code);
  return out;
}

nlohmann::json render_json(const model::Snapshot& s, const std::vector<model::Finding>& findings, int exit_code) {
  nlohmann::json j;
  j["kind"] = "gpudoctor-check";  // not a snapshot: check --from refuses it by this
  j["gpudoctor_version"] = s.gpudoctor_version;
  j["hostname"] = s.hostname;
  j["taken_at"] = s.taken_at;
  j["root"] = s.root;
  j["exit_code"] = exit_code;
  j["findings"] = nlohmann::json::array();
  for (const auto& f : findings) j["findings"].push_back(model::to_json(f));
  j["probes"] = nlohmann::json::array();
  for (const auto& p : s.probes)
    j["probes"].push_back({{"name", p.name}, {"ok", p.ok}, {"error", p.error}, {"duration_ms", p.duration_ms}});
  return j;
}

namespace {
std::string_view latch_description(model::Latch l) {
  switch (l) {
    case model::Latch::none: return "cleared when a complete re-check no longer raises it";
    case model::Latch::transient:
      return "transient: cleared after a quiet time without it (`--quiet-time`, default 1h)";
    case model::Latch::hardware:
      return "latched: kept across reboots until a repair (a reboot, a `fix`, a card swapped in the slot) is "
             "followed by a re-check that passes; a reboot alone does not clear it once it came back";
  }
  return "?";
}
}  // namespace

std::string render_rules_markdown() {
  std::string out =
      "# Findings\n\n"
      "Generated by `gpudoctor list --markdown` from the rule table (`src/gd/rule/rule.cpp`); do not edit by hand.\n"
      "Each finding has an `id`, a `severity` (`ok`, `warning`, `critical`), the GPU's bus id when it is about one "
      "GPU, a summary, evidence, a likely cause and fix steps. `check` exits 0 when all are ok, 1 on a warning, 2 on "
      "a critical finding, 3 when it could not diagnose (bad input or usage). The ledger column says how the node's "
      "health ledger lets the problem go (`docs/ledger.md`): `none` when a re-check no longer raises it, "
      "`transient` after a quiet time, `hardware` only after a repair and a passing re-check.\n\n"
      "| id | worst severity | ledger | detects |\n|---|---|---|---|\n";
  for (const auto& r : rule::rule_table())
    out += fmt::format("| `{}` | {} | {} | {} |\n", r.id, model::severity_name(r.worst), model::latch_name(r.latch),
                       r.summary);
  out += "\n";
  for (const auto& r : rule::rule_table())
    out += fmt::format("## `{}`\n\n{}\n\n**How it decides:** {}\n\n**`gpudoctor fix`:** {}.\n\n**Ledger:** {}.\n\n",
                       r.id, r.summary, r.details, rule::repair_description(r.repair), latch_description(r.latch));
  return out;
}

}  // namespace gd::cli
