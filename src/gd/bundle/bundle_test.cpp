#include "gd/bundle/bundle.hpp"

#include <gtest/gtest.h>

namespace gd::bundle {
namespace {

TEST(Redactor, SameIdentifierSameReplacementEverywhere) {
  Redactor r;
  r.add_serial("1654922005812");
  r.add_host("gpu-node-17");
  std::string a = r.apply(R"({"uuid":"GPU-5B0A1234-aaaa-bbbb-cccc-0123456789ab","serial":"1654922005812","host":"gpu-node-17"})");
  std::string b = r.apply("NVRM: GPU at PCI:0000:5b:00: GPU-5b0a1234-aaaa-bbbb-cccc-0123456789ab on gpu-node-17");
  EXPECT_EQ(a, R"({"uuid":"GPU-00000000-0000-0000-0000-000000000001","serial":"SERIAL-1","host":"node-1"})");
  EXPECT_EQ(b, "NVRM: GPU at PCI:0000:5b:00: GPU-00000000-0000-0000-0000-000000000001 on node-1");  // case folded
  std::string c = r.apply("MIG-11111111-2222-3333-4444-555555555555 and GPU-5b0a1234-aaaa-bbbb-cccc-0123456789ab");
  EXPECT_EQ(c, "MIG-00000000-0000-0000-0000-000000000002 and GPU-00000000-0000-0000-0000-000000000001");
  EXPECT_EQ(r.identifiers(), 4u);
}

TEST(Redactor, WholeWordsOnlyAndNothingTooShortToIdentify) {
  Redactor r;
  r.add_host("vm");
  r.add_serial("N/A");  // not identifying: left alone
  r.add_serial("0");
  EXPECT_EQ(r.apply("/dev/nvidia-uvm on vm, vm.example.org, avm, vm-2, serial N/A"),
            "/dev/nvidia-uvm on node-1, vm.example.org, avm, vm-2, serial N/A");
  // Not a UUID: the wrong shape stays as it was.
  EXPECT_EQ(r.apply("GPU-1234 GPU-5b0a1234-aaaa-bbbb-cccc-0123456789abc"), "GPU-1234 GPU-5b0a1234-aaaa-bbbb-cccc-0123456789abc");
}

TEST(Bundle, ATarGzWithoutAManifestIsNotABundle) {
  auto gz = util::make_tar_gz({{"snapshot.json", "{}", 0}});
  ASSERT_TRUE(gz);
  auto b = parse_bundle(*gz, "x.tar.gz");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("not a gpudoctor bundle"), std::string::npos);
  auto ok = util::make_tar_gz({{"manifest.json", "{}", 0}, {"snapshot.json", "{}", 0}});
  auto good = parse_bundle(*ok, "y.tar.gz");
  ASSERT_TRUE(good);
  EXPECT_NE(member(*good, k_snapshot), nullptr);
  EXPECT_EQ(member(*good, k_history), nullptr);
}

}  // namespace
}  // namespace gd::bundle
