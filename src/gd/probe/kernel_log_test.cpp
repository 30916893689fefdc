#include "gd/probe/kernel_log.hpp"

#include <chrono>
#include <random>

#include <gtest/gtest.h>

#include <fmt/format.h>

namespace gd::probe {
namespace {

constexpr std::int64_t k_now = 1'795'000'000;  // 2026-11-18T11:06:40Z

KernelLogWindow all() { return *parse_since("all", k_now); }

model::KernelLog parse(std::string_view text, const KernelLogWindow& w = all()) {
  return parse_kernel_log(text, w, k_now);
}

const model::KernelEvent& only(const model::KernelLog& log) {
  EXPECT_EQ(log.events.size(), 1u);
  static model::KernelEvent none;
  return log.events.empty() ? none : log.events.front();
}

TEST(KernelLogParser, PlainDmesgXid) {
  auto log = parse(
      "[24128.834365] NVRM: Xid (PCI:0000:01:00): 31, pid=4242, name=python3, Ch 00000003, "
      "engmask 00000101, intr 10000000\n");
  const auto& e = only(log);
  EXPECT_EQ(e.kind, model::KernelEventKind::xid);
  EXPECT_EQ(e.xid, 31);
  EXPECT_EQ(e.bus_id, "0000:01:00.0");
  EXPECT_EQ(e.pid, 4242);
  EXPECT_EQ(e.process, "python3");
  EXPECT_EQ(e.timestamp, "24128.834365");
  EXPECT_EQ(e.boot, 0);
  EXPECT_EQ(e.message.substr(0, 32), "NVRM: Xid (PCI:0000:01:00): 31, ");
  EXPECT_EQ(log.lines_scanned, 1u);
}

TEST(KernelLogParser, XidVariants) {
  auto log = parse(
      "[1.0] NVRM: Xid (0000:3B:00): 13, 0001 00000000 0000c597 00000004\n"  // old driver: no PCI:, uppercase
      "[2.0] NVRM: Xid (PCI:0002:00:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n"
      "[3.0] NVRM: Xid (PCI:0018:0A:00 GPU-I:05): 43, pid=77, name=ray::WorkerDict, Ch 00000008\n"
      "[4.0] NVRM: Xid (PCI:0000:43:00): 13, pid=12, name=nvc:[driver], Graphics Exception: ESR 0x52e7b0=0x101000e\n"
      "[5.0] NVRM: Xid (PCI:0000:43:00):  45, pid=12, name=python, Ch 00000010, caused by previous Xid 109\n"
      "[6.0] NVRM: Xid (PCI:ZZZZ): 8, unparseable bus id\n"
      "[7.0] NVRM: Xid (PCI:0000:43:00): no code here\n");
  ASSERT_EQ(log.events.size(), 6u);
  EXPECT_EQ(log.events[0].bus_id, "0000:3b:00.0");
  EXPECT_EQ(log.events[0].xid, 13);
  EXPECT_FALSE(log.events[0].pid);
  EXPECT_EQ(log.events[1].bus_id, "0002:00:00.0");
  EXPECT_EQ(log.events[1].xid, 79);
  EXPECT_FALSE(log.events[1].pid);
  EXPECT_FALSE(log.events[1].process);
  EXPECT_EQ(log.events[2].bus_id, "0018:0a:00.0");
  EXPECT_EQ(log.events[2].process, "ray::WorkerDict");
  EXPECT_EQ(log.events[3].process, "nvc:[driver]");
  EXPECT_EQ(log.events[4].xid, 45);  // its own code, not the one that caused it
  EXPECT_EQ(log.events[5].xid, 8);
  EXPECT_FALSE(log.events[5].bus_id);
}

TEST(KernelLogParser, TimestampFormats) {
  auto log = parse(
      "[Fri Nov 27 03:00:00 2026] NVRM: Xid (PCI:0000:01:00): 48, pid=1, name=a, DBE\n"
      "6,1234,5678901,-;NVRM: Xid (PCI:0000:05:00): 62, pid=5, name=c, PMU halt\n"
      "Dec  2 11:38:47 worker4 kernel: [  219.470994] NVRM: Xid (PCI:0000:07:00): 64, pid='<unknown>', "
      "name=<unknown>, Dynamic Page Retirement: Blacklisting failed.\n"
      "2026-11-27T03:00:01+0000 node7 kernel: NVRM: Xid (PCI:0000:02:00): 119, pid=9, name=b, Timeout\n"
      "2026-11-27T03:00:02.123456+01:00 node7 kernel: NVRM: Xid (PCI:0000:03:00): 120, GSP error\n"
      "Nov 27 03:00:03.654321 node7 kernel: NVRM: Xid (PCI:0000:04:00): 74, NVLink\n"
      "2026-11-27T03:00:04,000001+00:00 NVRM: Xid (PCI:0000:06:00): 8, dmesg --time-format iso\n");
  ASSERT_EQ(log.events.size(), 7u);
  EXPECT_EQ(log.events[0].timestamp, "Fri Nov 27 03:00:00 2026");
  EXPECT_EQ(log.events[1].timestamp, "5.678901");  // kmsg record: seconds since boot
  EXPECT_EQ(log.events[1].bus_id, "0000:05:00.0");
  EXPECT_EQ(log.events[2].timestamp, "Dec  2 11:38:47");
  EXPECT_EQ(log.events[2].bus_id, "0000:07:00.0");
  EXPECT_EQ(log.events[3].timestamp, "2026-11-27T03:00:01+0000");
  EXPECT_EQ(log.events[3].bus_id, "0000:02:00.0");
  EXPECT_EQ(log.events[4].xid, 120);
  EXPECT_EQ(log.events[5].timestamp, "Nov 27 03:00:03.654321");
  EXPECT_EQ(log.events[6].bus_id, "0000:06:00.0");
  for (const auto& e : log.events) EXPECT_EQ(e.boot, 0) << e.message;
}

TEST(KernelLogParser, FallenOffBusWithoutXidMultiLine) {
  auto log = parse(
      "[   5.1] NVRM: The NVIDIA GPU 0000:b3:00.0\n"
      "[   5.1] NVRM: (PCI ID: 10de:26b5) installed in this system has\n"
      "[   5.1] NVRM: fallen off the bus and is not responding to commands.\n"
      "[   5.2] NVRM: The NVIDIA probe routine failed for 1 device(s).\n");
  ASSERT_EQ(log.events.size(), 2u);  // the probe failure is an event of its own
  EXPECT_EQ(log.events[1].kind, model::KernelEventKind::probe_failed);
  const auto& e = log.events[0];
  EXPECT_EQ(e.kind, model::KernelEventKind::fallen_off_bus);
  EXPECT_FALSE(e.xid);
  EXPECT_EQ(e.bus_id, "0000:b3:00.0");
  EXPECT_EQ(e.timestamp, "5.1");
  EXPECT_EQ(e.message,
            "NVRM: The NVIDIA GPU 0000:b3:00.0 (PCI ID: 10de:26b5) installed in this system has fallen off the bus "
            "and is not responding to commands.");
}

TEST(KernelLogParser, FallenOffBusSingleLineAndNotSupportedIsNoEvent) {
  auto log = parse(
      "[9.0] NVRM: GPU 0000:06:00.0: GPU has fallen off the bus.\n"
      "[9.1] NVRM: The NVIDIA GPU 000a:00:00.0 (PCI ID: 10de:2330) installed in this system is\n"
      "[9.1] NVRM: not supported by the NVIDIA 580.126.09 driver release.\n"
      "[9.1] NVRM: Please see 'Appendix A - Supported NVIDIA GPU Products'\n");
  const auto& e = only(log);
  EXPECT_EQ(e.kind, model::KernelEventKind::fallen_off_bus);
  EXPECT_EQ(e.bus_id, "0000:06:00.0");
}

TEST(KernelLogParser, ApiMismatchBothForms) {
  auto log = parse(
      "[10.0] NVRM: API mismatch: the client has the version 535.54.03, but\n"
      "[10.0] NVRM: this kernel module has the version 530.30.02.  Please\n"
      "[10.0] NVRM: make sure that this kernel module and all NVIDIA driver\n"
      "[10.0] NVRM: components have the same version.\n"
      "[11.0] NVRM: API mismatch: the client 'kwin_wayland' (pid 1005)\n"
      "[11.0] NVRM: has the version 595.84, but this kernel module has\n"
      "[11.0] NVRM: the version 595.80.\n");
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].kind, model::KernelEventKind::api_mismatch);
  EXPECT_EQ(log.events[0].message,
            "NVRM: API mismatch: the client has the version 535.54.03, but this kernel module has the version "
            "530.30.02.  Please");
  EXPECT_EQ(log.events[1].message,
            "NVRM: API mismatch: the client 'kwin_wayland' (pid 1005) has the version 595.84, but this kernel module "
            "has the version 595.80.");
  EXPECT_FALSE(log.events[1].bus_id);
}

