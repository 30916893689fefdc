#include "gd/store/block_codec.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <random>

namespace gd::store {
namespace {

Frame sample_frame(std::size_t n) {
  Frame f;
  f.cols.resize(4);
  std::mt19937_64 rnd(7);
  std::int64_t energy = 1'000'000'000;
  for (std::size_t i = 0; i < n; ++i) {
    f.ts.push_back(1'700'000'000 + static_cast<std::int64_t>(i) * 10);
    f.cols[0].push_back(60 + static_cast<std::int64_t>(rnd() % 7));  // temperature, noisy
    f.cols[1].push_back(85'899'345'920);                             // constant
    energy += 5'200'000 + static_cast<std::int64_t>(rnd() % 400'000);
    f.cols[2].push_back(energy);  // counter
    f.cols[3].push_back(i % 50 < 10 ? std::nullopt : std::optional<std::int64_t>(1));
  }
  return f;
}

TEST(BlockCodec, RoundTripsAndPacksConstantColumns) {
  Frame f = sample_frame(360);
  std::string b = encode_frame(f);
  auto back = decode_frame(b);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->ts, f.ts);
  EXPECT_EQ(back->cols, f.cols);
  // ts (constant step) and the constant column: a few bytes each; temperature about a byte a row.
  EXPECT_LT(b.size(), 360u * 6) << b.size();
}

TEST(BlockCodec, ExtremeValuesAndNullsRoundTrip) {
  Frame f;
  f.cols.resize(1);
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min(), hi = std::numeric_limits<std::int64_t>::max();
  std::vector<std::optional<std::int64_t>> v = {hi, lo, 0, std::nullopt, std::nullopt, -1, hi, hi, lo, 1};
  for (std::size_t i = 0; i < v.size(); ++i)
    f.ts.push_back(static_cast<std::int64_t>(i) - 5), f.cols[0].push_back(v[i]);
  auto back = decode_frame(encode_frame(f));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->cols[0], f.cols[0]);
  EXPECT_EQ(back->ts, f.ts);
}

TEST(BlockCodec, DecodesOnlyTheColumnsAskedFor) {
  Frame f = sample_frame(100);
  std::size_t want[] = {2};
  auto back = decode_frame(encode_frame(f), want);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->cols[0].empty());
  EXPECT_EQ(back->cols[2], f.cols[2]);
}

TEST(BlockCodec, EmptyFrame) {
  Frame f;
  f.cols.resize(3);
  auto back = decode_frame(encode_frame(f));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->ts.empty());
  EXPECT_EQ(back->cols.size(), 3u);
}

TEST(BlockCodec, HostileBytesAreErrorsNotCrashes) {
  std::string good = encode_frame(sample_frame(50));
  for (std::size_t cut = 0; cut < good.size(); ++cut)
    EXPECT_FALSE(decode_frame(std::string_view(good).substr(0, cut))) << cut;
  EXPECT_FALSE(decode_frame(good + "x"));
  std::mt19937 rnd(3);
  for (int i = 0; i < 2000; ++i) {
    std::string junk = good;
    for (int k = 0; k < 4; ++k) junk[rnd() % junk.size()] = static_cast<char>(rnd());
    (void)decode_frame(junk);  // must not crash or hang; may decode to other values
  }
  EXPECT_FALSE(decode_frame(std::string("\x01\xff\xff\xff\xff\x7f\x01", 7)));  // 34 G rows
  EXPECT_FALSE(decode_frame(std::string("\x01\x02\x00\x01\x02", 5)));          // repeat first
}

TEST(BlockCodec, MergeReplacesSameTimestamp) {
  Frame a;
  a.cols.resize(1);
  for (std::int64_t t : {10, 20, 30}) a.ts.push_back(t), a.cols[0].push_back(t);
  Frame b;
  b.cols.resize(1);
  for (std::int64_t t : {5, 20, 40}) b.ts.push_back(t), b.cols[0].push_back(-t);
  merge_frames(a, b);
  EXPECT_EQ(a.ts, (std::vector<std::int64_t>{5, 10, 20, 30, 40}));
  EXPECT_EQ(a.cols[0], (Column{-5, 10, -20, 30, -40}));
}

}  // namespace
}  // namespace gd::store
