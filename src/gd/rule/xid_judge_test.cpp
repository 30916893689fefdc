#include "gd/rule/xid_judge.hpp"

#include <gtest/gtest.h>

#include "gd/probe/kernel_log.hpp"

namespace gd::rule {
namespace {

model::KernelLog parse(std::string_view text) {
  constexpr std::int64_t now = 1'795'000'000;
  return probe::parse_kernel_log(text, *probe::parse_since("all", now), now);
}

TEST(XidJudge, BurstsEndAfterThreeMinutesOfSilencePerGpu) {
  auto log = parse(
      "[100.0] NVRM: Xid (PCI:0000:3b:00): 31, pid=1, name=a, x\n"
      "[250.0] NVRM: Xid (PCI:0000:18:00): 31, pid=1, name=a, another GPU: its own burst\n"
      "[279.0] NVRM: Xid (PCI:0000:3b:00): 31, pid=1, name=a, 179 s later: same burst\n"
      "[460.0] NVRM: Xid (PCI:0000:3b:00): 31, pid=1, name=a, 181 s later: a new burst\n");
  auto v = judge_events(log);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].burst, 1);
  EXPECT_EQ(v[1].burst, 2);
  EXPECT_EQ(v[2].burst, 1);
  EXPECT_EQ(v[3].burst, 3);
}

TEST(XidJudge, A45AfterAnotherXidIsSympatheticASolo45IsNot) {
  auto log = parse(
      "[100.0] NVRM: Xid (PCI:0000:3b:00): 109, pid=1, name=a, ctx switch timeout\n"
      "[101.0] NVRM: Xid (PCI:0000:3b:00): 45, pid=1, name=a, Ch 1\n"
      "[900.0] NVRM: Xid (PCI:0000:3b:00): 45, pid=2, name=b, Ch 2\n");
  auto v = judge_events(log);
  EXPECT_EQ(v[1].severity, model::Severity::ok);
  EXPECT_EQ(v[1].action, model::XidAction::ignore);
  EXPECT_NE(v[1].note.find("sympathetic: follows Xid 109"), std::string::npos);
  EXPECT_EQ(v[2].severity, model::Severity::warning);
  EXPECT_NE(v[2].note.find("solo"), std::string::npos);
}

TEST(XidJudge, A154IsRatedByTheActionItNames) {
  auto log = parse(
      "[1.0] NVRM: Xid (PCI:0000:3b:00): 154, GPU recovery action changed from 0x0 (None) to 0x3 (Drain P2P)\n"
      "[2.0] NVRM: Xid (PCI:0000:18:00): 154, GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot "
      "Required)\n"
      "[3.0] NVRM: Xid (PCI:0000:2a:00): 154, GPU recovery action changed from 0x1 (GPU Reset Required) to 0x0 "
      "(None)\n");
  auto v = judge_events(log);
  EXPECT_EQ(v[0].severity, model::Severity::warning);  // drain P2P is not a reboot
  EXPECT_EQ(v[1].severity, model::Severity::critical);
  EXPECT_EQ(v[1].action, model::XidAction::reboot);
  EXPECT_EQ(v[2].severity, model::Severity::ok);
  EXPECT_EQ(recovery_action_in("changed from 0x0 (None) to 0x4 (Drain and Reset)"), 4u);
}

TEST(XidJudge, A48IsQualifiedBy171Or172InItsBurst) {
  auto log = parse(
      "[10.0] NVRM: Xid (PCI:0000:3b:00): 48, pid=1, name=a, DBE\n"
      "[10.5] NVRM: Xid (PCI:0000:3b:00): 171, pid=1, name=a, Uncorrectable DRAM error\n"
      "[20.0] NVRM: Xid (PCI:0000:18:00): 48, pid=1, name=a, DBE\n"
      "[20.5] NVRM: Xid (PCI:0000:18:00): 172, pid=1, name=a, Uncorrectable SRAM error\n"
      "[30.0] NVRM: Xid (PCI:0000:2a:00): 48, pid=1, name=a, DBE alone\n");
  auto v = judge_events(log);
  EXPECT_EQ(v[0].action, model::XidAction::reboot);
  EXPECT_NE(v[0].note.find("171"), std::string::npos);
  EXPECT_EQ(v[2].action, model::XidAction::inspect_hardware);
  EXPECT_NE(v[2].note.find("SRAM"), std::string::npos);
  EXPECT_TRUE(v[4].note.empty());
}

TEST(XidJudge, Xid13OnOneTpcAcrossSmsPointsAtTheHardware) {
  std::string text;
  for (int sm = 0; sm < 3; ++sm)
    text += "[" + std::to_string(10 + sm * 1000) + ".0] NVRM: Xid (PCI:0000:3b:00): 13, pid=1, name=a, Graphics SM "
            "Warp Exception on (GPC 2, TPC 5, SM " + std::to_string(sm % 2) + "): Out Of Range Address\n";
  text += "[5000.0] NVRM: Xid (PCI:0000:18:00): 13, pid=1, name=a, Graphics SM Warp Exception on (GPC 0, TPC 1, SM 0)\n";
  auto v = judge_events(parse(text));
  EXPECT_EQ(v[0].action, model::XidAction::inspect_hardware);
  EXPECT_NE(v[0].note.find("GPC 2 TPC 5 hit 3 times on 2 SMs"), std::string::npos);
  EXPECT_TRUE(v[3].note.empty());  // once, on another GPU: the application's
}