TEST(KernelLogParser, RmInitAdapterAndUuidMap) {
  auto log = parse(
      "[3.0] NVRM: GPU at PCI:0000:2b:00: GPU-0b11d014-1685-04bd-26ed-5fc0bc1c44ae\n"
      "[3.1] NVRM: GPU 0000:98:00.0: RmInitAdapter failed! (0x62:0x65:1792)\n"
      "[3.1] NVRM: GPU 0000:98:00.0: rm_init_adapter failed, device minor number 0\n"
      "[3.2] NVRM: RmInitAdapter failed! (0x26:0xffff:1375)\n");
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].kind, model::KernelEventKind::rm_init_failed);
  EXPECT_EQ(log.events[0].bus_id, "0000:98:00.0");
  EXPECT_FALSE(log.events[1].bus_id);
  ASSERT_EQ(log.gpu_uuids.count("0000:2b:00.0"), 1u);
  EXPECT_EQ(log.gpu_uuids.at("0000:2b:00.0"), "GPU-0b11d014-1685-04bd-26ed-5fc0bc1c44ae");
}

TEST(KernelLogParser, DeduplicatesSameBootTextAndTime) {
  std::string line = "[5.0] NVRM: Xid (PCI:0000:01:00): 13, pid=1, name=a, x\n";
  auto log = parse(line + line + "[6.0] NVRM: Xid (PCI:0000:01:00): 13, pid=1, name=a, x\n");
  EXPECT_EQ(log.events.size(), 2u);
}

