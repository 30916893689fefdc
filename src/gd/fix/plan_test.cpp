#include "gd/fix/plan.hpp"

#include <gtest/gtest.h>

namespace gd::fix {
namespace {

model::Finding finding(std::string id, model::Severity sev = model::Severity::warning) {
  model::Finding f;
  f.id = std::move(id);
  f.severity = sev;
  f.fix = {"do something"};
  return f;
}

TEST(FixPlan, OkFindingsNeedNothing) {
  model::Snapshot s;
  EXPECT_TRUE(make_plan(s, {finding("persistence.off", model::Severity::ok)}, {}).empty());
}

TEST(FixPlan, PersistenceWithoutUnitUsesNvmlAndWarnsItIsLostAtReboot) {
  model::Snapshot s;
  auto plan = make_plan(s, {finding("persistence.off")}, {});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::nvml_persistence);
  EXPECT_NE(plan[0].note.find("lost at reboot"), std::string::npos);
}

TEST(FixPlan, PersistenceWithUnitEnablesTheDaemon) {
  model::Snapshot s;
  s.persistenced.unit_file = "/lib/systemd/system/nvidia-persistenced.service";
  s.persistenced.unit_exec_start = "/usr/bin/nvidia-persistenced --user nvidia-persistenced";
  auto plan = make_plan(s, {finding("persistence.off")}, {});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::exec);
  ASSERT_EQ(plan[0].commands.size(), 2u);
  EXPECT_EQ(plan[0].commands[0], (std::vector<std::string>{"systemctl", "enable", "nvidia-persistenced"}));
  EXPECT_EQ(plan[0].commands[1], (std::vector<std::string>{"systemctl", "start", "nvidia-persistenced"}));
}

TEST(FixPlan, UbuntuStyleUnitGetsADropInWithoutTheFlag) {
  model::Snapshot s;
  s.persistenced.unit_file = "/lib/systemd/system/nvidia-persistenced.service";
  s.persistenced.unit_exec_start = "/usr/bin/nvidia-persistenced --user nvidia-persistenced --no-persistence-mode --verbose";
  s.persistenced.unit_no_persistence_mode = true;
  s.persistenced.process_alive = true;
  auto plan = make_plan(s, {finding("persistence.off")}, {});
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].kind, ActionKind::write_file);
  EXPECT_EQ(plan[0].path, k_dropin_path);
  EXPECT_NE(plan[0].content.find("ExecStart=\nExecStart=/usr/bin/nvidia-persistenced --user nvidia-persistenced --verbose\n"),
            std::string::npos)
      << plan[0].content;
  EXPECT_EQ(plan[1].commands[0], (std::vector<std::string>{"systemctl", "daemon-reload"}));
  EXPECT_EQ(plan[2].commands[1], (std::vector<std::string>{"systemctl", "restart", "nvidia-persistenced"}));
}

TEST(FixPlan, OfflineRootActsInsideIt) {
  model::Snapshot s;
  s.persistenced.unit_file = "/lib/systemd/system/nvidia-persistenced.service";
  PlanContext ctx{"/srv/node7", false};
  auto plan = make_plan(s, {finding("persistence.off"), finding("libs.stale_ldcache")}, ctx);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].commands.at(0),
            (std::vector<std::string>{"systemctl", "--root=/srv/node7", "enable", "nvidia-persistenced"}));
  EXPECT_EQ(plan[1].commands.at(0), (std::vector<std::string>{"ldconfig", "-r", "/srv/node7"}));
}

TEST(FixPlan, RebootsAreListedNeverPerformed) {
  model::Snapshot s;
  auto f = finding("gpu.fell_off_bus", model::Severity::critical);
  f.gpu = "bd71:00:00.0";
  f.needs_reboot = true;
  auto plan = make_plan(s, {f, finding("driver.version_mismatch", model::Severity::critical)}, {});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].kind, ActionKind::manual);
  EXPECT_TRUE(plan[0].needs_reboot);
  EXPECT_EQ(plan[0].gpu, "bd71:00:00.0");
  EXPECT_EQ(plan[1].kind, ActionKind::manual);
}

TEST(FixPlan, OneLdconfigForSeveralLinkerFindings) {
  model::Snapshot s;
  auto plan = make_plan(s, {finding("libs.stale_ldcache"), finding("nvml.missing")}, {});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].commands.at(0), (std::vector<std::string>{"ldconfig"}));
}

// Debian's real unit has no --no-persistence-mode: a daemon that runs while
// the GPUs are off must be restarted, not "started" (which does nothing).
TEST(FixPlan, RunningDaemonWithPersistenceOffIsRestarted) {
  model::Snapshot s;
  s.persistenced.unit_file = "/lib/systemd/system/nvidia-persistenced.service";
  s.persistenced.unit_exec_start = "/usr/bin/nvidia-persistenced --user nvidia-persistenced";
  s.persistenced.process_alive = true;
  auto plan = make_plan(s, {finding("persistence.off")}, {});
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].commands.at(1), (std::vector<std::string>{"systemctl", "restart", "nvidia-persistenced"}));
}

// ldconfig deletes a dangling .so.N link; when dpkg owns it, the linker repair waits for dpkg's.
TEST(FixPlan, NoLdconfigOverADanglingDpkgLink) {
  model::Snapshot s;
  model::LibEntry e;
  e.family = "libnvidia-ml";
  e.path = "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1";
  e.hops = {"/etc/alternatives/nvidia--libnvidia-ml.so.1-x86_64-linux-gnu"};
  e.link_error = "dangling";
  s.libs.entries = {e};
  auto plan = make_plan(s, {finding("libs.stale_ldcache", model::Severity::critical),
                            finding("libs.dangling_link", model::Severity::critical)},
                        {});
  ASSERT_GE(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, ActionKind::manual);
  EXPECT_TRUE(plan[0].commands.empty());
  EXPECT_NE(plan[0].steps.at(0).find("through dpkg"), std::string::npos);
}

TEST(FixPlan, InsideAContainerHostRepairsAreListedNotPerformed) {
  model::Snapshot s;
  s.container.inside = true;
  auto plan = make_plan(s, {finding("persistence.off"), finding("libs.stale_ldcache")}, {});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].kind, ActionKind::manual);  // the host's daemon: not this container's to change
  EXPECT_EQ(plan[1].kind, ActionKind::exec);    // the container's own linker cache
}

}  // namespace
}  // namespace gd::fix
