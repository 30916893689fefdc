// `gpudoctor slurm-health` (Slurm's HealthCheckProgram) and `gpudoctor
// slurm-repair` (the closed loop): the node's health ledger decides, Slurm
// acts. We own only drains whose reason starts with "gpudoctor:"; a node
// drained by anyone else is never touched; a node is resumed only when the
// ledger holds no open critical problem (each one cleared by a re-check that
// passed, or acknowledged). scontrol and squeue run by argv under deadlines.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "gd/cli/cli.hpp"
#include "gd/cli/fix_ops.hpp"
#include "gd/cli/ledger_ops.hpp"
#include "gd/fix/plan.hpp"
#include "gd/rule/rule.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/subprocess.hpp"

namespace gd::cli {

namespace {

constexpr std::string_view k_prefix = "gpudoctor:";
constexpr std::size_t k_max_reason = 120;
constexpr std::chrono::milliseconds k_slurm_timeout{10000};

struct SlurmCli {
  NodeOptions node;
  std::string node_name;
  std::string scontrol = "scontrol";
  std::string squeue = "squeue";
  bool yes = false;
  std::int64_t quiet_s = ledger::k_default_quiet_s;
};

// What `scontrol show node NAME -o` says about the node.
struct NodeState {
  std::string state;   // "IDLE+DRAIN", "MIXED", "DOWN*+DRAIN"
  std::string reason;  // without Slurm's " [user@time]" suffix; "" when none
  long cpu_alloc = 0;  // CPUAlloc=
  bool drained() const { return state.find("DRAIN") != std::string::npos; }
  bool ours() const { return util::starts_with(reason, k_prefix); }
  // Our reason after slurm-repair escalated it ("gpudoctor: needs reboot: ..."): kept while a problem is open.
  bool escalated() const { return ours() && util::starts_with(util::trim(std::string_view(reason).substr(k_prefix.size())), "needs "); }
  // Jobs still hold part of the node (what squeue shows, said by slurmctld's own node state).
  bool busy() const {
    for (std::string_view s : {"ALLOC", "MIXED", "COMPLETING"})
      if (state.find(s) != std::string::npos) return true;
    return cpu_alloc > 0;
  }
  bool not_responding() const { return state.find('*') != std::string::npos; }
};

// One line of `scontrol show node -o`: "NodeName=n1 Arch=... State=IDLE+DRAIN ... Reason=text [root@2026-...]".
// Reason runs to the end of the line (it may hold spaces); the fields before it do not.
Result<NodeState> parse_node_line(std::string_view line) {
  NodeState n;
  auto r = line.find(" Reason=");
  std::string_view head = r == std::string_view::npos ? line : line.substr(0, r);
  for (auto w : util::split_ws(head))
    if (util::starts_with(w, "State=")) n.state = std::string(w.substr(6));
    else if (util::starts_with(w, "CPUAlloc=")) n.cpu_alloc = std::strtol(std::string(w.substr(9)).c_str(), nullptr, 10);
  if (n.state.empty()) return make_error("scontrol printed no State= for the node");
  if (r != std::string_view::npos) {
    std::string_view reason = util::trim(line.substr(r + 8));
    // Later fields scontrol may print after the reason (22.05 prints none, newer ones may).
    for (std::string_view next : {" Comment=", " Extra=", " ResumeAfterTime="})
      if (auto p = reason.find(next); p != std::string_view::npos) reason = reason.substr(0, p);
    if (auto p = reason.rfind(" ["); p != std::string_view::npos && reason.back() == ']') reason = reason.substr(0, p);
    n.reason = std::string(util::trim(reason));
    if (n.reason == "(null)" || n.reason == "none") n.reason.clear();
  }
  return n;
}

std::string default_node_name() {
  if (const char* n = std::getenv("SLURMD_NODENAME"); n && *n) return n;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "";
  std::string h = host;
  return h.substr(0, h.find('.'));
}

// The node name goes into scontrol/squeue argv and every line printed: only what Slurm itself accepts in a
// NodeName (a host name from the node could carry anything: escapes, newlines, shell text).
bool slurm_node_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
  });
}

// An argument as a POSIX shell reads it back: bare when it holds only safe characters, else single-quoted
// (a ' inside written as '\''), so a printed "would run" line pasted into a shell runs exactly that argv.
std::string shell_quoted(std::string_view a) {
  bool bare = !a.empty() && std::all_of(a.begin(), a.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || std::string_view("-_./=:@%+,").find(ch) != std::string_view::npos;
  });
  if (bare) return std::string(a);
  std::string out = "'";
  for (char ch : a) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

