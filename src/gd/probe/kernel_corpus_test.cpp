// The corpus of real driver messages (tests/corpus/driver-messages.log): each
// block parsed alone must give exactly the events its "=>" lines name.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "gd/model/json_io.hpp"
#include "gd/probe/kernel_log.hpp"
#include "gd/util/strings.hpp"

namespace gd::probe {
namespace {

struct Block {
  std::string source;  // its "# source:" / "# composed:" line
  std::string text;
  std::vector<std::string> expect;  // "kind=... bus=...", "module=...", "none"
};

std::vector<Block> read_corpus() {
  std::ifstream in(std::string(GD_SOURCE_DIR) + "/tests/corpus/driver-messages.log");
  std::vector<Block> out;
  Block cur;
  auto flush = [&] {
    if (!cur.text.empty() || !cur.expect.empty()) out.push_back(cur);
    cur = Block{};
  };
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) {
      flush();
    } else if (util::starts_with(line, "# source:") || util::starts_with(line, "# composed:")) {
      cur.source = line;
    } else if (util::starts_with(line, "#")) {
      continue;
    } else if (util::starts_with(line, "=> ")) {
      cur.expect.push_back(line.substr(3));
    } else {
      cur.text += line + "\n";
    }
  }
  flush();
  return out;
}

std::string hex(std::optional<unsigned> v) { return v ? fmt::format("{:#x}", *v) : "-"; }

// The fields an expectation names, in its own order, as the parser read them.
std::string describe(const model::KernelEvent& e, const std::string& want, const model::KernelLog& log) {
  std::string out;
  for (auto field : util::split_ws(want)) {
    auto key = std::string(field.substr(0, field.find('=')));
    std::string v;
    if (key == "kind") v = std::string(model::kernel_event_kind_name(e.kind));
    else if (key == "xid") v = e.xid ? fmt::format("{}", *e.xid) : "-";
    else if (key == "bus") v = e.bus_id.value_or("-");
    else if (key == "pid") v = e.pid ? fmt::format("{}", *e.pid) : "-";
    else if (key == "form") v = e.form.value_or("-");
    else if (key == "rm_stage") v = hex(e.rm_stage);
    else if (key == "rm_status") v = hex(e.rm_status);
    else if (key == "client") v = e.client_version.value_or("-");
    else if (key == "module") v = e.module_version.value_or("-");
    else if (key == "uuid") {
      auto it = e.bus_id ? log.gpu_uuids.find(*e.bus_id) : log.gpu_uuids.end();
      v = it == log.gpu_uuids.end() ? "-" : it->second;
    } else v = "?unknown field";
    out += (out.empty() ? "" : " ") + key + "=" + v;
  }
  return out;
}

TEST(DriverMessageCorpus, EveryBlockGivesTheEventsItNames) {
  auto blocks = read_corpus();
  ASSERT_GE(blocks.size(), 25u) << "the corpus is missing or cut short";
  constexpr std::int64_t now = 1'795'000'000;
  for (const auto& b : blocks) {
    ASSERT_FALSE(b.source.empty()) << "a block without its source:\n" << b.text;
    ASSERT_FALSE(b.expect.empty()) << b.source;
    auto log = parse_kernel_log(b.text, *parse_since("all", now), now);
    std::vector<std::string> events, loads;
    for (const auto& w : b.expect) {
      if (w == "none") continue;
      (util::starts_with(w, "module=") ? loads : events).push_back(w);
    }
    ASSERT_EQ(log.events.size(), events.size()) << b.source;
    for (std::size_t i = 0; i < events.size(); ++i)
      EXPECT_EQ(describe(log.events[i], events[i], log), events[i]) << b.source;
    ASSERT_EQ(log.module_loads.size(), loads.size()) << b.source;
    for (std::size_t i = 0; i < loads.size(); ++i)
      EXPECT_EQ(fmt::format("module={} flavour={}", log.module_loads[i].version, log.module_loads[i].flavour), loads[i])
          << b.source;
  }
}


// The UUID <-> bus-id map per boot: a card swapped between boots shows as a new
// UUID at the same bus id, and an event that names only a UUID is placed on
// the bus that UUID had in its boot.
TEST(KernelLogUuids, PerBootMapPlacesEventsThatNameOnlyAUuid) {
  constexpr std::int64_t now = 1'795'000'000;
  auto log = parse_kernel_log(
      "[    0.000000] Linux version 6.1.0-13-amd64\n"
      "[  100.0] NVRM: GPU at PCI:0000:3b:00: GPU-11111111-2222-3333-4444-555555555555\n"
      "[  100.1] NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus.\n"
      "[    0.000000] Linux version 6.1.0-13-amd64\n"
      "[  200.0] NVRM: GPU at PCI:0000:3b:00: GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
      "[  200.1] NVRM: GPU at PCI:0000:5e:00: GPU-11111111-2222-3333-4444-555555555555\n"
      // (synthetic: a reset message naming the GPU by UUID only)
      "[  300.0] NVRM: GPU currently in full-chip reset for GPU-11111111-2222-3333-4444-555555555555\n",
      *parse_since("all", now), now);
  ASSERT_EQ(log.init_marks.size(), 3u);
  EXPECT_EQ(log.init_marks[0].boot, -1);
  EXPECT_EQ(log.init_marks[0].uuid, "GPU-11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(log.init_marks[1].bus_id, "0000:3b:00.0");
  EXPECT_EQ(log.init_marks[1].uuid, "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[1].kind, model::KernelEventKind::gpu_reset);
  EXPECT_EQ(log.events[1].bus_id, "0000:5e:00.0");  // this boot's bus for that UUID, not the earlier 3b
}


// Inputs that once crashed a fuzz target (tests/corpus/fuzz/kernel_log/): the
// parser reads them without crashing in the normal build too (under the
// fuzzer's UBSan they were: memmem on the null pointer of an empty view).
TEST(KernelLogFuzzFinds, ParseWithoutCrashing) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(GD_SOURCE_DIR) / "tests/corpus/fuzz/kernel_log";
  ASSERT_TRUE(fs::is_directory(dir));
  std::size_t n = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    std::ifstream in(f.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    constexpr std::int64_t now = 1'795'000'000;
    auto log = parse_kernel_log(ss.str(), *parse_since("all", now), now);
    EXPECT_LE(log.events.size(), ss.str().size()) << f.path();
    ++n;
  }
  EXPECT_GE(n, 1u);
}

}  // namespace
}  // namespace gd::probe
