#include "gd/rule/rule.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

namespace gd::rule {
namespace {

using model::Finding;
using model::Severity;

const char* k_buses[] = {"5b0a:00:00.0", "9e65:00:00.0", "b111:00:00.0", "bd71:00:00.0"};

// A healthy 4-GPU node as the probes would record it.
model::Snapshot healthy() {
  model::Snapshot s;
  s.driver.nvidia_loaded = true;
  s.driver.nvidia_uvm_loaded = true;
  s.driver.kernel_version = "460.32.03";
  s.nvml.state = model::NvmlState::ok;
  s.nvml.init_return = 0;
  s.nvml.init_ms = 20;
  s.nvml.library.path = "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1";
  s.nvml.library.file_version = "460.32.03";
  s.nvml.device_count = 4;
  s.persistenced.pid_file = true;
  s.persistenced.pid = 1834;
  s.persistenced.process_alive = true;
  s.devnodes.nodes = {{"/dev/nvidiactl", true, true}, {"/dev/nvidia-uvm", true, true}};
  for (unsigned i = 0; i < 4; ++i) {
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
  return s;
}

std::vector<Finding> run(const model::Snapshot& s, std::optional<unsigned> expect = std::nullopt) {
  return evaluate(RuleInput{s, expect});
}

std::vector<const Finding*> with_id(const std::vector<Finding>& fs, std::string_view id) {
  std::vector<const Finding*> out;
  for (const auto& f : fs)
    if (f.id == id) out.push_back(&f);
  return out;
}

bool contains(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

TEST(Rules, HealthyNodeIsAllOk) {
  auto fs = run(healthy(), 4);
  EXPECT_EQ(exit_code_for(fs), 0);
  for (const auto& f : fs) EXPECT_EQ(f.severity, Severity::ok) << f.id << ": " << f.summary;
  EXPECT_EQ(with_id(fs, "gpu.fell_off_bus").size(), 1u);
}

TEST(Rules, SeedNodeNamesLostGpuAndPersistenceCause) {
  auto s = healthy();
  s.nvml.gpus.pop_back();  // NVML answers for 3 of 4
  s.nvml.device_count = 3;
  s.nvml.init_ms = 4512;
  s.persistenced = {};
  for (auto& g : s.nvml.gpus) g.persistence_mode = false;
  auto fs = run(s);
  EXPECT_EQ(exit_code_for(fs), 2);
  auto lost = with_id(fs, "gpu.fell_off_bus");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0]->gpu, "bd71:00:00.0");
  EXPECT_TRUE(lost[0]->needs_reboot);
  EXPECT_TRUE(contains(lost[0]->cause, "Persistence mode is off"));
  EXPECT_TRUE(contains(lost[0]->fix.at(1), "systemctl enable --now nvidia-persistenced"));
  auto pers = with_id(fs, "persistence.off");
  ASSERT_EQ(pers.size(), 1u);
  EXPECT_EQ(pers[0]->severity, Severity::warning);
  bool cites_init = std::any_of(pers[0]->evidence.begin(), pers[0]->evidence.end(),
                                [](const std::string& e) { return contains(e, "nvmlInit took 4.51 s"); });
  EXPECT_TRUE(cites_init);
}

TEST(Rules, LostGpuWithPersistenceOnBlamesHardwareNotPersistence) {
  auto s = healthy();
  s.nvml.gpus[2].handle_return = 15;
  s.nvml.gpus[2].bus_id.reset();
  auto fs = run(s);
  auto lost = with_id(fs, "gpu.fell_off_bus");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0]->gpu, "b111:00:00.0");
  EXPECT_FALSE(contains(lost[0]->cause, "Persistence mode is off"));
  EXPECT_TRUE(std::any_of(lost[0]->evidence.begin(), lost[0]->evidence.end(),
                          [](const std::string& e) { return contains(e, "GPU_IS_LOST (15)"); }));
}

