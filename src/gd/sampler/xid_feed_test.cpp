#include "gd/sampler/xid_feed.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gd/sampler/metrics_text.hpp"

namespace gd::sampler {
namespace {

using Source = XidSighting::Source;

XidSighting xid(Source src, const std::string& bus, int code, std::int64_t ts) {
  XidSighting s;
  s.source = src, s.bus_id = bus, s.xid = code, s.ts_ms = ts;
  return s;
}

TEST(LineAssembler, HoldsBackTheUnfinishedLine) {
  LineAssembler a;
  EXPECT_EQ(a.feed("one\ntw"), "one\n");
  EXPECT_EQ(a.feed("o\nthr"), "two\n");
  EXPECT_EQ(a.feed(""), "");
  EXPECT_EQ(a.feed("ee\n\n"), "three\n\n");
}

TEST(LineAssembler, CutsOverlongLinesAndSkipsTheirRest) {
  LineAssembler a(8);
  std::string big(1 << 20, 'x');  // a 1 MB line, in pieces
  EXPECT_EQ(a.feed(big), "");
  EXPECT_EQ(a.feed(big), "");
  EXPECT_EQ(a.feed("tail\nnext\n"), "xxxxxxxx\nnext\n");
  EXPECT_EQ(a.lines_cut(), 1u);
}

TEST(KernelLines, FindsXidAndFallenOffLines) {
  std::string text =
      "[  100.000001] NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus.\n"
      "[  100.000002] NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.\n"
      "[  101.000000] usb 1-1: new high-speed USB device\n"
      "[  102.000000] NVRM: Xid (PCI:0000:86:00): 13, pid='<unknown>', name=<unknown>, Graphics Exception\n";
  auto events = parse_new_kernel_lines(text, 1'800'000'000);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].xid, 79);
  EXPECT_EQ(events[0].bus_id, "0000:3b:00.0");
  EXPECT_EQ(events[0].pid, 1234);
  EXPECT_EQ(events[0].process, "python3");
  EXPECT_EQ(events[1].kind, model::KernelEventKind::fallen_off_bus);
  EXPECT_EQ(events[1].xid, std::nullopt);
  EXPECT_EQ(events[2].xid, 13);
  EXPECT_EQ(events[2].bus_id, "0000:86:00.0");
}

TEST(KernelLines, JunkIsNoEventAndNoCrash) {
  std::string junk;
  for (int i = 0; i < 100000; ++i) junk += static_cast<char>((i * 7919) % 256);
  junk += "\nNVRM: Xid (PCI:zz): x\nNVRM: Xid\n\n";
  EXPECT_TRUE(parse_new_kernel_lines(junk, 0).empty());
}

TEST(XidTracker, SameXidThroughBothSourcesIsOneEvent) {
  XidTracker t(5000);
  auto first = t.add(xid(Source::kernel_log, "0000:3b:00.0", 79, 1000));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type, "xid");
  EXPECT_EQ(first->gpu, "0000:3b:00.0");
  auto d = nlohmann::json::parse(first->detail);
  EXPECT_EQ(d["code"], 79);
  EXPECT_EQ(d["source"], "kernel_log");
  EXPECT_FALSE(t.add(xid(Source::nvml, "0000:3b:00.0", 79, 4000)));  // the NVML sighting of the same Xid
  EXPECT_EQ(t.counts().at({"0000:3b:00.0", 79}), 1u);
}

TEST(XidTracker, RepeatsAndOtherGpusOrCodesAreSeparate) {
  XidTracker t(5000);
  EXPECT_TRUE(t.add(xid(Source::nvml, "0000:3b:00.0", 13, 1000)));
  EXPECT_TRUE(t.add(xid(Source::nvml, "0000:3b:00.0", 13, 1100)));         // same source: a second Xid
  EXPECT_FALSE(t.add(xid(Source::kernel_log, "0000:3b:00.0", 13, 1200)));  // pairs with the first
  EXPECT_FALSE(t.add(xid(Source::kernel_log, "0000:3b:00.0", 13, 1300)));  // pairs with the second
  EXPECT_TRUE(t.add(xid(Source::kernel_log, "0000:3b:00.0", 13, 1400)));   // nothing left to pair with
  EXPECT_TRUE(t.add(xid(Source::kernel_log, "0000:3b:00.0", 31, 1500)));   // another code
  EXPECT_TRUE(t.add(xid(Source::nvml, "0000:86:00.0", 31, 1600)));         // another GPU
  EXPECT_TRUE(t.add(xid(Source::nvml, "0000:3b:00.0", 31, 9000)));         // outside the window
  EXPECT_EQ(t.counts().at({"0000:3b:00.0", 13}), 3u);
  EXPECT_EQ(t.counts().at({"0000:3b:00.0", 31}), 2u);
  EXPECT_EQ(t.counts().at({"0000:86:00.0", 31}), 1u);
}

TEST(XidTracker, FallenOffWithoutCodeIsItsOwnEventAndNotCounted) {
  XidTracker t(5000);
  XidSighting s;
  s.bus_id = "0000:3b:00.0", s.message = "NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.", s.ts_ms = 5;
  auto e = t.add(s);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "fallen_off_bus");
  EXPECT_TRUE(nlohmann::json::parse(e->detail)["code"].is_null());
  EXPECT_TRUE(t.counts().empty());
}

TEST(XidMetrics, CounterPerGpuAndCode) {
  LiveState s;
  s.xid_errors[{"0000:3b:00.0", 79}] = 2;
  std::string text = render_metrics(s, MetricsCompat::none);
  EXPECT_NE(text.find("# TYPE gpudoctor_xid_errors_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("gpudoctor_xid_errors_total{gpu=\"0000:3b:00.0\",xid=\"79\"} 2\n"), std::string::npos);
}

}  // namespace
}  // namespace gd::sampler
