// The packed side of the store: maintain() (finished hours of `samples` into
// blocks and roll-ups, retention) and the readers that merge blocks with the
// rows still in `samples` (history(), samples(), max_per_gpu()).
#include <algorithm>
#include <set>
#include <tuple>

#include "gd/store/gpu_metrics.hpp"
#include "gd/store/sqlite_stmt.hpp"
#include "gd/store/store.hpp"

namespace gd::store {

namespace {

constexpr std::int64_t k_hour = 3600;
constexpr std::int64_t k_day = 86400;

// Per resolution: the `blocks.kind`, the span one block covers, the bucket of a row.
struct Layout {
  int kind;
  std::int64_t span_s;
  std::int64_t bucket_s;
};
constexpr Layout layout(Resolution r) {
  switch (r) {
    case Resolution::raw:
      return {0, k_hour, 0};
    case Resolution::minute:
      return {1, k_day, 60};
    case Resolution::hour:
      return {2, 7 * k_day, k_hour};
  }
  return {0, k_hour, 0};
}

std::string metric_columns() {
  std::string s;
  for (const auto& m : gpu_metrics()) s += fmt::format(", {}", m.column);
  return s;
}

std::vector<std::size_t> all_metrics() {
  std::vector<std::size_t> v(gpu_metrics().size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

std::vector<std::size_t> stat_columns(std::span<const std::size_t> metrics) {
  std::vector<std::size_t> out;
  for (auto m : metrics)
    for (std::size_t k = 0; k < k_stats_per_metric; ++k) out.push_back(m * k_stats_per_metric + k);
  return out;
}

Frame empty_frame(std::size_t cols) {
  Frame f;
  f.cols.resize(cols);
  return f;
}

}  // namespace

struct Store::Chunk {
  std::map<std::int64_t, Frame> frames;  // gpus.id -> rows of this chunk
};

std::string_view resolution_name(Resolution r) {
  switch (r) {
    case Resolution::raw:
      return "raw";
    case Resolution::minute:
      return "minute";
    case Resolution::hour:
      return "hour";
  }
  return "raw";
}

std::optional<Resolution> parse_resolution(std::string_view s) {
  for (auto r : {Resolution::raw, Resolution::minute, Resolution::hour})
    if (resolution_name(r) == s) return r;
  return std::nullopt;
}

// ---- maintain --------------------------------------------------------------

namespace {

Result<std::optional<Frame>> read_block(sqlite3* db, int kind, std::int64_t t0, std::int64_t gpu) {
  Stmt s(db, "SELECT data FROM blocks WHERE kind = ? AND t0 = ? AND gpu = ?");
  s.bind(1, std::int64_t{kind}), s.bind(2, t0), s.bind(3, gpu);
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<Frame>();
  if (rc != SQLITE_ROW) return db_error(db, "blocks");
  auto f = decode_frame(s.blob(0));
  if (!f) return make_error(fmt::format("block kind {} t0 {} gpu {}: {}", kind, t0, gpu, f.error().message));
  return std::optional<Frame>(std::move(*f));
}

bool write_block(sqlite3* db, int kind, std::int64_t t0, std::int64_t gpu, const Frame& f) {
  Stmt s(db,
         "INSERT INTO blocks(kind, t0, gpu, rows, data) VALUES(?1, ?2, ?3, ?4, ?5) "
         "ON CONFLICT(kind, t0, gpu) DO UPDATE SET rows = ?4, data = ?5");
  s.bind(1, std::int64_t{kind}), s.bind(2, t0), s.bind(3, gpu), s.bind(4, static_cast<std::int64_t>(f.ts.size()));
  s.bind_blob(5, encode_frame(f));
  return s.step() == SQLITE_DONE;
}

// Adds the roll-up rows of one hour to the roll-up block that holds them:
// replacing them when they were computed from the whole hour (`exact`), else
// combining with what is there (rows whose raw block is gone).
Result<bool> put_rollup(sqlite3* db, Resolution res, std::int64_t gpu, const Frame& rows, bool exact) {
  auto l = layout(res);
  std::int64_t t0 = bucket_start(rows.ts.front(), l.span_s);
  auto old = read_block(db, l.kind, t0, gpu);
  if (!old) return old.error();
  Frame f = old->value_or(empty_frame(rows.cols.size()));
  if (exact)
    merge_frames(f, rows);
  else
    combine_rollups(f, rows);
  if (!write_block(db, l.kind, t0, gpu, f)) return db_error(db, "blocks");
  return true;
}

}  // namespace

Result<bool> Store::pack_hour(std::int64_t hour) {
  const std::size_t n = gpu_metrics().size();
  std::map<std::int64_t, Frame> rows;
  {
    Stmt s(m_db,
           fmt::format("SELECT gpu, ts{} FROM samples WHERE ts >= ? AND ts < ? ORDER BY gpu, ts", metric_columns()));
    s.bind(1, hour), s.bind(2, hour + k_hour);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      auto [it, _] = rows.try_emplace(s.i64(0), empty_frame(n));
      it->second.ts.push_back(s.i64(1));
      for (std::size_t c = 0; c < n; ++c) it->second.cols[c].push_back(s.opt(static_cast<int>(c) + 2));
    }
    if (rc != SQLITE_DONE) return db_error(m_db, "samples");
  }
  for (auto& [gpu, fresh] : rows) {
    auto old = read_block(m_db, layout(Resolution::raw).kind, hour, gpu);
    if (!old) return old.error();
    bool exact = old->has_value();
    Frame all = old->value_or(empty_frame(n));
    merge_frames(all, fresh);
    if (!write_block(m_db, layout(Resolution::raw).kind, hour, gpu, all)) return db_error(m_db, "blocks");
    const Frame& basis = exact ? all : fresh;
    for (auto res : {Resolution::minute, Resolution::hour})
      if (auto r = put_rollup(m_db, res, gpu, rollup(basis, layout(res).bucket_s), exact); !r) return r.error();
  }
  Stmt del(m_db, "DELETE FROM samples WHERE ts >= ? AND ts < ?");
  del.bind(1, hour), del.bind(2, hour + k_hour);
  if (del.step() != SQLITE_DONE) return db_error(m_db, "samples");
  return true;
}

namespace {

// Runs body (returning Result<bool>) in one IMMEDIATE transaction: committed
// when it succeeds, rolled back when it or the commit fails.
template <class F>
Result<bool> in_transaction(sqlite3* db, std::string_view what, F&& body) {
  if (!exec(db, "BEGIN IMMEDIATE")) return db_error(db, what);
  auto r = body();
  if (r && exec(db, "COMMIT")) return true;
  auto e = r ? db_error(db, what) : r.error();
  exec(db, "ROLLBACK");
  return e;
}

}  // namespace

Result<MaintainReport> Store::maintain(std::int64_t now_s, const Retention& r, int max_hours) {
  MaintainReport rep;
  const std::int64_t current_hour = bucket_start(now_s, k_hour);
  while (true) {
    Stmt s(m_db, "SELECT MIN(ts) FROM samples");
    if (s.step() != SQLITE_ROW) return db_error(m_db, "samples");
    auto oldest_ts = s.opt(0);
    if (!oldest_ts || bucket_start(*oldest_ts, k_hour) >= current_hour) break;
    if (rep.hours_packed >= max_hours) {
      rep.more = true;
      break;
    }
    std::int64_t deleted = 0;
    auto packed = in_transaction(m_db, "pack", [&]() -> Result<bool> {
      auto p = pack_hour(bucket_start(*oldest_ts, k_hour));
      deleted = sqlite3_changes(m_db);  // the last statement deleted the hour's rows from `samples`
      return p;
    });
    if (!packed) return packed.error();
    ++rep.hours_packed;
    rep.rows_packed += deleted;
  }
  auto expired = in_transaction(m_db, "retention", [&]() -> Result<bool> {
    for (auto [res, days] : {std::pair{Resolution::raw, r.raw_days}, std::pair{Resolution::minute, r.minute_days},
                             std::pair{Resolution::hour, r.hour_days}}) {
      auto l = layout(res);
      Stmt s(m_db, "DELETE FROM blocks WHERE kind = ? AND t0 + ? <= ?");
      s.bind(1, std::int64_t{l.kind}), s.bind(2, l.span_s), s.bind(3, now_s - std::int64_t{days} * k_day);
      if (s.step() != SQLITE_DONE) return db_error(m_db, "retention");
      rep.blocks_deleted += sqlite3_changes(m_db);
    }
    return true;
  });
  if (!expired) return expired.error();
  return rep;
}

// ---- reading ---------------------------------------------------------------

namespace {

// The chunk starts (multiples of span) that blocks of `kind` or rows of
// `samples` in [since, until) fall in, ascending.
Result<std::set<std::int64_t>> chunk_starts(sqlite3* db, int kind, std::int64_t span, const HistoryQuery& q,
                                            std::optional<std::int64_t> gpu) {
  std::set<std::int64_t> out;
  std::string g = gpu ? " AND gpu = ?3" : "";
  Stmt b(db, "SELECT DISTINCT t0 FROM blocks WHERE kind = ?4 AND t0 > ?1 AND t0 < ?2" + g);
  Stmt h(db, fmt::format("SELECT DISTINCT ts - ((ts % {0}) + {0}) % {0} FROM samples WHERE ts >= ?1 AND ts < ?2{1}",
                         span, g));
  for (Stmt* s : {&b, &h}) {
    if (!s->ok()) return db_error(db, "history");
    s->bind(1, s == &b ? (q.since > INT64_MIN + span ? q.since - span : q.since) : q.since);
    s->bind(2, q.until);
    if (gpu) s->bind(3, *gpu);
    if (s == &b) s->bind(4, std::int64_t{kind});
    int rc;
    while ((rc = s->step()) == SQLITE_ROW) out.insert(s->i64(0));
    if (rc != SQLITE_DONE) return db_error(db, "history");
  }
  return out;
}

// Rows of `samples` in [since, until) as one frame per gpu (only `cols` filled).
Result<std::map<std::int64_t, Frame>> hot_rows(sqlite3* db, std::int64_t since, std::int64_t until,
                                               std::optional<std::int64_t> gpu, std::span<const std::size_t> cols) {
  std::string sel;
  for (auto c : cols) sel += fmt::format(", {}", gpu_metrics()[c].column);
  Stmt s(db, fmt::format("SELECT gpu, ts{} FROM samples WHERE ts >= ?1 AND ts < ?2{} ORDER BY gpu, ts", sel,
                         gpu ? " AND gpu = ?3" : ""));
  if (!s.ok()) return db_error(db, "samples");
  s.bind(1, since), s.bind(2, until);
  if (gpu) s.bind(3, *gpu);
  std::map<std::int64_t, Frame> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    auto [it, _] = out.try_emplace(s.i64(0), empty_frame(gpu_metrics().size()));
    it->second.ts.push_back(s.i64(1));
    for (std::size_t k = 0; k < cols.size(); ++k) {
      auto& col = it->second.cols[cols[k]];
      col.resize(it->second.ts.size() - 1);
      col.push_back(s.opt(static_cast<int>(k) + 2));
    }
  }
  if (rc != SQLITE_DONE) return db_error(db, "samples");
  return out;
}

Result<bool> block_frames(sqlite3* db, int kind, std::int64_t t0, std::optional<std::int64_t> gpu,
                          std::span<const std::size_t> cols, std::map<std::int64_t, Frame>& out) {
  Stmt s(db, std::string("SELECT gpu, data FROM blocks WHERE kind = ?1 AND t0 = ?2") + (gpu ? " AND gpu = ?3" : ""));
  s.bind(1, std::int64_t{kind}), s.bind(2, t0);
  if (gpu) s.bind(3, *gpu);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    auto f = decode_frame(s.blob(1), cols);
    if (!f) return make_error(fmt::format("block kind {} t0 {} gpu {}: {}", kind, t0, s.i64(0), f.error().message));
    out[s.i64(0)] = std::move(*f);
  }
  if (rc != SQLITE_DONE) return db_error(db, "blocks");
  return true;
}

}  // namespace