// 10,000 GPUs on PCI that NVML does not answer for: one finding each, but the
// evidence stays linear (each finding named every bus id: 1.4 GB of output).
TEST(Rules, ManyLostGpusKeepEvidenceLinear) {
  auto s = healthy();
  s.nvml.gpus.clear();
  s.nvml.device_count = 0;
  s.pci.gpus.clear();
  for (unsigned i = 0; i < 10000; ++i) {
    model::PciGpu p;
    p.bus_id = fmt::format("{:04x}:{:02x}:00.0", i / 256, i % 256);
    p.vendor_id = 0x10de;
    p.class_code = 0x030200;
    p.driver = "nvidia";
    s.pci.gpus.push_back(p);
  }
  auto fs = run(s);
  auto lost = with_id(fs, "gpu.fell_off_bus");
  ASSERT_EQ(lost.size(), 10000u);
  std::size_t bytes = 0;
  for (const auto* f : lost)
    for (const auto& e : f->evidence) bytes += e.size();
  EXPECT_LT(bytes, 10000u * 2000u) << "evidence per finding must not grow with the number of GPUs";
  EXPECT_TRUE(std::any_of(lost[0]->evidence.begin(), lost[0]->evidence.end(),
                          [](const std::string& e) { return contains(e, "PCI bus: 10000 NVIDIA GPU(s)") && contains(e, "(and 9984 more)"); }));
}

TEST(Rules, NoDevicesFoundNamesEveryBusId) {
  auto s = healthy();
  s.nvml.gpus.clear();
  s.nvml.device_count = 0;
  auto fs = run(s);
  auto lost = with_id(fs, "gpu.fell_off_bus");
  ASSERT_EQ(lost.size(), 4u);
  std::set<std::string> ids;
  for (auto* f : lost) ids.insert(*f->gpu);
  EXPECT_EQ(ids.size(), 4u);
}

TEST(Rules, HungNvmlNamesTheCall) {
  auto s = healthy();
  s.nvml.state = model::NvmlState::hung;
  s.nvml.hung_call = "nvmlDeviceGetTemperature";
  s.nvml.hung_gpu = 2;
  s.nvml.timeout_s = 2;
  s.nvml.gpus.resize(2);
  auto fs = run(s);
  auto hung = with_id(fs, "nvml.hung");
  ASSERT_EQ(hung.size(), 1u);
  EXPECT_TRUE(contains(hung[0]->summary, "nvmlDeviceGetTemperature on GPU index 2 never returned"));
  EXPECT_TRUE(contains(hung[0]->summary, "within 2 s"));
  s.nvml.timeout_s = 0.5;
  EXPECT_TRUE(contains(with_id(run(s), "nvml.hung")[0]->summary, "within 0.5 s"));
  // GPUs not visited before the hang are not declared lost.
  EXPECT_TRUE(with_id(fs, "gpu.fell_off_bus").empty() ||
              with_id(fs, "gpu.fell_off_bus")[0]->severity == Severity::ok);
}

TEST(Rules, VersionMismatchSaysBothVersions) {
  auto s = healthy();
  s.nvml.state = model::NvmlState::init_failed;
  s.nvml.init_return = 18;
  s.nvml.gpus.clear();
  s.nvml.library.file_version = "465.19.01";
  auto fs = run(s);
  auto mm = with_id(fs, "driver.version_mismatch");
  ASSERT_EQ(mm.size(), 1u);
  EXPECT_EQ(mm[0]->severity, Severity::critical);
  EXPECT_TRUE(contains(mm[0]->summary, "460.32.03"));
  EXPECT_TRUE(contains(mm[0]->summary, "465.19.01"));
  EXPECT_TRUE(mm[0]->needs_reboot);
  auto init = with_id(fs, "nvml.init_failed");
  ASSERT_EQ(init.size(), 1u);
  EXPECT_TRUE(contains(init[0]->summary, "LIB_RM_VERSION_MISMATCH (18)"));
}

TEST(Rules, NoGpuIsOneOkSentence) {
  model::Snapshot s;
  s.nvml.state = model::NvmlState::library_missing;
  auto fs = run(s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].id, "gpu.none");
  EXPECT_EQ(exit_code_for(fs), 0);
}

