#include "gd/host/host_root.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

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
  EXPECT_EQ(r.display_path("/proc/modules"), dir / "proc/modules");
  EXPECT_EQ(r.display_path("/../../proc//modules"), dir / "proc/modules");
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


// ---- sealing: nothing outside the root is read, stat'ed or written ----------

namespace sealed {

namespace fs = std::filesystem;

// A root and, beside it, an "outside" directory holding bait that a link
// inside the root points at, absolutely or with "..".
class SealedRoot : public ::testing::TestWithParam<Resolver> {
 protected:
  void SetUp() override {
    HostRoot::force_resolver_for_tests(GetParam());
    base = fs::temp_directory_path() / ("gd-sealed-" + std::to_string(::getpid()));
    fs::remove_all(base);
    root = base / "root";
    outside = base / "outside";
    fs::create_directories(root / "etc");
    fs::create_directories(root / "proc");
    fs::create_directories(outside / "dir");
    std::ofstream(outside / "secret") << "BAIT";
    std::ofstream(outside / "dir/file") << "BAIT";
  }
  void TearDown() override {
    HostRoot::force_resolver_for_tests(std::nullopt);
    fs::remove_all(base);
  }
  std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path base, root, outside;
};

TEST_P(SealedRoot, AbsoluteLinkIsReadInsideTheRootNotOnTheHost) {
  fs::create_symlink(outside / "secret", root / "etc/hostname");  // the host's absolute path
  HostRoot r(root);
  EXPECT_FALSE(r.read_file("/etc/hostname").ok());
  EXPECT_EQ(r.kind_followed("/etc/hostname"), FileKind::missing);
  EXPECT_EQ(r.file_size("/etc/hostname"), -1);
  EXPECT_EQ(r.kind("/etc/hostname"), FileKind::symlink);  // the link itself is inside
  // The same absolute path inside the root is what it names.
  fs::create_directories(root / outside.relative_path());
  std::ofstream(root / outside.relative_path() / "secret") << "inside";
  EXPECT_EQ(*r.read_file("/etc/hostname"), "inside");
  EXPECT_EQ(*r.resolve("/etc/hostname"), "/" + (outside / "secret").relative_path().string());
}

TEST_P(SealedRoot, DotDotLinksStopAtTheRoot) {
  fs::create_symlink("../../../outside/secret", root / "etc/hostname");
  fs::create_symlink("../../outside/dir", root / "proc/escape");
  HostRoot r(root);
  EXPECT_FALSE(r.read_file("/etc/hostname").ok());
  EXPECT_FALSE(r.read_file("/proc/escape/file").ok());
  EXPECT_FALSE(r.list_dir("/proc/escape").ok());
  EXPECT_EQ(r.kind_followed("/proc/escape"), FileKind::missing);
  // ".." at the root is the root: ../../outside/secret names /outside/secret inside it.
  fs::create_directories(root / "outside");
  std::ofstream(root / "outside/secret") << "inside";
  EXPECT_EQ(*r.read_file("/etc/hostname"), "inside");
  EXPECT_EQ(*r.resolve("/etc/hostname"), "/outside/secret");
}

TEST_P(SealedRoot, LinkedDirectoryInTheMiddleOfAPathIsReRooted) {
  fs::create_symlink(outside / "dir", root / "sys");
  HostRoot r(root);
  EXPECT_FALSE(r.read_file("/sys/file").ok());
  EXPECT_FALSE(r.list_dir("/sys").ok());
  EXPECT_FALSE(r.stat("/sys/file").ok());
}

TEST_P(SealedRoot, WritesNeverLeaveTheRoot) {
  fs::create_symlink(outside / "dir", root / "etc/systemd");           // absolute: parent dir
  fs::create_symlink("../../outside/secret", root / "etc/target.conf");  // "..": the name itself
  HostRoot r(root);
  // Through a linked parent whose target is missing inside the root: refused
  // (as mkdir -p would), nothing made outside.
  EXPECT_FALSE(r.make_dirs("/etc/systemd/system.d").ok());
  EXPECT_FALSE(r.write_file_atomic("/etc/systemd/x.conf", "new").ok());
  EXPECT_FALSE(fs::exists(outside / "dir/system.d"));
  EXPECT_FALSE(fs::exists(outside / "dir/x.conf"));
  // When the re-rooted target exists, that is where it goes.
  fs::create_directories(root / outside.relative_path() / "dir");
  ASSERT_TRUE(r.make_dirs("/etc/systemd/system.d").ok());
  ASSERT_TRUE(r.write_file_atomic("/etc/systemd/system.d/x.conf", "new").ok());
  EXPECT_TRUE(fs::exists(root / outside.relative_path() / "dir/system.d/x.conf"));
  EXPECT_FALSE(fs::exists(outside / "dir/system.d"));
  // A link at the name is replaced, not written through.
  ASSERT_TRUE(r.write_file_atomic("/etc/target.conf", "new").ok());
  EXPECT_EQ(slurp(outside / "secret"), "BAIT");
  EXPECT_FALSE(fs::is_symlink(root / "etc/target.conf"));
  EXPECT_EQ(slurp(root / "etc/target.conf"), "new");
  // Appending refuses a final link.
  fs::create_symlink(outside / "secret", root / "etc/log");
  EXPECT_FALSE(r.append_file("/etc/log", "x").ok());
  EXPECT_EQ(slurp(outside / "secret"), "BAIT");
  // Links are made inside too.
  fs::create_symlink("../../outside/dir", root / "proc/char");
  EXPECT_FALSE(r.symlink_atomic("/proc/char/195:0", "../nvidia0").ok());
  fs::create_directories(root / "outside/dir");
  ASSERT_TRUE(r.symlink_atomic("/proc/char/195:0", "../nvidia0").ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(outside / "dir/195:0")));
  EXPECT_TRUE(fs::is_symlink(root / "outside/dir/195:0"));
  EXPECT_EQ(slurp(outside / "dir/file"), "BAIT");
}

