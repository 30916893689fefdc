// `gpudoctor sim SCENARIO -- COMMAND...`: runs any program against a simulated
// node. The simulator stands in for libnvidia-ml (under libnvidia-ml.so.1 and
// the unversioned libnvidia-ml.so that Slurm probes) and libcuda; the
// scenario is a built-in one by name or a file. The command replaces this
// process (exec by argv, never a shell), so its exit status, signals and
// terminal are its own.
//
// A built-in scenario is written once per user to
// $XDG_RUNTIME_DIR/gpudoctor-sim/NAME/ (else /tmp/gpudoctor-sim-UID/NAME/),
// so every command run against the same name shares one simulated node: a
// persistence mode or application clock set by one is seen by the next, as
// on a real node. --reset forgets that state.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/cli/cli.hpp"
#include "gd/cli/sim_scenarios.hpp"
#include "gd/host/host_root.hpp"
#include "gd/util/subprocess.hpp"

namespace gd::cli {

namespace {

namespace fs = std::filesystem;

struct SimCli {
  std::string scenario;
  std::vector<std::string> command;
  bool reset = false;
  bool env = false;
  bool list = false;
};

const BuiltinScenario* find_builtin(std::string_view name) {
  if (name == "seed") name = "seed-lost-one-gpu";  // the seed story's node: one GPU lost, persistence off
  for (const auto& s : builtin_scenarios())
    if (s.name == name) return &s;
  return nullptr;
}

// A directory of ours: created 0700 if missing; refused when it is a link, not
// a directory, or another user's (a shared /tmp).
Result<fs::path> own_dir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(fmt::format("{}: {}", dir.string(), std::strerror(errno)));
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid())
    return make_error(fmt::format("{}: not a directory of this user's (refusing to use it)", dir.string()));
  return dir;
}

Result<fs::path> runtime_dir() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  fs::path base = xdg && *xdg ? fs::path(xdg) / "gpudoctor-sim"
                              : fs::temp_directory_path() / fmt::format("gpudoctor-sim-{}", ::geteuid());
  auto top = own_dir(base);
  if (!top) return top;
  return base;
}

// Replaces `path` with `text` (atomically, through the one writer the project
// has) unless it already holds it; true when it changed.
Result<bool> write_if_changed(const fs::path& path, std::string_view text) {
  host::HostRoot fs_root;
  if (auto old = fs_root.read_file(path.string(), 64u << 20); old && *old == text) return false;
  if (auto w = fs_root.write_file_atomic(path.string(), text, 0600); !w) return w.error();
  return true;
}

// The simulator's libraries under the names real programs load.
Result<fs::path> library_dir(const fs::path& base) {
  fs::path built = fs::path(util::self_exe()).parent_path() / "sim";
  if (!fs::exists(built / "libnvidia-ml.so.1"))
    return make_error(fmt::format("the NVML simulator was not found at {} (build the project first)",
                                  (built / "libnvidia-ml.so.1").string()));
  auto dir = own_dir(base / "lib");
  if (!dir) return dir;
  host::HostRoot fs_root;
  for (const char* name : {"libnvidia-ml.so.1", "libnvidia-ml.so"})
    if (auto r = fs_root.symlink_atomic((*dir / name).string(), (built / "libnvidia-ml.so.1").string()); !r)
      return r.error();
  if (fs::exists(built / "libcuda.so.1"))
    for (const char* name : {"libcuda.so.1", "libcuda.so"})
      if (auto r = fs_root.symlink_atomic((*dir / name).string(), (built / "libcuda.so.1").string()); !r)
        return r.error();
  return *dir;
}

