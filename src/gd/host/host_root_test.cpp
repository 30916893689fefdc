#include "gd/host/host_root.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

namespace gd::host {
namespace {

namespace fs = std::filesystem;

class HostRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("gd-hostroot-" + std::to_string(::getpid()));
    fs::create_directories(dir / "usr/lib/x86_64-linux-gnu");
    fs::create_directories(dir / "proc");
    std::ofstream(dir / "usr/lib/x86_64-linux-gnu/libfoo.so.1.2") << "x";
    std::ofstream(dir / "proc/modules") << "nvidia 1 0 - Live 0x0\n";
  }
  void TearDown() override { fs::remove_all(dir); }
  fs::path dir;
};

TEST_F(HostRootTest, MapsHostPathsUnderTheRoot) {
  HostRoot r(dir);
  EXPECT_FALSE(r.is_live());
  EXPECT_EQ(r.path("/proc/modules"), dir / "proc/modules");
  EXPECT_EQ(r.path("/../../proc//modules"), dir / "proc/modules");
  EXPECT_EQ(*r.read_file("/proc/modules"), "nvidia 1 0 - Live 0x0\n");
}

TEST_F(HostRootTest, ReadErrorsNameThePath) {
  HostRoot r(dir);
  auto res = r.read_file("/proc/driver/nvidia/version");
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().message.find("/proc/driver/nvidia/version"), std::string::npos);
}

TEST_F(HostRootTest, RefusesFifosInsteadOfBlocking) {
  ASSERT_EQ(::mkfifo((dir / "proc/fifo").c_str(), 0600), 0);
  HostRoot r(dir);
  EXPECT_FALSE(r.read_file("/proc/fifo").ok());
}

TEST_F(HostRootTest, AbsoluteSymlinksAreReRooted) {
  fs::create_symlink("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2", dir / "usr/lib/x86_64-linux-gnu/libfoo.so.1");
  HostRoot r(dir);
  auto res = r.resolve("/usr/lib/x86_64-linux-gnu/libfoo.so.1");
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(*res, "/usr/lib/x86_64-linux-gnu/libfoo.so.1.2");
  EXPECT_EQ(r.file_size("/usr/lib/x86_64-linux-gnu/libfoo.so.1"), 1);
}

TEST_F(HostRootTest, DotDotCannotEscapeTheRoot) {
  fs::create_symlink("../../../../../../etc/passwd", dir / "proc/escape");
  HostRoot r(dir);
  auto res = r.resolve("/proc/escape");
  EXPECT_FALSE(res.ok());  // /etc/passwd does not exist inside the root
}

TEST_F(HostRootTest, SymlinkLoopIsAnError) {
  fs::create_symlink("b", dir / "proc/a");
  fs::create_symlink("a", dir / "proc/b");
  HostRoot r(dir);
  auto res = r.resolve("/proc/a");
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.error().message.find("loop"), std::string::npos);
}

TEST_F(HostRootTest, ListDirIsSorted) {
  HostRoot r(dir);
  auto names = r.list_dir("/");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"proc", "usr"}));
  EXPECT_FALSE(r.list_dir("/nonexistent").ok());
}

}  // namespace
}  // namespace gd::host
