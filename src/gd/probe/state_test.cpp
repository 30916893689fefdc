#include "gd/probe/state.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gd/store/store.hpp"
#include "gd/testing/temp_root.hpp"

namespace gd::probe {
namespace {

// watch's history inside the root: check reads this boot's losses with the
// persistence mode at the moment, and leaves the file as it was.
TEST(StateProbe, ReadsThisBootsLossesFromWatchHistory) {
  testing::TempRoot t;
  t.write("/proc/stat", "cpu 1 2 3\nbtime 1764300000\n");
  auto db_path = t.at("/var/lib/gpudoctor/history.db");
  std::filesystem::create_directories(db_path.parent_path());
  {
    auto db = store::Store::open(db_path.string());
    ASSERT_TRUE(db) << db.error().message;
    std::vector<store::EventRow> ev{
        {0, 1764200000000, "gpu_lost", "0000:3b:00.0", R"({"persistence_mode":"on"})"},   // an earlier boot
        {0, 1764303600000, "gpu_lost", "0000:3b:00.0", R"({"persistence_mode":"off"})"},
        {0, 1764303700000, "persistence_changed", "0000:86:00.0", R"({"from":"off","to":"on"})"},
        {0, 1764303800000, "finding_raised", "", R"({"id":"x"})"},
    };
    ASSERT_FALSE((*db)->write({}, {}, ev));
  }
  auto before = std::filesystem::last_write_time(db_path);
  auto size = std::filesystem::file_size(db_path);
  auto s = read_state(host::HostRoot(t.dir()));
  EXPECT_TRUE(s.problems.empty()) << s.problems.front();
  ASSERT_EQ(s.history.size(), 2u);
  EXPECT_EQ(s.history[0].type, "gpu_lost");
  EXPECT_EQ(s.history[0].bus_id, "0000:3b:00.0");
  EXPECT_EQ(s.history[0].persistence_mode, "off");
  EXPECT_EQ(s.history[1].type, "persistence_changed");
  EXPECT_EQ(s.history[1].persistence_mode, "on");
  EXPECT_EQ(std::filesystem::last_write_time(db_path), before);
  EXPECT_EQ(std::filesystem::file_size(db_path), size);
}

TEST(StateProbe, AHistoryThatIsNotOursIsAProblemNotAnAnswer) {
  testing::TempRoot t;
  t.write("/var/lib/gpudoctor/history.db", "not a database at all");
  auto s = read_state(host::HostRoot(t.dir()));
  EXPECT_TRUE(s.history.empty());
  ASSERT_EQ(s.problems.size(), 1u);
  EXPECT_NE(s.problems[0].find("history.db"), std::string::npos) << s.problems[0];
  std::ifstream in(t.at("/var/lib/gpudoctor/history.db"));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "not a database at all");
}

}  // namespace
}  // namespace gd::probe