TEST(Rules, DriverNotLoadedAndNouveau) {
  auto s = healthy();
  s.driver = {};
  s.nvml = {};
  for (auto& p : s.pci.gpus) p.driver = "";
  auto fs = run(s);
  EXPECT_EQ(with_id(fs, "driver.not_loaded").size(), 1u);
  for (auto& p : s.pci.gpus) p.driver = "nouveau";
  s.driver.nouveau_loaded = true;
  fs = run(s);
  EXPECT_EQ(with_id(fs, "driver.nouveau").size(), 1u);
  EXPECT_TRUE(with_id(fs, "driver.not_loaded").empty());
}

TEST(Rules, DevnodesMissing) {
  auto s = healthy();
  s.devnodes.nodes[1].present = false;  // only uvm
  auto fs = run(s);
  auto dn = with_id(fs, "devnodes.missing");
  ASSERT_EQ(dn.size(), 1u);
  EXPECT_EQ(dn[0]->severity, Severity::warning);
  s.devnodes.nodes[0].present = false;
  fs = run(s);
  EXPECT_EQ(with_id(fs, "devnodes.missing")[0]->severity, Severity::critical);
}

TEST(Rules, ExpectGpus) {
  auto fs = run(healthy(), 8);
  auto c = with_id(fs, "gpu.count");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0]->severity, Severity::critical);
  EXPECT_TRUE(with_id(run(healthy()), "gpu.count").empty());
}

TEST(Rules, TableIdsAreUniqueDottedAndEveryEmittedIdIsInTheTable) {
  std::set<std::string_view> ids;
  for (const auto& r : rule_table()) {
    EXPECT_TRUE(ids.insert(r.id).second) << r.id;
    EXPECT_NE(r.id.find('.'), std::string_view::npos) << r.id;
    EXPECT_FALSE(r.details.empty());
  }
  auto s = healthy();
  s.nvml.gpus.pop_back();
  s.persistenced = {};
  for (const auto& f : run(s, 4)) EXPECT_TRUE(ids.count(f.id)) << f.id;
}

// A finding id is written once, in the rule table: any text in the sources
// that looks like one (advice such as `gpudoctor fix --only ID`) must be one.
TEST(Rules, EveryIdNamedInTheSourcesIsATableId) {
  std::set<std::string> ids, areas;
  for (const auto& r : rule_table()) {
    ids.emplace(r.id);
    areas.emplace(r.id.substr(0, r.id.find('.')));
  }
  std::string alternatives;
  for (const auto& a : areas) alternatives += (alternatives.empty() ? "" : "|") + a;
  std::regex literal(R"re("((?:[^"\\]|\\.)*)")re");
  std::regex token("\\b(" + alternatives + ")\\.([a-z][a-z_]*)\\b");
  const std::set<std::string> file_suffixes = {"hpp", "cpp", "json", "db", "conf", "log", "toml", "yaml", "service", "lock", "md"};
  std::size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(GD_SOURCE_DIR) + "/src")) {
    auto name = e.path().filename().string();
    if (!e.is_regular_file() || name.ends_with("_test.cpp") || !(name.ends_with(".cpp") || name.ends_with(".hpp")))
      continue;
    if (name == "nvidia_smi.cpp") continue;  // nvidia-smi's own field names (memory.total, pcie.link.width.max)
    ++files;
    std::ifstream in(e.path());
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.starts_with("#include")) continue;
      for (std::sregex_iterator l(line.begin(), line.end(), literal), end; l != end; ++l) {
        std::string text = (*l)[1];
        for (std::sregex_iterator t(text.begin(), text.end(), token); t != end; ++t)
          if (!file_suffixes.count((*t)[2]))
            EXPECT_TRUE(ids.count((*t)[0])) << e.path().string() << ":" << n << ": " << (*t)[0] << " is no rule id";
      }
    }
  }
  EXPECT_GT(files, 50u);
}

