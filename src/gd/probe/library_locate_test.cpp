#include "gd/probe/library_locate.hpp"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace gd::probe {
namespace {

namespace fs = std::filesystem;

class LocateLibrary : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "gd_library_locate_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
  }
  void TearDown() override { fs::remove_all(dir); }
  // usr/lib/x86_64-linux-gnu/libcuda.so.1 -> libcuda.so.460.32.03 in the tree.
  void add_libcuda_460() {
    fs::create_directories(dir / "usr/lib/x86_64-linux-gnu");
    std::ofstream(dir / "usr/lib/x86_64-linux-gnu/libcuda.so.460.32.03") << "\x7f"
                                                                            "ELF";
    fs::create_symlink("libcuda.so.460.32.03", dir / "usr/lib/x86_64-linux-gnu/libcuda.so.1");
  }
  fs::path dir;
};

TEST_F(LocateLibrary, FollowsTheLinkInsideTheRootAndTakesTheVersionFromTheFileName) {
  add_libcuda_460();
  host::HostRoot root(dir);
  model::NvmlLibrary lib;
  std::string load_path, error;
  ASSERT_TRUE(locate_library(root, {"libcuda.so.1", "", "--cuda", {}}, lib, load_path, error)) << error;
  EXPECT_EQ(lib.requested, "libcuda.so.1");
  EXPECT_EQ(lib.path, "/usr/lib/x86_64-linux-gnu/libcuda.so.1");
  EXPECT_EQ(lib.resolved_path, "/usr/lib/x86_64-linux-gnu/libcuda.so.460.32.03");
  EXPECT_EQ(lib.file_version, "460.32.03");
  EXPECT_EQ(load_path, (dir / "usr/lib/x86_64-linux-gnu/libcuda.so.460.32.03").string());
}

TEST_F(LocateLibrary, NoTreeLibsFindsTheTreesLibraryButRefusesToLoadIt) {
  add_libcuda_460();
  host::HostRoot root(dir);
  model::NvmlLibrary lib;
  std::string load_path, error;
  EXPECT_FALSE(locate_library(root, {"libcuda.so.1", "", "--cuda", {}, true}, lib, load_path, error));
  EXPECT_EQ(lib.resolved_path, "/usr/lib/x86_64-linux-gnu/libcuda.so.460.32.03");  // what would have loaded
  EXPECT_EQ(lib.not_loaded, error);
  EXPECT_NE(error.find("--no-tree-libs"), std::string::npos) << error;
  EXPECT_TRUE(load_path.empty());
  // A file the caller names is the caller's choice: loaded.
  std::string given = (dir / "usr/lib/x86_64-linux-gnu/libcuda.so.460.32.03").string();
  model::NvmlLibrary lib2;
  EXPECT_TRUE(locate_library(root, {"libcuda.so.1", given, "--cuda", {}, true}, lib2, load_path, error));
  EXPECT_TRUE(lib2.not_loaded.empty());
}

TEST_F(LocateLibrary, MissingLibraryIsAnErrorNamingIt) {
  host::HostRoot root(dir);
  model::NvmlLibrary lib;
  std::string load_path, error;
  EXPECT_FALSE(locate_library(root, {"libcuda.so.1", "", "--cuda", {}}, lib, load_path, error));
  EXPECT_NE(error.find("libcuda.so.1 not found"), std::string::npos) << error;
  EXPECT_FALSE(lib.path.has_value());
}

TEST_F(LocateLibrary, OverrideIsTakenAsGiven) {
  std::ofstream(dir / "libcuda.so.550.54.15") << "x";
  host::HostRoot root(dir);
  model::NvmlLibrary lib;
  std::string load_path, error;
  std::string path = (dir / "libcuda.so.550.54.15").string();
  ASSERT_TRUE(locate_library(root, {"libcuda.so.1", path, "--cuda", {}}, lib, load_path, error));
  EXPECT_EQ(lib.found_via, "--cuda");
  EXPECT_EQ(lib.file_version, "550.54.15");
  EXPECT_EQ(load_path, path);
}

}  // namespace
}  // namespace gd::probe
