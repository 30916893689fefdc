// The command line: one table of commands, each set up in its own file.
#pragma once

#include <span>
#include <string_view>

namespace CLI {
class App;
}

namespace gd::cli {

// Exit codes shared by every command.
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_warning = 1;
inline constexpr int k_exit_critical = 2;
inline constexpr int k_exit_unknown = 3;  // could not diagnose: bad input, bad usage

struct Command {
  std::string_view name;
  std::string_view help;
  // Adds the subcommand's options to sub; the callback stores its exit code.
  void (*setup)(CLI::App& sub, int& exit_code);
};

std::span<const Command> command_table();

int run(int argc, char** argv);

// Per-command setup functions (one file each).
void setup_check(CLI::App& sub, int& exit_code);
void setup_collect(CLI::App& sub, int& exit_code);
void setup_list(CLI::App& sub, int& exit_code);
void setup_version(CLI::App& sub, int& exit_code);
void setup_xid(CLI::App& sub, int& exit_code);
void setup_churn(CLI::App& sub, int& exit_code);
void setup_fix(CLI::App& sub, int& exit_code);
void setup_demo(CLI::App& sub, int& exit_code);
void setup_sim(CLI::App& sub, int& exit_code);
void setup_watch(CLI::App& sub, int& exit_code);
void setup_history(CLI::App& sub, int& exit_code);
void setup_events(CLI::App& sub, int& exit_code);
void setup_import(CLI::App& sub, int& exit_code);
void setup_report(CLI::App& sub, int& exit_code);
void setup_ledger(CLI::App& sub, int& exit_code);
void setup_slurm_health(CLI::App& sub, int& exit_code);
void setup_slurm_repair(CLI::App& sub, int& exit_code);

}  // namespace gd::cli