TEST(Rules, EveryRepairIsDocumentedAndPlannedRepairsHaveTheirEntries) {
  for (const auto& r : rule_table()) EXPECT_NE(repair_description(r.repair), "?") << r.id;
  EXPECT_EQ(find_rule("persistence.off")->repair, Repair::persistence);
  EXPECT_EQ(find_rule("libs.stale_ldcache")->repair, Repair::ldconfig);
  EXPECT_EQ(find_rule("no.such"), nullptr);
}

TEST(Rules, HistoryWriteFailedOnlyUnderWatchAndWhileFailing) {
  auto s = healthy();
  EXPECT_TRUE(with_id(run(s), "history.write_failed").empty());  // check: no watch section
  s.watch = model::WatchInfo{"/var/lib/gpudoctor/history.db", true, "", 0, 0};
  EXPECT_TRUE(with_id(run(s), "history.write_failed").empty());
  s.watch->history_write_ok = false;
  s.watch->history_error = "/var/lib/gpudoctor/history.db: samples: database or disk is full";
  s.watch->history_pending_rows = 80;
  auto fs = run(s);
  auto f = with_id(fs, "history.write_failed");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, Severity::warning);
  std::string ev;
  for (const auto& e : f[0]->evidence) ev += e + "\n";
  EXPECT_NE(ev.find("database or disk is full"), std::string::npos) << ev;
  EXPECT_NE(ev.find("database: /var/lib/gpudoctor/history.db"), std::string::npos) << ev;
  EXPECT_NE(ev.find("80"), std::string::npos) << ev;
}

TEST(Rules, CriticalFindingsComeFirst) {
  auto s = healthy();
  s.nvml.gpus.pop_back();
  auto fs = run(s);
  EXPECT_TRUE(std::is_sorted(fs.begin(), fs.end(),
                             [](const Finding& a, const Finding& b) { return a.severity > b.severity; }));
}

TEST(Rules, SummariesClaimOnlyWhatHoldsWithAGpuOnVfio) {
  auto s = healthy();
  s.pci.gpus[3].driver = "vfio-pci";  // passed to a VM: NVML rightly does not list it
  s.nvml.gpus.pop_back();
  s.nvml.device_count = 3;
  auto fs = run(s, 4);
  auto fell = with_id(fs, "gpu.fell_off_bus");
  ASSERT_EQ(fell.size(), 1u);
  EXPECT_EQ(fell[0]->severity, Severity::ok);
  EXPECT_FALSE(contains(fell[0]->summary, "All")) << fell[0]->summary;
  EXPECT_EQ(fell[0]->summary,
            "3 of 4 GPU(s) on the PCI bus answer through NVML; 1 bound to another driver: bd71:00:00.0 (vfio-pci)");
  auto count = with_id(fs, "gpu.count");
  ASSERT_EQ(count.size(), 1u);
  EXPECT_EQ(count[0]->severity, Severity::critical);
  EXPECT_TRUE(contains(count[0]->cause, "bound to another driver (bd71:00:00.0 (vfio-pci))")) << count[0]->cause;
  EXPECT_EQ(with_id(run(s, 3), "gpu.count")[0]->severity, Severity::ok);
}

TEST(Rules, SummariesInsideAContainerGivenOneOfFour) {
  auto s = healthy();
  s.container.inside = true;
  model::DriverGpu given;
  given.bus_id = k_buses[0];
  s.driver.gpus = {given};
  s.nvml.gpus.resize(1);
  s.nvml.device_count = 1;
  auto fs = run(s, 1);
  auto fell = with_id(fs, "gpu.fell_off_bus");
  ASSERT_EQ(fell.size(), 1u);
  EXPECT_EQ(fell[0]->severity, Severity::ok);
  EXPECT_TRUE(contains(fell[0]->summary, "1 of 4 GPU(s) on the PCI bus answer through NVML; 3 not given to this "
                                         "container")) << fell[0]->summary;
  EXPECT_EQ(with_id(fs, "gpu.count")[0]->severity, Severity::ok);  // 1 given, 1 answering
  auto fs2 = run(s, 2);
  auto two = with_id(fs2, "gpu.count");
  EXPECT_EQ(two[0]->severity, Severity::critical);
  EXPECT_TRUE(contains(two[0]->cause, "this container was given 1 of the host's 4 GPU(s)")) << two[0]->cause;
}

