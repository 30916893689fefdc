// apply_plan writes inside the root only: a drop-in or a /dev/char link whose
// directory is a link out of the root lands inside it (or is refused), never
// outside, whichever resolver HostRoot uses.
#include "gd/fix/apply.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "gd/testing/temp_root.hpp"

namespace gd::fix {
namespace {

namespace fs = std::filesystem;

using host::HostRoot;
using host::Resolver;
using testing::TempRoot;

class ApplyStaysInsideTheRoot : public ::testing::TestWithParam<Resolver> {
 protected:
  void SetUp() override { HostRoot::force_resolver_for_tests(GetParam()); }
  void TearDown() override { HostRoot::force_resolver_for_tests(std::nullopt); }
};

std::vector<std::string> tree(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

Action dropin() {
  Action a{"persistence.off", std::nullopt, "drop-in"};
  a.kind = ActionKind::write_file;
  a.path = k_dropin_path;
  a.content = "[Service]\nExecStart=\nExecStart=/usr/bin/nvidia-persistenced\n";
  return a;
}

Action dev_char() {
  Action a{"container.dev_char_links_missing", std::nullopt, "links"};
  a.kind = ActionKind::symlinks;
  a.links = {{"/dev/char/195:0", "../nvidia0"}, {"/dev/char/195:255", "../nvidiactl"}};
  return a;
}

TEST_P(ApplyStaysInsideTheRoot, LinkedDirectoriesLeadingOutAreNotWrittenThrough) {
  TempRoot outside, root;
  outside.mkdir("/system");
  outside.mkdir("/char");
  outside.write("/system/nvidia-persistenced.service.d/10-gpudoctor-persistence.conf", "BAIT");
  auto before = tree(outside.dir());
  root.link((outside.dir() / "system").string(), "/etc/systemd/system");          // absolute
  root.link("../../../../../../../../../../" + (outside.dir() / "char").relative_path().string(), "/dev/char");
  auto results = apply_plan({dropin(), dev_char()}, root.host(), ApplyOptions{});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(tree(outside.dir()), before);  // nothing added, nothing replaced outside
  std::ifstream bait(outside.at("/system/nvidia-persistenced.service.d/10-gpudoctor-persistence.conf"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(bait), {}), "BAIT");
  // Each link's target is missing inside the root: refused with the path named.
  EXPECT_FALSE(results[0].ok);
  EXPECT_NE(results[0].detail.find("/etc/systemd/system"), std::string::npos) << results[0].detail;
  EXPECT_FALSE(results[1].ok);
}

TEST_P(ApplyStaysInsideTheRoot, WritesLandInsideTheRootAndReplaceALinkAtTheName) {
  TempRoot outside, root;
  outside.write("/target", "BAIT");
  root.mkdir("/etc/systemd/system/nvidia-persistenced.service.d");
  root.link(outside.at("/target").string(), k_dropin_path);  // the drop-in's own name links out
  root.mkdir("/dev");
  auto results = apply_plan({dropin(), dev_char()}, root.host(), ApplyOptions{});
  ASSERT_TRUE(results[0].ok) << results[0].detail;
  ASSERT_TRUE(results[1].ok) << results[1].detail;
  std::ifstream bait(outside.at("/target"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(bait), {}), "BAIT");
  EXPECT_FALSE(fs::is_symlink(root.at(k_dropin_path)));
  EXPECT_EQ(fs::read_symlink(root.at("/dev/char/195:0")), "../nvidia0");
  // Again: nothing to do.
  auto again = apply_plan({dropin(), dev_char()}, root.host(), ApplyOptions{});
  EXPECT_FALSE(again[0].performed);
  EXPECT_FALSE(again[1].performed);
}

INSTANTIATE_TEST_SUITE_P(Resolvers, ApplyStaysInsideTheRoot, ::testing::Values(Resolver::openat2, Resolver::walk),
                         [](const auto& info) { return info.param == Resolver::openat2 ? "openat2" : "walk"; });

}  // namespace
}  // namespace gd::fix