TEST_P(SealedRoot, CreatedFilesTakeTheirModeNotTheUmask) {
  HostRoot r(root);
  mode_t old = ::umask(0);
  auto w = r.write_file_atomic("/etc/x", "1", 0640);
  ::umask(old);
  ASSERT_TRUE(w.ok());
  struct stat st {};
  ASSERT_EQ(::stat((root / "etc/x").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST_P(SealedRoot, LoopsAndDanglingLinksAreErrorsNamingThePath) {
  fs::create_symlink("b", root / "proc/a");
  fs::create_symlink("a", root / "proc/b");
  fs::create_symlink("/nowhere", root / "proc/dangling");
  HostRoot r(root);
  EXPECT_FALSE(r.read_file("/proc/a").ok());
  EXPECT_NE(r.resolve("/proc/a").error().message.find("loop"), std::string::npos);
  EXPECT_NE(r.resolve("/proc/dangling").error().message.find("/nowhere does not exist"), std::string::npos);
  EXPECT_EQ(*r.read_link("/proc/dangling"), "/nowhere");
}

// The processes probe's reads beneath /proc: a process directory, a file or
// an fd directory that is a link is not followed at all (not even inside).
TEST_P(SealedRoot, ReadsBeneathADirectoryFollowNoLink) {
  fs::create_directories(root / "proc/12/fd");
  std::ofstream(root / "proc/12/stat") << "12 (a) S 1";
  fs::create_symlink("/dev/nvidia0", root / "proc/12/fd/3");
  fs::create_symlink(outside / "dir", root / "proc/13");           // the pid dir: outside
  fs::create_symlink("12", root / "proc/14");                      // the pid dir: inside
  fs::create_directories(root / "proc/15");
  fs::create_symlink(outside / "secret", root / "proc/15/stat");   // the file
  fs::create_symlink(outside / "dir", root / "proc/15/fd");        // the fd dir
  HostRoot r(root);
  auto proc = r.open("/proc", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(proc.ok());
  char buf[64];
  long n = HostRoot::read_beneath(proc->get(), "12/stat", buf, sizeof buf);
  ASSERT_EQ(n, 10);
  EXPECT_EQ(std::string_view(buf, 10), "12 (a) S 1");
  EXPECT_EQ(HostRoot::read_beneath(proc->get(), "12/stat", buf, 4), 4);  // at most cap
  for (const char* rel : {"13/file", "14/stat", "15/stat", "../../outside/secret", "12/../../../outside/secret"})
    EXPECT_LT(HostRoot::read_beneath(proc->get(), rel, buf, sizeof buf), 0) << rel;
  EXPECT_LT(HostRoot::read_beneath(proc->get(), "12", buf, sizeof buf), 0);  // a directory is not read
  auto links = HostRoot::read_links_beneath(proc->get(), "12/fd", "/proc/12/fd", 10);
  ASSERT_TRUE(links.ok());
  EXPECT_EQ(*links, (std::vector<std::pair<std::string, std::string>>{{"3", "/dev/nvidia0"}}));
  auto refused = HostRoot::read_links_beneath(proc->get(), "15/fd", "/proc/15/fd", 10);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("/proc/15/fd"), std::string::npos);
  EXPECT_FALSE(HostRoot::read_links_beneath(proc->get(), "14/fd", "/proc/14/fd", 10).ok());
}

INSTANTIATE_TEST_SUITE_P(Resolvers, SealedRoot, ::testing::Values(Resolver::openat2, Resolver::walk),
                         [](const auto& info) { return info.param == Resolver::openat2 ? "openat2" : "walk"; });

}  // namespace sealed

}  // namespace
}  // namespace gd::host
