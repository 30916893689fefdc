#include "gd/host/kernel_log_source.hpp"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

namespace gd::host {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/gd-klog-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

TEST(KernelLogSource, StreamsAFileInChunks) {
  TempDir t;
  std::string data(3 << 20, 'a');
  data += "\nend\n";
  write(t.path / "kern.log", data);
  std::string got;
  std::size_t chunks = 0;
  auto n = stream_file((t.path / "kern.log").string(), [&](std::string_view c) {
    got.append(c);
    ++chunks;
  });
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, data.size());
  EXPECT_EQ(got, data);
  EXPECT_GE(chunks, 3u);
}

TEST(KernelLogSource, StreamRefusesMissingFilesDirectoriesAndFifos) {
  TempDir t;
  auto missing = stream_file((t.path / "nope.log").string(), [](std::string_view) {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, (t.path / "nope.log").string() + ": cannot open: No such file or directory");
  auto dir = stream_file(t.path.string(), [](std::string_view) {});
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().message.find("not a regular file"), std::string::npos);
  ASSERT_EQ(::mkfifo((t.path / "fifo").c_str(), 0600), 0);
  auto t0 = std::chrono::steady_clock::now();
  auto fifo = stream_file((t.path / "fifo").string(), [](std::string_view) {});
  EXPECT_FALSE(fifo);  // refused at once, never blocks waiting for a writer
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(KernelLogSource, NoJournalUnderARoot) {
  TempDir t;
  HostRoot root(t.path);
  auto j = read_journal(root, JournalLimits{});
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("journal: no directory"), std::string::npos) << j.error().message;
  EXPECT_NE(j.error().message.find("var/log/journal"), std::string::npos);
}

TEST(KernelLogSource, GarbageJournalDirectoryIsAClearErrorNotACrashOrHang) {
  TempDir t;
  std::mt19937 rng(7);
  std::string junk(256 * 1024, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  fs::path dir = t.path / "var/log/journal/0123456789abcdef0123456789abcdef";
  write(dir / "system.journal", junk);
  write(dir / "user-1000.journal", "LPKSHHRH" + junk.substr(0, 300));  // the right magic, then junk
  write(dir / "empty.journal", "");
  ASSERT_EQ(::mkfifo((dir / "fifo.journal").c_str(), 0600), 0);
  HostRoot root(t.path);
  auto t0 = std::chrono::steady_clock::now();
  auto j = read_journal(root, JournalLimits{});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("no kernel messages"), std::string::npos) << j.error().message;
}

TEST(KernelLogSource, KmsgOnlyOnTheLiveRoot) {
  TempDir t;
  write(t.path / "dev/kmsg", "6,1,2,-;NVRM: Xid (PCI:0000:01:00): 79, x\n");
  auto k = read_kmsg(HostRoot(t.path));
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().message, "/dev/kmsg is read on the live root only");
}

TEST(KernelLogSource, LiveKmsgNeverBlocks) {
  auto t0 = std::chrono::steady_clock::now();
  auto k = read_kmsg(HostRoot("/"));  // may be refused (permissions, no /dev/kmsg): then a reason
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  if (!k) {
    EXPECT_NE(k.error().message.find("/dev/kmsg"), std::string::npos);
    return;
  }
  if (k->records > 0) EXPECT_EQ(k->text.back(), '\n');
}

}  // namespace
}  // namespace gd::host