// Fills in the default node name; false (and says why on stderr) when it is not a Slurm node name.
bool resolve_node_name(SlurmCli& c, std::string_view cmd) {
  if (c.node_name.empty()) c.node_name = default_node_name();
  if (slurm_node_name(c.node_name)) return true;
  fmt::print(stderr,
             "gpudoctor {}: node name \"{}\" is not a Slurm node name (letters, digits, '.', '_', '-'; at most 64): "
             "pass --node NAME; the node is left as it is\n",
             cmd, util::printable(c.node_name, 80));
  return false;
}

std::string run_failure(const std::vector<std::string>& argv, const util::RunResult& r) {
  std::string what = !r.started ? r.err : r.timed_out ? "did not answer in time" : fmt::format("exit {}", r.exit_code);
  std::string err = util::printable(util::trim(r.err), 300);
  return fmt::format("{} {}: {}{}", argv[0], argv.size() > 1 ? argv[1] : "", what,
                     err.empty() || !r.started ? "" : " (" + err + ")");
}

Result<NodeState> query_node(const SlurmCli& c) {
  std::vector<std::string> argv = {c.scontrol, "show", "node", c.node_name, "-o"};
  auto r = util::run(argv, k_slurm_timeout, 1 << 16);
  if (!r.started || r.timed_out || r.exit_code != 0) return make_error(run_failure(argv, r));
  return parse_node_line(util::trim(r.out));
}

// The reason we write: prefixed, printable (no control characters), capped.
std::string drain_reason(std::string_view text) {
  std::string body = util::printable(text, k_max_reason);
  std::replace_if(body.begin(), body.end(), [](char ch) { return ch == '\n' || ch == '\r' || ch == '\t'; }, ' ');
  std::string r = fmt::format("{} {}", k_prefix, body);
  if (r.size() > k_max_reason) r = util::printable(r, k_max_reason);
  return r;
}

// Runs (or, without --yes, prints) one scontrol update.
Status scontrol_update(const SlurmCli& c, std::vector<std::string> args) {
  std::vector<std::string> argv = {c.scontrol, "update", "NodeName=" + c.node_name};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!c.yes) {
    fmt::print("would run (add --yes to act):");
    for (const auto& a : argv) fmt::print(" {}", shell_quoted(util::printable(a, 4096)));
    fmt::print("\n");
    return ok_status();
  }
  auto r = util::run(argv, k_slurm_timeout, 1 << 16);
  if (!r.started || r.timed_out || r.exit_code != 0) return make_error(run_failure(argv, r));
  return ok_status();
}

// "xid.fallen_off_bus@0000:bd:00.0 latched, not yet verified (+1 more)".
std::string problem_text(const model::Ledger& l) {
  std::vector<const model::LedgerEntry*> crit;
  for (const auto* e : model::open_entries(l))
    if (e->severity == model::Severity::critical) crit.push_back(e);
  if (crit.empty()) return "";
  const auto& e = *crit.front();
  std::string state = e.seen_now ? "now" : !e.escalation.empty() ? "needs hardware" : "latched, not yet verified";
  std::string more = crit.size() > 1 ? fmt::format(" (+{} more)", crit.size() - 1) : "";
  return fmt::format("{} {}{}", model::key(e), state, more);
}

// What the node needs when the safe repairs did not clear it.
std::string escalation(const model::Ledger& l, const std::vector<model::Finding>& findings) {
  bool hardware = false, reboot = false;
  for (const auto* e : model::open_entries(l)) {
    if (e->severity != model::Severity::critical) continue;
    if (!e->escalation.empty()) hardware = true;
    for (const auto& f : findings)
      if (f.id == e->id && f.gpu.value_or("") == e->gpu && f.needs_reboot) reboot = true;
    if (e->latch == model::Latch::hardware && e->seen_now) reboot = true;
  }
  return hardware ? "needs hardware: " : reboot ? "needs reboot: " : "needs attention: ";
}

struct Checked {
  CheckedNode node;
  model::Ledger ledger;
};

Result<Checked> check_and_record(SlurmCli& c, std::string_view who) {
  auto checked = check_node(c.node);
  if (!checked) return make_error(fmt::format("could not diagnose: {}", checked.error().message));
  auto rec = record_check(c.node, *checked, who, c.quiet_s);
  if (!rec) return rec.error();
  for (const auto& x : rec->report.raised) fmt::print("raised: {}\n", util::printable(x, 300));
  for (const auto& x : rec->report.cleared) fmt::print("cleared: {}\n", util::printable(x, 300));
  for (const auto& x : rec->report.escalated) fmt::print("escalated: {}\n", util::printable(x, 300));
  if (rec->report.stale) fmt::print("a check that began later was recorded first: this one is not folded in\n");
  return Checked{std::move(*checked), std::move(rec->ledger)};
}

