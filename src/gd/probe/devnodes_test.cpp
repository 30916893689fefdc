#include "gd/probe/devnodes.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "gd/testing/temp_root.hpp"

namespace gd::probe {
namespace {

namespace fs = std::filesystem;

using testing::TempRoot;

TEST(ReadDevnodes, EmptyRootHasNoNodes) {
  TempRoot root;
  auto nodes = read_devnodes(root.host(), {0, 1}).nodes;
  ASSERT_EQ(nodes.size(), 5u);
  const char* expected[] = {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia0",
                            "/dev/nvidia1"};
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    EXPECT_EQ(nodes[i].path, expected[i]);
    EXPECT_FALSE(nodes[i].present);
    EXPECT_FALSE(nodes[i].char_device);
  }
}

TEST(ReadDevnodes, FixtureFilesArePresentButNotCharDevices) {
  TempRoot root;
  root.write("/dev/nvidiactl");
  root.write("/dev/nvidia3");
  root.link("nvidia3", "/dev/nvidia-uvm");        // a link to an existing entry
  root.link("missing", "/dev/nvidia-uvm-tools");  // a dangling link
  auto nodes = read_devnodes(root.host(), {3, 3, 7}).nodes;
  ASSERT_EQ(nodes.size(), 5u);
  EXPECT_TRUE(nodes[0].present);
  EXPECT_FALSE(nodes[0].char_device);
  EXPECT_TRUE(nodes[1].present);
  EXPECT_FALSE(nodes[2].present);
  EXPECT_EQ(nodes[3].path, "/dev/nvidia3");
  EXPECT_TRUE(nodes[3].present);
  EXPECT_EQ(nodes[4].path, "/dev/nvidia7");
  EXPECT_FALSE(nodes[4].present);
}

TEST(ReadDevnodes, RealCharDeviceIsRecognised) {
  TempRoot root;
  root.write("/dev/placeholder");  // creates /dev
  std::string node = root.host().display_path("/dev/nvidia0").string();
  if (::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) GTEST_SKIP() << "mknod not permitted here";
  root.link("nvidia0", "/dev/nvidiactl");
  auto nodes = read_devnodes(root.host(), {0}).nodes;
  EXPECT_TRUE(nodes[0].present);
  EXPECT_TRUE(nodes[0].char_device);
  EXPECT_TRUE(nodes[3].present);
  EXPECT_TRUE(nodes[3].char_device);
}

}  // namespace
}  // namespace gd::probe
