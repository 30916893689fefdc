#include "gd/store/rollup.hpp"

#include <gtest/gtest.h>

namespace gd::store {
namespace {

Frame raw(std::initializer_list<std::pair<std::int64_t, std::optional<std::int64_t>>> rows) {
  Frame f;
  f.cols.resize(1);
  for (const auto& [ts, v] : rows) f.ts.push_back(ts), f.cols[0].push_back(v);
  return f;
}

TEST(Rollup, MinMaxSumCountPerBucket) {
  Frame r = rollup(raw({{60, 40}, {70, 44}, {110, 42}, {120, std::nullopt}, {185, 50}}), 60);
  ASSERT_EQ(r.ts, (std::vector<std::int64_t>{60, 120, 180}));
  auto s = stat_at(r, 0, 0);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->min, 40);
  EXPECT_EQ(s->max, 44);
  EXPECT_EQ(s->sum, 126);
  EXPECT_EQ(s->count, 3);
  EXPECT_DOUBLE_EQ(s->avg(), 42.0);
  EXPECT_FALSE(stat_at(r, 1, 0));  // only a NULL in that minute
  EXPECT_EQ(stat_at(r, 2, 0)->max, 50);
}

TEST(Rollup, BucketsFloorNegativeTimes) {
  EXPECT_EQ(bucket_start(-1, 60), -60);
  EXPECT_EQ(bucket_start(59, 60), 0);
  EXPECT_EQ(bucket_start(7200, 3600), 7200);
}

TEST(Rollup, TwoBatchesCombineToTheSameFigures) {
  Frame whole = rollup(raw({{0, 5}, {10, 9}, {20, 1}, {70, 3}}), 60);
  Frame a = rollup(raw({{0, 5}, {20, 1}}), 60);
  combine_rollups(a, rollup(raw({{10, 9}, {70, 3}}), 60));
  EXPECT_EQ(a.ts, whole.ts);
  EXPECT_EQ(a.cols, whole.cols);
}

TEST(Rollup, RoundTripsThroughTheCodec) {
  Frame r = rollup(raw({{0, 5}, {10, 9}, {3600, std::nullopt}}), 60);
  auto back = decode_frame(encode_frame(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cols, r.cols);
}

}  // namespace
}  // namespace gd::store