// Three Xids in one syslog second are three events: the kernel's own stamp
// decides, not the syslog second; without one every line counts.
TEST(KernelLogParser, DistinctXidsInOneSyslogSecondAreDistinct) {
  std::string text;
  for (int i = 0; i < 3; ++i)
    text += fmt::format("Nov 27 03:00:00 node kernel: [12345.{:06}] NVRM: Xid (PCI:0000:01:00): 13, pid=1, name=a, x\n",
                        100 + i);
  text += "Nov 27 03:00:00 node kernel: [12345.000100] NVRM: Xid (PCI:0000:01:00): 13, pid=1, name=a, x\n";  // a copy
  EXPECT_EQ(parse(text).events.size(), 3u);
  std::string no_kernel_stamp;
  for (int i = 0; i < 524; ++i) no_kernel_stamp += "Nov 27 03:00:00 node kernel: NVRM: Xid (PCI:0000:01:00): 13, x\n";
  EXPECT_EQ(parse(no_kernel_stamp).events.size(), 524u);
}

TEST(KernelLogParser, GpuAtPciLinesAreCountedPerGpuAndBoot) {
  std::string uuid = "NVRM: GPU at PCI:0000:2b:00: GPU-0b11d014-1685-04bd-26ed-5fc0bc1c44ae\n";
  auto log = parse("[1.0] " + uuid + "[2.0] " + uuid + "[3.0] " + uuid + "[0.0] Linux version 6.1\n[1.0] " + uuid);
  ASSERT_EQ(log.init_marks.size(), 2u);
  EXPECT_EQ(log.init_marks[0].boot, -1);
  EXPECT_EQ(log.init_marks[0].lines, 3u);
  EXPECT_EQ(log.init_marks[1].boot, 0);
  EXPECT_EQ(log.init_marks[1].lines, 1u);
}