// The seed node after `fix --yes` but before the reboot: persistence is on
// now, the GPU lost while it was off is still lost.
model::Snapshot seed_after_fix(std::optional<std::int64_t> lost_at, std::int64_t fixed_at) {
  auto s = healthy();
  s.nvml.gpus.pop_back();
  s.nvml.device_count = 3;
  s.persistenced = {};
  s.state.boot_id = "0b2a6f1e-1111-2222-3333-444455556666";
  s.state.boot_time_unix_s = 1764300000;
  s.state.changes.push_back({fixed_at, *s.state.boot_id, "persistence.off", "persistence",
                             "Persistence mode is off on 4 of 4 GPU(s) and nvidia-persistenced is not running",
                             "persistence turned on for 3 GPU(s), already on for 0"});
  model::KernelEvent e;
  e.kind = model::KernelEventKind::xid;
  e.xid = 79;
  e.bus_id = "bd71:00:00.0";
  e.boot = 0;
  e.unix_s = lost_at;
  e.message = "NVRM: Xid (PCI:bd71:00:00): 79, pid=1, name=a, GPU has fallen off the bus.";
  s.kernel_log.events.push_back(e);
  s.kernel_log.source = "file kern.log";
  return s;
}

TEST(Rules, CauseComesFromTheMomentOfTheLossNotFromPersistenceNow) {
  auto fs = run(seed_after_fix(1764303600, 1764307200));  // lost 01:00, fixed 02:00
  auto lost = with_id(fs, "gpu.fell_off_bus");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_TRUE(contains(lost[0]->cause, "lost at 2025-11-28T04:20:00Z while persistence was off; gpudoctor fix turned "
                                       "persistence on at 2025-11-28T05:20:00Z, after the loss"))
      << lost[0]->cause;
  EXPECT_FALSE(contains(lost[0]->cause, "power delivery")) << lost[0]->cause;
  EXPECT_FALSE(contains(lost[0]->fix.back(), "replace the card"));
  // The time of the loss unknown: still the seed's cause, saying what is not known.
  auto fs_unknown = run(seed_after_fix(std::nullopt, 1764307200));
  auto unknown = with_id(fs_unknown, "gpu.fell_off_bus");
  EXPECT_TRUE(contains(unknown[0]->cause, "the time of the loss is not in the kernel log")) << unknown[0]->cause;
  // Lost after persistence was turned on: not the init/teardown pattern.
  auto fs_after = run(seed_after_fix(1764310800, 1764307200));
  auto after = with_id(fs_after, "gpu.fell_off_bus");
  EXPECT_TRUE(contains(after[0]->cause, "after gpudoctor fix turned persistence on")) << after[0]->cause;
  EXPECT_TRUE(contains(after[0]->cause, "power delivery"));
  // A fix of another boot says nothing about this one.
  auto other = seed_after_fix(1764303600, 1764307200);
  other.state.changes[0].boot_id = "ffffffff-1111-2222-3333-444455556666";
  auto fs_other = run(other);
  EXPECT_TRUE(contains(with_id(fs_other, "gpu.fell_off_bus")[0]->cause, "power delivery"));
}

