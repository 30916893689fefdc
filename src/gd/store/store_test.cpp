#include "gd/store/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <iterator>

#include "gd/store/gpu_metrics.hpp"

namespace gd::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = fs::temp_directory_path() / fmt_name();
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
  }
  void TearDown() override { fs::remove_all(m_dir); }
  static std::string fmt_name() {
    return "gd-store-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  std::string db() const { return (m_dir / "sub" / "history.db").string(); }
  fs::path m_dir;
};

SampleRow row(std::int64_t ts, const std::string& bus, std::int64_t temp) {
  SampleRow r{ts, bus, std::vector<std::optional<std::int64_t>>(gpu_metrics().size())};
  r.values[*metric_index("temp_celsius")] = temp;
  return r;
}

TEST_F(StoreTest, CreatesMigratesAndRoundTrips) {
  auto s = Store::open(db());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), 3);
  std::vector<EventRow> ev = {{0, 1000, "daemon_start", "", "{}"}, {0, 5000, "gpu_lost", "0000:3b:00.0", "{}"}};
  auto err = (*s)->write({row(1, "0000:3b:00.0", 40), row(1, "0000:5e:00.0", 50), row(2, "0000:3b:00.0", 70)},
                         {{"0000:3b:00.0", "GPU-a", "123", "V100", 87, 90}}, ev);
  ASSERT_FALSE(err) << err->message;
  EXPECT_GT(ev[1].id, ev[0].id);
  auto rows = (*s)->samples({});
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[2].values[*metric_index("temp_celsius")], 70);
  EXPECT_FALSE((*rows)[2].values[*metric_index("power_milliwatts")]);
  auto one = (*s)->samples({std::string("0000:5e:00.0"), 0, INT64_MAX});
  ASSERT_EQ(one->size(), 1u);
  auto mx = (*s)->max_per_gpu(*metric_index("temp_celsius"), 0, 10);
  ASSERT_EQ(mx->size(), 2u);
  EXPECT_EQ((*mx)[0].second, 70);
  auto lost = (*s)->events(0, INT64_MAX, {"gpu_lost"});
  ASSERT_EQ(lost->size(), 1u);
  EXPECT_EQ((*lost)[0].gpu, "0000:3b:00.0");
  auto inv = (*s)->inventory();
  ASSERT_EQ(inv->size(), 2u);
  EXPECT_EQ((*inv)[0].uuid, "GPU-a");
  EXPECT_EQ(*(*s)->integrity_check(), "ok");
}

TEST_F(StoreTest, InventoryKeepsThresholdsAnUpdateDoesNotReport) {
  auto s = Store::open(db());
  ASSERT_TRUE(s);
  std::vector<EventRow> none;
  ASSERT_FALSE((*s)->write({}, {{"0000:3b:00.0", "GPU-a", "1", "V100", 87, 90}}, none));
  // A later identity without thresholds (a dump that does not print them) keeps the known ones.
  ASSERT_FALSE((*s)->write({}, {{"0000:3b:00.0", "GPU-b", "2", "V100", std::nullopt, std::nullopt}}, none));
  auto inv = (*s)->inventory();
  ASSERT_TRUE(inv);
  ASSERT_EQ(inv->size(), 1u);
  EXPECT_EQ((*inv)[0].uuid, "GPU-b");
  EXPECT_EQ((*inv)[0].slowdown_celsius, 87);
  EXPECT_EQ((*inv)[0].shutdown_celsius, 90);
}

// A history written before thresholds were kept (schema 2): queries refuse it by name, the next writer
// migrates it in place, every row kept.
TEST_F(StoreTest, SchemaTwoIsMigratedByTheWriterAndRefusedByQueries) {
  {
    auto s = Store::open(db());
    ASSERT_TRUE(s);
    std::vector<EventRow> ev = {{0, 1000, "gpu_lost", "0000:3b:00.0", "{}"}};
    ASSERT_FALSE((*s)->write({row(5, "0000:3b:00.0", 40)}, {{"0000:3b:00.0", "GPU-a", "1", "V100", 87, 90}}, ev));
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "ALTER TABLE gpus DROP COLUMN slowdown_celsius; ALTER TABLE gpus DROP COLUMN shutdown_celsius; "
                         "DELETE FROM schema_version WHERE version = 3;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(raw);
  sqlite3_close(raw);
  auto q = Store::open_for_query(db());
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message.find("older gpudoctor (schema 2"), std::string::npos) << q.error().message;
  auto s = Store::open(db());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ((*s)->schema_version(), 3);
  auto inv = (*s)->inventory();
  ASSERT_TRUE(inv);
  ASSERT_EQ(inv->size(), 1u);
  EXPECT_EQ((*inv)[0].uuid, "GPU-a");
  EXPECT_FALSE((*inv)[0].slowdown_celsius);  // not known then: the next tick's sample fills it in
  EXPECT_EQ((*s)->samples({})->size(), 1u);
  EXPECT_EQ((*s)->events(0, INT64_MAX, {})->size(), 1u);
}

