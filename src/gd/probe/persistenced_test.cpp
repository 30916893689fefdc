#include "gd/probe/persistenced.hpp"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "gd/testing/temp_root.hpp"

namespace gd::probe {
namespace {

namespace fs = std::filesystem;

using testing::TempRoot;

TEST(ParsePidFile, Pids) {
  EXPECT_EQ(parse_pid_file("1234\n"), 1234);
  EXPECT_EQ(parse_pid_file(" 1 "), 1);
  EXPECT_EQ(parse_pid_file("4194304"), 4194304);
  for (const char* junk :
       {"", "\n", "0", "-5", "abc", "12 34", "4194305", "99999999999999999999999", "0x10", "\x01\xff"})
    EXPECT_EQ(parse_pid_file(junk), std::nullopt) << junk;
  EXPECT_EQ(parse_pid_file(std::string(1 << 16, '7')), std::nullopt);
}

TEST(IsPersistencedComm, FullAndKernelTruncatedNames) {
  EXPECT_TRUE(is_persistenced_comm("nvidia-persistenced\n"));
  EXPECT_TRUE(is_persistenced_comm("nvidia-persiste\n"));
  EXPECT_FALSE(is_persistenced_comm("nvidia-persist\n"));
  EXPECT_FALSE(is_persistenced_comm("bash\n"));
  EXPECT_FALSE(is_persistenced_comm(""));
}

TEST(ReadPersistenced, NoDaemonIsNotAProblem) {
  TempRoot root;
  auto p = read_persistenced(root.host());
  EXPECT_FALSE(p.pid_file);
  EXPECT_EQ(p.pid, std::nullopt);
  EXPECT_FALSE(p.process_alive);
  EXPECT_FALSE(p.socket);
  EXPECT_TRUE(p.problems.empty());
}

TEST(ReadPersistenced, RunningDaemon) {
  TempRoot root;
  root.write("/run/nvidia-persistenced/nvidia-persistenced.pid", "2147\n");
  root.write("/run/nvidia-persistenced/socket", "");
  root.write("/proc/2147/comm", "nvidia-persiste\n");
  auto p = read_persistenced(root.host());
  EXPECT_TRUE(p.pid_file);
  EXPECT_EQ(p.pid, 2147);
  EXPECT_TRUE(p.process_alive);
  EXPECT_TRUE(p.socket);
  EXPECT_TRUE(p.problems.empty());
}

TEST(ReadPersistenced, StalePidFileAndOtherProcess) {
  TempRoot root;
  root.write("/run/nvidia-persistenced/nvidia-persistenced.pid", "2147\n");
  root.write("/run/nvidia-persistenced/socket", "");
  auto dead = read_persistenced(root.host());
  EXPECT_EQ(dead.pid, 2147);
  EXPECT_FALSE(dead.process_alive);
  EXPECT_TRUE(dead.socket);
  root.write("/proc/2147/comm", "python3\n");
  EXPECT_FALSE(read_persistenced(root.host()).process_alive);
}

TEST(ReadPersistenced, VarRunFallback) {
  TempRoot root;
  root.write("/var/run/nvidia-persistenced/nvidia-persistenced.pid", "77");
  root.write("/proc/77/comm", "nvidia-persistenced");
  auto p = read_persistenced(root.host());
  EXPECT_TRUE(p.pid_file);
  EXPECT_TRUE(p.process_alive);
  EXPECT_FALSE(p.socket);
}

TEST(ReadPersistenced, VarRunLinkStaysInsideTheRoot) {
  TempRoot outside;  // a daemon dir on the machine running the test, not in the root
  outside.write("/nvidia-persistenced/socket", "");
  outside.write("/nvidia-persistenced/nvidia-persistenced.pid", "1\n");
  TempRoot root;
  root.link(outside.host().root().string(), "/var/run");
  auto p = read_persistenced(root.host());
  EXPECT_FALSE(p.socket);
  EXPECT_FALSE(p.pid_file);
  root.write(outside.host().root().string() + "/nvidia-persistenced/socket", "");
  EXPECT_TRUE(read_persistenced(root.host()).socket);
}

TEST(ReadPersistenced, GarbagePidIsANamedProblem) {
  TempRoot root;
  root.write("/run/nvidia-persistenced/nvidia-persistenced.pid", "not-a-pid\n");
  auto p = read_persistenced(root.host());
  EXPECT_TRUE(p.pid_file);
  EXPECT_EQ(p.pid, std::nullopt);
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_EQ(p.problems[0],
            "/run/nvidia-persistenced/nvidia-persistenced.pid: expected a process id, got \"not-a-pid\"");
}

}  // namespace
}  // namespace gd::probe
