#include <gtest/gtest.h>

#include "gd/rule/rule.hpp"

namespace gd::rule {
namespace {

using model::Finding;
using model::LibEntry;
using model::Severity;

constexpr const char* k_dir = "/usr/lib/x86_64-linux-gnu";

std::string at(const std::string& name) { return std::string(k_dir) + "/" + name; }

LibEntry file(const std::string& name, std::uint64_t size, std::optional<std::string> soname,
              std::optional<std::string> version, std::string dir = k_dir) {
  LibEntry e;
  e.family = name.substr(0, name.find(".so"));
  e.path = dir + "/" + name;
  e.resolved = e.path;
  e.size_bytes = size;
  e.soname = size ? soname : std::nullopt;
  e.version = std::move(version);
  return e;
}

LibEntry link(const std::string& name, const LibEntry& target) {
  LibEntry e = target;
  e.path = at(name);
  e.hops = {target.path.substr(target.path.rfind('/') + 1)};
  return e;
}

model::LoaderPick pick(const std::string& name, const LibEntry* e, std::string via = "ld.so.cache") {
  model::LoaderPick p{name, std::nullopt, via, std::nullopt, std::nullopt};
  if (!e) return p;
  p.path = e->path;
  p.resolved = e->resolved;
  p.version = e->version;
  return p;
}

// A node with the driver 460.32.03 loaded and one GPU on PCI.
model::Snapshot node() {
  model::Snapshot s;
  s.pci.gpus.push_back(model::PciGpu{});
  s.pci.gpus.back().bus_id = "0000:3b:00.0";
  s.driver.nvidia_loaded = true;
  s.driver.kernel_version = "460.32.03";
  s.libs.dirs.push_back(model::LibDir{k_dir, k_dir, "ld.so.conf", true});
  s.libs.ld_cache_present = true;
  return s;
}

// The seed's container: libcuda.so.1 -> a 0-byte libcuda.so.465.19.01, the
// real 460.32.03 beside it, the cache still naming a removed 465 file.
model::Snapshot seed() {
  auto s = node();
  auto empty465 = file("libcuda.so.465.19.01", 0, std::nullopt, "465.19.01");
  auto cuda460 = file("libcuda.so.460.32.03", 21803296, "libcuda.so.1", "460.32.03");
  auto ml460 = file("libnvidia-ml.so.460.32.03", 1745000, "libnvidia-ml.so.1", "460.32.03");
  auto cuda1 = link("libcuda.so.1", empty465);
  auto ml1 = link("libnvidia-ml.so.1", ml460);
  s.libs.entries = {cuda1, cuda460, empty465, ml1, ml460};
  s.libs.ld_cache = {
      {"libcuda.so.1", at("libcuda.so.1"), k_dir, true},
      {"libnvidia-ml.so.1", at("libnvidia-ml.so.1"), k_dir, true},
      {"libnvidia-fatbinaryloader.so.465.19.01", at("libnvidia-fatbinaryloader.so.465.19.01"), k_dir, false}};
  s.libs.picks = {pick("libcuda.so.1", &cuda1), pick("libcuda.so", nullptr), pick("libnvidia-ml.so.1", &ml1)};
  return s;
}

std::vector<Finding> run(void (*rule)(const RuleInput&, std::vector<Finding>&), const model::Snapshot& s) {
  std::vector<Finding> out;
  rule(RuleInput{s, std::nullopt}, out);
  return out;
}

bool has_line(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines)
    if (l.find(part) != std::string::npos) return true;
  return false;
}

TEST(LibsRules, SeedStaleCacheNamesTheChainAndLdconfig) {
  auto f = run(rule_libs_stale_ldcache, seed());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::critical);
  EXPECT_TRUE(has_line(f[0].evidence,
                       "/usr/lib/x86_64-linux-gnu/libcuda.so.1 -> libcuda.so.465.19.01 (0 bytes, 465.19.01), but "
                       "ldconfig would point it at libcuda.so.460.32.03 (21803296 bytes, 460.32.03, SONAME "
                       "libcuda.so.1)"));
  EXPECT_TRUE(has_line(f[0].evidence,
                       "lists libnvidia-fatbinaryloader.so.465.19.01 => "
                       "/usr/lib/x86_64-linux-gnu/libnvidia-fatbinaryloader.so.465.19.01, which no "
                       "longer exists"));
  EXPECT_TRUE(has_line(f[0].fix, "sudo ldconfig"));
}