TEST_F(StoreTest, EveryMetricHasAColumn) {
  auto s = Store::open(db());
  ASSERT_TRUE(s);
  SampleRow r{1, "0000:01:00.0", {}};
  for (size_t i = 0; i < gpu_metrics().size(); ++i) r.values.push_back(static_cast<std::int64_t>(i));
  std::vector<EventRow> none;
  ASSERT_FALSE((*s)->write({r}, {}, none));
  auto back = (*s)->samples({});
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].values, r.values);
}

TEST_F(StoreTest, ReopenKeepsDataAndVersion) {
  {
    auto s = Store::open(db());
    std::vector<EventRow> ev = {{0, 1, "daemon_start", "", "{}"}};
    ASSERT_FALSE((*s)->write({row(5, "0000:01:00.0", 33)}, {}, ev));
  }
  auto s = Store::open(db());
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)->schema_version(), 3);
  EXPECT_EQ((*s)->samples({})->size(), 1u);
  EXPECT_EQ((*s)->events(0, INT64_MAX, {})->size(), 1u);
}

TEST_F(StoreTest, CorruptFileIsMovedAsideAndANewOneStarted) {
  fs::create_directories(fs::path(db()).parent_path());
  {
    std::ofstream f(db());
    f << std::string(8192, 'x');
  }
  std::string notice;
  auto s = Store::open(db(), &notice);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_NE(notice.find("corrupt"), std::string::npos) << notice;
  EXPECT_NE(notice.find(".corrupt-"), std::string::npos);
  int aside = 0;
  for (const auto& e : fs::directory_iterator(fs::path(db()).parent_path()))
    aside += e.path().filename().string().find("history.db.corrupt-") == 0;
  EXPECT_GE(aside, 1);
  EXPECT_EQ(*(*s)->integrity_check(), "ok");
}

