#include "gd/store/rollup.hpp"

#include <algorithm>
#include <limits>

namespace gd::store {

namespace {

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}

void push_stat(Frame& f, std::size_t metric, const std::optional<MetricStat>& s) {
  auto* c = &f.cols[metric * k_stats_per_metric];
  if (!s) {
    for (std::size_t k = 0; k < k_stats_per_metric; ++k) c[k].emplace_back(std::nullopt);
    return;
  }
  c[0].emplace_back(s->min), c[1].emplace_back(s->max), c[2].emplace_back(s->sum), c[3].emplace_back(s->count);
}

}  // namespace

MetricStat combine_stats(const MetricStat& a, const MetricStat& b) {
  return {std::min(a.min, b.min), std::max(a.max, b.max), saturating_add(a.sum, b.sum), a.count + b.count};
}

std::int64_t bucket_start(std::int64_t ts, std::int64_t bucket_s) {
  std::int64_t r = ts % bucket_s;
  return ts - (r < 0 ? r + bucket_s : r);
}

std::optional<MetricStat> stat_at(const Frame& f, std::size_t row, std::size_t metric) {
  // (A block rolled up before this metric existed has fewer columns: no value, not a read past its end.)
  std::size_t c = metric * k_stats_per_metric;
  auto min = f.at(c, row), max = f.at(c + 1, row), sum = f.at(c + 2, row), count = f.at(c + 3, row);
  if (!count || *count <= 0 || !min || !max || !sum) return std::nullopt;
  return MetricStat{*min, *max, *sum, *count};
}

Frame rollup(const Frame& raw, std::int64_t bucket_s) {
  const std::size_t metrics = raw.cols.size();
  Frame out;
  out.cols.resize(metrics * k_stats_per_metric);
  std::size_t i = 0;
  while (i < raw.ts.size()) {
    std::int64_t b = bucket_start(raw.ts[i], bucket_s);
    std::size_t end = i;
    while (end < raw.ts.size() && bucket_start(raw.ts[end], bucket_s) == b) ++end;
    out.ts.push_back(b);
    for (std::size_t m = 0; m < metrics; ++m) {
      std::optional<MetricStat> s;
      for (std::size_t r = i; r < end; ++r) {
        const auto& v = raw.cols[m].size() > r ? raw.cols[m][r] : std::nullopt;
        if (!v) continue;
        MetricStat one{*v, *v, *v, 1};
        s = s ? combine_stats(*s, one) : one;
      }
      push_stat(out, m, s);
    }
    i = end;
  }
  return out;
}

void combine_rollups(Frame& into, const Frame& rows) {
  const std::size_t metrics = std::max(into.cols.size(), rows.cols.size()) / k_stats_per_metric;
  Frame out;
  out.cols.resize(metrics * k_stats_per_metric);
  std::size_t a = 0, b = 0;
  auto stat = [&](const Frame& f, std::size_t r, std::size_t m) {
    return m * k_stats_per_metric < f.cols.size() ? stat_at(f, r, m) : std::nullopt;
  };
  while (a < into.ts.size() || b < rows.ts.size()) {
    bool take_a = b == rows.ts.size() || (a < into.ts.size() && into.ts[a] <= rows.ts[b]);
    bool take_b = a == into.ts.size() || (b < rows.ts.size() && rows.ts[b] <= into.ts[a]);
    out.ts.push_back(take_a ? into.ts[a] : rows.ts[b]);
    for (std::size_t m = 0; m < metrics; ++m) {
      auto x = take_a ? stat(into, a, m) : std::nullopt;
      auto y = take_b ? stat(rows, b, m) : std::nullopt;
      push_stat(out, m, x && y ? std::optional(combine_stats(*x, *y)) : (x ? x : y));
    }
    a += take_a, b += take_b;
  }
  into = std::move(out);
}

}  // namespace gd::store
