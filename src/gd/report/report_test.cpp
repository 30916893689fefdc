#include "gd/report/report.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gd/report/render.hpp"
#include "gd/report/verdict.hpp"
#include "gd/store/gpu_metrics.hpp"

namespace gd::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A history as watch would have written it, built through the store.
class History {
 public:
  History() {
    m_dir = fs::temp_directory_path() /
            ("gd-report-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
    auto s = store::Store::open((m_dir / "history.db").string());
    EXPECT_TRUE(s) << s.error().message;
    m_store = std::move(*s);
  }
  ~History() {
    m_store.reset();
    fs::remove_all(m_dir);
  }
  store::Store& db() { return *m_store; }
  void gpu(store::GpuIdentity id) { m_inventory.push_back(std::move(id)); }
  void sample(std::int64_t ts, const std::string& bus, std::map<std::string, std::int64_t> v) {
    store::SampleRow r{ts, bus, std::vector<std::optional<std::int64_t>>(store::gpu_metrics().size())};
    for (const auto& [k, x] : v) r.values[*store::metric_index(k)] = x;
    m_samples.push_back(std::move(r));
  }
  void event(std::int64_t ts_s, const std::string& type, const std::string& gpu, const json& detail) {
    m_events.push_back({0, ts_s * 1000, type, gpu, detail.dump()});
  }
  void commit() {
    auto err = m_store->write(m_samples, m_inventory, m_events);
    ASSERT_FALSE(err) << err->message;
    m_samples.clear(), m_inventory.clear(), m_events.clear();
  }

 private:
  fs::path m_dir;
  std::unique_ptr<store::Store> m_store;
  std::vector<store::GpuIdentity> m_inventory;
  std::vector<store::SampleRow> m_samples;
  std::vector<store::EventRow> m_events;
};

json verdict_json(const Verdict& v) {
  json out = {{"summary", v.summary}, {"suspects", json::array()}};
  for (const auto& s : v.suspects)
    out["suspects"].push_back({{"name", s.name}, {"status", suspect_status_name(s.status)}, {"evidence", s.evidence}});
  return out;
}

std::string status(const Verdict& v, std::string_view name) {
  for (const auto& s : v.suspects)
    if (s.name == name) return std::string(suspect_status_name(s.status));
  return "absent";
}

// Compares with tests/golden/report/NAME.json; GD_UPDATE_GOLDEN=1 rewrites it.
void expect_golden(const std::string& name, const json& got) {
  fs::path file = fs::path(GD_SOURCE_DIR) / "tests" / "golden" / "report" / (name + ".json");
  if (std::getenv("GD_UPDATE_GOLDEN")) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << got.dump(2) << "\n";
  }
  std::ifstream in(file);
  ASSERT_TRUE(in) << file << " missing: run with GD_UPDATE_GOLDEN=1";
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(got.dump(2) + "\n", text.str()) << "verdict differs from " << file << " (GD_UPDATE_GOLDEN=1 rewrites it)";
}

// 2022-05-26T03:00:00Z: the seed's night.
constexpr std::int64_t k_loss = 1653534000;
const char* const k_seed_gpus[] = {"5b0a:00:00.0", "9e65:00:00.0", "b111:00:00.0", "bd71:00:00.0"};

// The seed story as watch would have recorded it: four V100s, persistence off, normal temperatures, an
// autotuner's short processes; NVML hangs five minutes before every GPU is lost at once (the kernel's Xid 79).
void seed_story(History& h) {
  h.event(k_loss - 8 * 3600, "daemon_start", "", {{"version", "test"}, {"kernel_log", "/dev/kmsg"}});
  for (int i = 0; i < 4; ++i)
    h.gpu({k_seed_gpus[i], "GPU-seed-" + std::to_string(i), "032001900" + std::to_string(i), "Tesla V100-PCIE-16GB",
           87, 90});
  for (std::int64_t t = k_loss - 7200; t < k_loss - 300; t += 10)
    for (int i = 0; i < 4; ++i)
      h.sample(t, k_seed_gpus[i],
               {{"temp_celsius", 33 + (t / 10 + i) % 6},
                {"fan_percent", 0},  // passively cooled: V100-PCIE has no fan of its own
                {"power_milliwatts", 38000 + ((t / 10) % 7) * 3000},
                {"power_limit_milliwatts", 250000},
                {"util_gpu_percent", (t / 10) % 3 ? 0 : 35},
                {"mem_used_bytes", 0},
                {"mem_total_bytes", 16945709056},
                {"clock_sm_mhz", 1380},
                {"clock_event_reasons", (t / 10) % 3 ? 0x1 : 0x0},
                {"pcie_width", 16},
                {"persistence_mode", 0},
                {"ecc_uncorrected_volatile", 0},
                {"remapped_rows_failure", 0}});
  h.event(k_loss - 7000, "finding_raised", "",
          {{"id", "persistence.off"}, {"severity", "warning"}, {"summary", "Persistence mode off"}});
  // watch's worker was replaced (after an earlier hang): its nvmlInit took 4.3 s, the driver bringing the GPUs up.
  h.event(k_loss - 3600, "nvml_initialised", "", {{"init_ms", 4312.5}, {"worker_starts", 2}});
  h.event(k_loss - 300, "nvml_hung", "", {{"call", "nvmlDeviceGetHandleByIndex_v2"}, {"timeout_s", 10}});
  for (int i = 0; i < 4; ++i) {
    h.event(k_loss, "xid", k_seed_gpus[i], {{"code", 79}, {"source", "kernel_log"}});
    h.event(k_loss, "gpu_lost", k_seed_gpus[i], {{"uuid", "GPU-seed-" + std::to_string(i)}, {"persistence_mode", "off"}});
  }
  h.commit();
}

