// The files watch creates: never through a planted link, never with the
// umask's modes (docs/reliability.md).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "gd/sampler/daemon.hpp"
#include "gd/store/store.hpp"

namespace gd::sampler {
namespace {

namespace fs = std::filesystem;

struct Umask {
  mode_t old;
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_mode & 07777;
}

TEST(WatchFiles, TextfileNeverFollowsAPlantedLinkAndIs0644) {
  fs::path dir = fs::temp_directory_path() / ("gd-textfile-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "victim") << "precious\n";
  fs::path out = dir / "gpudoctor.prom";
  // The temp name is predictable (PATH.PID.tmp): an attacker with write access to the directory plants a link there.
  fs::create_symlink(dir / "victim", fs::path(out.string() + "." + std::to_string(::getpid()) + ".tmp"));
  Umask u(0);
  std::string err;
  ASSERT_TRUE(write_atomic(out.string(), "gpudoctor_up 1\n", err)) << err;
  EXPECT_EQ(slurp(dir / "victim"), "precious\n");
  EXPECT_EQ(slurp(out), "gpudoctor_up 1\n");
  EXPECT_EQ(mode_of(out), 0644u);
  EXPECT_FALSE(fs::exists(fs::path(out.string() + "." + std::to_string(::getpid()) + ".tmp")));
  fs::remove_all(dir);
}

TEST(WatchFiles, HistoryDirectoriesAre0750AndTheDatabase0640UnderAnyUmask) {
  fs::path dir = fs::temp_directory_path() / ("gd-dbmode-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  Umask u(0);
  auto s = store::Store::open((dir / "a" / "b" / "history.db").string());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(mode_of(dir / "a"), 0750u);
  EXPECT_EQ(mode_of(dir / "a" / "b"), 0750u);
  EXPECT_EQ(mode_of(dir / "a" / "b" / "history.db"), 0640u);
  s->reset();
  fs::remove_all(dir);
}


TEST(WatchFiles, OneWriterPerDatabase) {
  fs::path dir = fs::temp_directory_path() / ("gd-dblock-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  std::string db = (dir / "history.db").string();
  auto first = store::Store::lock_writer(db);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(static_cast<bool>(*first));
  // flock locks belong to the open file description: a second open in this process contends like another daemon.
  auto second = store::Store::lock_writer(db);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("another gpudoctor watch (pid " + std::to_string(::getpid()) + ")"),
            std::string::npos)
      << second.error().message;
  first->reset();
  auto again = store::Store::lock_writer(db);
  EXPECT_TRUE(again) << "released when the first daemon stops";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gd::sampler