TEST_F(StoreTest, DamagedPagesFailQuickCheckAndAreMovedAside) {
  {
    auto s = Store::open(db());
    std::vector<EventRow> ev;
    std::vector<SampleRow> rows;
    for (int t = 0; t < 3000; ++t) rows.push_back(row(t, "0000:01:00.0", t % 90));
    ASSERT_FALSE((*s)->write(rows, {}, ev));
    (*s)->checkpoint();
  }
  {
    std::fstream f(db(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 * 2);  // pages 3 and 4, headers included
    std::string junk(8192, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  std::string notice;
  auto s = Store::open(db(), &notice);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_NE(notice.find("moved aside"), std::string::npos) << notice;
  EXPECT_TRUE((*s)->samples({})->empty());
}

TEST_F(StoreTest, FullDiskIsAWriteErrorAndWritingResumes) {
  auto s = Store::open(db());
  ASSERT_TRUE(s);
  (*s)->limit_size(64 * 1024);
  std::vector<EventRow> ev = {{0, 1, "finding_raised", "", "{}"}};
  std::vector<SampleRow> rows;
  for (int t = 0; t < 20000; ++t) rows.push_back(row(t, "0000:01:00.0", 40));
  auto err = (*s)->write(rows, {}, ev);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->kind, WriteError::Kind::full) << err->message;
  EXPECT_TRUE((*s)->events(0, INT64_MAX, {})->empty());  // all or nothing
  (*s)->limit_size(1 << 30);
  EXPECT_FALSE((*s)->write(rows, {}, ev));
  EXPECT_EQ((*s)->events(0, INT64_MAX, {})->size(), 1u);
}

// 8 GPUs... kept small: 2 GPUs, every 10 s from `from` for `secs`, temperature varying.
std::vector<SampleRow> ticks(std::int64_t from, std::int64_t secs) {
  std::vector<SampleRow> rows;
  for (std::int64_t t = from; t < from + secs; t += 10)
    for (const char* bus : {"0000:01:00.0", "0000:02:00.0"}) {
      auto r = row(t, bus, 30 + (t / 10) % 50);
      r.values[*metric_index("energy_millijoules")] = t * 1000;
      rows.push_back(std::move(r));
    }
  return rows;
}

constexpr std::int64_t k_t0 = 1'764'201'600;  // 2025-11-27T00:00:00Z, an hour boundary

TEST_F(StoreTest, MaintainPacksFinishedHoursLosslessly) {
  auto s = Store::open(db());
  ASSERT_TRUE(s);
  std::vector<EventRow> none;
  auto rows = ticks(k_t0, 3 * 3600 + 600);
  ASSERT_FALSE((*s)->write(rows, {}, none));
  auto before = (*s)->samples({});
  ASSERT_EQ(before->size(), rows.size());
  auto rep = (*s)->maintain(k_t0 + 3 * 3600 + 600, {}, 2);
  ASSERT_TRUE(rep) << rep.error().message;
  EXPECT_EQ(rep->hours_packed, 2);
  EXPECT_TRUE(rep->more);
  rep = (*s)->maintain(k_t0 + 3 * 3600 + 600, {});
  EXPECT_EQ(rep->hours_packed, 1);  // the current hour stays in `samples`
  EXPECT_FALSE(rep->more);
  EXPECT_EQ(rep->rows_packed, 2 * 360);
  auto after = (*s)->samples({});
  ASSERT_TRUE(after) << after.error().message;
  ASSERT_EQ(after->size(), before->size());
  for (std::size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ((*after)[i].ts, (*before)[i].ts);
    EXPECT_EQ((*after)[i].bus_id, (*before)[i].bus_id);
    EXPECT_EQ((*after)[i].values, (*before)[i].values) << i;
  }
  EXPECT_EQ((*s)->maintain(k_t0 + 3 * 3600 + 600, {})->hours_packed, 0);  // nothing left: a no-op
  auto one = (*s)->samples({std::string("0000:02:00.0"), k_t0 + 3590, k_t0 + 3610});
  ASSERT_EQ(one->size(), 2u);  // across a block boundary, one GPU
  EXPECT_EQ((*one)[0].ts, k_t0 + 3590);
  auto mx = (*s)->max_per_gpu(*metric_index("temp_celsius"), k_t0, k_t0 + 3600);
  ASSERT_EQ(mx->size(), 2u);
  EXPECT_EQ((*mx)[1].second, 79);
  EXPECT_EQ(*(*s)->integrity_check(), "ok");
}

TEST_F(StoreTest, RollupsPerMinuteAndHour) {
  auto s = Store::open(db());
  std::vector<EventRow> none;
  ASSERT_FALSE((*s)->write(ticks(k_t0, 2 * 3600), {}, none));
  ASSERT_TRUE((*s)->maintain(k_t0 + 7200, {}));
  std::size_t temp = *metric_index("temp_celsius");
  std::vector<HistoryRow> got;
  auto n = (*s)->history({std::string("0000:01:00.0"), k_t0, k_t0 + 120, Resolution::minute, {temp}},
                         [&](const HistoryRow& r) { got.push_back(r); });
  ASSERT_TRUE(n) << n.error().message;
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].ts, k_t0);
  EXPECT_EQ(got[0].resolution, Resolution::minute);
  // k_t0 / 10 % 50 == 10: the first minute's temperatures are 40..45.
  ASSERT_TRUE(got[0].values[temp]);
  EXPECT_EQ(got[0].values[temp]->min, 40);
  EXPECT_EQ(got[0].values[temp]->max, 45);
  EXPECT_EQ(got[0].values[temp]->count, 6);
  EXPECT_DOUBLE_EQ(got[0].values[temp]->avg(), 42.5);
  EXPECT_FALSE(got[0].values[*metric_index("power_milliwatts")]);
  got.clear();
  ASSERT_TRUE((*s)->history({std::nullopt, k_t0, k_t0 + 7200, Resolution::hour, {temp}},
                            [&](const HistoryRow& r) { got.push_back(r); }));
  ASSERT_EQ(got.size(), 4u);  // 2 hours x 2 GPUs
  EXPECT_EQ(got[0].values[temp]->count, 360);
  EXPECT_EQ(got[0].values[temp]->min, 30);
  EXPECT_EQ(got[0].values[temp]->max, 79);
}

