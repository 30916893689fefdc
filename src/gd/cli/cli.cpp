#include "gd/cli/cli.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "gd/churn/churn.hpp"
#include "gd/cuda/cuda_collect.hpp"
#include "gd/nvml/nvml_collect.hpp"
#include "gd/util/strings.hpp"

namespace gd::cli {

namespace {

constexpr Command k_commands[] = {
    {"check", "Diagnose this node now: every finding with evidence, cause and fix; never hangs", setup_check},
    {"collect", "Snapshot this node to JSON (diagnose it anywhere with `check --from FILE`)", setup_collect},
    {"fix", "Turn findings into a repair plan (dry run); apply it with --yes, then re-check", setup_fix},
    {"demo", "Play the seed story on the built-in simulator in seconds: lose a GPU, diagnose, fix", setup_demo},
    {"sim", "Run any program (gpustat, nvtop, slurmd, your exporter) against a simulated node", setup_sim},
    {"watch", "Daemon: sample every GPU and the health rules each interval into a history; serve /metrics",
     setup_watch},
    {"history", "Query watch's history: samples per GPU and metric over a time range", setup_history},
    {"import", "Import the logs you already have (nvidia-smi dumps, a kernel log) into watch's history",
     setup_import},
    {"report", "The post-mortem of an incident: one self-contained HTML page (or JSON) with charts, events and a "
               "verdict on every usual suspect",
     setup_report},
    {"events", "Query watch's events: GPU lost/back, NVML hung, findings raised/cleared, inventory changes",
     setup_events},
    {"churn", "Launch many short-lived GPU processes (the autotuner's pattern) and measure driver init", setup_churn},
    {"xid", "Explain the NVIDIA events (Xid, fallen off the bus) of a kernel log: meaning and action", setup_xid},
    {"ledger", "The node's health ledger: problems latched until a repair is verified; update, ack", setup_ledger},
    {"slurm-health", "Slurm HealthCheckProgram: drain this node on a latched critical problem, resume our own drains",
     setup_slurm_health},
    {"slurm-repair", "Close the loop on a node we drained: wait for its jobs, fix, re-check, resume or escalate",
     setup_slurm_repair},
    {"list", "List every rule id with what it detects", setup_list},
    {"version", "Print gpudoctor's version", setup_version},
};

}  // namespace

std::span<const Command> command_table() { return k_commands; }

int run(int argc, char** argv) {
  // The NVML worker is an internal mode, not a user command.
  if (argc == 3 && std::strcmp(argv[1], "__nvml-worker") == 0) return nvml::worker_main(argv[2], 1);
  if (argc == 3 && std::strcmp(argv[1], "__nvml-sampler") == 0) return nvml::sampler_main(argv[2], 0, 1);
  if (argc == 3 && std::strcmp(argv[1], "__cuda-worker") == 0) return cuda::worker_main(argv[2], 1);
  if (argc == 3 && std::strcmp(argv[1], "__nvml-set-persistence") == 0)
    return nvml::set_persistence_main(argv[2], 1);
  if (argc == 4 && std::strcmp(argv[1], "__churn-child") == 0) return churn::churn_child_main(argv[2], argv[3]);
  if (argc == 4 && std::strcmp(argv[1], "__churn-fork-server") == 0)
    return churn::churn_zygote_main(argv[2], argv[3]);

  CLI::App app{"gpudoctor: diagnoses, watches and repairs NVIDIA GPU nodes", "gpudoctor"};
  app.require_subcommand(1);
  app.set_version_flag("--version", fmt::format("gpudoctor {}", GD_VERSION));
  if (argc >= 2 && argv[1][0] != '-') {
    std::string_view word = argv[1];
    bool known = std::any_of(std::begin(k_commands), std::end(k_commands),
                             [&](const Command& c) { return c.name == word; });
    if (!known) {
      fmt::print(stderr, "gpudoctor: unknown command '{}'\ncommands:\n", util::printable(word, 40));
      for (const auto& c : k_commands) fmt::print(stderr, "  {:<9} {}\n", c.name, c.help);
      return k_exit_unknown;
    }
  }
  int exit_code = k_exit_ok;
  for (const auto& c : k_commands) {
    auto* sub = app.add_subcommand(std::string(c.name), std::string(c.help));
    c.setup(*sub, exit_code);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    app.exit(e);
    return k_exit_ok;
  } catch (const CLI::CallForVersion& e) {
    app.exit(e);
    return k_exit_ok;
  } catch (const CLI::CallForAllHelp& e) {
    app.exit(e);
    return k_exit_ok;
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return k_exit_unknown;
  } catch (const std::exception& e) {
    fmt::print(stderr, "gpudoctor: {}\n", e.what());
    return k_exit_unknown;
  }
  return exit_code;
}

}  // namespace gd::cli
