#include <gtest/gtest.h>

#include "gd/probe/kernel_log.hpp"

#include "gd/rule/rule.hpp"

namespace gd::rule {
namespace {

using model::Finding;
using model::KernelEvent;
using model::Severity;

const char* k_buses[] = {"0000:18:00.0", "0000:2a:00.0", "0000:3b:00.0"};

model::Snapshot node() {
  model::Snapshot s;
  s.driver.nvidia_loaded = true;
  s.driver.kernel_version = "550.54.15";
  s.nvml.state = model::NvmlState::ok;
  s.nvml.init_return = 0;
  s.nvml.device_count = 3;
  s.persistenced.process_alive = true;
  for (unsigned i = 0; i < 3; ++i) {
    model::PciGpu p;
    p.bus_id = k_buses[i];
    p.vendor_id = 0x10de;
    p.class_code = 0x030200;
    p.driver = "nvidia";
    s.pci.gpus.push_back(p);
    model::NvmlGpu g;
    g.index = i;
    g.bus_id = k_buses[i];
    g.persistence_mode = true;
    s.nvml.gpus.push_back(g);
  }
  s.kernel_log.source = "file kern.log";
  s.kernel_log.window = "this boot and the previous one";
  s.kernel_log.lines_scanned = 1000;
  return s;
}

KernelEvent xid(int code, const char* bus, int boot) {
  KernelEvent e;
  e.kind = model::KernelEventKind::xid;
  e.xid = code;
  e.bus_id = bus;
  e.boot = boot;
  e.timestamp = "Nov 27 03:00:00";
  e.message = "NVRM: Xid (PCI:" + std::string(bus).substr(0, 10) + "): " + std::to_string(code) + ", pid=1, name=a";
  return e;
}

std::vector<Finding> run(const model::Snapshot& s) { return evaluate(RuleInput{s, std::nullopt}); }

std::vector<const Finding*> with_id(const std::vector<Finding>& fs, std::string_view id) {
  std::vector<const Finding*> out;
  for (const auto& f : fs)
    if (f.id == id) out.push_back(&f);
  return out;
}

bool any_contains(const std::vector<std::string>& lines, std::string_view needle) {
  for (const auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

TEST(XidRules, FallenOffInThePreviousBootIsAWarningOnThatGpu) {
  auto s = node();
  s.kernel_log.events = {xid(79, "0000:3b:00.0", -1)};
  auto fs = run(s);
  auto f = with_id(fs, "xid.fallen_off_bus");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, Severity::warning);
  EXPECT_EQ(f[0]->gpu, "0000:3b:00.0");
  EXPECT_TRUE(
      any_contains(f[0]->evidence, "kernel log, previous boot, Nov 27 03:00:00: NVRM: Xid (PCI:0000:3b:00): 79"));
  EXPECT_EQ(f[0]->summary,
            "GPU 0000:3b:00.0 fell off the bus in the previous boot (kernel log: Xid 79, last at Nov 27 03:00:00)");
  EXPECT_NE(f[0]->cause.find("before the last reboot"), std::string::npos);
  EXPECT_FALSE(f[0]->needs_reboot);
  // NVML answers for every GPU now: gpu.fell_off_bus stays ok, no critical anywhere.
  EXPECT_EQ(exit_code_for(fs), 1);
}

TEST(XidRules, FallenOffInThisBootIsCritical) {
  auto s = node();
  KernelEvent e;
  e.kind = model::KernelEventKind::fallen_off_bus;
  e.bus_id = "0000:2a:00.0";
  e.boot = 0;
  e.message = "NVRM: The NVIDIA GPU 0000:2a:00.0 (PCI ID: 10de:2330) installed in this system has fallen off the bus";
  s.kernel_log.events = {e};
  s.nvml.gpus[1].call_errors["nvmlDeviceGetTemperature"] = 15;  // GPU_IS_LOST, as after a real fall
  auto fs_f = run(s);
  auto f = with_id(fs_f, "xid.fallen_off_bus");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, Severity::critical);
  EXPECT_TRUE(f[0]->needs_reboot);
}

TEST(XidRules, FallenOffThisBootForAGpuNvmlAnswersForIsALogOfAnotherBoot) {
  auto s = node();
  s.kernel_log.events = {xid(79, "0000:2a:00.0", 0)};
  auto fs = run(s);
  auto f = with_id(fs, "xid.fallen_off_bus");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, Severity::warning);
  EXPECT_NE(f[0]->summary.find("NVML answers for it now, so the log is likely from another boot"), std::string::npos);
  EXPECT_TRUE(any_contains(f[0]->evidence, "NVML answers for 0000:2a:00.0 now"));
  EXPECT_EQ(exit_code_for(fs), 1);
}

TEST(XidRules, KernelLogFeedsGpuFellOffBus) {
  auto s = node();
  s.nvml.gpus.pop_back();  // NVML no longer answers for 0000:3b:00.0
  s.nvml.device_count = 2;
  s.kernel_log.events = {xid(79, "0000:3b:00.0", 0)};
  auto fs = run(s);
  auto f = with_id(fs, "gpu.fell_off_bus");
  ASSERT_EQ(f.size(), 1u) << f[0]->summary;
  EXPECT_EQ(f[0]->gpu, "0000:3b:00.0") << f[0]->summary;
  EXPECT_TRUE(any_contains(f[0]->evidence, "kernel log, this boot"));
}

TEST(XidRules, FallenOffThisBootWhileNvmlHasNoData) {
  auto s = node();
  s.nvml.state = model::NvmlState::hung;
  s.nvml.init_return.reset();
  s.nvml.gpus.clear();
  s.kernel_log.events = {xid(79, "0000:2a:00.0", 0), xid(79, "0000:18:00.0", -1)};
  auto fs_f = run(s);
  auto f = with_id(fs_f, "gpu.fell_off_bus");
  ASSERT_EQ(f.size(), 1u);  // only this boot's
  EXPECT_EQ(f[0]->severity, Severity::critical);
  EXPECT_EQ(f[0]->gpu, "0000:2a:00.0") << f[0]->summary;
  EXPECT_NE(f[0]->summary.find("NVML has no data for it"), std::string::npos);
  EXPECT_TRUE(any_contains(f[0]->evidence, "NVML: hung"));
}

TEST(XidRules, FamiliesPerGpu) {
  auto s = node();
  s.kernel_log.events = {xid(48, "0000:18:00.0", 0),  xid(48, "0000:18:00.0", 0),  xid(63, "0000:18:00.0", 0),
                         xid(119, "0000:2a:00.0", 0), xid(74, "0000:2a:00.0", -1), xid(13, "0000:2a:00.0", 0),
                         xid(13, "0000:3b:00.0", 0),  xid(62, "0000:3b:00.0", 0),  xid(151, "0000:3b:00.0", 0)};
  auto fs = run(s);
  auto memory = with_id(fs, "xid.memory");
  ASSERT_EQ(memory.size(), 1u);
  EXPECT_EQ(memory[0]->severity, Severity::critical);
  EXPECT_NE(memory[0]->summary.find("x2"), std::string::npos) << memory[0]->summary;
  EXPECT_NE(memory[0]->cause.find("GPU_ECC_DBE"), std::string::npos);
  ASSERT_EQ(with_id(fs, "xid.gsp").size(), 1u);
  auto nvlink = with_id(fs, "xid.nvlink");
  ASSERT_EQ(nvlink.size(), 1u);
  EXPECT_EQ(nvlink[0]->severity, Severity::warning);  // previous boot only
  auto critical = with_id(fs, "xid.critical");
  ASSERT_EQ(critical.size(), 1u);
  EXPECT_EQ(critical[0]->gpu, "0000:3b:00.0");
  auto app = with_id(fs, "xid.app_error");
  ASSERT_EQ(app.size(), 2u);  // one per GPU; 151 (unknown) joins 13 on 0000:3b:00.0
  for (const auto* f : app) EXPECT_EQ(f->severity, Severity::warning);
}

TEST(XidRules, OkWhenTheLogWasReadAndQuietNothingWhenUnavailable) {
  auto s = node();
  auto fs_ok = run(s);
  auto ok = with_id(fs_ok, "xid.critical");
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0]->severity, Severity::ok);
  EXPECT_NE(ok[0]->summary.find("1000 lines"), std::string::npos);
  s.kernel_log = model::KernelLog{};
  s.kernel_log.unavailable = "journal: no directory";
  auto fs = run(s);
  for (const auto& f : fs) EXPECT_NE(f.id.substr(0, 4), "xid.") << f.id;
}