Result<bool> Store::raw_chunks(const HistoryQuery& q, std::span<const std::size_t> cols, const ChunkFn& fn) {
  std::optional<std::int64_t> gpu;
  if (q.gpu && !(gpu = find_gpu(*q.gpu))) return true;
  auto starts = chunk_starts(m_db, layout(Resolution::raw).kind, k_hour, q, gpu);
  if (!starts) return starts.error();
  for (auto h : *starts) {
    Chunk c;
    if (auto b = block_frames(m_db, layout(Resolution::raw).kind, h, gpu, cols, c.frames); !b) return b.error();
    auto hot = hot_rows(m_db, std::max(h, q.since), std::min(h + k_hour, q.until), gpu, cols);
    if (!hot) return hot.error();
    for (auto& [g, f] : *hot) {
      auto [it, fresh] = c.frames.try_emplace(g, std::move(f));
      if (!fresh) merge_frames(it->second, f);
    }
    fn(c);
  }
  return true;
}

Result<bool> Store::rollup_chunks(Resolution res, const HistoryQuery& q, std::span<const std::size_t> metrics,
                                  const ChunkFn& fn) {
  auto l = layout(res);
  std::optional<std::int64_t> gpu;
  if (q.gpu && !(gpu = find_gpu(*q.gpu))) return true;
  HistoryQuery widened = q;
  widened.since = bucket_start(q.since, l.bucket_s);
  auto starts = chunk_starts(m_db, l.kind, l.span_s, widened, gpu);
  if (!starts) return starts.error();
  auto cols = stat_columns(metrics);
  for (auto t0 : *starts) {
    Chunk c;
    if (auto b = block_frames(m_db, l.kind, t0, gpu, cols, c.frames); !b) return b.error();
    auto hot = hot_rows(m_db, std::max(t0, widened.since), std::min(t0 + l.span_s, q.until), gpu, metrics);
    if (!hot) return hot.error();
    for (auto& [g, f] : *hot) {
      Frame r = rollup(f, l.bucket_s);
      auto [it, fresh] = c.frames.try_emplace(g, std::move(r));
      if (!fresh) combine_rollups(it->second, r);
    }
    fn(c);
  }
  return true;
}