TEST_F(StoreTest, LateRowsOfAPackedHourAreMergedAndRollupsRedone) {
  auto s = Store::open(db());
  std::vector<EventRow> none;
  auto rows = ticks(k_t0, 3600);
  std::vector<SampleRow> late(rows.begin() + 100, rows.begin() + 140);
  rows.erase(rows.begin() + 100, rows.begin() + 140);
  ASSERT_FALSE((*s)->write(rows, {}, none));
  ASSERT_TRUE((*s)->maintain(k_t0 + 3700, {}));
  ASSERT_FALSE((*s)->write(late, {}, none));  // buffered during a full disk, written later
  ASSERT_TRUE((*s)->maintain(k_t0 + 3700, {}));
  EXPECT_EQ((*s)->samples({})->size(), 720u);
  std::size_t temp = *metric_index("temp_celsius");
  std::vector<HistoryRow> got;
  ASSERT_TRUE((*s)->history({std::string("0000:01:00.0"), k_t0, k_t0 + 3600, Resolution::hour, {temp}},
                            [&](const HistoryRow& r) { got.push_back(r); }));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].values[temp]->count, 360);  // counted once each, not twice
}

TEST_F(StoreTest, RetentionDropsRawFirstAndAutoFallsBackToRollups) {
  auto s = Store::open(db());
  std::vector<EventRow> none;
  ASSERT_FALSE((*s)->write(ticks(k_t0, 3 * 86400), {}, none));
  std::int64_t now = k_t0 + 3 * 86400 + 60;
  Retention r{1, 2, 30};
  auto rep = (*s)->maintain(now, r, 1000);
  ASSERT_TRUE(rep) << rep.error().message;
  EXPECT_EQ(rep->hours_packed, 72);
  EXPECT_GT(rep->blocks_deleted, 0);
  std::size_t temp = *metric_index("temp_celsius");
  std::map<Resolution, std::int64_t> first, last;
  ASSERT_TRUE((*s)->history({std::string("0000:01:00.0"), k_t0, now, std::nullopt, {temp}}, [&](const HistoryRow& h) {
    if (!first.contains(h.resolution)) first[h.resolution] = h.ts;
    last[h.resolution] = h.ts;
  }));
  // raw: the last day only; minute: the day before; hour: the first day (minute blocks of day 1 expired).
  EXPECT_EQ(first[Resolution::raw], k_t0 + 2 * 86400);
  EXPECT_EQ(first[Resolution::minute], k_t0 + 86400);
  EXPECT_EQ(last[Resolution::minute], k_t0 + 2 * 86400 - 60);
  EXPECT_EQ(first[Resolution::hour], k_t0);
  EXPECT_EQ(last[Resolution::hour], k_t0 + 86400 - 3600);
  EXPECT_EQ((*s)->samples({std::nullopt, k_t0, k_t0 + 86400})->size(), 0u);
}

TEST_F(StoreTest, SummaryFromHourRollupsEqualsTheRawRows) {
  auto s = Store::open(db());
  std::vector<EventRow> none;
  ASSERT_FALSE((*s)->write(ticks(k_t0, 5 * 3600 + 900), {}, none));
  ASSERT_TRUE((*s)->maintain(k_t0 + 5 * 3600 + 900, {}));  // 5 hours packed, the last 15 minutes not
  std::size_t temp = *metric_index("temp_celsius"), energy = *metric_index("energy_millijoules");
  HistoryQuery q{std::nullopt, k_t0 + 1234, k_t0 + 5 * 3600 + 777, Resolution::raw, {temp, energy}};
  std::map<std::pair<std::string, std::size_t>, MetricStat> want;
  ASSERT_TRUE((*s)->history(q, [&](const HistoryRow& r) {
    for (auto m : {temp, energy}) {
      auto [it, fresh] = want.try_emplace({r.bus_id, m}, *r.values[m]);
      if (!fresh) it->second = combine_stats(it->second, *r.values[m]);
    }
  }));
  auto got = (*s)->summarize(q);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 4u);
  for (const auto& [k, w] : want) {
    const auto& g = got->at(k);
    EXPECT_EQ(std::tie(g.min, g.max, g.sum, g.count), std::tie(w.min, w.max, w.sum, w.count)) << k.first << k.second;
  }
  EXPECT_EQ(got->at({"0000:01:00.0", temp}).count, (18770 - 1240) / 10 + 1);  // ticks t0+1240 .. t0+18770
}

