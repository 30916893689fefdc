#include "gd/host/ld_conf.hpp"

#include <filesystem>
#include <fstream>

#include <chrono>
#include <fmt/format.h>
#include <gtest/gtest.h>

namespace gd::host {
namespace {

namespace fs = std::filesystem;

using Kind = LdConfLine::Kind;

class LdConfTree : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = fs::temp_directory_path() / ("gd_ld_conf_" + std::to_string(::getpid()));
    fs::remove_all(m_dir);
    fs::create_directories(m_dir);
  }
  void TearDown() override { fs::remove_all(m_dir); }
  void write(const std::string& host_path, const std::string& text) {
    fs::path p = m_dir / host_path.substr(1);
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  void link(const std::string& host_path, const std::string& target) {
    fs::path p = m_dir / host_path.substr(1);
    fs::create_directories(p.parent_path());
    fs::create_symlink(target, p);
  }
  fs::path m_dir;
};

TEST(LdConfParse, DirectoriesIncludesCommentsAndHwcap) {
  auto lines = parse_ld_so_conf(
      "# comment\n"
      "include /etc/ld.so.conf.d/*.conf\n"
      "\n"
      "/usr/local/lib/   # trailing comment\n"
      "hwcap 0 nosegneg\n"
      "HWCAP 1 tls\n"
      "include a.conf  b/*.conf\r\n"
      "\t/opt/nvidia/lib64\n"
      "included-dir-not-a-keyword\n");
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].kind, Kind::include);
  EXPECT_EQ(lines[0].value, "/etc/ld.so.conf.d/*.conf");
  EXPECT_EQ(lines[0].line, 2);
  EXPECT_EQ(lines[1].kind, Kind::directory);
  EXPECT_EQ(lines[1].value, "/usr/local/lib");
  EXPECT_EQ(lines[2].value, "a.conf");
  EXPECT_EQ(lines[3].value, "b/*.conf");
  EXPECT_EQ(lines[3].line, 7);
  EXPECT_EQ(lines[4].value, "/opt/nvidia/lib64");
  EXPECT_EQ(lines[5].kind, Kind::directory);
  EXPECT_EQ(lines[5].value, "included-dir-not-a-keyword");
}

TEST(LdConfParse, HostileInputNeverFails) {
  EXPECT_TRUE(parse_ld_so_conf("").empty());
  EXPECT_TRUE(parse_ld_so_conf("include\n#\n  \n").size() == 1);  // bare "include" is a (relative) directory
  std::string junk(100000, '\0');
  junk += "\xff\xfe/lib\n";
  EXPECT_EQ(parse_ld_so_conf(junk).size(), 1u);
}

TEST_F(LdConfTree, FollowsIncludesInGlobOrder) {
  write("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n/usr/local/lib\n");
  write("/etc/ld.so.conf.d/x86_64-linux-gnu.conf", "/usr/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n");
  write("/etc/ld.so.conf.d/000-cuda.conf", "/usr/local/cuda/lib64/stubs/\n");
  write("/etc/ld.so.conf.d/.hidden.conf", "/hidden\n");
  write("/etc/ld.so.conf.d/README", "/not-a-conf\n");
  HostRoot host(m_dir);
  auto conf = read_ld_so_conf(host);
  EXPECT_EQ(conf.dirs, (std::vector<std::string>{"/usr/local/cuda/lib64/stubs", "/usr/lib/x86_64-linux-gnu",
                                                 "/lib/x86_64-linux-gnu", "/usr/local/lib"}));
  EXPECT_TRUE(conf.problems.empty());
}

TEST_F(LdConfTree, RelativeIncludeIsRelativeToTheIncludingFile) {
  write("/etc/ld.so.conf", "include ld.so.conf.d/*.conf\n");
  write("/etc/ld.so.conf.d/a.conf", "/a\ninclude more/*.conf\n");
  write("/etc/ld.so.conf.d/more/b.conf", "/b\n");
  HostRoot host(m_dir);
  EXPECT_EQ(read_ld_so_conf(host).dirs, (std::vector<std::string>{"/a", "/b"}));
}

