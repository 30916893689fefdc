#include "gd/store/store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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
  EXPECT_EQ((*s)->schema_version(), 1);
  std::vector<EventRow> ev = {{0, 1000, "daemon_start", "", "{}"}, {0, 5000, "gpu_lost", "0000:3b:00.0", "{}"}};
  auto err = (*s)->write({row(1, "0000:3b:00.0", 40), row(1, "0000:5e:00.0", 50), row(2, "0000:3b:00.0", 70)},
                         {{"0000:3b:00.0", "GPU-a", "123", "V100"}}, ev);
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
  EXPECT_EQ(*(*s)->prune_samples(2), 2);
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
  EXPECT_EQ((*s)->schema_version(), 1);
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

TEST(DefaultDbPath, FollowsXdgWhenNotRoot) {
  if (::geteuid() == 0) {
    EXPECT_EQ(default_db_path(), "/var/lib/gpudoctor/history.db");
    return;
  }
  ::setenv("XDG_STATE_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(default_db_path(), "/tmp/xdg/gpudoctor/history.db");
}

}  // namespace
}  // namespace gd::store
