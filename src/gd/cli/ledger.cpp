// `gpudoctor ledger`: the node's health ledger — list it (a query: reads
// only), `ledger update` (check the node and fold the result in), `ledger ack`
// (an operator closes a problem with a recorded reason).
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "gd/cli/cli.hpp"
#include "gd/cli/ledger_ops.hpp"
#include "gd/cli/render.hpp"
#include "gd/cli/since_option.hpp"
#include "gd/model/json_io.hpp"
#include "gd/probe/state.hpp"
#include "gd/rule/rule.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/time.hpp"

namespace gd::cli {

Result<CheckedNode> check_node(NodeOptions& node, std::optional<unsigned> expect_gpus) {
  auto started = util::now_unix_ms();
  auto snap = snapshot_node(node);
  if (!snap) return snap.error();
  CheckedNode c{std::move(*snap), {}, started};
  c.findings = rule::evaluate(rule::RuleInput{c.snap, expect_gpus});
  return c;
}

Result<ledger::Recorded> record_check(const NodeOptions& node, const CheckedNode& c, std::string_view who,
                                      std::int64_t quiet_s) {
  host::HostRoot root(node.root);
  auto r = ledger::record(root, c.snap, c.findings, ledger::UpdateOptions{ledger::now_unix_s(), std::string(who), quiet_s, c.started_unix_ms});
  if (r && !r->notice.empty()) fmt::print(stderr, "gpudoctor {}: {}\n", who, r->notice);
  return r;
}

void add_quiet_time_option(CLI::App& sub, std::int64_t& quiet_s) {
  sub.add_option("--quiet-time", quiet_s,
                 "How long a transient problem (an application Xid) must stay away before the ledger clears it "
                 "(default 1h)")
      ->transform(quiet_time_validator());
}

std::string render_ledger_text(const model::Ledger& l, std::string_view boot, bool all, std::string_view path) {
  std::string out = fmt::format("Health ledger {} (updated {} by {})\n", path,
                                l.updated_unix_s ? util::format_utc(l.updated_unix_s) : "never",
                                l.updated_by.empty() ? "-" : l.updated_by);
  auto open = model::open_entries(l);
  std::vector<const model::LedgerEntry*> shown = open;
  if (all)
    for (const auto& e : l.entries)
      if (e.state != model::LedgerState::open) shown.push_back(&e);
  std::size_t closed = l.entries.size() - open.size();
  if (open.empty()) out += "No open problem.\n";
  for (const auto* e : shown) {
    out += fmt::format("\n{:<8} {}  [{}]\n  {}\n", model::severity_name(e->severity), model::key(*e),
                       model::latch_name(e->latch), model::status_text(*e, l, boot));
    out += fmt::format("  {}\n", util::printable(e->summary, 300));
    for (const auto& r : e->repairs)
      out += fmt::format("  repair seen {}: {}\n", util::format_utc(r.ts_unix_s), util::printable(r.what, 200));
  }
  if (!all && closed)
    out += fmt::format("\n{} closed in the last 30 days (gpudoctor ledger --all shows them)\n", closed);
  return out;
}

nlohmann::json ledger_json(const model::Ledger& l, std::string_view boot) {
  auto j = model::to_json(l);
  for (std::size_t i = 0; i < l.entries.size(); ++i) {
    j["entries"][i]["key"] = model::key(l.entries[i]);
    j["entries"][i]["status"] = model::status_text(l.entries[i], l, boot);
  }
  j["worst_open"] = model::severity_name(model::worst_open(l));
  return j;
}

namespace {

int exit_for(const model::Ledger& l) { return static_cast<int>(model::worst_open(l)); }

std::string current_boot(const host::HostRoot& root) {
  return probe::read_state(root).boot_id.value_or("");
}

struct LedgerCli {
  NodeOptions node;
  bool json = false;
  bool all = false;
  std::int64_t quiet_s = ledger::k_default_quiet_s;
  std::string selector;
  std::string reason;
};

int do_show(LedgerCli& c) {
  host::HostRoot root(c.node.root);
  auto l = probe::read_ledger(root);
  if (!l) {
    fmt::print(stderr, "gpudoctor ledger: {}\n", l.error().message);
    return k_exit_unknown;
  }
  std::string path = root.display_path(model::k_ledger_file).string();
  model::Ledger ledger = l->value_or(model::Ledger{});
  std::string boot = current_boot(root);
  if (c.json) fmt::print("{}\n", dump_json(ledger_json(ledger, boot)));
  else if (!*l) fmt::print("Health ledger {}: none yet (watch, slurm-health, fix --yes or `gpudoctor ledger update` "
                           "start it when they first see a problem)\n", path);
  else fmt::print("{}", render_ledger_text(ledger, boot, c.all, path));
  return exit_for(ledger);
}

int do_update(LedgerCli& c) {
  auto checked = check_node(c.node);
  if (!checked) {
    fmt::print(stderr, "gpudoctor ledger update: could not diagnose: {}\n", checked.error().message);
    return k_exit_unknown;
  }
  auto rec = record_check(c.node, *checked, "ledger update", c.quiet_s);
  if (!rec) {
    fmt::print(stderr, "gpudoctor ledger update: {}\n", rec.error().message);
    return k_exit_unknown;
  }
  std::string boot = checked->snap.state.boot_id.value_or("");
  host::HostRoot root(c.node.root);
  if (c.json) {
    auto j = ledger_json(rec->ledger, boot);
    j["update"] = {{"raised", rec->report.raised}, {"cleared", rec->report.cleared},
                   {"repairs", rec->report.repairs}, {"escalated", rec->report.escalated}};
    fmt::print("{}\n", dump_json(j));
  } else {
    for (const auto& x : rec->report.raised) fmt::print("raised: {}\n", util::printable(x, 300));
    for (const auto& x : rec->report.repairs) fmt::print("repair seen: {}\n", util::printable(x, 300));
    for (const auto& x : rec->report.cleared) fmt::print("cleared: {}\n", util::printable(x, 300));
    for (const auto& x : rec->report.escalated) fmt::print("escalated: {}\n", util::printable(x, 300));
    fmt::print("{}", render_ledger_text(rec->ledger, boot, false, root.display_path(model::k_ledger_file).string()));
  }
  return exit_for(rec->ledger);
}

int do_ack(LedgerCli& c) {
  host::HostRoot root(c.node.root);
  std::string notice;
  auto session = ledger::Session::open(root, std::chrono::milliseconds(5000), &notice);
  if (!session) {
    fmt::print(stderr, "gpudoctor ledger ack: {}\n", session.error().message);
    return k_exit_unknown;
  }
  if (!notice.empty()) fmt::print(stderr, "gpudoctor ledger ack: {}\n", notice);
  auto now = ledger::now_unix_s();
  auto done = ledger::acknowledge(session->ledger(), c.selector, c.reason, now);
  if (!done) {
    fmt::print(stderr, "gpudoctor ledger ack: {}\n", done.error().message);
    return k_exit_unknown;
  }
  if (auto saved = session->save("ledger ack", now); !saved) {
    fmt::print(stderr, "gpudoctor ledger ack: the ledger could not be written: {}\n", saved.error().message);
    return k_exit_unknown;
  }
  for (const auto& k : *done) fmt::print("acknowledged: {}\n", k);
  return exit_for(session->ledger());
}

}  // namespace

void setup_ledger(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<LedgerCli>();
  sub.add_option("--root", c->node.root, "Directory that stands in for the node's /")->check(CLI::ExistingDirectory);
  sub.add_flag("--json", c->json, "Print the ledger as JSON");
  sub.add_flag("--all", c->all, "Also list the problems cleared or acknowledged in the last 30 days");
  sub.footer("Exit codes: 0 no open problem, 1 the worst open one is a warning, 2 critical, 3 unreadable ledger or "
             "bad usage. Listing only reads; `update` and `ack` write /var/lib/gpudoctor/ledger.json (inside --root).");

  auto* update = sub.add_subcommand("update", "Check the node now and fold the result into the ledger (clears what a "
                                              "passing re-check after a repair proves gone)");
  add_node_options(*update, c->node);
  add_quiet_time_option(*update, c->quiet_s);
  update->add_flag("--json", c->json, "Print the ledger and what changed as JSON");
  update->callback([c, &exit_code] { exit_code = do_update(*c); });

  auto* ack = sub.add_subcommand("ack", "Close open problems by hand, with a reason kept in the ledger");
  ack->add_option("problem", c->selector, "ID, ID@GPU (as `gpudoctor ledger` lists it) or all")->required();
  ack->add_option("--reason", c->reason, "Why (kept in the ledger): \"card replaced, RMA 1234\"")->required();
  ack->add_option("--root", c->node.root, "Directory that stands in for the node's /")->check(CLI::ExistingDirectory);

  ack->callback([c, &exit_code] { exit_code = do_ack(*c); });
  sub.callback([c, &sub, &exit_code] {
    if (sub.get_subcommands().empty()) exit_code = do_show(*c);
  });
}

}  // namespace gd::cli