TEST_F(LdConfTree, IncludeLoopIsBoundedAndReported) {
  write("/etc/ld.so.conf", "include /etc/ld.so.conf\n/lib/x\ninclude /etc/loop/*.conf\n");
  write("/etc/loop/a.conf", "/a\ninclude /etc/loop/b.conf\n");
  write("/etc/loop/b.conf", "/b\ninclude /etc/loop/a.conf\n");
  HostRoot host(m_dir);
  auto conf = read_ld_so_conf(host);
  EXPECT_EQ(conf.dirs, (std::vector<std::string>{"/lib/x", "/a", "/b"}));
  ASSERT_EQ(conf.problems.size(), 2u);  // (b.conf, read inside a.conf, is not read again from the glob)
  EXPECT_EQ(conf.problems[0], "/etc/ld.so.conf:1: include loop: /etc/ld.so.conf is already being read");
  EXPECT_EQ(conf.problems[1], "/etc/loop/b.conf:2: include loop: /etc/loop/a.conf is already being read");
}

// Files that each include the whole directory's glob: every file is read once
// (it was n! reads: 9 files took 65 s and 5.1 GB), the directories in the
// order of their first place.
TEST_F(LdConfTree, FilesIncludingEachOthersGlobAreReadOnce) {
  write("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
  for (int i = 1; i <= 12; ++i)
    write(fmt::format("/etc/ld.so.conf.d/{:02}.conf", i), fmt::format("/lib/d{}\ninclude /etc/ld.so.conf.d/*.conf\n", i));
  HostRoot host(m_dir);
  auto t0 = std::chrono::steady_clock::now();
  auto conf = read_ld_so_conf(host);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  ASSERT_EQ(conf.dirs.size(), 12u);
  EXPECT_EQ(conf.dirs.front(), "/lib/d1");
  EXPECT_EQ(conf.dirs.back(), "/lib/d12");
  EXPECT_LE(conf.problems.size(), 12u * 12u);  // loops reported, each at most once per reading
}

TEST_F(LdConfTree, RelativeDirectoriesAndUnreadableIncludesAreReported) {
  write("/etc/ld.so.conf", "lib/relative\ninclude /etc/ld.so.conf.d/*\n");
  link("/etc/ld.so.conf.d/dangling", "/nowhere.conf");
  link("/etc/ld.so.conf.d/self", "self");
  HostRoot host(m_dir);
  auto conf = read_ld_so_conf(host);
  EXPECT_TRUE(conf.dirs.empty());
  ASSERT_EQ(conf.problems.size(), 3u);
  EXPECT_EQ(conf.problems[0], "/etc/ld.so.conf:1: relative directory \"lib/relative\" ignored");
  EXPECT_EQ(conf.problems[1], "/etc/ld.so.conf.d/dangling: /nowhere.conf does not exist");
  EXPECT_NE(conf.problems[2].find("/etc/ld.so.conf.d/self: too many levels of symbolic links"), std::string::npos);
}

TEST_F(LdConfTree, AbsoluteLinksStayInsideTheRoot) {
  write("/etc/real.conf", "/inside\n");
  link("/etc/ld.so.conf", "/etc/real.conf");
  HostRoot host(m_dir);
  EXPECT_EQ(read_ld_so_conf(host).dirs, std::vector<std::string>{"/inside"});
}

TEST_F(LdConfTree, MissingConfIsEmpty) {
  HostRoot host(m_dir);
  auto conf = read_ld_so_conf(host);
  EXPECT_TRUE(conf.dirs.empty());
  EXPECT_TRUE(conf.problems.empty());
}

TEST_F(LdConfTree, GlobMatchesEveryComponent) {
  write("/usr/local/cuda-11.2/lib64/stubs/libcuda.so", "");
  write("/usr/local/cuda-12.1/lib64/stubs/libcuda.so", "");
  write("/usr/local/cuda-12.1/lib64/libcudart.so", "");
  HostRoot host(m_dir);
  EXPECT_EQ(glob_in_root(host, "/usr/local/cuda*/lib64/stubs/libcuda.so"),
            (std::vector<std::string>{"/usr/local/cuda-11.2/lib64/stubs/libcuda.so",
                                      "/usr/local/cuda-12.1/lib64/stubs/libcuda.so"}));
  EXPECT_TRUE(glob_in_root(host, "/nope/*").empty());
  EXPECT_TRUE(glob_in_root(host, "relative/*").empty());
}

}  // namespace
}  // namespace gd::host
