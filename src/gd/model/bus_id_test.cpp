#include "gd/model/bus_id.hpp"

#include <string>

#include <gtest/gtest.h>

namespace gd::model {
namespace {

TEST(NormalizeBusId, AcceptsEveryToolsSpelling) {
  EXPECT_EQ(normalize_bus_id("00005B0A:00:00.0"), "5b0a:00:00.0");
  EXPECT_EQ(normalize_bus_id("5B0A:00:00.0"), "5b0a:00:00.0");
  EXPECT_EQ(normalize_bus_id("5b0a:00:00.0"), "5b0a:00:00.0");
  EXPECT_EQ(normalize_bus_id("00000000:3B:00.0"), "0000:3b:00.0");
  EXPECT_EQ(normalize_bus_id("PCI:0000:3b:00"), "0000:3b:00.0");
  EXPECT_EQ(normalize_bus_id("pci:0000:06:00"), "0000:06:00.0");
  EXPECT_EQ(normalize_bus_id("3b:00.0"), "0000:3b:00.0");
  EXPECT_EQ(normalize_bus_id("000a:00:00.0"), "000a:00:00.0");
  EXPECT_EQ(normalize_bus_id("  0000:b3:00.1\n"), "0000:b3:00.1");
}

TEST(NormalizeBusId, KeepsWideDomains) {
  EXPECT_EQ(normalize_bus_id("00010000:01:00.0"), "10000:01:00.0");
  EXPECT_EQ(normalize_bus_id("FFFFFFFF:ff:1f.7"), "ffffffff:ff:1f.7");
}

TEST(NormalizeBusId, RejectsJunk) {
  for (const char* junk :
       {"", ":", "::", "0000:3b:00.", "0000:3b:.0", "zz:00.0", "0000:3b:00.8", "0000:3b:20.0", "0000:100:00.0",
        "100000000:00:00.0", "0000:3b:00.0:1", "3b:00", "0x00:3b:00.0", "+000:3b:00.0", "0000:3b:00.0x",
        "PCI:", "GPU-3291dfa4", "0000 :3b:00.0", "\x01\xff:00:00.0"}) {
    EXPECT_EQ(normalize_bus_id(junk), std::nullopt) << junk;
  }
  EXPECT_EQ(normalize_bus_id(std::string(100000, '0')), std::nullopt);
  EXPECT_EQ(normalize_bus_id(std::string_view("00\0:00:00.0", 11)), std::nullopt);
}

}  // namespace
}  // namespace gd::model
