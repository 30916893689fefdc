// `gpudoctor fix`: findings -> plan (dry run by default) -> apply with --yes
// -> re-probe and report each finding as fixed or still present.
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/cli/cli.hpp"
#include "gd/cli/fix_ops.hpp"
#include "gd/cli/ledger_ops.hpp"
#include "gd/cli/node_options.hpp"
#include "gd/cli/render.hpp"
#include "gd/fix/apply.hpp"
#include "gd/fix/plan.hpp"
#include "gd/probe/nvml_probe.hpp"
#include "gd/rule/rule.hpp"
#include "gd/util/strings.hpp"

namespace gd::cli {

namespace {

struct FixCli {
  NodeOptions node;
  bool yes = false;
  bool json = false;
  std::vector<std::string> only;
};

std::string target(const fix::Action& a) { return a.gpu ? a.finding_id + " " + *a.gpu : a.finding_id; }

void print_plan(const std::vector<fix::Action>& plan) {
  if (plan.empty()) {
    fmt::print("Nothing to fix: no finding gpudoctor can act on.\n");
    return;
  }
  for (size_t i = 0; i < plan.size(); ++i) {
    const auto& a = plan[i];
    std::vector<std::string> needs;
    if (a.needs_root) needs.emplace_back("root");
    if (a.needs_reboot) needs.emplace_back("reboot");
    fmt::print("{:>2}. [{}] {}{}\n", i + 1, target(a), a.title,
               needs.empty() ? "" : fmt::format("  (needs {})", fmt::join(needs, ", ")));
    for (const auto& c : a.commands) fmt::print("      $ {}\n", util::join(c, " "));
    if (a.kind == fix::ActionKind::write_file) fmt::print("      write {}:\n        {}\n", a.path,
                                                          fmt::join(util::split(util::trim(a.content), '\n'), "\n        "));
    if (a.kind == fix::ActionKind::nvml_persistence)
      fmt::print("      nvmlDeviceSetPersistenceMode(ENABLED) on each GPU with persistence off\n");
    for (const auto& [link, to] : a.links) fmt::print("      ln -s {} {}\n", to, link);
    for (const auto& s : a.steps) fmt::print("      - {}\n", s);
    if (a.kind == fix::ActionKind::manual) fmt::print("      (listed only: gpudoctor does not do this)\n");
    if (!a.note.empty()) fmt::print("      note: {}\n", a.note);
  }
}

nlohmann::json action_json(const fix::Action& a) {
  return {{"finding", a.finding_id}, {"gpu", a.gpu ? nlohmann::json(*a.gpu) : nlohmann::json(nullptr)},
          {"title", a.title},        {"kind", fix::action_kind_name(a.kind)},
          {"commands", a.commands},  {"path", a.path},
          {"steps", a.steps},        {"note", a.note},          {"links", a.links},
          {"needs_root", a.needs_root}, {"needs_reboot", a.needs_reboot}};
}

bool still_present(const std::vector<model::Finding>& after, const fix::Action& a) {
  return std::any_of(after.begin(), after.end(), [&](const model::Finding& f) {
    return f.id == a.finding_id && f.severity != model::Severity::ok && (!a.gpu || f.gpu == a.gpu);
  });
}

// A multi-line detail (a failed command's whole stderr) under its action.
std::string indent_lines(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '\n' ? std::string("\n        ") : std::string(1, c);
  return out;
}

// A word as a POSIX shell reads it back (for the footer a user copies).
std::string shell_word(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@%+,") ==
                        std::string::npos)
    return w;
  std::string out = "'";
  for (char ch : w) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

// The command that applies this very plan: the same target and options, plus --yes.
std::string apply_command(const FixCli& c, bool timeout_given) {
  std::vector<std::string> w = {"gpudoctor", "fix", "--yes"};
  auto add = [&w](const char* flag, const std::string& v) {
    if (!v.empty()) w.push_back(flag), w.push_back(shell_word(v));
  };
  if (c.node.root != "/") add("--root", c.node.root);
  add("--nvml", c.node.probe.nvml_override);
  add("--cuda", c.node.probe.cuda_override);
  if (timeout_given) add("--timeout", fmt::format("{:g}", c.node.probe.timeout_s));
  add("--kernel-log", c.node.probe.kernel_log_file);
  add("--container-cli", c.node.probe.container_cli);
  add("--since", c.node.probe.since);
  for (const auto& id : c.only) add("--only", id);
  return util::join(w, " ");
}

int do_fix(FixCli& c, bool timeout_given) {
  for (const auto& id : c.only)
    if (!rule::find_rule(id)) {
      fmt::print(stderr, "gpudoctor fix: --only {}: no such finding id (`gpudoctor list` shows them)\n",
                 util::printable(id, 60));
      return k_exit_unknown;
    }
  auto taken = snapshot_node(c.node);
  if (!taken) {
    fmt::print(stderr, "gpudoctor fix: could not diagnose: {}\n", taken.error().message);
    return k_exit_unknown;
  }
  const model::Snapshot& snap = *taken;
  auto findings = rule::evaluate(rule::RuleInput{snap, std::nullopt});
  host::HostRoot root(c.node.root);
  auto plan = fix::make_plan(snap, findings, fix::PlanContext{root.root().string(), root.is_live()});
  if (!c.only.empty())
    std::erase_if(plan, [&](const fix::Action& a) {
      return std::find(c.only.begin(), c.only.end(), a.finding_id) == c.only.end();
    });
  nlohmann::json doc = {{"dry_run", !c.yes}, {"actions", nlohmann::json::array()}};
  for (const auto& a : plan) doc["actions"].push_back(action_json(a));
  if (c.yes && root.is_live() && ::geteuid() != 0) {
    if (c.json) fmt::print("{}\n", dump_json(doc));
    else print_plan(plan);
    fmt::print(stderr, "gpudoctor fix: --yes changes the host and needs root (run it with sudo); nothing was changed\n");
    return k_exit_unknown;
  }
  if (!c.yes || plan.empty()) {
    if (c.json) fmt::print("{}\n", dump_json(doc));
    else {
      print_plan(plan);
      if (!plan.empty()) fmt::print("\nDry run: nothing was changed. Apply with: {}\n", apply_command(c, timeout_given));
    }
    return k_exit_ok;
  }
  auto results = apply_and_record(c.node, snap, findings, plan, "fix");
  auto after_snap = snapshot_node(c.node);
  auto after = after_snap ? rule::evaluate(rule::RuleInput{*after_snap, std::nullopt}) : findings;
  // The re-check after a repair is what lets the ledger clear a problem.
  if (after_snap)
    if (auto rec = record_check(c.node, CheckedNode{*after_snap, after}, "fix", ledger::k_default_quiet_s); !rec)
      fmt::print(stderr, "gpudoctor fix: the health ledger was not updated: {}\n", rec.error().message);
  int code = k_exit_ok;
  if (!c.json) fmt::print("Applying {} action(s):\n", plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    bool present = still_present(after, plan[i]);
    const auto& r = results[i];
    if (!r.ok) code = k_exit_critical;
    else if ((present || plan[i].kind == fix::ActionKind::manual) && code == k_exit_ok) code = k_exit_warning;
    doc["actions"][i]["performed"] = r.performed;
    doc["actions"][i]["ok"] = r.ok;
    doc["actions"][i]["detail"] = r.detail;
    // "fixed" only for what gpudoctor did; a listed step that was not done
    // cannot have fixed anything (the finding may have gone for another reason).
    std::string after = present ? "still present" : r.performed ? "fixed" : "no longer reported (not by this action)";
    doc["actions"][i]["finding_after"] = after;
    if (!c.json)
      fmt::print("{:>2}. [{}] {}: {} -> {} {}\n", i + 1, target(plan[i]), plan[i].title,
                 r.ok ? (r.performed ? "done"
                                     : plan[i].kind == fix::ActionKind::manual ? "not performed (listed)"
                                                                               : "nothing to do")
                      : "FAILED",
                 after, r.detail.empty() ? "" : "(" + indent_lines(r.detail) + ")");
  }
  if (c.json) fmt::print("{}\n", dump_json(doc));
  return code;
}

}  // namespace

std::vector<fix::ActionResult> apply_and_record(const NodeOptions& node, const model::Snapshot& snap,
                                                const std::vector<model::Finding>& findings,
                                                const std::vector<fix::Action>& plan, std::string_view who) {
  host::HostRoot root(node.root);
  model::NvmlInfo located;
  auto lib = probe::locate_nvml(root, node.probe, located);
  fix::ApplyOptions ao{lib.value_or(""), node.probe.worker_exe, std::max(60.0, node.probe.timeout_s)};
  auto results = fix::apply_plan(plan, root, ao);
  // What was changed, and when, for the diagnoses that come after (the
  // cause of a loss is judged by the state at the time of the loss; the
  // ledger counts it as a repair).
  for (size_t i = 0; i < plan.size(); ++i) {
    if (!results[i].performed || !results[i].ok) continue;
    const auto* entry = rule::find_rule(plan[i].finding_id);
    std::string before;
    for (const auto& f : findings)
      if (f.id == plan[i].finding_id && (!plan[i].gpu || f.gpu == plan[i].gpu)) before = f.summary;
    model::ChangeRecord rec{std::time(nullptr), snap.state.boot_id.value_or(""), plan[i].finding_id,
                            std::string(rule::repair_name(entry ? entry->repair : rule::Repair::manual)), before,
                            results[i].detail};
    if (auto w = fix::record_change(root, rec); !w)
      fmt::print(stderr, "gpudoctor {}: the change was made but not recorded: {}\n", who, w.error().message);
  }
  return results;
}

void setup_fix(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<FixCli>();
  add_node_options(sub, c->node);
  sub.add_flag("--yes", c->yes, "Apply the plan (default: print it and change nothing)");
  sub.add_flag("--json", c->json, "Print the plan (and results) as JSON");
  sub.add_option("--only", c->only, "Only act on findings with this id (repeatable)");
  sub.callback([c, &sub, &exit_code] { exit_code = do_fix(*c, sub.count("--timeout") > 0); });
}

}  // namespace gd::cli
