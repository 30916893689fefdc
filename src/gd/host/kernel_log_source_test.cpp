#include "gd/host/kernel_log_source.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
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

// The time limit: a huge file is read only until the deadline, and a stdin
// whose writer sends nothing is not waited on past it (both used to hang).
TEST(KernelLogSource, StreamStopsAtTheDeadline) {
  TempDir t;
  write(t.path / "kern.log", std::string(1 << 20, 'a'));
  bool cut = false;
  std::uint64_t seen = 0;
  auto past = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto n = stream_file((t.path / "kern.log").string(), [&](std::string_view c) { seen += c.size(); }, UINT64_MAX,
                       past, &cut);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_TRUE(cut);
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(seen, 0u);
  cut = false;
  auto whole = stream_file((t.path / "kern.log").string(), [](std::string_view) {}, UINT64_MAX,
                           std::chrono::steady_clock::now() + std::chrono::seconds(30), &cut);
  EXPECT_FALSE(cut);
  EXPECT_EQ(*whole, 1u << 20);

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  int saved = ::dup(0);
  ASSERT_EQ(::dup2(fds[0], 0), 0);
  ASSERT_EQ(::write(fds[1], "x\n", 2), 2);  // one line, then the writer goes quiet (but stays open)
  auto t0 = std::chrono::steady_clock::now();
  cut = false;
  std::string got;
  auto in = stream_file("-", [&](std::string_view c) { got.append(c); }, UINT64_MAX,
                        t0 + std::chrono::milliseconds(300), &cut);
  auto took = std::chrono::steady_clock::now() - t0;
  ::dup2(saved, 0);
  ::close(saved);
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_TRUE(in) << in.error().message;
  EXPECT_TRUE(cut);
  EXPECT_EQ(got, "x\n");
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_GE(took, std::chrono::milliseconds(250));
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

// A real journal with two boots, written by systemd-journal-remote from the
// export format (skipped where that tool is not installed).
constexpr const char* k_journal_remote = "/lib/systemd/systemd-journal-remote";

std::string export_entry(int seq, const char* boot, std::int64_t usec, const std::string& message,
                         const char* transport = "kernel") {
  return "__CURSOR=s=0;i=" + std::to_string(seq) + "\n__REALTIME_TIMESTAMP=" + std::to_string(usec) +
         "\n__MONOTONIC_TIMESTAMP=" + std::to_string(seq * 1000) + "\n_BOOT_ID=" + boot + "\n_TRANSPORT=" + transport +
         "\nMESSAGE=" + message + "\n_MACHINE_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=n\n\n";
}

bool make_journal(const fs::path& root, const std::vector<std::string>& entries) {
  if (!fs::exists(k_journal_remote)) return false;
  std::string all;
  for (const auto& e : entries) all += e;
  write(root / "export.txt", all);
  fs::create_directories(root / "var/log/journal");
  std::string cmd = std::string(k_journal_remote) + " --output=" + (root / "var/log/journal/test.journal").string() +
                    " " + (root / "export.txt").string() + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

constexpr const char* k_boot_a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr const char* k_boot_b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
constexpr const char* k_boot_c = "cccccccccccccccccccccccccccccccc";

TEST(KernelLogSource, JournalWithPreviousBoots) {
  TempDir t;
  std::int64_t t0 = 1'795'000'000'000'000;
  bool made = make_journal(t.path, {export_entry(1, k_boot_a, t0, "NVRM: Xid (PCI:0000:18:00): 48, boot a"),
                                    export_entry(2, k_boot_b, t0 + 1000, "Linux version 6.1.0"),
                                    export_entry(3, k_boot_b, t0 + 2000, "NVRM: Xid (PCI:0000:3b:00): 79, boot b"),
                                    export_entry(4, k_boot_b, t0 + 2500, "NVRM: from user space", "stdout"),
                                    export_entry(5, k_boot_c, t0 + 3000, "usb 1-1: new device"),
                                    export_entry(6, k_boot_c, t0 + 4000, "NVRM: Xid (PCI:0000:18:00): 13, boot c")});
  if (!made) GTEST_SKIP() << k_journal_remote << " is not installed";
  write(t.path / "proc/sys/kernel/random/boot_id", "cccccccc-cccc-cccc-cccc-cccccccccccc\n");
  HostRoot root(t.path);
  auto j = read_journal(root, JournalLimits{});
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ(j->source, "journal " + (t.path / "var/log/journal").string());
  ASSERT_EQ(j->records.size(), 2u);  // boot a is outside the window; user-space and non-NVRM lines are not kept
  EXPECT_EQ(j->records[0].message, "NVRM: Xid (PCI:0000:3b:00): 79, boot b");
  EXPECT_EQ(j->records[0].boot, -1);
  EXPECT_EQ(j->records[0].realtime_usec, t0 + 2000);
  EXPECT_EQ(j->records[1].boot, 0);
  EXPECT_EQ(j->entries_read, 5u);  // c, c, b, b, and the first of boot a, where it stops
  JournalLimits every;
  every.max_boots.reset();
  auto all = read_journal(root, every);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->records.size(), 3u);
  EXPECT_EQ(all->records[0].boot, -2);
  JournalLimits recent;
  recent.max_boots.reset();
  recent.since_usec = t0 + 3000;
  EXPECT_EQ(read_journal(root, recent)->records.size(), 1u);
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
  if (k->records > 0) {
    EXPECT_EQ(k->text.back(), '\n');
  }
}

}  // namespace
}  // namespace gd::host