Result<std::optional<std::int64_t>> Store::oldest(Resolution res) {
  auto l = layout(res);
  std::optional<std::int64_t> best;
  {
    Stmt s(m_db, "SELECT data FROM blocks WHERE kind = ?1 AND t0 = (SELECT MIN(t0) FROM blocks WHERE kind = ?1)");
    s.bind(1, std::int64_t{l.kind});
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      auto f = decode_frame(s.blob(0), k_timestamps_only);
      if (f && !f->ts.empty()) best = best ? std::min(*best, f->ts.front()) : f->ts.front();
    }
    if (rc != SQLITE_DONE) return db_error(m_db, "blocks");
  }
  if (res == Resolution::raw) {
    Stmt s(m_db, "SELECT MIN(ts) FROM samples");
    if (s.step() != SQLITE_ROW) return db_error(m_db, "samples");
    if (auto t = s.opt(0)) best = best ? std::min(*best, *t) : *t;
  }
  return best;
}

namespace {

struct Segment {
  Resolution res;
  std::int64_t since, until;
};

// auto: hour roll-ups up to where minute roll-ups begin, minute roll-ups up to
// where raw rows begin, raw rows after that (each nullopt when none is kept).
std::vector<Segment> auto_segments(const HistoryQuery& q, std::optional<std::int64_t> oldest_raw,
                                   std::optional<std::int64_t> oldest_minute) {
  std::int64_t b_raw = oldest_raw.value_or(q.until);
  std::int64_t b_min = std::min(oldest_minute.value_or(b_raw), b_raw);
  return {{Resolution::hour, q.since, std::min(q.until, b_min)},
          {Resolution::minute, std::max(q.since, b_min), std::min(q.until, b_raw)},
          {Resolution::raw, std::max(q.since, b_raw), q.until}};
}

// Visits the rows of one chunk inside the segment, by ts then bus id; returns how many.
std::int64_t visit_chunk(const std::map<std::int64_t, Frame>& frames, const Segment& seg,
                         std::span<const std::size_t> metrics, const std::map<std::int64_t, std::string>& names,
                         const std::function<void(const HistoryRow&)>& visit) {
  const std::int64_t bucket = layout(seg.res).bucket_s;
  std::vector<std::tuple<std::int64_t, const std::string*, const Frame*, std::size_t>> rows;
  for (const auto& [g, f] : frames) {
    auto name = names.find(g);
    if (name == names.end()) continue;
    for (std::size_t i = 0; i < f.ts.size(); ++i) {
      bool in =
          bucket ? f.ts[i] + bucket > seg.since && f.ts[i] < seg.until : f.ts[i] >= seg.since && f.ts[i] < seg.until;
      if (in) rows.emplace_back(f.ts[i], &name->second, &f, i);
    }
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), *std::get<1>(a)) < std::tie(std::get<0>(b), *std::get<1>(b));
  });
  HistoryRow out;
  out.resolution = seg.res;
  for (const auto& [ts, bus, f, i] : rows) {
    out.ts = ts, out.bus_id = *bus;
    out.values.assign(gpu_metrics().size(), std::nullopt);
    for (auto m : metrics) {
      if (seg.res != Resolution::raw)
        out.values[m] = stat_at(*f, i, m);
      else if (auto v = f->at(m, i))
        out.values[m] = MetricStat{*v, *v, *v, 1};
    }
    visit(out);
  }
  return static_cast<std::int64_t>(rows.size());
}

}  // namespace