// A truly thermal failure: the fan of one H100 dies 40 minutes before the loss; the GPU heats up, throttles
// (SW then HW thermal slowdown), raises thermal findings, and falls off the bus. Persistence is on.
void thermal_failure(History& h) {
  const std::string bus = "0000:3b:00.0";
  h.event(k_loss - 8 * 3600, "daemon_start", "", {{"version", "test"}, {"kernel_log", "/dev/kmsg"}});
  h.gpu({bus, "GPU-hot", "1654922000001", "NVIDIA H100 80GB HBM3", 87, 92});
  const std::int64_t fan_dies = k_loss - 2400;
  for (std::int64_t t = k_loss - 7200; t < k_loss; t += 10) {
    bool dead = t >= fan_dies;
    std::int64_t temp = dead ? std::min<std::int64_t>(58 + (t - fan_dies) / 60, 96) : 55 + (t / 10) % 4;
    std::int64_t reasons = temp >= 88 ? 0x60 : temp >= 85 ? 0x20 : 0x0;
    h.sample(t, bus,
             {{"temp_celsius", temp},
              {"fan_percent", dead ? 0 : 45},
              {"power_milliwatts", temp >= 85 ? 380000 : 610000},
              {"power_limit_milliwatts", 700000},
              {"util_gpu_percent", 100},
              {"mem_used_bytes", 60LL << 30},
              {"mem_total_bytes", 80LL << 30},
              {"clock_sm_mhz", temp >= 85 ? 1110 : 1980},
              {"clock_event_reasons", reasons},
              {"pcie_width", 16},
              {"persistence_mode", 1},
              {"ecc_uncorrected_volatile", 0},
              {"remapped_rows_failure", 0}});
  }
  h.event(fan_dies + 600, "finding_raised", bus, {{"id", "thermal.fan_stopped"}, {"severity", "warning"}});
  h.event(k_loss - 600, "finding_raised", bus, {{"id", "thermal.hot"}, {"severity", "critical"}});
  h.event(k_loss, "xid", bus, {{"code", 79}, {"source", "kernel_log"}});
  h.event(k_loss, "gpu_lost", bus, {{"uuid", "GPU-hot"}, {"persistence_mode", "on"}});
  h.commit();
}

ReportData load_default(History& h) {
  ReportOptions o;
  o.now_ms = (k_loss + 3600) * 1000;
  auto r = load(h.db(), o);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : ReportData{};
}

TEST(Report, SeedStoryPointsAtPersistenceAndRulesHeatOut) {
  History h;
  seed_story(h);
  auto r = load_default(h);
  EXPECT_EQ(r.anchor.kind, AnchorKind::latest_loss);
  EXPECT_EQ(r.anchor.ts_ms, k_loss * 1000);
  EXPECT_EQ(r.since_s, k_loss - 6000);
  ASSERT_EQ(r.gpus.size(), 4u);
  EXPECT_EQ(r.gpus[0].id.slowdown_celsius, 87);
  auto v = judge(r);
  EXPECT_EQ(status(v, "persistence"), "supported");
  EXPECT_EQ(status(v, "thermal"), "ruled_out");
  EXPECT_EQ(status(v, "power"), "ruled_out");
  EXPECT_EQ(status(v, "inventory"), "ruled_out");  // all four at once: not one card
  EXPECT_EQ(status(v, "xid"), "ruled_out");        // the loss's own Xid 79 is not a cause
  EXPECT_EQ(status(v, "stuck_processes"), "remains");  // NVML hung before the loss: no D-state task was seen
  expect_golden("seed-story", verdict_json(v));
}

TEST(Report, ThermalFailureIsSupportedAndPersistenceRuledOut) {
  History h;
  thermal_failure(h);
  auto r = load_default(h);
  auto v = judge(r);
  EXPECT_EQ(status(v, "thermal"), "supported");
  EXPECT_EQ(status(v, "persistence"), "ruled_out");
  EXPECT_EQ(status(v, "power"), "ruled_out");
  EXPECT_EQ(status(v, "pcie"), "ruled_out");
  EXPECT_EQ(status(v, "memory"), "ruled_out");
  EXPECT_EQ(status(v, "inventory"), "remains");  // one card, lost once
  expect_golden("thermal-failure", verdict_json(v));
}