// Two boots in one dmesg-style file: the monotonic clock starts again.
constexpr std::string_view k_three_boots =
    "[    0.000000] Linux version 6.1.0\n"
    "[  100.000000] NVRM: Xid (PCI:0000:01:00): 13, pid=1, name=a, boot A\n"
    "[    0.000000] Linux version 6.1.0\n"
    "[ 5000.000000] NVRM: Xid (PCI:0000:3b:00): 79, pid=2, name=b, GPU has fallen off the bus.\n"
    "[    0.000000] Linux version 6.1.0\n"
    "[   20.000000] NVRM: Xid (PCI:0000:01:00): 31, pid=3, name=c, boot C\n";

TEST(KernelLogParser, BootsCountBackFromTheLast) {
  auto log = parse(k_three_boots);
  ASSERT_EQ(log.events.size(), 3u);
  EXPECT_EQ(log.events[0].boot, -2);
  EXPECT_EQ(log.events[1].boot, -1);
  EXPECT_EQ(log.events[2].boot, 0);
}

TEST(KernelLogParser, DefaultWindowIsThisBootAndThePreviousOne) {
  auto log = parse(k_three_boots, *parse_since("previous-boot", k_now));
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].xid, 79);
  EXPECT_EQ(log.events[0].boot, -1);
  EXPECT_EQ(log.events_outside_window, 1u);
  EXPECT_EQ(log.window, "this boot and the previous one");
  auto this_boot = parse(k_three_boots, *parse_since("boot", k_now));
  ASSERT_EQ(this_boot.events.size(), 1u);
  EXPECT_EQ(this_boot.events[0].xid, 31);
}

TEST(KernelLogParser, BootSeparatorsAndSyslogMarkers) {
  auto log = parse(
      "Nov 20 10:00:00 n kernel: NVRM: Xid (PCI:0000:01:00): 13, a\n"
      "-- Boot 3f2a9b7c0e5d4a1b8c6d2e4f1a3b5c7d --\n"
      "Nov 21 10:00:00 n kernel: NVRM: Xid (PCI:0000:01:00): 79, b\n"
      "Nov 22 10:00:00 n kernel: Linux version 6.1.0-13-amd64 (debian-kernel@lists.debian.org)\n"
      "Nov 22 10:00:05 n kernel: NVRM: Xid (PCI:0000:01:00): 31, c\n");
  ASSERT_EQ(log.events.size(), 3u);
  EXPECT_EQ(log.events[0].boot, -2);
  EXPECT_EQ(log.events[1].boot, -1);
  EXPECT_EQ(log.events[2].boot, 0);
}

TEST(KernelLogParser, SinceDurationUsesWallClock) {
  auto log = parse(
      "2026-11-18T05:00:00Z n kernel: NVRM: Xid (PCI:0000:01:00): 13, old\n"
      "2026-11-18T10:00:00Z n kernel: NVRM: Xid (PCI:0000:01:00): 31, recent\n"
      "[5.0] NVRM: Xid (PCI:0000:01:00): 43, no wall clock: kept\n",
      *parse_since("2h", k_now));
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].xid, 31);
  EXPECT_EQ(log.events[1].xid, 43);
  EXPECT_EQ(log.events_outside_window, 1u);
}

