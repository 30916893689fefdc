#include "gd/ledger/ledger.hpp"

#include <sys/stat.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "gd/model/json_io.hpp"
#include "gd/probe/state.hpp"
#include "gd/rule/rule.hpp"
#include "gd/testing/temp_root.hpp"

namespace gd::ledger {
namespace {

using model::Finding;
using model::Latch;
using model::LedgerState;
using model::Severity;

constexpr const char* k_bus = "0000:bd:00.0";

// A node whose NVML answers for one GPU (or does not), in boot `boot`, with a complete kernel log.
model::Snapshot node(const std::string& boot, bool gpu_answers, const std::string& serial = "1320") {
  model::Snapshot s;
  s.state.boot_id = boot;
  s.nvml.state = model::NvmlState::ok;
  s.nvml.init_return = 0;
  s.kernel_log.source = "file kern.log";
  model::NvmlGpu g;
  g.bus_id = k_bus;
  g.serial = serial;
  g.uuid = "GPU-" + serial;
  s.kernel_log.gpu_uuids[k_bus] = "GPU-" + serial;  // the driver's "GPU at PCI" line of this boot
  if (!gpu_answers) g.call_errors["nvmlDeviceGetTemperature"] = 15;  // GPU_IS_LOST
  s.nvml.gpus.push_back(g);
  return s;
}

Finding finding(const std::string& id, Severity sev, bool earlier = false, bool with_gpu = true) {
  Finding f;
  f.id = id;
  f.severity = sev;
  if (with_gpu) f.gpu = k_bus;
  f.summary = id + " summary";
  f.evidence = {"line 1"};
  f.earlier_boots_only = earlier;
  return f;
}

UpdateOptions at(std::int64_t t, std::int64_t quiet = k_default_quiet_s) { return {t, "test", quiet}; }

const model::LedgerEntry& only(const model::Ledger& l) {
  EXPECT_EQ(l.entries.size(), 1u);
  return l.entries.front();
}

TEST(Ledger, TheTableGivesHardwareFaultsAHardwareLatch) {
  for (const char* id : {"xid.fallen_off_bus", "gpu.fell_off_bus", "xid.memory", "memory.ecc"})
    EXPECT_EQ(rule::find_rule(id)->latch, Latch::hardware) << id;
  EXPECT_EQ(rule::find_rule("xid.app_error")->latch, Latch::transient);
  EXPECT_EQ(rule::find_rule("persistence.off")->latch, Latch::none);
}

TEST(Ledger, AConfigurationProblemIsAsSevereAsItIsNowAHardwareFaultAsItWorstWas) {
  model::Ledger l;
  update(l, node("A", true), {finding("libs.empty_file", Severity::critical), finding("xid.memory", Severity::critical)},
         at(100));
  update(l, node("A", true), {finding("libs.empty_file", Severity::warning), finding("xid.memory", Severity::warning)},
         at(200));
  ASSERT_EQ(l.entries.size(), 2u);
  for (const auto& e : l.entries)
    EXPECT_EQ(e.severity, e.id == "libs.empty_file" ? Severity::warning : Severity::critical) << e.id;
}

TEST(Ledger, ACheckThatBeganBeforeTheNewestOneIsDropped) {
  // A repair's re-check (began at 5000 ms, GPU answers after a reboot) lands first; a health check that
  // began earlier (4000 ms, still seeing the loss) finishes later: it must not reopen the problem.
  model::Ledger l;
  update(l, node("A", false), {finding("xid.fallen_off_bus", Severity::critical)}, {100, "test", k_default_quiet_s, 3000});
  auto fresh = update(l, node("B", true), {}, {105, "test", k_default_quiet_s, 5000});
  ASSERT_EQ(fresh.cleared.size(), 1u);
  auto late = update(l, node("B", false), {finding("xid.fallen_off_bus", Severity::critical)},
                     {106, "test", k_default_quiet_s, 4000});
  EXPECT_TRUE(late.stale);
  EXPECT_TRUE(late.raised.empty());
  EXPECT_EQ(only(l).state, LedgerState::cleared);
  EXPECT_EQ(l.newest_check_unix_ms, 5000);
  // A check with no start time (a --from snapshot) is never dropped.
  auto unknown = update(l, node("B", false), {finding("xid.fallen_off_bus", Severity::critical)}, at(107));
  EXPECT_FALSE(unknown.stale);
  EXPECT_EQ(only(l).state, LedgerState::open);
}

TEST(Ledger, AFallenOffGpuStaysLatchedUntilARebootAndAPassingRecheck) {
  model::Ledger l;
  auto r = update(l, node("A", false), {finding("xid.fallen_off_bus", Severity::critical)}, at(100));
  ASSERT_EQ(r.raised.size(), 1u);
  EXPECT_EQ(only(l).state, LedgerState::open);
  EXPECT_TRUE(only(l).seen_now);
  EXPECT_EQ(only(l).raised_boot_id, "A");
  EXPECT_EQ(only(l).gpu_serial, "");  // NVML could not say: the GPU was lost
  EXPECT_EQ(only(l).gpu_uuid, "GPU-1320");

  // Same boot, the finding gone (say the log was rotated) and even NVML answering: no repair, so it stays.
  update(l, node("A", true), {}, at(200));
  EXPECT_EQ(only(l).state, LedgerState::open);
  EXPECT_FALSE(only(l).seen_now);
  EXPECT_NE(model::status_text(only(l), l, "A").find("not yet verified"), std::string::npos);

  // After a reboot, but NVML does not answer for the GPU: a reboot is seen, the re-check cannot pass.
  update(l, node("B", false), {finding("xid.fallen_off_bus", Severity::warning, true)}, at(300));
  EXPECT_EQ(only(l).state, LedgerState::open);
  ASSERT_EQ(only(l).repairs.size(), 1u);
  EXPECT_EQ(only(l).repairs[0].what, "reboot");

  // The GPU answers now, the old boot's log still shows the Xid: cleared, saying how.
  r = update(l, node("B", true), {finding("xid.fallen_off_bus", Severity::warning, true)}, at(400));
  EXPECT_EQ(only(l).state, LedgerState::cleared);
  EXPECT_NE(only(l).cleared_how.find("re-check passed after reboot"), std::string::npos) << only(l).cleared_how;
  EXPECT_NE(only(l).cleared_how.find("NVML answers for 0000:bd:00.0"), std::string::npos);
  EXPECT_EQ(r.cleared.size(), 1u);

  // The earlier boot's log goes on showing it: that tells nothing new.
  r = update(l, node("B", true), {finding("xid.fallen_off_bus", Severity::warning, true)}, at(500));
  EXPECT_TRUE(r.raised.empty());
  EXPECT_EQ(only(l).state, LedgerState::cleared);
}

TEST(Ledger, ARebootDoesNotClearAGpuThatFellOffTwice) {
  model::Ledger l;
  update(l, node("A", false), {finding("xid.fallen_off_bus", Severity::critical)}, at(100));
  update(l, node("B", true), {finding("xid.fallen_off_bus", Severity::warning, true)}, at(200));
  ASSERT_EQ(only(l).state, LedgerState::cleared);
  // It falls off again in boot B: the same entry reopens, counted twice.
  auto r = update(l, node("B", false), {finding("xid.fallen_off_bus", Severity::critical)}, at(300));
  EXPECT_EQ(r.raised.size(), 1u);
  EXPECT_EQ(only(l).state, LedgerState::open);
  EXPECT_EQ(only(l).occurrences, 2);
  // Reboot C, the GPU answers: a reboot alone is not enough any more.
  r = update(l, node("C", true), {finding("xid.fallen_off_bus", Severity::warning, true)}, at(400));
  EXPECT_EQ(only(l).state, LedgerState::open);
  EXPECT_NE(only(l).escalation.find("needs hardware"), std::string::npos);
  EXPECT_EQ(r.escalated.size(), 1u);
  EXPECT_NE(model::status_text(only(l), l, "C").find("needs hardware"), std::string::npos);
  // A new card in the slot (another serial) is a repair the reboot was not.
  r = update(l, node("C", true, "9999"), {finding("xid.fallen_off_bus", Severity::warning, true)}, at(500));
  EXPECT_EQ(only(l).state, LedgerState::cleared);
  // (Raised while the GPU was lost: its UUID came from the kernel log, not NVML.)
  EXPECT_NE(only(l).cleared_how.find("card replaced: GPU-1320 -> GPU-9999"), std::string::npos) << only(l).cleared_how;
}

TEST(Ledger, AProblemBackInANewBootCountsAgainAndItsRepairDidNotHold) {
  model::Ledger l;
  update(l, node("A", false), {finding("xid.fallen_off_bus", Severity::critical)}, at(100));
  // Boot B, and it is lost again right away (this boot's log): came back after the reboot.
  auto r = update(l, node("B", false), {finding("xid.fallen_off_bus", Severity::critical)}, at(200));
  EXPECT_EQ(only(l).occurrences, 2);
  EXPECT_TRUE(only(l).repairs.empty());
  ASSERT_EQ(r.escalated.size(), 1u);
  EXPECT_NE(r.escalated[0].find("came back after reboot"), std::string::npos);
}

TEST(Ledger, NothingClearsOnAnIncompleteRecheck) {
  model::Ledger l;
  update(l, node("A", false), {finding("xid.memory", Severity::critical)}, at(100));
  auto s = node("B", true);
  s.kernel_log.incomplete = true;  // the time limit cut the log short
  update(l, s, {}, at(200));
  EXPECT_EQ(only(l).state, LedgerState::open);
  s.kernel_log.incomplete = false;
  s.kernel_log.source.clear();  // no log at all
  update(l, s, {}, at(300));
  EXPECT_EQ(only(l).state, LedgerState::open);
  s = node("B", true);
  s.nvml.state = model::NvmlState::hung;
  update(l, s, {}, at(400));
  EXPECT_EQ(only(l).state, LedgerState::open);
  update(l, node("B", true), {}, at(500));
  EXPECT_EQ(only(l).state, LedgerState::cleared);
}

TEST(Ledger, AFixRecordIsARepairAndAConfigurationProblemClearsWhenGone) {
  model::Ledger l;
  auto off = finding("persistence.off", Severity::warning, false, false);
  update(l, node("A", true), {off}, at(100));
  EXPECT_EQ(only(l).latch, Latch::none);
  auto s = node("A", true);
  s.state.changes.push_back(model::ChangeRecord{150, "A", "persistence.off", "persistence", "before", "enabled"});
  auto r = update(l, s, {}, at(200));
  EXPECT_EQ(only(l).state, LedgerState::cleared);
  EXPECT_EQ(r.repairs.size(), 1u);

  // A hardware fault with a fix record and a passing re-check clears in the same boot.
  model::Ledger h;
  update(h, node("A", true), {finding("gpu.recovery_action", Severity::critical)}, at(100));
  auto s2 = node("A", true);
  s2.state.changes.push_back(model::ChangeRecord{150, "A", "gpu.recovery_action", "manual", "", "reset"});
  update(h, s2, {}, at(200));
  EXPECT_EQ(only(h).state, LedgerState::cleared);
  EXPECT_NE(only(h).cleared_how.find("fix: manual"), std::string::npos) << only(h).cleared_how;
}

TEST(Ledger, TransientProblemsDecayAfterTheQuietTime) {
  model::Ledger l;
  update(l, node("A", true), {finding("xid.app_error", Severity::warning)}, at(1000, 600));
  update(l, node("A", true), {}, at(1500, 600));
  EXPECT_EQ(only(l).state, LedgerState::open);
  update(l, node("A", true), {finding("xid.app_error", Severity::warning)}, at(1550, 600));  // seen again
  update(l, node("A", true), {}, at(2100, 600));
  EXPECT_EQ(only(l).state, LedgerState::open);
  update(l, node("A", true), {}, at(2150, 600));
  EXPECT_EQ(only(l).state, LedgerState::cleared);
  EXPECT_NE(only(l).cleared_how.find("quiet for 600 s"), std::string::npos);
}

TEST(Ledger, AnEarlierBootsProblemFirstSeenAfterTheRebootIsRecordedAndVerified) {
  model::Ledger l;
  auto r = update(l, node("B", true), {finding("xid.fallen_off_bus", Severity::warning, true)}, at(100));
  EXPECT_EQ(r.raised.size(), 1u);
  EXPECT_EQ(only(l).raised_boot_id, "");
  EXPECT_EQ(only(l).state, LedgerState::cleared);  // the reboot came before, NVML answers now
  EXPECT_EQ(model::boot_label(l, "", "B"), "an earlier boot");
}

TEST(Ledger, AcknowledgeNeedsAReasonAndAMatch) {
  model::Ledger l;
  update(l, node("A", false), {finding("xid.fallen_off_bus", Severity::critical)}, at(100));
  EXPECT_FALSE(acknowledge(l, "xid.fallen_off_bus", "  ", 200));
  EXPECT_FALSE(acknowledge(l, "xid.memory", "why", 200));
  auto done = acknowledge(l, "xid.fallen_off_bus@0000:bd:00.0", "card replaced\x1b[2J, RMA 1", 200);
  ASSERT_TRUE(done);
  EXPECT_EQ(only(l).state, LedgerState::acknowledged);
  EXPECT_EQ(only(l).cleared_how.find('\x1b'), std::string::npos);  // no escape reaches a terminal
  EXPECT_EQ(model::worst_open(l), Severity::ok);
  // Still raised from this boot's evidence: it is back at once.
  update(l, node("A", false), {finding("xid.fallen_off_bus", Severity::critical)}, at(300));
  EXPECT_EQ(only(l).state, LedgerState::open);
  EXPECT_EQ(only(l).occurrences, 2);
}

TEST(Ledger, ManyProblemsRaisedInOneUpdateAreAllSeenNow) {
  // Regression: entries were remembered by pointer while the vector grew, so
  // problems raised together were judged unseen and cleared at once.
  model::Ledger l;
  std::vector<Finding> fs;
  for (const char* id : {"persistence.off", "libs.missing", "cuda.missing", "driver.version_mismatch", "nvml.hung"})
    fs.push_back(finding(id, Severity::critical, false, false));
  auto r = update(l, node("A", true), fs, at(100));
  EXPECT_EQ(r.raised.size(), 5u);
  EXPECT_TRUE(r.cleared.empty());
  for (const auto& e : l.entries) EXPECT_TRUE(e.state == LedgerState::open && e.seen_now) << e.id;
}

TEST(Ledger, BootLabelsCountBackFromThisBoot) {
  model::Ledger l;
  l.boots = {"A", "B", "C"};
  EXPECT_EQ(model::boot_label(l, "C", "C"), "this boot");
  EXPECT_EQ(model::boot_label(l, "A", "C"), "boot -2");
  EXPECT_EQ(model::boot_label(l, "B", "D"), "boot -2");  // D not recorded yet: after C
}

TEST(Ledger, ClosedEntriesOlderThanTheWindowArePruned) {
  model::Ledger l;
  update(l, node("A", true), {finding("persistence.off", Severity::warning, false, false)}, at(100));
  update(l, node("A", true), {}, at(200));
  ASSERT_EQ(l.entries.size(), 1u);
  update(l, node("A", true), {}, at(200 + k_recurrence_window_s + 1));
  EXPECT_TRUE(l.entries.empty());
}

TEST(LedgerFile, RoundTripsAndSkipsWritesThatChangeNothing) {
  testing::TempRoot t;
  t.mkdir("/proc");
  auto root = t.host();
  auto s = node("A", false);
  auto rec = record(root, s, {finding("xid.fallen_off_bus", Severity::critical)}, at(100));
  ASSERT_TRUE(rec) << rec.error().message;
  auto path = t.at(std::string(model::k_ledger_file));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  auto read = probe::read_ledger(root);
  ASSERT_TRUE(read && *read);
  EXPECT_EQ((*read)->entries.size(), 1u);
  EXPECT_EQ((*read)->updated_by, "test");
  auto mtime = st.st_mtim;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // The same check again, at the same time: nothing to write.
  ASSERT_TRUE(record(root, s, {finding("xid.fallen_off_bus", Severity::critical)}, at(100)));
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_nsec, mtime.tv_nsec);
  // A healthy node with no ledger gets none.
  testing::TempRoot t2;
  ASSERT_TRUE(record(t2.host(), node("A", true), {}, at(100)));
  EXPECT_FALSE(std::filesystem::exists(t2.at(std::string(model::k_ledger_file))));
}

TEST(LedgerFile, AMalformedLedgerIsKeptAsideNotLost) {
  testing::TempRoot t;
  t.write(std::string(model::k_ledger_file), "{\"kind\": \"gpudoctor-ledger\", \"schema\": 1, \"entries\": [");
  auto root = t.host();
  auto read = probe::read_ledger(root);
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("ledger.json"), std::string::npos) << read.error().message;
  auto rec = record(root, node("A", false), {finding("xid.fallen_off_bus", Severity::critical)}, at(100));
  ASSERT_TRUE(rec) << rec.error().message;
  EXPECT_NE(rec->notice.find("corrupt-"), std::string::npos) << rec->notice;
  int aside = 0;
  for (const auto& e : std::filesystem::directory_iterator(t.at("/var/lib/gpudoctor")))
    if (e.path().filename().string().find("ledger.json.corrupt-") == 0) {
      ++aside;
      std::ifstream in(e.path());
      std::string text((std::istreambuf_iterator<char>(in)), {});
      EXPECT_NE(text.find("\"entries\": ["), std::string::npos);
    }
  EXPECT_EQ(aside, 1);
  EXPECT_TRUE(probe::read_ledger(root));
}

TEST(LedgerFile, TwoWritersAtOnceLoseNothing) {
  testing::TempRoot t;
  auto root = t.host();
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w)
    writers.emplace_back([&root, w] {
      for (int i = 0; i < 20; ++i) {
        auto id = w == 0 ? "xid.memory" : "xid.nvlink";
        auto rec = record(root, node("A", true), {finding(id, Severity::critical)}, at(100 + i));
        ASSERT_TRUE(rec) << rec.error().message;
      }
    });
  for (auto& th : writers) th.join();
  auto read = probe::read_ledger(root);
  ASSERT_TRUE(read && *read);
  // Each writer's problem is there: neither write replaced the other's.
  // (Each writer's check sees only its own problem, so the other's is judged
  // not seen; both are hardware faults without a repair and stay open.)
  EXPECT_EQ((*read)->entries.size(), 2u);
  for (const auto& e : (*read)->entries) EXPECT_EQ(e.state, LedgerState::open) << e.id;
}

}  // namespace
}  // namespace gd::ledger