TEST(LibsRules, SeedEmptyFileIsCriticalBecauseTheLoaderOpensIt) {
  auto f = run(rule_libs_empty_file, seed());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::critical);
  EXPECT_NE(f[0].summary.find("libcuda.so.465.19.01 (the loader reaches it)"), std::string::npos);
  EXPECT_TRUE(has_line(f[0].fix, "sudo rm -f /usr/lib/x86_64-linux-gnu/libcuda.so.465.19.01"));
}

TEST(LibsRules, SeedVersionMismatchAndTwoVersions) {
  auto s = seed();
  auto v = run(rule_libs_version_mismatch, s);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].summary, "libcuda.so.1 is 465.19.01 but the loaded kernel module is 460.32.03");
  EXPECT_NE(v[0].fix[0].find("sudo ldconfig"), std::string::npos);
  auto m = run(rule_libs_multiple_versions, s);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].severity, Severity::warning);
  EXPECT_TRUE(has_line(m[0].fix, "sudo rm -f /usr/lib/x86_64-linux-gnu/libcuda.so.465.19.01"));
  auto ok = run(rule_libs_missing, s);
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].severity, Severity::ok);
}

TEST(LibsRules, AfterLdconfigTheSeedIsClean) {
  auto s = node();
  auto cuda460 = file("libcuda.so.460.32.03", 21803296, "libcuda.so.1", "460.32.03");
  auto cuda1 = link("libcuda.so.1", cuda460);
  s.libs.entries = {cuda1, cuda460};
  s.libs.ld_cache = {{"libcuda.so.1", at("libcuda.so.1"), k_dir, true}};
  s.libs.picks = {pick("libcuda.so.1", &cuda1)};
  for (auto r : {rule_libs_empty_file, rule_libs_not_elf, rule_libs_dangling_link, rule_libs_version_mismatch,
                 rule_libs_multiple_versions, rule_libs_stub_first, rule_libs_soname_mismatch})
    EXPECT_TRUE(run(r, s).empty());
  auto stale = run(rule_libs_stale_ldcache, s);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].severity, Severity::ok);
}

