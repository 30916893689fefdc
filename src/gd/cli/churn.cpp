// `gpudoctor churn`: reproduce the per-process driver init/teardown load.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/churn/churn.hpp"
#include "gd/cli/cli.hpp"
#include "gd/cli/node_options.hpp"
#include "gd/cli/render.hpp"
#include "gd/host/host_root.hpp"
#include "gd/model/cuda_result.hpp"
#include "gd/model/nvml_return.hpp"
#include "gd/probe/library_locate.hpp"
#include "gd/probe/nvml_probe.hpp"
#include "gd/probe/probe.hpp"
#include "gd/rule/facts.hpp"

namespace gd::cli {

namespace {

struct ChurnCli {
  NodeOptions node;
  unsigned launches = 1000;
  unsigned jobs = 2;
  std::string mode = "nvml";
  bool json = false;
  bool no_progress = false;
  bool exec_each = false;
};

struct Inventory {
  std::vector<std::string> bus_ids;
  unsigned persistence_off = 0;
  unsigned persistence_on = 0;
};

Inventory inventory(const host::HostRoot& root, const probe::ProbeOptions& po) {
  Inventory inv;
  auto info = probe::read_nvml(root, po);
  for (const auto& g : info.gpus) {
    if (g.handle_return != 0 || !g.bus_id) continue;
    inv.bus_ids.push_back(*g.bus_id);
    if (g.persistence_mode) (*g.persistence_mode ? inv.persistence_on : inv.persistence_off) += 1;
  }
  return inv;
}

std::string thousands(unsigned n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::vector<std::string> lost_ids(const Inventory& before, const Inventory& after) {
  std::set<std::string> now(after.bus_ids.begin(), after.bus_ids.end());
  std::vector<std::string> out;
  for (const auto& id : before.bus_ids)
    if (!now.count(id)) out.push_back(id);
  return out;
}

std::string code_label(bool cuda, int code);

// No launch initialised: nothing about init/teardown was measured (e.g. the
// real library on a node without the driver: every nvmlInit returns 9).
bool none_initialised(const churn::ChurnResult& r) { return r.launched > 0 && r.succeeded == 0; }

std::string verdict(bool cuda, const Inventory& before, const churn::ChurnResult& r,
                    const std::vector<std::string>& lost) {
  if (none_initialised(r) && lost.empty() && !r.lost_at_launch) {
    std::vector<std::string> why;
    for (const auto& [code, n] : r.failures_by_code) why.push_back(fmt::format("{} x {}", n, code_label(cuda, code)));
    if (r.hung) why.push_back(fmt::format("{} hung", r.hung));
    if (r.crashed) why.push_back(fmt::format("{} crashed", r.crashed));
    return fmt::format("could not measure: none of {} launches initialised ({}); fix that first (gpudoctor check)",
                       thousands(r.launched), fmt::join(why, ", "));
  }
  std::string pers = before.persistence_off ? "persistence off" : before.persistence_on ? "persistence on"
                                                                                      : "persistence unknown";
  std::string out = fmt::format("{}: median init {}", pers, rule::format_ms(churn::quantile(r.init_ms, 0.5)));
  if (r.lost_at_launch || !lost.empty()) {
    out += fmt::format("; GPU {} lost after {} launches", lost.empty() ? std::string("?") : fmt::format("{}", fmt::join(lost, ", ")),
                       thousands(r.lost_at_launch.value_or(r.launched)));
  } else {
    out += fmt::format("; no GPU lost in {} launches", thousands(r.launched));
  }
  return out;
}

void draw_progress(const churn::ChurnProgress& p) {
  constexpr int k_width = 30;
  int filled = p.total ? static_cast<int>(k_width * static_cast<double>(p.done) / p.total) : 0;
  double rate = p.elapsed_s > 0 ? p.done / p.elapsed_s : 0;
  std::fprintf(stderr, "\r[%s%s] %u/%u  %.0f/s  last init %s ", std::string(filled, '#').c_str(),
               std::string(k_width - filled, ' ').c_str(), p.done, p.total, rate,
               rule::format_ms(p.last_init_ms).c_str());
  std::fflush(stderr);
}

// A launch's failure code named in its own API: nvmlReturn_t, or CUresult with --mode cuda.
std::string code_name(bool cuda, int code) { return cuda ? model::cuda_result_name(code) : model::nvml_return_name(code); }
std::string code_label(bool cuda, int code) {
  return cuda ? model::cuda_result_label(code) : model::nvml_return_label(code);
}

nlohmann::json to_json(bool cuda, const churn::ChurnResult& r, const Inventory& before, const Inventory& after,
                       const std::vector<std::string>& lost, const std::string& v) {
  nlohmann::json fails = nlohmann::json::object();
  for (const auto& [code, n] : r.failures_by_code) fails[code_name(cuda, code)] = n;
  auto q = [&](double x) { return churn::quantile(r.init_ms, x); };
  return {{"launched", r.launched},
          {"succeeded", r.succeeded},
          {"failures_by_code", fails},
          {"hung", r.hung},
          {"crashed", r.crashed},
          {"init_ms", none_initialised(r) ? nlohmann::json(nullptr)  // not measured
                                          : nlohmann::json{{"p50", q(0.5)}, {"p95", q(0.95)}, {"p99", q(0.99)},
                                                           {"max", q(1.0)}}},
          {"overhead_ms_p50", churn::quantile(r.overhead_ms, 0.5)},
          {"launches_per_s", r.elapsed_s > 0 ? r.launched / r.elapsed_s : 0},
          {"elapsed_s", r.elapsed_s},
          {"gpus_before", before.bus_ids},
          {"gpus_after", after.bus_ids},
          {"lost", lost},
          {"lost_at_launch", r.lost_at_launch ? nlohmann::json(*r.lost_at_launch) : nlohmann::json(nullptr)},
          {"persistence_off_before", before.persistence_off},
          {"stopped_early", r.stopped_early},
          {"verdict", v}};
}

void print_text(bool cuda, const churn::ChurnResult& r, const Inventory& before, const Inventory& after,
                const std::string& v) {
  auto q = [&](double x) { return rule::format_ms(churn::quantile(r.init_ms, x)); };
  fmt::print("launched {} processes in {:.1f} s ({:.0f}/s){}\n", thousands(r.launched), r.elapsed_s,
             r.elapsed_s > 0 ? r.launched / r.elapsed_s : 0, r.stopped_early ? ", stopped early" : "");
  if (none_initialised(r))
    fmt::print("init latency: not measured (no launch initialised)\n");
  else
    fmt::print("init latency: p50 {}  p95 {}  p99 {}  max {}\n", q(0.5), q(0.95), q(0.99), q(1.0));
  fmt::print("gpudoctor overhead per launch (start, teardown): p50 {}\n",
             rule::format_ms(churn::quantile(r.overhead_ms, 0.5)));
  for (const auto& [code, n] : r.failures_by_code) fmt::print("failed: {} x {}\n", n, code_label(cuda, code));
  if (r.hung) fmt::print("hung (killed): {}\n", r.hung);
  if (r.crashed) fmt::print("crashed: {}\n", r.crashed);
  fmt::print("GPUs before: {}   after: {}\n", before.bus_ids.size(), after.bus_ids.size());
  fmt::print("verdict: {}\n", v);
}

int do_churn(ChurnCli& c) {
  host::HostRoot root(c.node.root);
  if (auto node = probe::check_node_root(root); !node) {
    fmt::print(stderr, "gpudoctor churn: {}\n", node.error().message);
    return k_exit_unknown;
  }
  bool cuda = c.mode == "cuda";
  probe::LibraryRequest req{cuda ? "libcuda.so.1" : "libnvidia-ml.so.1",
                            cuda ? c.node.probe.cuda_override : c.node.probe.nvml_override, cuda ? "--cuda" : "--nvml",
                            root.is_live() ? c.node.probe.ld_library_path : std::vector<std::string>{},
                            c.node.probe.no_tree_libs};
  model::NvmlLibrary found;
  std::string lib, error;
  if (!probe::locate_library(root, req, found, lib, error)) {
    fmt::print(stderr, "gpudoctor churn: {}\n", error);
    return k_exit_unknown;
  }
  Inventory before = inventory(root, c.node.probe);
  churn::ChurnOptions o;
  o.launches = c.launches;
  o.jobs = c.jobs;
  o.mode = cuda ? churn::Mode::cuda : churn::Mode::nvml;
  o.library = lib;
  o.process_timeout_s = c.node.probe.timeout_s;
  o.worker_exe = c.node.probe.worker_exe;
  o.exec_each = c.exec_each;
  o.expected_count = static_cast<unsigned>(before.bus_ids.size());
  bool bar = !c.no_progress && !c.json && ::isatty(2);
  auto r = churn::run_churn(o, bar ? draw_progress : std::function<void(const churn::ChurnProgress&)>{});
  if (bar) std::fprintf(stderr, "\n");
  Inventory after = inventory(root, c.node.probe);
  auto lost = lost_ids(before, after);
  std::string v = verdict(cuda, before, r, lost);
  if (c.json)
    fmt::print("{}\n", dump_json(to_json(cuda, r, before, after, lost, v)));
  else
    print_text(cuda, r, before, after, v);
  if (!lost.empty() || r.lost_at_launch) return k_exit_critical;
  if (none_initialised(r)) return k_exit_unknown;
  return (r.failures_by_code.empty() && !r.hung && !r.crashed) ? k_exit_ok : k_exit_warning;
}

}  // namespace

void setup_churn(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<ChurnCli>();
  add_node_options(sub, c->node);
  sub.add_option("-n,--launches", c->launches, "Number of processes to launch")->check(CLI::Range(1u, 10000000u));
  sub.add_option("-j,--jobs", c->jobs, "Processes running at a time")->check(CLI::Range(1u, 1024u));
  sub.add_option("--mode", c->mode, "What each process initialises: nvml (nvmlInit) or cuda")
      ->check(CLI::IsMember({"nvml", "cuda"}));
  sub.add_flag("--exec", c->exec_each,
               "Exec a new child per launch (the library is loaded each time) instead of forking each launch from a "
               "process that loaded it once");
  sub.add_flag("--json", c->json, "Print the result as JSON");
  sub.add_flag("--no-progress", c->no_progress, "No progress bar");
  sub.callback([c, &exit_code] { exit_code = do_churn(*c); });
}

}  // namespace gd::cli