Result<std::int64_t> Store::history(const HistoryQuery& q, const std::function<void(const HistoryRow&)>& visit) {
  if (auto r = load_gpu_names(); !r) return r.error();
  std::vector<std::size_t> metrics = q.metrics.empty() ? all_metrics() : q.metrics;
  for (auto m : metrics)
    if (m >= gpu_metrics().size()) return make_error("history: no such metric");
  std::vector<Segment> segments = {{q.resolution.value_or(Resolution::raw), q.since, q.until}};
  if (!q.resolution) {
    auto raw = oldest(Resolution::raw);
    if (!raw) return raw.error();
    auto minute = oldest(Resolution::minute);
    if (!minute) return minute.error();
    segments = auto_segments(q, *raw, *minute);
  }
  std::int64_t visited = 0;
  for (const auto& seg : segments) {
    if (seg.since >= seg.until) continue;
    HistoryQuery sq = q;
    sq.since = seg.since, sq.until = seg.until;
    auto emit = [&](const Chunk& c) { visited += visit_chunk(c.frames, seg, metrics, m_gpu_names, visit); };
    auto r = seg.res == Resolution::raw ? raw_chunks(sq, metrics, emit) : rollup_chunks(seg.res, sq, metrics, emit);
    if (!r) return r.error();
  }
  return visited;
}

