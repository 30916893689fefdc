#include "gd/host/library_finder.hpp"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "gd/host/ld_cache.hpp"

namespace gd::host {
namespace {

namespace fs = std::filesystem;

// A throw-away directory standing in for a node's root.
class TempRoot {
 public:
  TempRoot() {
    std::string tmpl = (fs::temp_directory_path() / "gd_library_finder_test_XXXXXX").string();
    m_dir = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempRoot() {
    std::error_code ec;
    if (!m_dir.empty()) fs::remove_all(m_dir, ec);
  }
  void write(const std::string& host_path, std::string_view content =
                                               "\x7f"
                                               "ELF") const {
    fs::path p = m_dir / host_path.substr(1);
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  void link(const std::string& target, const std::string& host_path) const {
    fs::path p = m_dir / host_path.substr(1);
    fs::create_directories(p.parent_path());
    fs::create_symlink(target, p);
  }
  void cache(const std::vector<LdCacheEntry>& entries) const { write("/etc/ld.so.cache", encode_ld_cache(entries)); }
  HostRoot host() const { return HostRoot(m_dir); }

 private:
  fs::path m_dir;
};

constexpr const char* k_ml = "libnvidia-ml.so.1";
constexpr const char* k_lib_dir = "/usr/lib/x86_64-linux-gnu";

void install_nvml(const TempRoot& root, const std::string& dir, const std::string& version) {
  root.write(dir + "/libnvidia-ml.so." + version);
  root.link("libnvidia-ml.so." + version, dir + "/libnvidia-ml.so.1");
}

TEST(FindLibrary, NothingInstalled) {
  TempRoot root;
  std::vector<std::string> problems;
  EXPECT_EQ(find_library(root.host(), k_ml, {}, &problems), std::nullopt);
  EXPECT_TRUE(problems.empty());
}

TEST(FindLibrary, LdLibraryPathComesFirst) {
  TempRoot root;
  install_nvml(root, "/opt/nvidia/lib", "465.19.01");
  install_nvml(root, k_lib_dir, "460.32.03");
  root.cache({{k_ml, std::string(k_lib_dir) + "/libnvidia-ml.so.1", k_ld_flags_x86_64_libc6}});
  auto found = find_library(root.host(), k_ml, {"", "/nonexistent", "/opt/nvidia/lib"}, nullptr);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->path, "/opt/nvidia/lib/libnvidia-ml.so.1");
  EXPECT_EQ(found->found_via, "LD_LIBRARY_PATH");
}

TEST(FindLibrary, CacheBeforeDefaultDirs) {
  TempRoot root;
  install_nvml(root, "/usr/local/nvidia/lib64", "465.19.01");
  install_nvml(root, k_lib_dir, "460.32.03");
  root.cache({{k_ml, "/usr/local/nvidia/lib64/libnvidia-ml.so.1", 0x0003},  // 32-bit: not for this loader
              {k_ml, "/usr/local/nvidia/lib64/libnvidia-ml.so.1", k_ld_flags_x86_64_libc6}});
  std::vector<std::string> problems;
  auto found = find_library(root.host(), k_ml, {}, &problems);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->path, "/usr/local/nvidia/lib64/libnvidia-ml.so.1");
  EXPECT_EQ(found->found_via, "ld.so.cache");
  EXPECT_TRUE(problems.empty());
}

TEST(FindLibrary, StaleCacheEntryIsReportedThenDefaultDirsSearched) {
  TempRoot root;
  root.link("libnvidia-ml.so.465.19.01", std::string(k_lib_dir) + "/libnvidia-ml.so.1");  // dangling
  install_nvml(root, "/usr/lib64", "460.32.03");
  root.cache({{k_ml, std::string(k_lib_dir) + "/libnvidia-ml.so.1", k_ld_flags_x86_64_libc6}});
  std::vector<std::string> problems;
  auto found = find_library(root.host(), k_ml, {}, &problems);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->path, "/usr/lib64/libnvidia-ml.so.1");
  EXPECT_EQ(found->found_via, "/usr/lib64");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0],
            "/etc/ld.so.cache: entry libnvidia-ml.so.1 points to /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1, "
            "which no longer exists");
}

TEST(FindLibrary, CorruptCacheIsAProblemAndSearchGoesOn) {
  TempRoot root;
  install_nvml(root, k_lib_dir, "460.32.03");
  root.write("/etc/ld.so.cache", "glibc-ld.so.cache1.1\xff\xff\xff\xff");
  std::vector<std::string> problems;
  auto found = find_library(root.host(), k_ml, {}, &problems);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->found_via, "/usr/lib/x86_64-linux-gnu");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "/etc/ld.so.cache: truncated header: 24 bytes, need 48");
  EXPECT_TRUE(find_library(root.host(), k_ml, {}, nullptr));  // null problems is fine
}

TEST(FindLibrary, DefaultDirOrderAndOddNames) {
  TempRoot root;
  install_nvml(root, "/usr/lib", "1.0");
  install_nvml(root, "/lib64", "2.0");
  auto found = find_library(root.host(), k_ml, {}, nullptr);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->found_via, "/lib64");
  root.write("/usr/lib/x86_64-linux-gnu/libdir.so.1/placeholder");  // a directory is not a library
  EXPECT_EQ(find_library(root.host(), "libdir.so.1", {}, nullptr), std::nullopt);
  EXPECT_EQ(find_library(root.host(), "", {}, nullptr), std::nullopt);
  EXPECT_EQ(find_library(root.host(), "../lib/libnvidia-ml.so.1", {}, nullptr), std::nullopt);
}

TEST(FindLibrary, AbsoluteLinksStayInsideTheRoot) {
  TempRoot root;
  root.write("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.460.32.03");
  root.link("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.460.32.03", "/lib64/libnvidia-ml.so.1");
  auto found = find_library(root.host(), k_ml, {}, nullptr);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->path, "/lib64/libnvidia-ml.so.1");
}

TEST(LibraryFileVersion, Suffixes) {
  EXPECT_EQ(library_file_version("libnvidia-ml.so.465.19.01"), "465.19.01");
  EXPECT_EQ(library_file_version("/usr/lib/x86_64-linux-gnu/libcuda.so.460.32.03"), "460.32.03");
  EXPECT_EQ(library_file_version("libnvidia-ml.so.418.67"), "418.67");
  for (const char* no : {"libnvidia-ml.so.1", "libnvidia-ml.so", "libnvidia-ml.so.", "libfoo.so.1..2",
                         "libfoo.so.465.19.01a", "libfoo.so.465.19.", "", "465.19.01", "/a.so.1/libx.so"})
    EXPECT_EQ(library_file_version(no), std::nullopt) << no;
}

}  // namespace
}  // namespace gd::host