// watch's history knows the persistence mode at the moment of the loss, also
// when the kernel log has rotated away: check reads the cause from it.
TEST(Rules, WatchHistorySettlesTheCauseOfALoss) {
  auto s = seed_after_fix(std::nullopt, 1764307200);  // fixed 02:00, Xid time unknown
  s.kernel_log.events.clear();
  s.state.history.push_back({1764303600000, "gpu_lost", "bd71:00:00.0", "off"});
  auto fs = run(s);
  auto lost = with_id(fs, "gpu.fell_off_bus");
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_TRUE(contains(lost[0]->cause, "watch recorded the loss at 2025-11-28T04:20:00Z with persistence off"))
      << lost[0]->cause;
  EXPECT_FALSE(contains(lost[0]->cause, "power delivery")) << lost[0]->cause;
  EXPECT_TRUE(std::any_of(lost[0]->evidence.begin(), lost[0]->evidence.end(),
                          [](const std::string& e) { return contains(e, "watch history: gpu_lost"); }));
  // Recorded with persistence on: not the init/teardown pattern, even though the fix is on record.
  s.state.history[0].persistence_mode = "on";
  auto fs_on = run(s);
  auto on = with_id(fs_on, "gpu.fell_off_bus");
  EXPECT_TRUE(contains(on[0]->cause, "with persistence on: the per-process init/teardown pattern does not explain"))
      << on[0]->cause;
  EXPECT_TRUE(contains(on[0]->cause, "power delivery"));
  // A loss of another GPU says nothing about this one.
  s.state.history[0].bus_id = "0001:00:00.0";
  s.state.history[0].persistence_mode = "on";
  auto fs_other = run(s);
  EXPECT_FALSE(contains(with_id(fs_other, "gpu.fell_off_bus")[0]->cause, "watch recorded")) ;
}

TEST(Rules, InitTimeEvidenceNeverContradictsItself) {
  auto s = healthy();
  for (auto& g : s.nvml.gpus) g.persistence_mode = false;
  s.persistenced = {};
  s.nvml.init_ms = 3;  // fast, yet persistence is off: a cold start all the same
  auto fs_off = run(s);
  auto pers = with_id(fs_off, "persistence.off");
  ASSERT_EQ(pers.size(), 1u);
  for (const auto& e : pers[0]->evidence) EXPECT_FALSE(contains(e, "fast")) << e;
  EXPECT_TRUE(std::any_of(pers[0]->evidence.begin(), pers[0]->evidence.end(),
                          [](const std::string& e) { return contains(e, "cold start"); }));
  auto failed = healthy();
  failed.nvml.state = model::NvmlState::init_failed;
  failed.nvml.init_return = 9;
  failed.nvml.init_ms = 2;
  failed.nvml.gpus.clear();
  auto fs_failed = run(failed);
  auto f = with_id(fs_failed, "nvml.init_failed");
  ASSERT_EQ(f.size(), 1u);
  for (const auto& e : f[0]->evidence) EXPECT_FALSE(contains(e, "already initialised")) << e;
  EXPECT_TRUE(std::any_of(f[0]->evidence.begin(), f[0]->evidence.end(),
                          [](const std::string& e) { return contains(e, "nvmlInit failed after 2 ms"); }));
  auto unknown = healthy();
  for (auto& g : unknown.nvml.gpus) g.persistence_mode.reset();
  unknown.persistenced = {};
  unknown.nvml.init_ms = 250;
  auto fs = run(unknown, 4);
  bool cannot_tell = false;
  for (const auto& x : fs)
    for (const auto& e : x.evidence) cannot_tell = cannot_tell || contains(e, "cannot tell a cold start");
  EXPECT_TRUE(cannot_tell || with_id(fs, "persistence.off").empty());
}

TEST(Rules, AHungNvmlIsNotAProbeProblemWithAFileCause) {
  auto s = healthy();
  s.nvml.state = model::NvmlState::hung;
  s.nvml.hung_call = "nvmlDeviceGetTemperature";
  s.probes = {{"nvml", false, "", 10000}, {"pci", true, "", 1}};  // as watch records a hung sample
  auto fs = run(s);
  EXPECT_TRUE(with_id(fs, "probe.problems").empty());
  EXPECT_EQ(with_id(fs, "nvml.hung").size(), 1u);
  s.probes.push_back({"driver", false, "/proc/modules: read failed", 1});
  auto fs2 = run(s);
  EXPECT_EQ(with_id(fs2, "probe.problems").size(), 1u);
}