TEST(LibsRules, LinkNotInCacheIsAWarning) {
  auto s = node();
  auto ml = file("libnvidia-ml.so.460.32.03", 100, "libnvidia-ml.so.1", "460.32.03");
  s.libs.entries = {link("libnvidia-ml.so.1", ml), ml};
  s.libs.picks = {pick("libnvidia-ml.so.1", &s.libs.entries[0], k_dir)};
  auto f = run(rule_libs_stale_ldcache, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
  EXPECT_TRUE(has_line(f[0].evidence, "libnvidia-ml.so.1 is not in /etc/ld.so.cache"));
}

TEST(LibsRules, CorruptCacheIsStale) {
  auto s = seed();
  s.libs.ld_cache_error = "/etc/ld.so.cache: bad magic \"garbage\": not an ld.so cache";
  s.libs.ld_cache.clear();
  auto f = run(rule_libs_stale_ldcache, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_TRUE(has_line(f[0].evidence, "bad magic"));
}

TEST(LibsRules, StubFirstThroughLdSoConf) {
  auto s = node();
  std::string stubs = "/usr/local/cuda-11.2/lib64/stubs";
  auto stub = file("libcuda.so", 40000, "libcuda.so.1", std::nullopt, stubs);
  auto real = file("libcuda.so.460.32.03", 21803296, "libcuda.so.1", "460.32.03");
  auto stub1 = stub;
  stub1.path = stubs + "/libcuda.so.1";
  stub1.hops = {"libcuda.so"};
  s.libs.entries = {stub1, stub, real};
  s.libs.picks = {pick("libcuda.so.1", &stub1)};
  auto f = run(rule_libs_stub_first, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::critical);
  EXPECT_TRUE(has_line(f[0].evidence, "the real driver library: /usr/lib/x86_64-linux-gnu/libcuda.so.460.32.03"));
  EXPECT_TRUE(has_line(f[0].fix, "sudo rm -f /usr/local/cuda-11.2/lib64/stubs/libcuda.so.1"));
  EXPECT_TRUE(run(rule_libs_multiple_versions, s).empty());  // the stub has no version
}

TEST(LibsRules, StubOnlyForTheDevelopmentNameIsAWarning) {
  auto s = node();
  auto stub = file("libcuda.so", 40000, "libcuda.so.1", std::nullopt, "/opt/cuda/lib64/stubs");
  s.libs.entries = {stub};
  s.libs.picks = {pick("libcuda.so", &stub, "LD_LIBRARY_PATH")};
  auto f = run(rule_libs_stub_first, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::warning);
}

TEST(LibsRules, MissingNvmlWhileDriverLoaded) {
  auto s = node();
  auto cuda = file("libcuda.so.460.32.03", 100, "libcuda.so.1", "460.32.03");
  s.libs.entries = {link("libcuda.so.1", cuda), cuda};
  s.libs.picks = {pick("libcuda.so.1", &s.libs.entries[0]), pick("libnvidia-ml.so.1", nullptr)};
  auto f = run(rule_libs_missing, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::critical);
  EXPECT_EQ(f[0].summary, "libnvidia-ml.so.1 missing while the nvidia kernel module 460.32.03 is loaded");
  s.driver.nvidia_loaded = false;
  EXPECT_TRUE(run(rule_libs_missing, s).empty());
}

TEST(LibsRules, DanglingAndLoopingLinks) {
  auto s = node();
  LibEntry dangling;
  dangling.family = "libnvidia-ml";
  dangling.path = at("libnvidia-ml.so.1");
  dangling.hops = {"libnvidia-ml.so.470.57.02"};
  dangling.link_error = dangling.path + ": " + at("libnvidia-ml.so.470.57.02") + " does not exist";
  LibEntry loop;
  loop.family = "libcuda";
  loop.path = at("libcuda.so");
  loop.hops = {"libcuda.so"};
  loop.link_error = loop.path + ": too many levels of symbolic links (loop?)";
  s.libs.entries = {loop, dangling};
  s.libs.picks = {pick("libcuda.so.1", nullptr)};
  auto f = run(rule_libs_dangling_link, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, Severity::critical);
  EXPECT_TRUE(has_line(f[0].evidence, "libcuda.so -> libcuda.so (symlink loop)"));
  EXPECT_TRUE(has_line(f[0].evidence, "libnvidia-ml.so.1 -> libnvidia-ml.so.470.57.02 (missing)"));
}

TEST(LibsRules, NotElfAndSonameMismatch) {
  auto s = node();
  auto junk = file("libnvidia-ptxjitcompiler.so.460.32.03", 16, std::nullopt, "460.32.03");
  junk.elf_error = "not an ELF file (starts with \"garb\")";
  auto wrong = file("libnvidia-ml.so.460.32.03", 100, "libcuda.so.1", "460.32.03");
  s.libs.entries = {junk, link("libnvidia-ml.so.1", wrong), wrong};
  s.libs.picks = {pick("libnvidia-ml.so.1", &s.libs.entries[1])};
  auto n = run(rule_libs_not_elf, s);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0].severity, Severity::warning);  // nothing leads to it
  auto m = run(rule_libs_soname_mismatch, s);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].severity, Severity::critical);
  EXPECT_TRUE(has_line(m[0].evidence, "SONAME is libcuda.so.1, expected libnvidia-ml.so.1"));
}

TEST(LibsRules, UniformUpgradeIsLeftToDriverVersionMismatch) {
  auto s = node();
  auto cuda = file("libcuda.so.465.19.01", 100, "libcuda.so.1", "465.19.01");
  auto ml = file("libnvidia-ml.so.465.19.01", 100, "libnvidia-ml.so.1", "465.19.01");
  s.libs.entries = {link("libcuda.so.1", cuda), cuda, link("libnvidia-ml.so.1", ml), ml};
  s.libs.picks = {pick("libcuda.so.1", &s.libs.entries[0]), pick("libnvidia-ml.so.1", &s.libs.entries[2])};
  s.nvml.library.file_version = "465.19.01";
  EXPECT_TRUE(run(rule_libs_version_mismatch, s).empty());
  s.nvml.library.file_version.reset();  // NVML not reporting: this rule has to say it
  auto f = run(rule_libs_version_mismatch, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].fix[0].find("Install the user-space libraries of driver 460.32.03"), std::string::npos);
}

