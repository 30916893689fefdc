#include "gd/util/tar_gz.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace gd::util {
namespace {

TEST(TarGz, RoundTripsFilesOfAnySizeAndBytes) {
  std::string binary(70000, '\0');
  for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 7);
  std::vector<TarEntry> in = {{"manifest.json", "{}\n", 1700000000}, {"empty", "", 0}, {"history.db", binary, 5},
                              {"exactly-512", std::string(512, 'x'), 6}};
  auto gz = make_tar_gz(in);
  ASSERT_TRUE(gz) << gz.error().message;
  EXPECT_TRUE(looks_gzip(*gz));
  EXPECT_LT(gz->size(), 20000u);  // compressed
  auto out = read_tar_gz(*gz);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ((*out)[i].name, in[i].name);
    EXPECT_EQ((*out)[i].data, in[i].data);
    EXPECT_EQ((*out)[i].mtime, in[i].mtime);
  }
}

TEST(TarGz, RefusesNamesItCannotHoldOrThatClimb) {
  EXPECT_FALSE(make_tar_gz({{"../etc/passwd", "x", 0}}));
  EXPECT_FALSE(make_tar_gz({{"/abs", "x", 0}}));
  EXPECT_FALSE(make_tar_gz({{std::string(100, 'a'), "x", 0}}));
  EXPECT_TRUE(make_tar_gz({{"a/b.txt", "x", 0}}));
}

TEST(TarGz, HostileArchivesAreNamedNeverTrusted) {
  auto gz = make_tar_gz({{"snapshot.json", std::string(100000, 'a'), 0}});
  ASSERT_TRUE(gz);
  EXPECT_FALSE(read_tar_gz("PK\x03\x04 zip"));  // not gzip
  auto cut = read_tar_gz(std::string_view(*gz).substr(0, gz->size() / 2));
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().message.find("cut short"), std::string::npos) << cut.error().message;
  auto bomb = read_tar_gz(*gz, 50000);  // more than the caller allows inflated
  ASSERT_FALSE(bomb);
  EXPECT_NE(bomb.error().message.find("uncompressed"), std::string::npos);
  std::string flipped = *gz;
  flipped[flipped.size() / 2] ^= 0x55;
  EXPECT_FALSE(read_tar_gz(flipped));  // the gzip CRC or the deflate stream catches it
}

// A raw ustar header for name with a one-byte body, its checksum computed (or spoiled).
std::string raw_tar(const std::string& name, bool spoil) {
  std::string tar(2048, '\0');
  std::memcpy(tar.data(), name.data(), name.size());
  std::memcpy(tar.data() + 124, "00000000001", 11);
  tar[156] = '0';
  std::memcpy(tar.data() + 257, "ustar", 6);
  unsigned sum = 0;
  for (std::size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(tar[i]);
  char field[8];
  std::snprintf(field, sizeof field, "%06o", spoil ? sum + 1 : sum);
  std::memcpy(tar.data() + 148, field, 7);
  tar[512] = 'x';
  return tar;
}

TEST(TarGz, ABadHeaderChecksumIsAnErrorAndAClimbingNameIsSkipped) {
  auto bad = read_tar_gz(*gzip(raw_tar("okname", true)));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("bad checksum"), std::string::npos) << bad.error().message;
  auto good = read_tar_gz(*gzip(raw_tar("okname", false)));
  ASSERT_TRUE(good) << good.error().message;
  ASSERT_EQ(good->size(), 1u);
  EXPECT_EQ((*good)[0].data, "x");
  auto climbing = read_tar_gz(*gzip(raw_tar("../../etc/cron.d/x", false)));
  ASSERT_TRUE(climbing);
  EXPECT_TRUE(climbing->empty());  // never returned, so never written anywhere
}

}  // namespace
}  // namespace gd::util