TEST(Rules, AFailedNvmlReadingIsNoEvidenceOfHealth) {
  auto s = healthy();
  ASSERT_FALSE(s.nvml.gpus.empty());
  for (auto& g : s.nvml.gpus) {
    g.temp_celsius = 40;
    g.temp_slowdown_celsius = 87;
  }
  s.nvml.gpus[0].temp_celsius.reset();
  s.nvml.gpus[0].call_errors["nvmlDeviceGetTemperature"] = 999;  // UNKNOWN
  s.nvml.system_call_errors["nvmlSystemGetDriverVersion"] = 17;  // OPERATING_SYSTEM
  auto fs = run(s);
  auto p = with_id(fs, "probe.problems");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]->severity, Severity::warning);
  std::string ev = fmt::format("{}", fmt::join(p[0]->evidence, "\n"));
  EXPECT_NE(ev.find("nvmlDeviceGetTemperature on GPU 0"), std::string::npos) << ev;
  EXPECT_NE(ev.find("nvmlSystemGetDriverVersion"), std::string::npos) << ev;
  auto t = with_id(fs, "thermal.hot");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_NE(t[0]->summary.find("(3 of 4 GPU(s); temperature or slowdown threshold not read on"), std::string::npos)
      << t[0]->summary;
  // A feature the GPU lacks is no problem.
  auto s2 = healthy();
  s2.nvml.gpus[0].call_errors["nvmlDeviceGetRemappedRows"] = 3;  // NOT_SUPPORTED
  EXPECT_TRUE(with_id(run(s2), "probe.problems").empty());
}

TEST(Rules, PlainFileLibraryStillGetsAVersionCheck) {
  auto s = healthy();
  s.nvml.library.path = "/usr/lib/wsl/lib/libnvidia-ml.so.1";  // a plain file, no version in its name
  s.nvml.library.file_version.reset();
  s.nvml.nvml_version = "12.535.261.03";  // nvmlSystemGetNVMLVersion, answered before nvmlInit
  s.driver.kernel_version = "550.54.15";
  auto fs = run(s);
  auto m = with_id(fs, "driver.version_mismatch");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]->severity, Severity::critical);
  EXPECT_TRUE(contains(m[0]->summary, "user space is 535.261.03")) << m[0]->summary;
  s.driver.kernel_version = "535.261.03";
  auto ok = run(s);
  EXPECT_EQ(with_id(ok, "driver.version_mismatch")[0]->severity, Severity::ok);
}

TEST(Rules, DriverNotLoadedWithTheModuleLoadedPointsAtTheDeviceNodes) {
  auto s = healthy();
  s.nvml.state = model::NvmlState::init_failed;
  s.nvml.init_return = 9;
  s.nvml.gpus.clear();
  s.devnodes.nodes = {{"/dev/nvidiactl", true, false}};
  auto fs = run(s);
  auto f = with_id(fs, "nvml.init_failed");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(contains(f[0]->cause, "opening /dev/nvidiactl fails")) << f[0]->cause;
  for (const auto& step : f[0]->fix) EXPECT_FALSE(contains(step, "modprobe nvidia")) << step;
  EXPECT_TRUE(std::any_of(f[0]->evidence.begin(), f[0]->evidence.end(), [](const std::string& e) {
    return contains(e, "/dev/nvidiactl: exists but is not a character device");
  }));
}

TEST(Rules, InsideAContainerHostStepsAreAddressedToTheHost) {
  auto s = healthy();
  s.container.inside = true;
  for (auto& g : s.nvml.gpus) g.persistence_mode = false;
  s.persistenced = {};
  auto fs = run(s);
  auto p = with_id(fs, "persistence.off");
  ASSERT_EQ(p.size(), 1u);
  for (const auto& step : p[0]->fix)
    if (contains(step, "systemctl") || contains(step, "nvidia-smi -pm"))
      EXPECT_TRUE(step.starts_with("On the host (not inside this container): ")) << step;
}

}  // namespace
}  // namespace gd::rule
