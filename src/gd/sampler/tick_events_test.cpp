#include "gd/sampler/tick_events.hpp"

#include <gtest/gtest.h>

#include "gd/sampler/metrics_text.hpp"

namespace gd::sampler {
namespace {

model::NvmlGpu gpu(const std::string& bus, const std::string& uuid, unsigned temp = 40) {
  model::NvmlGpu g;
  g.bus_id = bus;
  g.uuid = uuid;
  g.serial = "S" + uuid;
  g.name = "Tesla V100";
  g.temp_celsius = temp;
  g.power_watts = 25.5;
  return g;
}

LiveState state(std::vector<model::NvmlGpu> gpus, model::NvmlState st = model::NvmlState::ok) {
  LiveState s;
  s.nvml.state = st;
  s.nvml.gpus = std::move(gpus);
  return s;
}

std::vector<std::string> types(const TickChanges& c) {
  std::vector<std::string> out;
  for (const auto& e : c.events) out.push_back(e.type + (e.gpu.empty() ? "" : " " + e.gpu));
  return out;
}

TEST(TickEvents, FirstTickAddsGpus) {
  LiveState prev;
  auto next = state({gpu("0000:3b:00.0", "GPU-a")});
  auto c = diff_tick(prev, next, 1);
  EXPECT_EQ(types(c), std::vector<std::string>{"gpu_added 0000:3b:00.0"});
  ASSERT_EQ(c.inventory.size(), 1u);
  EXPECT_EQ(c.inventory[0].uuid, "GPU-a");
}

TEST(TickEvents, ThresholdsReachTheInventoryOnceAndADriverChangeIsAnEvent) {
  LiveState prev;
  auto g = gpu("0000:3b:00.0", "GPU-a");
  auto a = state({g});
  a.nvml.driver_version = "460.32.03";
  diff_tick(prev, a, 1);  // added, without thresholds (an old driver, or a history from before they were kept)
  auto b = a;
  b.nvml.gpus[0].temp_slowdown_celsius = 87;
  b.nvml.gpus[0].temp_shutdown_celsius = 90;
  auto c = diff_tick(a, b, 2);
  EXPECT_TRUE(c.events.empty());
  ASSERT_EQ(c.inventory.size(), 1u);
  EXPECT_EQ(c.inventory[0].uuid, "GPU-a");
  EXPECT_EQ(c.inventory[0].slowdown_celsius, 87);
  EXPECT_EQ(c.inventory[0].shutdown_celsius, 90);
  auto d = b;
  EXPECT_TRUE(diff_tick(b, d, 3).inventory.empty());  // known: not written again each tick
  auto e = d;
  e.nvml.driver_version = "450.191.01";
  auto changed = diff_tick(d, e, 4);
  ASSERT_EQ(types(changed), std::vector<std::string>{"driver_changed"});
  EXPECT_NE(changed.events[0].detail.find("\"from\":\"460.32.03\""), std::string::npos) << changed.events[0].detail;
}

TEST(TickEvents, EachStartOfTheNvmlWorkerIsAnInitialisationWithItsTime) {
  LiveState prev = state({gpu("0000:3b:00.0", "GPU-a")});
  prev.nvml_worker_starts_total = 1;
  diff_tick(LiveState{}, prev, 0);
  LiveState next = prev;
  next.nvml.init_ms = 4312.54;
  EXPECT_TRUE(diff_tick(prev, next, 1).events.empty());  // the same worker: no new initialisation
  next.nvml_worker_starts_total = 2;
  auto c = diff_tick(prev, next, 2);
  ASSERT_EQ(types(c), std::vector<std::string>{"nvml_initialised"});
  EXPECT_NE(c.events[0].detail.find("\"init_ms\":4312.5"), std::string::npos) << c.events[0].detail;
}

TEST(TickEvents, LostBackHungAnswering) {
  LiveState prev = state({gpu("0000:3b:00.0", "GPU-a"), gpu("0000:5e:00.0", "GPU-b")});
  prev.samples_total = 1;
  LiveState a = prev;
  diff_tick(LiveState{}, a, 0);
  a.samples_total = 1;
  LiveState b = a;
  b.nvml.gpus.pop_back();
  EXPECT_EQ(types(diff_tick(a, b, 2)), std::vector<std::string>{"gpu_lost 0000:5e:00.0"});
  EXPECT_TRUE(b.gpus["0000:5e:00.0"].lost);
  LiveState c = b;
  c.nvml = {};
  c.nvml.state = model::NvmlState::hung;
  c.nvml.hung_call = "nvmlDeviceGetTemperature";
  auto hung = diff_tick(b, c, 3);
  ASSERT_EQ(types(hung), std::vector<std::string>{"nvml_hung"});
  EXPECT_NE(hung.events[0].detail.find("nvmlDeviceGetTemperature"), std::string::npos);
  EXPECT_TRUE(c.gpus["0000:5e:00.0"].lost);  // no verdict while NVML is hung
  LiveState d = c;
  d.nvml = a.nvml;
  EXPECT_EQ(types(diff_tick(c, d, 4)), (std::vector<std::string>{"nvml_answering", "gpu_back 0000:5e:00.0"}));
}

TEST(TickEvents, SwappedCardIsAnInventoryChange) {
  LiveState prev = state({gpu("0000:3b:00.0", "GPU-a")});
  diff_tick(LiveState{}, prev, 0);
  LiveState next = prev;
  next.nvml.gpus = {gpu("0000:3b:00.0", "GPU-z")};
  auto c = diff_tick(prev, next, 1);
  ASSERT_EQ(types(c), std::vector<std::string>{"inventory_changed 0000:3b:00.0"});
  EXPECT_NE(c.events[0].detail.find("GPU-a"), std::string::npos);
  EXPECT_NE(c.events[0].detail.find("GPU-z"), std::string::npos);
}

TEST(TickEvents, FindingsRaisedAndCleared) {
  LiveState prev, next;
  model::Finding f;
  f.id = "thermal.hot";
  f.severity = model::Severity::warning;
  f.gpu = "0000:3b:00.0";
  next.findings = {f};
  EXPECT_EQ(types(diff_tick(prev, next, 1)), std::vector<std::string>{"finding_raised 0000:3b:00.0"});
  LiveState after;
  after.nvml.state = model::NvmlState::ok;
  EXPECT_EQ(types(diff_tick(next, after, 2)), std::vector<std::string>{"finding_cleared 0000:3b:00.0"});
}

// No data is not "cleared": a hang or a lost GPU keeps the findings it cannot re-judge.
TEST(TickEvents, NoDataClearsNothing) {
  LiveState a = state({gpu("0000:3b:00.0", "GPU-a"), gpu("0000:5e:00.0", "GPU-b")});
  diff_tick(LiveState{}, a, 0);
  model::Finding hot;
  hot.id = "thermal.hot";
  hot.severity = model::Severity::critical;
  hot.gpu = "0000:5e:00.0";
  hot.evidence = {"temperature 92 C >= shutdown 90 C"};
  a.findings = {hot};
  LiveState hung = a;
  hung.nvml = {};
  hung.nvml.state = model::NvmlState::hung;
  hung.findings.clear();  // the rules had no temperature to judge
  auto c = diff_tick(a, hung, 1);
  EXPECT_EQ(types(c), std::vector<std::string>{"nvml_hung"});
  ASSERT_EQ(hung.findings.size(), 1u);  // still active
  LiveState lost = state({gpu("0000:3b:00.0", "GPU-a")});
  lost.gpus = a.gpus;
  auto l = diff_tick(a, lost, 2);
  EXPECT_EQ(types(l), std::vector<std::string>{"gpu_lost 0000:5e:00.0"});
  EXPECT_EQ(lost.findings.size(), 1u);
  EXPECT_NE(l.events[0].detail.find("\"not_listed_by_nvml\":true"), std::string::npos) << l.events[0].detail;
}

TEST(TickEvents, FindingRaisedCarriesItsEvidenceAndPersistenceChangesAreEvents) {
  LiveState a = state({gpu("0000:3b:00.0", "GPU-a")});
  a.nvml.gpus[0].persistence_mode = false;
  diff_tick(LiveState{}, a, 0);
  LiveState b = a;
  b.nvml.gpus[0].persistence_mode = true;
  model::Finding f;
  f.id = "thermal.hot";
  f.severity = model::Severity::warning;
  f.evidence = {"temperature 88 C >= slowdown 87 C"};
  b.findings = {f};
  auto c = diff_tick(a, b, 1);
  EXPECT_EQ(types(c), (std::vector<std::string>{"persistence_changed 0000:3b:00.0", "finding_raised"}));
  EXPECT_NE(c.events[0].detail.find("\"from\":\"off\",\"to\":\"on\""), std::string::npos) << c.events[0].detail;
  EXPECT_NE(c.events[1].detail.find("temperature 88 C >= slowdown 87 C"), std::string::npos) << c.events[1].detail;
}

// A host name or GPU name with bytes that are not UTF-8 (or terminal escapes)
// must not break the page: Prometheus rejects invalid UTF-8 in a label.
TEST(MetricsText, LabelsAreValidUtf8WithoutControls) {
  LiveState s = state({gpu("0000:3b:00.0", "GPU-a", 63)});
  diff_tick(LiveState{}, s, 0);
  s.hostname = "node\xff\x1b[2J7";
  auto dcgm = render_metrics(s, MetricsCompat::dcgm);
  EXPECT_NE(dcgm.find("Hostname=\"node\xEF\xBF\xBD?[2J7\""), std::string::npos) << dcgm;
  EXPECT_EQ(dcgm.find('\xff'), std::string::npos);
  EXPECT_EQ(dcgm.find('\x1b'), std::string::npos);
}

TEST(MetricsText, NamesUnitsAndLabels) {
  LiveState s = state({gpu("0000:3b:00.0", "GPU-a", 63)});
  diff_tick(LiveState{}, s, 0);
  s.hostname = "node\"7";
  auto text = render_metrics(s, MetricsCompat::none);
  EXPECT_NE(
      text.find("gpudoctor_gpu_temperature_celsius{gpu=\"0000:3b:00.0\",uuid=\"GPU-a\",model=\"Tesla V100\"} 63\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("gpudoctor_gpu_power_watts{gpu=\"0000:3b:00.0\",uuid=\"GPU-a\",model=\"Tesla V100\"} 25.5\n"),
            std::string::npos);
  EXPECT_NE(text.find("gpudoctor_nvml_up 1\n"), std::string::npos);
  EXPECT_NE(text.find("gpudoctor_gpu_lost{gpu=\"0000:3b:00.0\"} 0\n"), std::string::npos);
  EXPECT_EQ(text.find("DCGM_FI_DEV_GPU_TEMP"), std::string::npos);
  auto dcgm = render_metrics(s, MetricsCompat::dcgm);
  EXPECT_NE(dcgm.find("DCGM_FI_DEV_GPU_TEMP{gpu=\"0\",UUID=\"GPU-a\",device=\"nvidia0\",modelName=\"Tesla V100\","
                      "Hostname=\"node\\\"7\",pci_bus_id=\"0000:3b:00.0\"} 63\n"),
            std::string::npos)
      << dcgm;
  EXPECT_NE(dcgm.find("DCGM_FI_DEV_POWER_USAGE{"), std::string::npos);
}

TEST(MetricsText, EscapesLabelValues) { EXPECT_EQ(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd"); }

}  // namespace
}  // namespace gd::sampler
