#include "gd/fix/plan.hpp"

#include <fmt/format.h>

#include "gd/rule/facts.hpp"
#include "gd/rule/rule.hpp"
#include "gd/util/strings.hpp"

namespace gd::fix {

namespace {

std::vector<std::string> systemctl(const PlanContext& ctx, std::vector<std::string> args) {
  std::vector<std::string> argv = {"systemctl"};
  if (!ctx.live) argv.push_back("--root=" + ctx.root);
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

void persistence_actions(const model::Snapshot& s, const model::Finding& f, const PlanContext& ctx,
                         std::vector<Action>& out) {
  const auto& p = s.persistenced;
  if (p.unit_file && !p.unit_masked) {
    if (p.unit_no_persistence_mode && p.unit_exec_start) {
      Action d{f.id, f.gpu, "Install a drop-in so nvidia-persistenced starts with persistence on"};
      d.kind = ActionKind::write_file;
      d.path = k_dropin_path;
      d.content = persistence_dropin(*p.unit_exec_start);
      d.note = fmt::format("{} starts the daemon with --no-persistence-mode (Ubuntu's default)", *p.unit_file);
      out.push_back(d);
      Action reload{f.id, f.gpu, "Reload systemd's unit files"};
      reload.kind = ActionKind::exec;
      if (ctx.live) reload.commands = {{"systemctl", "daemon-reload"}};
      if (!reload.commands.empty()) out.push_back(reload);
    }
    // A daemon that runs while the GPUs are off does not achieve persistence
    // (started with --no-persistence-mode by hand, or persistence switched off
    // since): `start` would do nothing; a restart applies the unit's settings.
    bool restart = p.process_alive;
    Action a{f.id, f.gpu,
             restart ? "Restart nvidia-persistenced so it turns persistence on (and enable it for the next boots)"
                     : "Enable and start nvidia-persistenced (keeps the GPUs initialised, survives reboots)"};
    a.kind = ActionKind::exec;
    if (ctx.live)
      a.commands = {systemctl(ctx, {"enable", "nvidia-persistenced"}),
                    systemctl(ctx, {restart ? "restart" : "start", "nvidia-persistenced"})};
    else
      a.commands = {systemctl(ctx, {"enable", "nvidia-persistenced"})};
    if (!ctx.live) a.note = "offline root: the unit is enabled for the next boot, not started";
    out.push_back(a);
    return;
  }
  Action a{f.id, f.gpu, "Turn persistence mode on for every GPU through NVML"};
  a.kind = ActionKind::nvml_persistence;
  a.note = p.unit_masked ? "nvidia-persistenced.service is masked; "
                           "this setting is lost at reboot (unmask and enable the daemon to keep it)"
                         : "no nvidia-persistenced unit is installed; this setting is lost at reboot "
                           "(install the driver's nvidia-persistenced to keep it)";
  out.push_back(a);
}

Action ldconfig(const model::Snapshot& s, const model::Finding& f, const PlanContext& ctx) {
  Action a{f.id, f.gpu, "Rebuild the dynamic linker cache"};
  // ldconfig deletes a dangling .so.N link: one that dpkg manages must be
  // repaired through dpkg first, or its records go wrong and the library is lost.
  if (auto dpkg = rule::dangling_alternatives_links(s); !dpkg.empty()) {
    a.title = "Rebuild the dynamic linker cache, after repairing the dpkg-managed links (not run now)";
    a.steps = {fmt::format("First repair {} through dpkg (see libs.dangling_link): reinstall its package or "
                           "update-alternatives --auto; ldconfig now would delete it",
                           dpkg.front()->path),
               ctx.live ? std::string("Then: sudo ldconfig") : fmt::format("Then: sudo ldconfig -r {}", ctx.root)};
    a.note = "ldconfig deletes dangling SONAME links, and this one belongs to dpkg";
    return a;
  }
  a.kind = ActionKind::exec;
  a.commands = {ctx.live ? std::vector<std::string>{"ldconfig"} : std::vector<std::string>{"ldconfig", "-r", ctx.root}};
  return a;
}

Action devnodes(const model::Snapshot& s, const model::Finding& f, const PlanContext& ctx) {
  (void)s;
  Action a{f.id, f.gpu, "Create the missing device nodes"};
  if (!ctx.live) {
    a.steps = {"On the node: sudo nvidia-modprobe -u -c=0   (or: sudo modprobe nvidia_uvm)"};
    a.note = "device nodes cannot be created in an offline root";
    return a;
  }
  a.kind = ActionKind::exec;
  a.commands = {{"nvidia-modprobe", "-u", "-c=0"}};
  a.note = "if nvidia-modprobe is not installed: modprobe nvidia_uvm";
  return a;
}

// /dev/char/MAJ:MIN -> ../nvidiaX for each node the container probe found
// without its link (what `nvidia-ctk system create-dev-char-symlinks` does).
Action dev_char_links(const model::Snapshot& s, const model::Finding& f) {
  Action a{f.id, f.gpu, "Create the /dev/char links runc needs for the NVIDIA device nodes"};
  a.kind = ActionKind::symlinks;
  for (const auto& l : s.container.dev_char)
    if (!l.ok) a.links.emplace_back(l.link, ".." + l.node.substr(std::string_view("/dev").size()));
  a.note = "lost at reboot (/dev is rebuilt): add a udev rule running `nvidia-ctk system create-dev-char-symlinks "
           "--create-all`, and recreate containers that already lost their GPUs";
  return a;
}

Action manual(const model::Finding& f) {
  Action a{f.id, f.gpu, f.needs_reboot ? "Reboot (gpudoctor never reboots a node)" : "Manual steps"};
  a.steps = f.fix;
  a.needs_reboot = f.needs_reboot;
  a.needs_root = f.needs_root;
  return a;
}

}  // namespace

std::string_view action_kind_name(ActionKind k) {
  switch (k) {
    case ActionKind::exec: return "exec";
    case ActionKind::write_file: return "write_file";
    case ActionKind::nvml_persistence: return "nvml_persistence";
    case ActionKind::symlinks: return "symlinks";
    case ActionKind::manual: return "manual";
  }
  return "?";
}

std::string persistence_dropin(const std::string& exec_start) {
  std::string cmd;
  for (auto word : util::split_ws(exec_start))
    if (word != "--no-persistence-mode") cmd += (cmd.empty() ? "" : " ") + std::string(word);
  return fmt::format(
      "# Written by gpudoctor fix: start nvidia-persistenced with persistence mode on.\n"
      "[Service]\nExecStart=\nExecStart={}\n",
      cmd);
}

std::vector<Action> make_plan(const model::Snapshot& s, const std::vector<model::Finding>& findings,
                              const PlanContext& ctx) {
  std::vector<Action> out;
  bool ldconfig_planned = false;
  for (const auto& f : findings) {
    if (f.severity == model::Severity::ok) continue;
    const rule::RuleEntry* entry = rule::find_rule(f.id);
    auto repair = entry ? entry->repair : rule::Repair::manual;
    // Inside a container only the container's own files can be repaired; the
    // host's services, modules and device nodes are the host's to change.
    if (s.container.inside && ctx.live && repair != rule::Repair::ldconfig) repair = rule::Repair::manual;
    switch (repair) {
      case rule::Repair::persistence: persistence_actions(s, f, ctx, out); break;
      case rule::Repair::ldconfig:
        if (!ldconfig_planned) out.push_back(ldconfig(s, f, ctx));
        ldconfig_planned = true;
        break;
      case rule::Repair::devnodes: out.push_back(devnodes(s, f, ctx)); break;
      case rule::Repair::dev_char_links: out.push_back(dev_char_links(s, f)); break;
      case rule::Repair::manual:
        if (!f.fix.empty()) out.push_back(manual(f));
        break;
    }
  }
  return out;
}

}  // namespace gd::fix
