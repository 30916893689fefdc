#include "gd/model/json_io.hpp"

#include <gtest/gtest.h>

namespace gd::model {
namespace {

Snapshot sample() {
  Snapshot s;
  s.hostname = "node1";
  s.root = "/";
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
  auto r = parse_snapshot(R"({"schema":1,"pci":{"gpus":[{"bus_id":"0000:3b:00.0"}]}})", "x");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->pci.gpus.at(0).bus_id, "0000:3b:00.0");
  EXPECT_EQ(r->nvml.state, NvmlState::not_run);
}

}  // namespace
}  // namespace gd::model