// The scenario file to use: a built-in one written under the runtime dir, or
// the user's file (or folder with nvml.json) as it is.
Result<fs::path> scenario_file(const SimCli& c, const fs::path& base) {
  if (const auto* b = find_builtin(c.scenario)) {
    auto dir = own_dir(base / std::string(b->name));
    if (!dir) return dir;
    fs::path file = *dir / "nvml.json";
    auto changed = write_if_changed(file, b->json);
    if (!changed) return changed.error();
    if (*changed || c.reset) {  // a new scenario text starts a new node
      std::error_code ec;
      fs::remove(file.string() + ".state", ec);
    }
    return file;
  }
  fs::path p = c.scenario;
  std::error_code ec;
  if (fs::is_directory(p, ec)) p /= "nvml.json";
  if (!fs::is_regular_file(p, ec))
    return make_error(fmt::format("'{}' is neither a built-in scenario (gpudoctor sim --list) nor a scenario file",
                                  c.scenario));
  std::ifstream in(p, std::ios::binary);
  auto doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return make_error(fmt::format("{}: not a JSON object (a simulator scenario: docs/simulator.md)", p.string()));
  if (c.reset) fs::remove(fs::absolute(p).string() + ".state", ec);
  return fs::absolute(p);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

int do_sim(const SimCli& c) {
  if (c.list || c.scenario.empty()) {
    fmt::print("Built-in scenarios (gpudoctor sim NAME -- COMMAND...; 'seed' is seed-lost-one-gpu):\n");
    for (const auto& s : builtin_scenarios()) fmt::print("  {:<28} {}\n", s.name, s.description);
    return c.list ? k_exit_ok : k_exit_unknown;
  }
  if (c.command.empty() && !c.env) {
    fmt::print(stderr, "gpudoctor sim: give a command to run after --, e.g. gpudoctor sim {} -- gpustat\n",
               c.scenario);
    return k_exit_unknown;
  }
  auto base = runtime_dir();
  auto libs = base ? library_dir(*base) : Result<fs::path>(base.error());
  auto file = libs ? scenario_file(c, *base) : Result<fs::path>(libs.error());
  if (!file) {
    fmt::print(stderr, "gpudoctor sim: {}\n", file.error().message);
    return k_exit_unknown;
  }
  const char* old = std::getenv("LD_LIBRARY_PATH");
  std::string ld = libs->string() + (old && *old ? ":" + std::string(old) : std::string());
  if (c.env) {
    fmt::print("export GPUDOCTOR_SIM_SCENARIO={}\nexport LD_LIBRARY_PATH={}\n", shell_quote(file->string()),
               shell_quote(ld));
    if (c.command.empty()) return k_exit_ok;
  }
  ::setenv("GPUDOCTOR_SIM_SCENARIO", file->c_str(), 1);
  ::setenv("LD_LIBRARY_PATH", ld.c_str(), 1);
  std::vector<char*> argv;
  for (const auto& a : c.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  ::execvp(argv[0], argv.data());
  int err = errno;
  fmt::print(stderr, "gpudoctor sim: cannot run '{}': {}\n", c.command[0], std::strerror(err));
  return err == ENOENT ? 127 : 126;  // as a shell reports it
}

}  // namespace

void setup_sim(CLI::App& sub, int& exit_code) {
  auto c = std::make_shared<SimCli>();
  sub.add_option("scenario", c->scenario, "A built-in scenario name (--list) or a scenario file / folder");
  sub.add_option("command", c->command, "The program and its arguments, after --");
  sub.add_flag("--list", c->list, "List the built-in scenarios");
  sub.add_flag("--reset", c->reset, "Forget the simulated node's state (persistence, clocks set, GPUs lost)");
  sub.add_flag("--env", c->env, "Print the environment (export lines) instead of, or before, running");
  sub.footer(
      "Examples:\n  gpudoctor sim healthy-8xh100 -- gpustat --json\n  gpudoctor sim seed -- nvtop\n"
      "  eval \"$(gpudoctor sim healthy-8xh100 --env)\"; slurmd -G\n"
      "The command's exit status is returned; 127: not found. docs/simulator.md lists what the simulator answers.");
  sub.callback([c, &exit_code] { exit_code = do_sim(*c); });
}

}  // namespace gd::cli