TEST_F(StoreTest, AFailedPackRollsBackAndIsRedoneLater) {
  auto s = Store::open(db());
  std::vector<EventRow> none;
  auto rows = ticks(k_t0, 2 * 3600);
  std::uint64_t x = 88172645463325252ull;  // xorshift: incompressible values, so the blocks need new pages
  for (auto& r : rows)
    for (std::size_t m = 1; m < 12; ++m) x ^= x << 13, x ^= x >> 7, x ^= x << 17, r.values[m] = x >> 20;
  ASSERT_FALSE((*s)->write(rows, {}, none));
  (*s)->checkpoint();
  auto before = (*s)->samples({});
  (*s)->limit_size(static_cast<std::int64_t>(fs::file_size(db())));  // no room for the blocks: SQLITE_FULL
  auto rep = (*s)->maintain(k_t0 + 2 * 3600, {});
  ASSERT_FALSE(rep);
  EXPECT_NE(rep.error().message.find("full"), std::string::npos) << rep.error().message;
  EXPECT_EQ((*s)->samples({})->size(), rows.size());  // nothing lost, nothing half-packed
  (*s)->limit_size(1 << 30);
  rep = (*s)->maintain(k_t0 + 2 * 3600, {});
  ASSERT_TRUE(rep) << rep.error().message;
  EXPECT_EQ(rep->hours_packed, 2);
  auto after = (*s)->samples({});
  ASSERT_EQ(after->size(), before->size());
  EXPECT_EQ(after->back().values, before->back().values);
  EXPECT_EQ(*(*s)->integrity_check(), "ok");
}

TEST_F(StoreTest, ADamagedBlockIsAnErrorThatNamesIt) {
  auto s = Store::open(db());
  std::vector<EventRow> none;
  ASSERT_FALSE((*s)->write(ticks(k_t0, 3600), {}, none));
  ASSERT_TRUE((*s)->maintain(k_t0 + 3600, {}));
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db().c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "UPDATE blocks SET data = x'0102' WHERE kind = 0", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  auto rows = (*s)->samples({});
  ASSERT_FALSE(rows);
  EXPECT_NE(rows.error().message.find("block kind 0"), std::string::npos) << rows.error().message;
}

// A block written before later metrics existed has fewer columns: reading it
// gives no value for those metrics, never a read past the end (it segfaulted).
TEST_F(StoreTest, BlocksWithFewerColumnsThanMetricsReadAsNoValue) {
  auto s = Store::open(db());
  std::vector<EventRow> none;
  ASSERT_FALSE((*s)->write(ticks(k_t0, 2 * 3600), {}, none));
  ASSERT_TRUE((*s)->maintain(k_t0 + 7200, {}));
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db().c_str(), &raw), SQLITE_OK);
    sqlite3_stmt* sel = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "SELECT rowid, kind, data FROM blocks", -1, &sel, nullptr), SQLITE_OK);
    std::vector<std::pair<std::int64_t, std::string>> shorter;
    while (sqlite3_step(sel) == SQLITE_ROW) {
      std::string bytes(static_cast<const char*>(sqlite3_column_blob(sel, 2)), sqlite3_column_bytes(sel, 2));
      auto f = decode_frame(bytes);
      ASSERT_TRUE(f) << f.error().message;
      f->cols.clear();  // written before any of today's metrics existed
      shorter.emplace_back(sqlite3_column_int64(sel, 0), encode_frame(*f));
    }
    sqlite3_finalize(sel);
    ASSERT_FALSE(shorter.empty());
    for (const auto& [rowid, bytes] : shorter) {
      sqlite3_stmt* up = nullptr;
      ASSERT_EQ(sqlite3_prepare_v2(raw, "UPDATE blocks SET data = ?1 WHERE rowid = ?2", -1, &up, nullptr), SQLITE_OK);
      sqlite3_bind_blob(up, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int64(up, 2, rowid);
      ASSERT_EQ(sqlite3_step(up), SQLITE_DONE);
      sqlite3_finalize(up);
    }
    sqlite3_close(raw);
  }
  std::size_t temp = *metric_index("temp_celsius"), power = *metric_index("power_milliwatts");
  for (auto res : {Resolution::raw, Resolution::minute, Resolution::hour}) {
    std::vector<HistoryRow> got;
    auto n = (*s)->history({std::nullopt, k_t0, k_t0 + 7200, res, {temp, power}},
                           [&](const HistoryRow& r) { got.push_back(r); });
    ASSERT_TRUE(n) << n.error().message;
    ASSERT_FALSE(got.empty());
    for (const auto& r : got) EXPECT_FALSE(r.values[temp]) << static_cast<int>(res);
  }
}