TEST(Report, WindowAroundAnEventIdOrATimeAndErrors) {
  History h;
  seed_story(h);
  auto hung = h.db().events(0, INT64_MAX, {"nvml_hung"});
  ASSERT_EQ(hung->size(), 1u);
  ReportOptions o;
  o.around_event = hung->front().id;
  o.window_s = 3600;
  auto r = load(h.db(), o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->anchor.kind, AnchorKind::event);
  EXPECT_EQ(r->anchor.ts_ms, (k_loss - 300) * 1000);
  EXPECT_EQ(r->until_s - r->since_s, 3601);
  o.around_event = 999999;
  auto missing = load(h.db(), o);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("no event with id 999999"), std::string::npos);
  o.around_event.reset();
  o.around_ms = (k_loss - 3600) * 1000;
  r = load(h.db(), o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->anchor.kind, AnchorKind::time);
  // [loss - 6600 s, loss - 2999 s): the worker's restart at loss - 3600 is in it, the finding (loss - 7000) not.
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].type, "nvml_initialised");
  EXPECT_EQ(r->gpus.size(), 4u);
  EXPECT_EQ(r->gpus[0].ts.size(), 361u);
}

TEST(Report, TooManyRowsAreReadFromTheRollUpsAndSaidSo) {
  History h;
  seed_story(h);  // 570 ticks x 4 GPUs of raw rows, in hours still unpacked: minute roll-ups come from them
  ReportOptions o;
  o.rows_max = 1000;
  auto r = load(h.db(), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->resolution, "minute");
  ASSERT_FALSE(r->notes.empty());
  EXPECT_NE(r->notes.front().find("more than 1000 rows"), std::string::npos) << r->notes.front();
  std::size_t rows = 0;
  for (const auto& g : r->gpus) rows += g.ts.size();
  EXPECT_LE(rows, 1000u);
  EXPECT_GT(rows, 300u);  // ~96 minutes x 4 GPUs
  EXPECT_EQ(status(judge(*r), "thermal"), "ruled_out");  // the verdict holds on roll-ups too
  EXPECT_EQ(status(judge(*r), "persistence"), "supported");
}

TEST(Report, EmptyHistoryIsAnErrorNotAVerdict) {
  History h;
  ReportOptions o;
  auto r = load(h.db(), o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("the history is empty"), std::string::npos);
}

TEST(Report, NoIncidentAnchorsAtTheEndAndClaimsNoCause) {
  History h;
  h.gpu({"0000:01:00.0", "GPU-x", "1", "H100", 87, 92});
  for (std::int64_t t = k_loss - 3600; t < k_loss; t += 60)
    h.sample(t, "0000:01:00.0", {{"temp_celsius", 40}, {"persistence_mode", 0}});
  h.commit();
  auto r = load_default(h);
  EXPECT_EQ(r.anchor.kind, AnchorKind::end_of_history);
  EXPECT_EQ(r.anchor.ts_ms, (k_loss - 60) * 1000);
  auto v = judge(r);
  EXPECT_EQ(status(v, "persistence"), "remains");  // off, but nothing failed
  EXPECT_EQ(v.summary.rfind("No usual suspect is supported", 0), 0u) << v.summary;
}

TEST(Report, JsonIsTheDocumentAndTheChartEncodingDecodesToIt) {
  History h;
  thermal_failure(h);
  auto r = load_default(h);
  auto v = judge(r);
  auto doc = json::parse(render_json(r, v));
  EXPECT_EQ(doc["kind"], "gpudoctor-report");
  EXPECT_EQ(doc["verdict"]["suspects"].size(), suspect_table().size());
  const auto& g = doc["gpus"][0];
  EXPECT_EQ(g["ts"].size(), r.gpus[0].ts.size());
  auto chart = json::parse(render_json(r, v, SeriesEncoding::chart));
  // Delta-decoding the chart encoding gives the lossless values in display steps.
  const auto& c = chart["gpus"][0];
  std::int64_t t = 0, p = 0;
  for (std::size_t i = 0; i < c["ts"].size(); ++i) {
    t = i ? t + c["ts"][i].get<std::int64_t>() : c["ts"][i].get<std::int64_t>();
    ASSERT_EQ(t, g["ts"][i].get<std::int64_t>());
    p = i ? p + c["series"]["power_milliwatts"][i].get<std::int64_t>() : c["series"]["power_milliwatts"][i].get<std::int64_t>();
    ASSERT_EQ(p * 100, g["series"]["power_milliwatts"][i].get<std::int64_t>());
  }
  EXPECT_FALSE(chart["gpus"][0]["series"].contains("pstate"));  // not charted: left out of the page
  // The page: the data cannot end its script element.
  h.event(k_loss - 100, "finding_raised", "0000:3b:00.0", {{"id", "thermal.hot"}, {"summary", "</script><b>x"}});
  h.commit();
  auto html = render_html(load_default(h), v);
  EXPECT_EQ(html.find("</script><b>"), std::string::npos);
  EXPECT_NE(html.find("\\u003c/script>\\u003cb>x"), std::string::npos);
}

}  // namespace
}  // namespace gd::report