TEST(XidJudge, AnXid45StormStaysLinear) {
  std::string text = "[1.0] NVRM: Xid (PCI:0000:3b:00): 109, pid=1, name=a, x\n";
  for (int i = 0; i < 50000; ++i) text += "[2.0] NVRM: Xid (PCI:0000:3b:00): 45, pid=1, name=a, Ch " + std::to_string(i) + "\n";
  auto log = parse(text);
  auto t0 = std::chrono::steady_clock::now();
  auto v = judge_events(log);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  EXPECT_EQ(v.back().severity, model::Severity::ok);
}

TEST(XidJudge, Nvlink5XidsAreRatedByTheirDecode) {
  // R570 loaded this boot (V1 encoding); the catalogue row rates each event, not the code alone.
  auto log = parse(
      "[1.0] NVRM: loaded NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build  (dvs-builder@U16)  "
      "Thu Jan 23 2025\n"
      "[100.0] NVRM: Xid (PCI:0001:00:00): 145, RLW_REMAP Fatal XC1 i0 Link 10 (0x00000082 0x00000040 0x00000000 "
      "0x00000000 0x00000000 0x00000000)\n"
      "[101.0] NVRM: Xid (PCI:0001:00:00): 145, RLW_REMAP Nonfatal XC1 i0 Link 10 (0x00000082 0x00000100 0x0 0x0)\n"
      "[500.0] NVRM: Xid (PCI:0009:01:00): 149, NETIR_LINK_EVT  Fatal   XC0 i0 Link 01 (0x021425c6 0x00000000 "
      "0x00000000 0x00000000 0x00000000 0x00000000)\n"
      "[900.0] NVRM: Xid (PCI:0002:00:00): 146, TLW_CTRL Nonfatal XC0 i0 Link 03 (0x7fffffff 0x00000001)\n");
  ASSERT_EQ(log.module_loads.size(), 1u);
  EXPECT_EQ(log.module_loads[0].version, "570.86.15");
  EXPECT_EQ(log.module_loads[0].flavour, "open");
  EXPECT_EQ(driver_major(log, 0), 570);
  auto v = judge_events(log);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0].severity, model::Severity::critical);
  EXPECT_EQ(v[0].action, model::XidAction::reset_gpu);
  EXPECT_NE(v[0].note.find("RLW_REMAP link 10"), std::string::npos) << v[0].note;
  EXPECT_NE(v[0].note.find("V1, before R575"), std::string::npos) << v[0].note;
  EXPECT_EQ(v[1].severity, model::Severity::ok);  // status 0x100: IGNORE / IGNORE
  EXPECT_EQ(v[1].action, model::XidAction::ignore);
  EXPECT_EQ(v[2].severity, model::Severity::critical);
  EXPECT_NE(v[2].note.find("reason 33"), std::string::npos) << v[2].note;
  EXPECT_NE(v[2].note.find("INVESTIGATE_PEER_DEVICE"), std::string::npos) << v[2].note;
  // No row for this IntrInfo: the message's Nonfatal stands (a warning, not a reset).
  EXPECT_EQ(v[3].severity, model::Severity::warning);
  EXPECT_NE(v[3].note.find("matches no row"), std::string::npos) << v[3].note;
}

TEST(XidJudge, Nvlink5EvalFollowsTheXid154OfItsBurst) {
  auto log = parse(
      "[100.0] NVRM: Xid (PCI:0000:04:00): 145, RLW_REMAP Nonfatal XC0 i0 Link 00 (0x00000004 0x00000001 0x0 0x0)\n"
      "[100.5] NVRM: Xid (PCI:0000:04:00): 154, GPU recovery action changed from 0x0 (None) to 0x4 (Drain and Reset)\n"
      "[900.0] NVRM: Xid (PCI:0000:04:00): 145, RLW_REMAP Nonfatal XC0 i0 Link 00 (0x00000004 0x00000001 0x0 0x0)\n");
  // No banner: the loaded module (R580) gives the encoding for this boot.
  auto v = judge_events(log, "580.65.06");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_NE(v[0].note.find("follow the Xid 154 of its burst"), std::string::npos) << v[0].note;
  EXPECT_EQ(v[1].action, model::XidAction::reset_gpu);
  EXPECT_NE(v[2].note.find("no Xid 154 in its burst: restart the application"), std::string::npos) << v[2].note;
  EXPECT_EQ(v[2].action, model::XidAction::restart_app);
  // Without any version the encoding is guessed, and says so.
  auto guessed = judge_events(log);
  EXPECT_NE(guessed[0].note.find("driver version unknown"), std::string::npos) << guessed[0].note;
}

}  // namespace
}  // namespace gd::rule
