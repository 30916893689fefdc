#include "gd/fix/apply.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/model/json_io.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/subprocess.hpp"

namespace gd::fix {

namespace {

std::chrono::milliseconds ms(double s) { return std::chrono::milliseconds(static_cast<long long>(s * 1000)); }

// What a failed command printed, all of it (bounded), each line made safe to show.
std::string output_text(const std::string& text) {
  std::vector<std::string> out;
  std::size_t total = 0;
  for (auto line : util::lines(util::trim(text))) {
    if (total > 4000) {
      out.emplace_back("...");
      break;
    }
    out.push_back(util::printable(util::trim(line), 400));
    total += out.back().size();
  }
  return util::join(out, "\n");
}

ActionResult run_commands(const Action& a, const ApplyOptions& o) {
  ActionResult r{true, true, ""};
  for (const auto& argv : a.commands) {
    auto res = util::run(argv, ms(o.timeout_s));
    std::string cmd = util::join(argv, " ");
    if (!res.started || res.timed_out || res.exit_code != 0) {
      r.ok = false;
      r.detail = !res.started   ? res.err
                 : res.timed_out ? fmt::format("{}: no answer within {:.0f} s, killed", cmd, o.timeout_s)
                                 : fmt::format("{}: exit {}: {}", cmd, res.exit_code,
                                               output_text(res.err.empty() ? res.out : res.err + "\n" + res.out));
      return r;
    }
    r.detail += (r.detail.empty() ? "ran: " : "; ") + cmd;
  }
  return r;
}

// Written inside the root only: parents created there, a link at the name
// replaced rather than followed (HostRoot is sealed).
ActionResult write_file(const Action& a, const host::HostRoot& root) {
  auto existing = root.read_file(a.path, 1 << 20);
  if (existing && *existing == a.content) return {false, true, a.path + " already in place"};
  auto slash = a.path.rfind('/');
  if (auto made = root.make_dirs(a.path.substr(0, slash == 0 ? 1 : slash)); !made)
    return {true, false, made.error().message};
  if (auto w = root.write_file_atomic(a.path, a.content, 0644); !w) return {true, false, w.error().message};
  return {true, true, "wrote " + a.path};
}

// Each link made atomically (a temporary link renamed over the name), so a
// wrong link is replaced and a right one left alone.
ActionResult make_links(const Action& a, const host::HostRoot& root) {
  std::vector<std::string> made, kept;
  for (const auto& [link, target] : a.links) {
    if (root.kind(link) == host::FileKind::symlink && root.read_link(link).value_or("") == target) {
      kept.push_back(link);
      continue;
    }
    auto slash = link.rfind('/');
    auto done = root.make_dirs(link.substr(0, slash == 0 ? 1 : slash));
    if (done) done = root.symlink_atomic(link, target);
    if (!done) return {!made.empty(), false, fmt::format("{} -> {}: {}", link, target, done.error().message)};
    made.push_back(fmt::format("{} -> {}", link, target));
  }
  if (made.empty()) return {false, true, fmt::format("{} link(s) already in place", kept.size())};
  return {true, true, fmt::format("created {}", fmt::join(made, ", "))};
}

ActionResult set_persistence(const ApplyOptions& o) {
  if (o.nvml_library.empty()) return {false, false, "NVML is not available on this node"};
  auto res = util::run({o.worker_exe.empty() ? util::worker_exe() : o.worker_exe, "__nvml-set-persistence",
                        o.nvml_library},
                       ms(o.timeout_s));
  if (res.timed_out) return {true, false, "NVML did not answer; persistence unchanged"};
  ActionResult r{true, true, ""};
  unsigned changed = 0, already = 0;
  std::vector<std::string> failed;
  for (auto line : util::lines(res.out)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    if (j.contains("load_error")) return {true, false, j["load_error"].get<std::string>()};
    if (j.contains("init")) return {true, false, fmt::format("nvmlInit failed ({})", j["init"].value("return", -1))};
    if (!j.contains("index")) continue;
    std::string gpu = j.value("bus_id", fmt::format("index {}", j.value("index", 0u)));
    if (j.value("ret", -1) != 0)
      failed.push_back(fmt::format("{} (NVML return {})", gpu, j.value("ret", -1)));
    else
      (j.value("was_on", false) ? already : changed) += 1;
  }
  r.ok = failed.empty();
  r.performed = changed > 0 || !failed.empty();
  r.detail = fmt::format("persistence turned on for {} GPU(s), already on for {}", changed, already);
  if (!failed.empty()) r.detail += fmt::format("; failed on {}", fmt::join(failed, ", "));
  return r;
}

}  // namespace

Status record_change(const host::HostRoot& root, const model::ChangeRecord& change) {
  if (auto d = root.make_dirs(model::k_state_dir, 0750); !d) return d;
  return root.append_file(model::k_changes_file, model::to_json(change).dump(-1, ' ', false,
                                                                             nlohmann::json::error_handler_t::replace) +
                                                     "\n",
                          0640);
}

std::vector<ActionResult> apply_plan(const std::vector<Action>& plan, const host::HostRoot& root,
                                     const ApplyOptions& options) {
  std::vector<ActionResult> out;
  for (const auto& a : plan) {
    switch (a.kind) {
      case ActionKind::exec: out.push_back(run_commands(a, options)); break;
      case ActionKind::write_file: out.push_back(write_file(a, root)); break;
      case ActionKind::nvml_persistence: out.push_back(set_persistence(options)); break;
      case ActionKind::symlinks: out.push_back(make_links(a, root)); break;
      case ActionKind::manual: out.push_back({false, true, "not performed: manual"}); break;
    }
  }
  return out;
}

}  // namespace gd::fix