int do_health(SlurmCli& c) {
  if (!resolve_node_name(c, "slurm-health")) return k_exit_unknown;
  auto checked = check_and_record(c, "slurm-health");
  if (!checked) {
    fmt::print(stderr, "gpudoctor slurm-health: {}; the node is left as it is\n", checked.error().message);
    return k_exit_unknown;
  }
  auto node = query_node(c);
  if (!node) {
    fmt::print(stderr, "gpudoctor slurm-health: {}; the node is left as it is\n", node.error().message);
    return k_exit_unknown;
  }
  const auto& l = checked->ledger;
  std::string problem = problem_text(l);
  if (!problem.empty()) {
    if (node->drained() && !node->ours()) {
      fmt::print("{}: {}; already drained by someone else (\"{}\"): left alone\n", c.node_name, problem,
                 util::printable(node->reason, 200));
      return k_exit_critical;
    }
    std::string reason = drain_reason(problem);
    if (node->drained() && (node->reason == reason || node->escalated())) {
      fmt::print("{}: {}; drained by gpudoctor already\n", c.node_name, problem);
      return k_exit_critical;
    }
    if (auto s = scontrol_update(c, {"State=DRAIN", "Reason=" + reason}); !s) {
      fmt::print(stderr, "gpudoctor slurm-health: {}\n", s.error().message);
      return k_exit_unknown;
    }
    if (c.yes) fmt::print("{}: drained: {}\n", c.node_name, reason);
    return k_exit_critical;
  }
  if (node->drained() && node->ours()) {
    if (node->not_responding()) {
      fmt::print("{}: no open critical problem, but slurmctld does not hear from the node: left drained\n",
                 c.node_name);
      return k_exit_warning;
    }
    if (auto s = scontrol_update(c, {"State=RESUME"}); !s) {
      fmt::print(stderr, "gpudoctor slurm-health: {}\n", s.error().message);
      return k_exit_unknown;
    }
    if (c.yes) fmt::print("{}: resumed (our drain \"{}\"; the ledger holds no open critical problem)\n", c.node_name,
                          util::printable(node->reason, 200));
    return k_exit_ok;
  }
  fmt::print("{}: healthy as far as the ledger shows ({})\n", c.node_name,
             node->state.empty() ? "?" : util::printable(node->state, 60));
  return static_cast<int>(model::worst_open(l));
}

Result<std::vector<std::string>> jobs_on_node(const SlurmCli& c) {
  std::vector<std::string> argv = {c.squeue, "-h", "-w", c.node_name, "-o", "%i"};
  auto r = util::run(argv, k_slurm_timeout, 1 << 20);
  if (!r.started || r.timed_out || r.exit_code != 0) return make_error(run_failure(argv, r));
  std::vector<std::string> ids;
  for (auto line : util::lines(r.out))
    if (auto t = util::trim(line); !t.empty()) ids.emplace_back(util::printable(t, 40));
  return ids;
}