Result<std::map<std::pair<std::string, std::size_t>, MetricStat>> Store::summarize(const HistoryQuery& q) {
  std::map<std::pair<std::string, std::size_t>, MetricStat> acc;
  auto add = [&](const HistoryRow& r) {
    for (std::size_t m = 0; m < r.values.size(); ++m)
      if (const auto& v = r.values[m]) {
        auto [it, fresh] = acc.try_emplace({r.bus_id, m}, *v);
        if (!fresh) it->second = combine_stats(it->second, *v);
      }
  };
  std::int64_t h0 = q.since > INT64_MAX - k_hour ? q.since : bucket_start(q.since + k_hour - 1, k_hour);
  std::int64_t h1 = std::max(h0, bucket_start(q.until, k_hour));
  std::vector<HistoryQuery> parts = {q};
  if (h1 > h0) {
    parts.assign(3, q);
    parts[0].until = h0;
    parts[1].since = h0, parts[1].until = h1, parts[1].resolution = Resolution::hour;
    parts[2].since = h1;
  }
  for (const auto& p : parts) {
    if (p.since >= p.until) continue;
    if (auto n = history(p, add); !n) return n.error();
  }
  return acc;
}

Result<std::vector<SampleRow>> Store::samples(const SampleQuery& q) {
  std::vector<SampleRow> out;
  auto n = history({q.gpu, q.since, q.until, Resolution::raw, {}}, [&](const HistoryRow& r) {
    SampleRow s{r.ts, r.bus_id, {}};
    for (const auto& v : r.values) s.values.push_back(v ? std::optional(v->min) : std::nullopt);
    out.push_back(std::move(s));
  });
  if (!n) return n.error();
  return out;
}

Result<std::vector<std::pair<std::string, std::int64_t>>> Store::max_per_gpu(std::size_t metric, std::int64_t since,
                                                                             std::int64_t until) {
  if (metric >= gpu_metrics().size()) return make_error("no such metric");
  std::map<std::string, std::int64_t> best;
  auto n = history({std::nullopt, since, until, Resolution::raw, {metric}}, [&](const HistoryRow& r) {
    if (!r.values[metric]) return;
    auto [it, fresh] = best.try_emplace(r.bus_id, r.values[metric]->max);
    if (!fresh) it->second = std::max(it->second, r.values[metric]->max);
  });
  if (!n) return n.error();
  return std::vector<std::pair<std::string, std::int64_t>>(best.begin(), best.end());
}

}  // namespace gd::store