TEST(LibsRules, StaleDevelopmentLinkGetsItsOwnFix) {
  auto s = node();
  auto old = file("libcuda.so.450.102.04", 100, "libcuda.so.1", "450.102.04");
  auto cur = file("libcuda.so.460.32.03", 100, "libcuda.so.1", "460.32.03");
  s.libs.entries = {link("libcuda.so", old), old, cur, link("libcuda.so.1", cur)};
  s.libs.picks = {pick("libcuda.so.1", &s.libs.entries[3]), pick("libcuda.so", &s.libs.entries[0], k_dir)};
  auto f = run(rule_libs_version_mismatch, s);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].summary, "libcuda.so is 450.102.04 but the loaded kernel module is 460.32.03");
  EXPECT_NE(f[0].fix[0].find("sudo ln -sfn libcuda.so.1 /usr/lib/x86_64-linux-gnu/libcuda.so"), std::string::npos);
}

TEST(LibsRules, SnapshotWithoutTheLibsProbeSaysNothing) {
  auto s = node();
  s.libs = {};
  for (const auto& f : evaluate(RuleInput{s, std::nullopt})) EXPECT_NE(f.id.rfind("libs.", 0), 0u) << f.id;
}

TEST(LibsRules, DanglingDpkgLinksAreRepairedThroughDpkgNeverRm) {
  model::Snapshot s;
  s.driver.nvidia_loaded = true;
  s.pci.gpus.push_back(model::PciGpu{"0000:3b:00.0", 0x10de, 0x2330, 0x030200, "nvidia", {}, {}, {}, {}, {}});
  model::LibEntry e;
  e.family = "libnvidia-ml";
  e.path = "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1";
  e.hops = {"/etc/alternatives/nvidia--libnvidia-ml.so.1-x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu/nvidia/current/libnvidia-ml.so.1"};
  e.link_error = "dangling";
  s.libs.entries = {e};
  s.libs.picks.push_back(model::LoaderPick{"libnvidia-ml.so.1", std::nullopt, "", std::nullopt, std::nullopt});
  auto fs = evaluate(RuleInput{s, std::nullopt});
  const model::Finding* d = nullptr;
  for (const auto& f : fs)
    if (f.id == "libs.dangling_link") d = &f;
  ASSERT_NE(d, nullptr);
  for (const auto& step : d->fix) EXPECT_EQ(step.find("rm -f"), std::string::npos) << step;
  EXPECT_NE(d->fix.at(1).find("apt-get install --reinstall"), std::string::npos);
  EXPECT_NE(d->fix.at(2).find("update-alternatives --auto nvidia--libnvidia-ml.so.1-x86_64-linux-gnu"),
            std::string::npos);
  EXPECT_NE(d->cause.find("belong to dpkg"), std::string::npos);
}

TEST(LibsRules, AWorldWritableLibraryDirIsAWarningNamingIt) {
  auto s = node();
  std::vector<Finding> out;
  rule_libs_world_writable_dir(RuleInput{s, std::nullopt}, out);
  EXPECT_TRUE(out.empty());  // says nothing when no dir is
  s.libs.dirs.push_back(model::LibDir{"/opt/cuda/lib64", "/opt/cuda/lib64", "ld.so.conf", true, "/opt"});
  rule_libs_world_writable_dir(RuleInput{s, std::nullopt}, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].severity, Severity::warning);
  EXPECT_NE(out[0].summary.find("/opt/cuda/lib64"), std::string::npos) << out[0].summary;
  EXPECT_NE(out[0].evidence[0].find("/opt is writable by every user (and has no sticky bit)"), std::string::npos)
      << out[0].evidence[0];
  EXPECT_EQ(out[0].fix[0].rfind("sudo chmod o-w /opt ", 0), 0u) << out[0].fix[0];
}

}  // namespace
}  // namespace gd::rule