int do_repair(SlurmCli& c) {
  if (!resolve_node_name(c, "slurm-repair")) return k_exit_unknown;
  auto node = query_node(c);
  if (!node) {
    fmt::print(stderr, "gpudoctor slurm-repair: {}; nothing was done\n", node.error().message);
    return k_exit_unknown;
  }
  if (!node->drained() || !node->ours()) {
    fmt::print("{}: not drained by gpudoctor ({}{}): nothing to repair\n", c.node_name, util::printable(node->state, 60),
               node->reason.empty() ? "" : ", \"" + util::printable(node->reason, 120) + "\"");
    return k_exit_ok;
  }
  auto jobs = jobs_on_node(c);
  if (!jobs) {
    fmt::print(stderr, "gpudoctor slurm-repair: {}; nothing was done\n", jobs.error().message);
    return k_exit_unknown;
  }
  if (!jobs->empty()) {
    fmt::print("{}: waiting: {} job(s) still on the node ({}); repairs start when they end\n", c.node_name,
               jobs->size(), util::join_capped(*jobs, ", ", 8));
    return k_exit_warning;
  }
  if (node->busy()) {
    fmt::print("{}: waiting: the node is still {} ({} CPUs allocated); repairs start when its jobs end\n",
               c.node_name, util::printable(node->state, 60), node->cpu_alloc);
    return k_exit_warning;
  }
  auto before = check_node(c.node);
  if (!before) {
    fmt::print(stderr, "gpudoctor slurm-repair: could not diagnose: {}; nothing was done\n", before.error().message);
    return k_exit_unknown;
  }
  host::HostRoot root(c.node.root);
  auto plan = fix::make_plan(before->snap, before->findings, fix::PlanContext{root.root().string(), root.is_live()});
  std::erase_if(plan, [](const fix::Action& a) { return a.kind == fix::ActionKind::manual; });
  if (!c.yes) {
    fmt::print("would apply {} safe repair(s) (add --yes to act):\n", plan.size());
    for (const auto& a : plan) fmt::print("  {} {}: {}\n", a.finding_id, a.gpu.value_or(""), a.title);
    return k_exit_ok;
  }
  if (root.is_live() && ::geteuid() != 0) {
    fmt::print(stderr, "gpudoctor slurm-repair: repairs change the host and need root; nothing was done\n");
    return k_exit_unknown;
  }
  auto results = apply_and_record(c.node, before->snap, before->findings, plan, "slurm-repair");
  for (std::size_t i = 0; i < plan.size(); ++i)
    fmt::print("repair: {} {}: {}{}\n", plan[i].finding_id, plan[i].gpu.value_or(""),
               results[i].ok ? (results[i].performed ? "done" : "nothing to do") : "FAILED",
               results[i].detail.empty() ? "" : " (" + util::printable(results[i].detail, 200) + ")");
  auto after = check_and_record(c, "slurm-repair");
  if (!after) {
    fmt::print(stderr, "gpudoctor slurm-repair: re-check: {}; left drained\n", after.error().message);
    return k_exit_unknown;
  }
  std::string problem = problem_text(after->ledger);
  if (problem.empty()) {
    if (auto s = scontrol_update(c, {"State=RESUME"}); !s) {
      fmt::print(stderr, "gpudoctor slurm-repair: {}\n", s.error().message);
      return k_exit_unknown;
    }
    fmt::print("{}: re-check passed, resumed\n", c.node_name);
    return k_exit_ok;
  }
  std::string reason = drain_reason(escalation(after->ledger, after->node.findings) + problem);
  if (reason != node->reason)
    if (auto s = scontrol_update(c, {"State=DRAIN", "Reason=" + reason}); !s) {
      fmt::print(stderr, "gpudoctor slurm-repair: {}\n", s.error().message);
      return k_exit_unknown;
    }
  fmt::print("{}: still not healthy after the safe repairs, left drained: {}\n", c.node_name, reason);
  return k_exit_critical;
}

void add_slurm_options(CLI::App& sub, SlurmCli& c) {
  add_node_options(sub, c.node);
  add_quiet_time_option(sub, c.quiet_s);
  sub.add_option("--node", c.node_name, "Slurm NodeName of this node (default: $SLURMD_NODENAME, else the short host "
                                        "name)");
  sub.add_option("--scontrol", c.scontrol, "scontrol to run (default: the one on PATH)");
  sub.add_flag("--yes", c.yes, "Act (drain, resume, repair); without it, print what would be done");
}

}  // namespace

void setup_slurm_health(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<SlurmCli>();
  add_slurm_options(sub, *c);
  sub.footer(
      "For slurm.conf: HealthCheckProgram=/usr/share/gpudoctor/slurm/gpudoctor-health-check (a wrapper that runs "
      "`gpudoctor slurm-health --yes`; docs/fleet.md). Checks the node, folds the result into the health ledger, "
      "drains the node with a reason starting \"gpudoctor:\" while the ledger holds an open critical problem, and "
      "resumes only its own drains once none is open. A node drained with another reason is never touched. Exit "
      "codes: 0 healthy, 1 warning, 2 critical (drained), 3 could not check or could not reach Slurm (nothing done).");
  sub.callback([c, &exit_code] { exit_code = do_health(*c); });
}

void setup_slurm_repair(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<SlurmCli>();
  add_slurm_options(sub, *c);
  sub.add_option("--squeue", c->squeue, "squeue to run (default: the one on PATH)");
  sub.footer(
      "Only for a node gpudoctor drained: waits until no job runs on it (squeue -w NODE lists none and slurmctld no "
      "longer shows it ALLOCATED, MIXED or COMPLETING; exit 1 while it does), applies the safe "
      "repairs `fix` would (never a manual step, never a reboot), re-checks, and resumes the node when the ledger "
      "holds no open critical problem; otherwise rewrites the reason to \"gpudoctor: needs reboot: ...\", \"needs "
      "hardware: ...\" or \"needs attention: ...\". Run it from cron or a reservation. Exit codes: 0 resumed or "
      "nothing to do, 1 waiting for jobs, 2 still unhealthy (escalated), 3 could not check or reach Slurm.");
  sub.callback([c, &exit_code] { exit_code = do_repair(*c); });
}

}  // namespace gd::cli
