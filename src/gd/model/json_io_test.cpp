#include "gd/model/json_io.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gd/model/field_count.hpp"

namespace gd::model {
namespace {

Snapshot sample() {
  Snapshot s;
  s.hostname = "node1";
  s.root = "/";
  s.probes.push_back(ProbeRun{"pci", true, "", 1.5});
  PciGpu p;
  p.bus_id = "5b0a:00:00.0";
  p.vendor_id = 0x10de;
  p.device_id = 0x1db4;
  p.class_code = 0x030200;
  p.driver = "nvidia";
  p.max_link_width = 16;
  s.pci.gpus.push_back(p);
  s.driver.nvidia_loaded = true;
  s.driver.kernel_version = "460.32.03";
  s.nvml.state = NvmlState::ok;
  s.nvml.init_return = 0;
  s.nvml.init_ms = 4512.5;
  NvmlGpu g;
  g.index = 0;
  g.bus_id = "5b0a:00:00.0";
  g.persistence_mode = false;
  g.temp_celsius = 35;
  g.energy_millijoules = 18446744073709551615ull;
  g.call_errors["nvmlDeviceGetTemperature"] = 15;
  s.nvml.gpus.push_back(g);
  return s;
}

TEST(JsonIo, SnapshotRoundTripsExactly) {
  Snapshot s = sample();
  auto j = to_json(s);
  auto back = snapshot_from_json(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(to_json(*back), j);
  EXPECT_EQ(back->nvml.gpus[0].energy_millijoules, 18446744073709551615ull);
  EXPECT_FALSE(back->nvml.gpus[0].fan_percent.has_value());
  EXPECT_EQ(back->nvml.state, NvmlState::ok);
}

TEST(JsonIo, WrongTypeNamesTheFieldPath) {
  auto j = to_json(sample());
  j["nvml"]["gpus"][0]["temp_celsius"] = "hot";
  auto r = snapshot_from_json(j);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "nvml.gpus[0].temp_celsius: expected an integer, got string");
}

TEST(JsonIo, NegativeForUnsignedAndUnknownEnumAreErrors) {
  auto j = to_json(sample());
  j["pci"]["gpus"][0]["max_link_width"] = -1;
  EXPECT_FALSE(snapshot_from_json(j).ok());
  j = to_json(sample());
  j["nvml"]["state"] = "exploded";
  auto r = snapshot_from_json(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nvml.state: unknown value"), std::string::npos);
}

TEST(JsonIo, TruncatedTextIsAnErrorNamingTheSource) {
  std::string text = to_json(sample()).dump();
  auto r = parse_snapshot(std::string_view(text).substr(0, text.size() / 2), "node1.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("node1.json: not valid JSON"), std::string::npos);
}

TEST(JsonIo, NonObjectAndWrongSchemaAreRejected) {
  EXPECT_FALSE(parse_snapshot("[1,2,3]", "x").ok());
  EXPECT_FALSE(parse_snapshot("", "x").ok());
  auto j = to_json(sample());
  j["schema"] = 99;
  auto r = snapshot_from_json(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("schema"), std::string::npos);
}

TEST(JsonIo, MissingFieldsKeepDefaults) {
  auto r = parse_snapshot(
      R"({"kind":"gpudoctor-snapshot","schema":2,"probes":[{"name":"pci"}],"pci":{"gpus":[{"bus_id":"0000:3b:00.0"}]}})",
      "x");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->pci.gpus.at(0).bus_id, "0000:3b:00.0");
  EXPECT_EQ(r->nvml.state, NvmlState::not_run);
}

TEST(JsonIo, WhatIsNotASnapshotIsRefusedSayingWhatWasExpected) {
  auto msg = [](std::string_view text) {
    auto r = parse_snapshot(text, "in.json");
    return r ? std::string("accepted") : r.error().message;
  };
  EXPECT_EQ(msg(R"({"x":1})"),
            "in.json: not a gpudoctor snapshot: no \"kind\": \"gpudoctor-snapshot\" (write one with `gpudoctor collect`)");
  EXPECT_NE(msg(R"({"gpudoctor_version":"0.1.0","exit_code":0,"findings":[]})").find("output of `gpudoctor check --json`"),
            std::string::npos);
  EXPECT_NE(msg(R"({"kind":"gpudoctor-check"})").find("output of `gpudoctor check --json`"), std::string::npos);
  EXPECT_NE(msg(R"({"kind":"gpudoctor-history"})").find("kind \"gpudoctor-history\" is not a snapshot"), std::string::npos);
  EXPECT_NE(msg(R"({"kind":"gpudoctor-snapshot"})").find("schema: version missing"), std::string::npos);
  EXPECT_NE(msg(R"({"kind":"gpudoctor-snapshot","schema":1})").find("schema: version 1 is not supported (expected 2)"),
            std::string::npos);
  EXPECT_NE(msg(R"({"kind":"gpudoctor-snapshot","schema":2})").find("no probe results"), std::string::npos);
  EXPECT_NE(msg("[]").find("expected a JSON object"), std::string::npos);
}

TEST(JsonIo, UnknownKeysAreListedWithTheirPaths) {
  auto j = to_json(sample());
  j["future_probe"] = {{"a", 1}};
  j["nvml"]["gpus"][0]["hbm_temp_celsius"] = 40;
  std::vector<std::string> unknown;
  auto r = snapshot_from_json(j, &unknown);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(unknown, (std::vector<std::string>{"nvml.gpus[0].hbm_temp_celsius", "future_probe"}));
  std::vector<std::string> none;
  ASSERT_TRUE(snapshot_from_json(to_json(sample()), &none).ok());
  EXPECT_TRUE(none.empty());
}

struct ThreeMembers {
  int a = 0;
  std::optional<std::string> b;
  std::vector<PciGpu> c;
};

TEST(JsonIo, FieldCountCountsMembers) {
  EXPECT_EQ(field_count<ThreeMembers>(), 3u);
  EXPECT_EQ(field_count<ProbeRun>(), 4u);
}

TEST(JsonIo, EveryMemberOfEveryModelStructIsWrittenAndRead) {
  auto problems = undescribed_members();
  EXPECT_TRUE(problems.empty()) << fmt::format("{}", fmt::join(problems, "\n"));
}

}  // namespace
}  // namespace gd::model
