#include "gd/host/log_follower.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "gd/host/kernel_log_source.hpp"

namespace gd::host {
namespace {

namespace fs = std::filesystem;

class LogFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "gd-follow-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    m_dir = pattern;
    m_log = (m_dir / "kern.log").string();
  }
  void TearDown() override { fs::remove_all(m_dir); }

  void append(const std::string& text) { std::ofstream(m_log, std::ios::app) << text; }
  std::string poll(LogFollower& f, std::size_t max = 1 << 20) {
    std::string out;
    f.poll(out, max, m_problems);
    return out;
  }

  fs::path m_dir;
  std::string m_log;
  std::vector<std::string> m_problems;
};

TEST_F(LogFollowerTest, StartsAtTheEndAndReadsNewLines) {
  append("old line\n");
  auto f = LogFollower::file(m_log);
  EXPECT_EQ(poll(f), "");
  append("new 1\n");
  append("new 2\n");
  EXPECT_EQ(poll(f), "new 1\nnew 2\n");
  EXPECT_EQ(poll(f), "");
  EXPECT_TRUE(m_problems.empty());
  EXPECT_EQ(f.describe(), "file " + m_log);
}

TEST_F(LogFollowerTest, FollowsRotationAfterReadingTheOldFile) {
  append("before\n");
  auto f = LogFollower::file(m_log);
  append("last of old\n");
  fs::rename(m_log, m_log + ".1");
  append("first of new\n");
  EXPECT_EQ(poll(f), "last of old\nfirst of new\n");
  append("more\n");
  EXPECT_EQ(poll(f), "more\n");
}

TEST_F(LogFollowerTest, StartsOverAfterTruncation) {
  append("a fairly long line before truncation\n");
  auto f = LogFollower::file(m_log);
  std::ofstream(m_log, std::ios::trunc) << "short\n";
  EXPECT_EQ(poll(f), "short\n");
}

TEST_F(LogFollowerTest, WaitsForAMissingFileThenReadsItFromTheStart) {
  auto f = LogFollower::file(m_log);
  EXPECT_EQ(poll(f), "");
  EXPECT_TRUE(m_problems.empty());
  append("appeared\n");
  EXPECT_EQ(poll(f), "appeared\n");
}

TEST_F(LogFollowerTest, ReadsAtMostMaxBytesPerPoll) {
  auto f = LogFollower::file(m_log);
  append(std::string(1000, 'x'));
  EXPECT_EQ(poll(f, 300).size(), 300u);
  EXPECT_EQ(poll(f, 1000).size(), 700u);
}

TEST_F(LogFollowerTest, RefusesAFifoWithoutBlocking) {
  ASSERT_EQ(::mkfifo(m_log.c_str(), 0600), 0);
  auto t0 = std::chrono::steady_clock::now();
  auto f = LogFollower::file(m_log);
  EXPECT_EQ(poll(f), "");
  EXPECT_EQ(poll(f), "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  ASSERT_EQ(m_problems.size(), 1u);  // reported once
  EXPECT_NE(m_problems[0].find("not a regular file"), std::string::npos);
}

TEST(LogFollowerKmsg, OnlyOnTheLiveRoot) {
  auto k = LogFollower::kmsg(HostRoot("/tmp"));
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().message.find("live root"), std::string::npos);
}

TEST(LogFollowerKmsg, LiveRootStartsAtTheEndAndNeverBlocks) {
  auto k = LogFollower::kmsg(HostRoot("/"));
  if (!k) GTEST_SKIP() << k.error().message;  // no CAP_SYSLOG here, or no /dev/kmsg
  std::string out;
  std::vector<std::string> problems;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) k->poll(out, 1 << 20, problems);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  auto whole = read_kmsg(HostRoot("/"));  // every record since boot
  ASSERT_TRUE(whole) << whole.error().message;
  if (whole->text.size() > 1000) {
    EXPECT_LT(out.size(), whole->text.size() / 2) << "read from the first record";
  }
  EXPECT_EQ(k->describe(), "/dev/kmsg");
}

}  // namespace
}  // namespace gd::host