// Rows written into a file deleted (or replaced) under the writer are lost:
// the writer must be able to tell (the daemon checks every tick and reopens).
TEST_F(StoreTest, ADeletedOrReplacedFileIsNoticed) {
  auto s = Store::open(db());
  ASSERT_TRUE(s);
  EXPECT_FALSE((*s)->file_changed());
  fs::rename(db(), db() + ".old");
  std::ofstream(db()) << "someone else's file";
  auto replaced = (*s)->file_changed();
  ASSERT_TRUE(replaced);
  EXPECT_NE(replaced->find("replaced by another file"), std::string::npos) << *replaced;
  fs::remove(db());
  auto deleted = (*s)->file_changed();
  ASSERT_TRUE(deleted);
  EXPECT_NE(deleted->find("was deleted under the daemon"), std::string::npos) << *deleted;
  EXPECT_EQ(*(*s)->quick_check(), "ok");  // (the open file itself is still sound)
}

TEST(DefaultDbPath, FollowsXdgWhenNotRoot) {
  if (::geteuid() == 0) {
    EXPECT_EQ(default_db_path(), "/var/lib/gpudoctor/history.db");
    return;
  }
  ::setenv("XDG_STATE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(default_db_path(), "/tmp/xdg/gpudoctor/history.db");
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> dir_names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(StoreTest, QueriesRefuseWhatIsNotOurDatabaseAndLeaveItByteIdentical) {
  auto notes = m_dir / "notes.txt";
  std::ofstream(notes) << "my notes\n";
  auto r = Store::open_for_query(notes.string());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("notes.txt is not a gpudoctor history database (not an SQLite file)"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(slurp(notes), "my notes\n");
  auto empty = m_dir / "empty.db";
  std::ofstream(empty).close();
  EXPECT_FALSE(Store::open_for_query(empty.string()));
  EXPECT_EQ(fs::file_size(empty), 0u);
  // An SQLite file of someone else's.
  auto other = m_dir / "other.db";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(other.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  std::string before = slurp(other);
  auto o = Store::open_for_query(other.string());
  ASSERT_FALSE(o);
  EXPECT_NE(o.error().message.find("not gpudoctor's history"), std::string::npos) << o.error().message;
  EXPECT_EQ(slurp(other), before);
  EXPECT_FALSE(Store::open_for_query((m_dir / "absent.db").string()));
  EXPECT_FALSE(fs::exists(m_dir / "absent.db"));
  EXPECT_EQ(dir_names(m_dir), (std::vector<std::string>{"empty.db", "notes.txt", "other.db"}));
}

TEST_F(StoreTest, QueriesReadOurDatabaseWithoutWritingBesideIt) {
  {
    auto s = Store::open(db());
    ASSERT_TRUE(s) << s.error().message;
    std::vector<EventRow> ev = {{0, 1000, "daemon_start", "", "{}"}};
    ASSERT_FALSE((*s)->write({row(1, "0000:3b:00.0", 40)}, {}, ev));
  }
  auto dir = fs::path(db()).parent_path();
  auto names = dir_names(dir);
  std::string before = slurp(db());
  auto q = Store::open_for_query(db());
  ASSERT_TRUE(q) << q.error().message;
  auto rows = (*q)->samples({});
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 1u);
  q->reset();
  EXPECT_EQ(dir_names(dir), names);  // no -wal, -shm or journal left beside it
  EXPECT_EQ(slurp(db()), before);
}

TEST_F(StoreTest, QueriesNeverMoveACorruptDatabaseAside) {
  std::string junk = "SQLite format 3";
  junk.push_back('\0');
  junk += std::string(8192, 'x');
  std::ofstream(db(), std::ios::binary) << junk;
  fs::create_directories(fs::path(db()).parent_path());
  std::ofstream(db(), std::ios::binary) << junk;
  EXPECT_FALSE(Store::open_for_query(db()));
  EXPECT_EQ(slurp(db()), junk);
  EXPECT_EQ(dir_names(fs::path(db()).parent_path()), (std::vector<std::string>{"history.db"}));
}

}  // namespace
}  // namespace gd::store