TEST(XidRules, ApiMismatchAndAdapterInit) {
  auto s = node();
  KernelEvent api;
  api.kind = model::KernelEventKind::api_mismatch;
  api.boot = 0;
  api.message =
      "NVRM: API mismatch: the client has the version 535.54.03, but this kernel module has the version "
      "530.30.02.  Please";
  KernelEvent init;
  init.kind = model::KernelEventKind::rm_init_failed;
  init.bus_id = "0000:18:00.0";
  init.boot = 0;
  init.message = "NVRM: GPU 0000:18:00.0: RmInitAdapter failed! (0x62:0x65:1792)";
  s.kernel_log.events = {api, init};
  auto fs = run(s);
  auto a = with_id(fs, "kernel_log.api_mismatch");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]->severity, Severity::critical);
  EXPECT_NE(a[0]->summary.find("535.54.03 vs module 530.30.02"), std::string::npos) << a[0]->summary;
  auto i = with_id(fs, "kernel_log.adapter_init_failed");
  ASSERT_EQ(i.size(), 1u);
  EXPECT_EQ(i[0]->gpu, "0000:18:00.0");
}

TEST(XidRules, AdapterInitDecodesTheStageAndTakesTheGspFailure) {
  constexpr std::int64_t now = 1'795'000'000;
  auto s = node();
  s.kernel_log = probe::parse_kernel_log(
      "[101.2] NVRM: GPU6 _kgspBootGspRm: unexpected WPR2 already up, cannot proceed with booting GSP\n"
      "[101.3] NVRM: GPU 0000:a1:00.0: RmInitAdapter failed! (0x62:0x40:2168)\n",
      *probe::parse_since("all", now), now);
  s.kernel_log.source = "file test";
  auto fs = run(s);
  auto i = with_id(fs, "kernel_log.adapter_init_failed");
  ASSERT_EQ(i.size(), 1u);
  EXPECT_EQ(i[0]->gpu, "0000:a1:00.0");
  EXPECT_EQ(i[0]->severity, Severity::critical);
  auto has = [&](std::string_view text) {
    return std::any_of(i[0]->evidence.begin(), i[0]->evidence.end(),
                       [&](const std::string& e) { return e.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(has("stage 0x62 (firmware init (GSP boot)) with status 0x40 (NV_ERR_INVALID_STATE"));
  EXPECT_TRUE(has("WPR2 already up"));
  EXPECT_NE(i[0]->cause.find("GSP_WPR2_ALREADY_UP"), std::string::npos) << i[0]->cause;
  EXPECT_TRUE(std::any_of(i[0]->fix.begin(), i[0]->fix.end(),
                          [](const std::string& f) { return f.find("gsp_*.bin") != std::string::npos; }));
}

TEST(XidRules, GpuResetMessagesRateByTheirForm) {
  constexpr std::int64_t now = 1'795'000'000;
  auto s = node();
  s.kernel_log = probe::parse_kernel_log(
      "[10.0] NVRM: Rate limiting GSP RPC error prints for GPU at PCI:0000:3b:00 (printing 1 of every 30).  The GPU "
      "likely needs to be reset.\n"
      "[11.0] NVRM: rmapiControl: GPU currently in full-chip reset [NV_ERR_GPU_IN_FULLCHIP_RESET] (0x00000010)\n",
      *probe::parse_since("all", now), now);
  s.kernel_log.source = "file test";
  auto fs = run(s);
  auto r = with_id(fs, "kernel_log.gpu_reset");
  ASSERT_EQ(r.size(), 2u);  // one per GPU: 0000:3b:00.0 and the one not named
  const Finding* named = r[0]->gpu == "0000:3b:00.0" ? r[0] : r[1];
  const Finding* other = named == r[0] ? r[1] : r[0];
  EXPECT_EQ(named->severity, Severity::critical);
  EXPECT_NE(named->cause.find("GPU_NEEDS_RESET"), std::string::npos) << named->cause;
  EXPECT_EQ(other->severity, Severity::warning);  // a reset in progress: wait
  EXPECT_NE(other->cause.find("GPU_IN_FULLCHIP_RESET"), std::string::npos) << other->cause;
}

TEST(XidRules, ALogReadOnlyInPartIsNotOk) {
  auto s = node();
  s.kernel_log.source = "file /var/log/kern.log";
  s.kernel_log.lines_scanned = 1000;
  auto quiet_fs = run(s);  // (with_id points into it: it must outlive them)
  auto quiet = with_id(quiet_fs, "xid.critical");
  ASSERT_EQ(quiet.size(), 1u);
  EXPECT_EQ(quiet[0]->severity, Severity::ok);
  s.kernel_log.incomplete = true;
  s.kernel_log.problems = {"kernel log: /var/log/kern.log: 134.3 MB read before the time limit (--timeout); ..."};
  auto part_fs = run(s);
  auto part = with_id(part_fs, "xid.critical");
  ASSERT_EQ(part.size(), 1u);
  EXPECT_EQ(part[0]->severity, Severity::warning);
  EXPECT_NE(part[0]->summary.find("the rest was not read"), std::string::npos) << part[0]->summary;
}

TEST(XidRules, ManyEventsKeepEvidenceShort) {
  auto s = node();
  for (int i = 0; i < 50; ++i) {
    auto e = xid(13, "0000:18:00.0", 0);
    e.timestamp = std::to_string(i);
    s.kernel_log.events.push_back(e);
  }
  auto fs_app = run(s);
  auto app = with_id(fs_app, "xid.app_error");
  ASSERT_EQ(app.size(), 1u);
  EXPECT_EQ(app[0]->evidence.size(), 7u);
  EXPECT_TRUE(any_contains(app[0]->evidence, "44 more"));
  EXPECT_NE(app[0]->summary.find("x50"), std::string::npos);
}

}  // namespace
}  // namespace gd::rule
