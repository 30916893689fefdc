#include "gd/probe/libs.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "gd/host/elf.hpp"
#include "gd/host/ld_cache.hpp"

namespace gd::probe {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_lib = "/usr/lib/x86_64-linux-gnu";
constexpr const char* k_stubs = "/usr/local/cuda/lib64/stubs";

TEST(LibsNames, Families) {
  EXPECT_EQ(driver_library_family("libcuda.so"), "libcuda");
  EXPECT_EQ(driver_library_family("libcuda.so.1"), "libcuda");
  EXPECT_EQ(driver_library_family("libcuda.so.460.32.03"), "libcuda");
  EXPECT_EQ(driver_library_family("libnvidia-fatbinaryloader.so.465.19.01"), "libnvidia-fatbinaryloader");
  EXPECT_EQ(driver_library_family("libnvidia-ml.so.1"), "libnvidia-ml");
  EXPECT_FALSE(driver_library_family("libcudart.so.11.0"));
  EXPECT_FALSE(driver_library_family("libcudadebugger.so.1"));
  EXPECT_FALSE(driver_library_family("libcuda.sox"));
  EXPECT_FALSE(driver_library_family("libnvidia-ml.a"));
  EXPECT_FALSE(driver_library_family(""));
}

TEST(LibsNames, SonameLinks) {
  EXPECT_TRUE(is_soname_link_name("libcuda.so.1"));
  EXPECT_TRUE(is_soname_link_name("libnvidia-nvvm.so.4"));
  EXPECT_FALSE(is_soname_link_name("libcuda.so"));
  EXPECT_FALSE(is_soname_link_name("libcuda.so.460.32.03"));
  EXPECT_FALSE(is_soname_link_name("libcuda.so."));
}

class LibsTree : public ::testing::Test {
 protected:
  void SetUp() override {
    m_dir = fs::temp_directory_path() / ("gd_libs_" + std::to_string(::getpid()));
    fs::remove_all(m_dir);
    write("/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
    write("/etc/ld.so.conf.d/000-cuda.conf", std::string(k_stubs) + "\n");
    write("/etc/ld.so.conf.d/x86_64-linux-gnu.conf", std::string(k_lib) + "\n/lib/x86_64-linux-gnu\n");
    write(lib("libcuda.so.460.32.03"), host::encode_elf_library("libcuda.so.1"));
    write(lib("libcuda.so.465.19.01"), "");
    link(lib("libcuda.so.1"), "libcuda.so.465.19.01");
    link(lib("libcuda.so"), "libcuda.so.1");
    link(lib("libnvidia-ml.so.1"), "libnvidia-ml.so.460.32.03");
    write(lib("libnvidia-ptxjitcompiler.so.460.32.03"), "garbage, not ELF");
    link(lib("libnvidia-cfg.so.1"), "libnvidia-cfg.so.1");
    write(lib("libcudart.so.11.0"), host::encode_elf_library("libcudart.so.11.0"));
    write(std::string(k_stubs) + "/libcuda.so", host::encode_elf_library("libcuda.so.1"));
    write("/lib/x86_64-linux-gnu/libc.so.6", "");
    write("/etc/ld.so.cache",
          host::encode_ld_cache({
              {"libcuda.so.1", std::string(k_stubs) + "/libcuda.so.1", host::k_ld_flags_x86_64_libc6},
              {"libcuda.so.1", lib("libcuda.so.1"), host::k_ld_flags_x86_64_libc6},
              {"libnvidia-fatbinaryloader.so.465.19.01", lib("libnvidia-fatbinaryloader.so.465.19.01"),
               host::k_ld_flags_x86_64_libc6},
              {"libcuda.so.1", "/usr/lib/i386-linux-gnu/libcuda.so.1", 0x0003},
              {"libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6", host::k_ld_flags_x86_64_libc6},
          }));
  }
  void TearDown() override { fs::remove_all(m_dir); }
  static std::string lib(const std::string& name) { return std::string(k_lib) + "/" + name; }
  void write(const std::string& host_path, const std::string& bytes) {
    fs::path p = m_dir / host_path.substr(1);
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
  }
  void link(const std::string& host_path, const std::string& target) {
    fs::path p = m_dir / host_path.substr(1);
    fs::create_directories(p.parent_path());
    fs::create_symlink(target, p);
  }
  static const model::LibEntry& entry(const model::LibsInfo& info, const std::string& path) {
    for (const auto& e : info.entries)
      if (e.path == path) return e;
    static model::LibEntry none;
    ADD_FAILURE() << "no entry " << path;
    return none;
  }
  static const model::LoaderPick& pick(const model::LibsInfo& info, const std::string& name) {
    for (const auto& p : info.picks)
      if (p.name == name) return p;
    static model::LoaderPick none;
    ADD_FAILURE() << "no pick " << name;
    return none;
  }
  fs::path m_dir;
};

TEST_F(LibsTree, DirsInLoaderOrderWithCacheScope) {
  host::HostRoot host(m_dir);
  auto info = read_libs(host, {});
  ASSERT_EQ(info.dirs.size(), 5u);
  EXPECT_EQ(info.dirs[0].path, k_stubs);
  EXPECT_EQ(info.dirs[0].origin, "ld.so.conf");
  EXPECT_TRUE(info.dirs[0].in_ld_cache_scope);
  EXPECT_EQ(info.dirs[1].path, k_lib);
  EXPECT_EQ(info.dirs[2].path, "/lib/x86_64-linux-gnu");
  EXPECT_EQ(info.dirs[3].path, "/lib");  // default dirs; /usr/lib/x86_64-linux-gnu came from ld.so.conf already
  EXPECT_EQ(info.dirs[3].origin, "default");
  EXPECT_FALSE(info.dirs[3].in_ld_cache_scope);  // not in ld.so.conf, no cached file in it
  EXPECT_EQ(info.dirs[4].path, "/usr/lib");
  EXPECT_TRUE(info.problems.empty());
}

TEST_F(LibsTree, AWorldWritableDirOrAnUnstickyWritableParentIsNamed) {
  host::HostRoot host(m_dir);
  EXPECT_TRUE(read_libs(host, {}).dirs[0].world_writable.empty());
  fs::permissions(m_dir / std::string(k_stubs).substr(1), fs::perms::all);  // 0777: anyone plants a libcuda.so.1
  auto info = read_libs(host, {});
  EXPECT_EQ(info.dirs[0].world_writable, k_stubs);
  // A sticky world-writable parent (like /tmp) does not let others swap the dir; an unsticky one does.
  fs::permissions(m_dir / std::string(k_stubs).substr(1), fs::perms::owner_all | fs::perms::group_read |
                                                               fs::perms::group_exec | fs::perms::others_read |
                                                               fs::perms::others_exec);
  fs::path parent = (m_dir / std::string(k_stubs).substr(1)).parent_path();
  fs::permissions(parent, fs::perms::all | fs::perms::sticky_bit);
  EXPECT_TRUE(read_libs(host, {}).dirs[0].world_writable.empty());
  fs::permissions(parent, fs::perms::all);
  std::string host_parent = "/" + fs::relative(parent, m_dir).string();
  EXPECT_EQ(read_libs(host, {}).dirs[0].world_writable, host_parent);
  fs::permissions(parent, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
}

TEST_F(LibsTree, ChainsSizesVersionsAndSonames) {
  host::HostRoot host(m_dir);
  auto info = read_libs(host, {});
  const auto& so1 = entry(info, lib("libcuda.so.1"));
  EXPECT_EQ(so1.family, "libcuda");
  EXPECT_EQ(so1.hops, std::vector<std::string>{"libcuda.so.465.19.01"});
  EXPECT_EQ(so1.resolved, lib("libcuda.so.465.19.01"));
  EXPECT_EQ(so1.size_bytes, 0u);
  EXPECT_EQ(so1.version, "465.19.01");
  EXPECT_FALSE(so1.soname);
  EXPECT_EQ(entry(info, lib("libcuda.so")).hops, (std::vector<std::string>{"libcuda.so.1", "libcuda.so.465.19.01"}));
  const auto& real = entry(info, lib("libcuda.so.460.32.03"));
  EXPECT_TRUE(real.hops.empty());
  EXPECT_EQ(real.soname, "libcuda.so.1");
  EXPECT_EQ(real.elf_error, "");
  EXPECT_GT(*real.size_bytes, 0u);
  EXPECT_EQ(entry(info, std::string(k_stubs) + "/libcuda.so").soname, "libcuda.so.1");
}

TEST_F(LibsTree, BrokenFilesAreFactsNotFailures) {
  host::HostRoot host(m_dir);
  auto info = read_libs(host, {});
  const auto& dangling = entry(info, lib("libnvidia-ml.so.1"));
  EXPECT_FALSE(dangling.resolved);
  EXPECT_NE(dangling.link_error.find("libnvidia-ml.so.460.32.03 does not exist"), std::string::npos);
  const auto& loop = entry(info, lib("libnvidia-cfg.so.1"));
  EXPECT_FALSE(loop.resolved);
  EXPECT_NE(loop.link_error.find("too many levels of symbolic links"), std::string::npos);
  EXPECT_EQ(loop.hops.size(), 1u);
  const auto& junk = entry(info, lib("libnvidia-ptxjitcompiler.so.460.32.03"));
  EXPECT_EQ(junk.elf_error, "not an ELF file (starts with \"garb\")");
  for (const auto& e : info.entries) EXPECT_NE(e.family, "libcudart");
}

TEST_F(LibsTree, CacheEntriesOfThisArchitecture) {
  host::HostRoot host(m_dir);
  auto info = read_libs(host, {});
  EXPECT_TRUE(info.ld_cache_present);
  EXPECT_EQ(info.ld_cache_error, "");
  ASSERT_EQ(info.ld_cache.size(), 3u);
  EXPECT_EQ(info.ld_cache[0].in_dir, k_stubs);
  EXPECT_FALSE(info.ld_cache[0].present);
  EXPECT_TRUE(info.ld_cache[1].present);
  EXPECT_EQ(info.ld_cache[2].name, "libnvidia-fatbinaryloader.so.465.19.01");
  EXPECT_FALSE(info.ld_cache[2].present);
}

TEST_F(LibsTree, PicksFollowTheLoader) {
  host::HostRoot host(m_dir);
  auto info = read_libs(host, {});
  EXPECT_EQ(pick(info, "libcuda.so.1").path, lib("libcuda.so.1"));
  EXPECT_EQ(pick(info, "libcuda.so.1").found_via, "ld.so.cache");
  EXPECT_EQ(pick(info, "libcuda.so.1").resolved, lib("libcuda.so.465.19.01"));
  EXPECT_FALSE(pick(info, "libnvidia-ml.so.1").path);
  EXPECT_EQ(pick(info, "libcuda.so").path, lib("libcuda.so"));
  auto with_llp = read_libs(host, {k_stubs});
  EXPECT_EQ(pick(with_llp, "libcuda.so").path, std::string(k_stubs) + "/libcuda.so");
  EXPECT_EQ(pick(with_llp, "libcuda.so").found_via, "LD_LIBRARY_PATH");
  EXPECT_EQ(with_llp.dirs[0].origin, "LD_LIBRARY_PATH");
}

TEST_F(LibsTree, CorruptCacheIsNamed) {
  write("/etc/ld.so.cache", "glibc-ld.so.cache1.1 truncated");
  host::HostRoot host(m_dir);
  auto info = read_libs(host, {});
  EXPECT_TRUE(info.ld_cache_present);
  EXPECT_NE(info.ld_cache_error.find("/etc/ld.so.cache: truncated header"), std::string::npos);
  EXPECT_TRUE(info.ld_cache.empty());
}

TEST_F(LibsTree, MultilibCopiesForAnotherAbiAreSkipped) {
  write("/etc/ld.so.conf.d/i386-linux-gnu.conf", "/usr/lib/i386-linux-gnu\n");
  auto i386 = host::encode_elf_library("libcuda.so.1", {"libc.so.6"}, 3);
  i386[4] = 1;  // ELFCLASS32
  write("/usr/lib/i386-linux-gnu/libcuda.so.460.32.03", i386);
  link("/usr/lib/i386-linux-gnu/libcuda.so.1", "libcuda.so.460.32.03");
  write("/usr/lib/i386-linux-gnu/libnvidia-ml.so.460.32.03", "truncated\n");
  host::HostRoot host(m_dir);
  auto info = read_libs(host, {});
  std::vector<std::string> in_i386;
  for (const auto& e : info.entries)
    if (e.path.rfind("/usr/lib/i386-linux-gnu/", 0) == 0) in_i386.push_back(e.path);
  EXPECT_EQ(in_i386, std::vector<std::string>{"/usr/lib/i386-linux-gnu/libnvidia-ml.so.460.32.03"});  // broken stays
}

TEST_F(LibsTree, SymlinkLoopInTheLibraryDirItself) {
  fs::remove_all(m_dir / "usr/local/cuda");
  link("/usr/local/cuda", "/usr/local/cuda");
  host::HostRoot host(m_dir);
  auto info = read_libs(host, {});
  ASSERT_EQ(info.dirs.size(), 4u);  // the looping dir is skipped like a missing one
  EXPECT_EQ(info.dirs[0].path, k_lib);
}

}  // namespace
}  // namespace gd::probe