TEST(KernelLogParser, ParseSince) {
  EXPECT_EQ(parse_since("boot", k_now)->min_boot, 0);
  EXPECT_EQ(parse_since("previous-boot", k_now)->min_boot, -1);
  EXPECT_FALSE(parse_since("all", k_now)->min_boot);
  EXPECT_EQ(parse_since("90s", k_now)->since_unix_s, k_now - 90);
  EXPECT_EQ(parse_since("7d", k_now)->since_unix_s, k_now - 7 * 86400);
  EXPECT_TRUE(parse_since("2026-11-27", k_now));
  EXPECT_TRUE(parse_since("2026-11-27T03:00", k_now));
  EXPECT_TRUE(parse_since("2026-11-27 03:00:00", k_now));
  for (auto bad : {"", "yesterday", "2x", "h", "-3h", "2026-13", "2026-11-27T3:00", "99999999999999999999d"}) {
    auto w = parse_since(bad, k_now);
    ASSERT_FALSE(w) << bad;
    EXPECT_NE(w.error().message.find("expected boot, previous-boot, all"), std::string::npos);
  }
}

TEST(KernelLogParser, KmsgRecordsDictionaryAndTruncation) {
  auto log = parse(
      "4,100,2000000,-;NVRM: Xid (PCI:0000:01:00): 79, pid=1, name=a, GPU has fallen off the bus.\n"
      " SUBSYSTEM=pci\n"
      " DEVICE=+pci:0000:01:00.0\n"
      "6,101\n"
      "6,102,3\n"
      "6,103,4,-\n"
      "6,104,5,-;\n"
      "4,105,6000000,c;NVRM: Xid (PCI:0000:02:00): 48, pid=2, name=b, DBE");  // no final newline
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].timestamp, "2.000000");
  EXPECT_EQ(log.events[1].xid, 48);
  EXPECT_EQ(log.events[1].boot, 0);
}

