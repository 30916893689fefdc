// Roll-ups of raw history rows: per bucket (a minute, an hour) and per
// metric, the min, max, sum and count of the values present. Sum and count
// (not a rounded average) make roll-ups exact and mergeable: the rows of a
// bucket can arrive in two batches and combine to the same figures.
#pragma once

#include <cstdint>
#include <optional>

#include "gd/store/block_codec.hpp"

namespace gd::store {

inline constexpr std::size_t k_stats_per_metric = 4;  // columns per metric in a roll-up frame

struct MetricStat {
  std::int64_t min = 0, max = 0, sum = 0, count = 0;
  double avg() const { return count ? static_cast<double>(sum) / static_cast<double>(count) : 0; }
};

// The figures of two disjoint sets of values together (sum saturates).
MetricStat combine_stats(const MetricStat& a, const MetricStat& b);

// Start of the bucket `ts` falls in (floor, also for negative ts).
std::int64_t bucket_start(std::int64_t ts, std::int64_t bucket_s);

// Rolls a raw frame (one column per metric) up into `bucket_s` buckets: a
// frame with k_stats_per_metric columns per metric (min, max, sum, count;
// all NULL where the bucket has no value of that metric), ts = bucket start.
Frame rollup(const Frame& raw, std::int64_t bucket_s);

// Adds the roll-up rows `rows` to `into` (both ascending): a bucket present in
// both gets the combined figures (min of mins, sum of sums, ...).
void combine_rollups(Frame& into, const Frame& rows);

// Metric m of roll-up row i; nullopt when it had no value.
std::optional<MetricStat> stat_at(const Frame& f, std::size_t row, std::size_t metric);

}  // namespace gd::store