TEST(KernelLogParser, BinaryJunkNeitherCrashesNorInventsEvents) {
  std::mt19937 rng(42);
  std::string junk(4 << 20, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  auto log = parse(junk);
  EXPECT_TRUE(log.events.empty());
  EXPECT_GT(log.lines_scanned, 1000u);
  // Junk that happens to hold the token: still no crash, printable message.
  std::string nasty = std::string("[1.0] NVRM: Xid (PCI:0000:01:00): 13, pid=\xff\xfe, name=\x01\x02\x7f, ") + '\0' +
                      "tail\n" + "NVRM: Xid (\n" + "NVRM: Xid (PCI:0000:01:00" + "\n" + "NVRM: GPU at PCI:: GPU-\n" +
                      "NVRM: The NVIDIA GPU \n" + "[" + "\n" + "[ 12.\n" + "Nov\n" + "2026-11-27T\n" + "1,2,3,;\n";
  auto n = parse(nasty);
  ASSERT_EQ(n.events.size(), 1u);
  for (unsigned char c : n.events[0].message) EXPECT_TRUE(c >= 0x20 && c != 0x7f) << static_cast<int>(c);
}

TEST(KernelLogParser, NulRunsBeforeALineAreSkipped) {
  std::string text = "[1.0] boot\n" + std::string(2 << 20, '\0') +
                     "Nov 27 03:00:00 n kernel: NVRM: Xid (PCI:0000:01:00): 79, after a crash\n";
  auto log = parse(text);
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_EQ(log.lines_cut, 0u);
}

TEST(KernelLogParser, MegabyteLinesAreCut) {
  std::string big(1 << 20, 'x');
  std::string text = big + " NVRM: Xid (PCI:0000:01:00): 79, beyond the cap\n" +
                     "[2.0] NVRM: Xid (PCI:0000:02:00): 48, after the long line\n" + big;
  auto log = parse(text);
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_EQ(log.events[0].bus_id, "0000:02:00.0");
  EXPECT_EQ(log.lines_cut, 2u);
  EXPECT_EQ(log.lines_scanned, 3u);
}

TEST(KernelLogParser, ChunkingDoesNotMatter) {
  std::string text(k_three_boots);
  text += std::string(40000, 'y') + "\n[21.0] NVRM: GPU 0000:06:00.0: GPU has fallen off the bus.\n";
  auto whole = parse(text);
  for (std::size_t step : {1u, 7u, 4096u}) {
    KernelLogParser p(all(), k_now);
    for (std::size_t i = 0; i < text.size(); i += step) p.feed(std::string_view(text).substr(i, step));
    auto log = p.finish();
    ASSERT_EQ(log.events.size(), whole.events.size()) << step;
    for (std::size_t i = 0; i < log.events.size(); ++i) {
      EXPECT_EQ(log.events[i].message, whole.events[i].message);
      EXPECT_EQ(log.events[i].boot, whole.events[i].boot);
    }
    EXPECT_EQ(log.lines_cut, whole.lines_cut);
    EXPECT_EQ(log.lines_scanned, whole.lines_scanned);
  }
}

TEST(KernelLogParser, JournalRecordsKeepTheirBoots) {
  KernelLogParser p(*parse_since("previous-boot", k_now), k_now);
  p.feed_record("NVRM: Xid (PCI:0000:01:00): 13, too old", -2, 1'700'000'000'000'000);
  p.feed_record("NVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=a, GPU has fallen off the bus.", -1,
                1'794'000'000'123'456);
  p.feed_record("usb 1-1: new high-speed USB device", 0, 1'794'900'000'000'000);
  p.feed_record("NVRM: The NVIDIA GPU 0000:b3:00.0", 0, 1'794'900'000'000'001);
  p.feed_record("NVRM: (PCI ID: 10de:26b5) installed in this system has", 0, 1'794'900'000'000'002);
  p.feed_record("NVRM: fallen off the bus and is not responding to commands.", 0, 1'794'900'000'000'003);
  auto log = p.finish();
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].boot, -1);
  EXPECT_EQ(log.events[0].timestamp, "2026-11-06T21:20:00.123456Z");
  EXPECT_EQ(log.events[1].kind, model::KernelEventKind::fallen_off_bus);
  EXPECT_EQ(log.events[1].boot, 0);
  EXPECT_EQ(log.events_outside_window, 1u);
  EXPECT_EQ(log.lines_scanned, 6u);
}

TEST(KernelLogParser, ManyEventsAreCapped) {
  std::string text;
  for (std::size_t i = 0; i < k_kernel_log_max_events + 10; ++i)
    text += "[" + std::to_string(i) + ".0] NVRM: Xid (PCI:0000:01:00): 13, x\n";
  auto log = parse(text);
  EXPECT_EQ(log.events.size(), k_kernel_log_max_events);
  ASSERT_EQ(log.problems.size(), 1u);
  EXPECT_NE(log.problems[0].find("10 event(s) beyond the first"), std::string::npos);
}

TEST(KernelLogParser, LinearTimeOnHostileInput) {
  // 64 MB of 1 MB lines without the token and lines of only "NVRM" fragments.
  std::string text;
  for (int i = 0; i < 32; ++i) text += std::string(1 << 20, 'N') + "\n";
  for (int i = 0; i < 32; ++i) text += std::string(1 << 20, '[') + "\n";
  auto t0 = std::chrono::steady_clock::now();
  auto log = parse(text);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(log.events.empty());
  EXPECT_LT(s, 5.0);
}

TEST(KernelLogParser, ReadKernelLogFromFileAndMissingFile) {
  host::HostRoot root("/");
  auto missing = read_kernel_log(root, KernelLogOptions{"/nonexistent/kern.log", "all"});
  EXPECT_EQ(missing.unavailable, "/nonexistent/kern.log: cannot open: No such file or directory");
  EXPECT_EQ(missing.problems.size(), 1u);
  auto bad_since = read_kernel_log(root, KernelLogOptions{"/nonexistent/kern.log", "soon"});
  EXPECT_NE(bad_since.unavailable.find("--since \"soon\""), std::string::npos);
}

}  // namespace
}  // namespace gd::probe
