// KernelLogParser::feed_threaded against feed(): the same bytes must give the
// same log, whatever the block size and however the producer chunks them.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "gd/model/json_io.hpp"
#include "gd/probe/kernel_log.hpp"

namespace gd::probe {
namespace {

constexpr std::int64_t k_now = 1'795'000'000;

std::string as_json(model::KernelLog log) {
  model::Snapshot s;
  s.kernel_log = std::move(log);
  return model::to_json(s)["kernel_log"].dump(1);
}

std::string sequential(std::string_view text) {
  KernelLogParser p(*parse_since("all", k_now), k_now);
  p.feed(text);
  return as_json(p.finish());
}

std::string chunked(std::string_view text, std::size_t piece) {
  KernelLogParser p(*parse_since("all", k_now), k_now);
  for (std::size_t i = 0; i < text.size(); i += piece) p.feed(text.substr(i, piece));
  return as_json(p.finish());
}

// Streams text in pieces of `piece` bytes through feed_threaded with blocks of `block` bytes.
std::string threaded(std::string_view text, std::size_t block, std::size_t piece) {
  KernelLogParser p(*parse_since("all", k_now), k_now);
  auto r = p.feed_threaded(
      [&](const host::ByteSink& sink) -> Result<std::uint64_t> {
        for (std::size_t i = 0; i < text.size(); i += piece) sink.chunk(text.substr(i, piece));
        return static_cast<std::uint64_t>(text.size());
      },
      block);
  EXPECT_TRUE(r.ok());
  if (r.ok()) {
    EXPECT_EQ(*r, text.size());
  }
  return as_json(p.finish());
}

std::string read(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Every kernel log the repository holds, and inputs made to cross the block boundaries badly: lines longer than
// a block and than the parser's cap, NUL runs, CRLF, a stall report across blocks, no final newline.
std::vector<std::pair<std::string, std::string>> inputs() {
  std::vector<std::pair<std::string, std::string>> in;
  std::filesystem::path src = GD_SOURCE_DIR;
  in.emplace_back("driver-messages.log", read(src / "tests/corpus/driver-messages.log"));
  for (const auto& d : std::filesystem::directory_iterator(src / "tests/scenarios")) {
    auto f = d.path() / "root/var/log/kern.log";
    if (std::filesystem::exists(f)) in.emplace_back(f.string(), read(f));
  }
  std::string odd;
  odd += "[    1.000000] Linux version 6.1.0\n";
  odd += std::string(3, '\0') + "[    2.000000] NVRM: Xid (PCI:0000:01:00): 79, pid=1, name=a, GPU has fallen off the bus.\r\n";
  odd += "[    3.000000] " + std::string(40'000, 'x') + " NVRM: Xid (PCI:0000:02:00): 31, cut away\n";
  odd += "[    4.000000] INFO: task python3:77 blocked for more than 120 seconds.\n";
  odd += "[    4.000001] Call Trace:\n[    4.000002]  os_acquire_rwlock_write+0x31/0x40 [nvidia]\n";
  odd += "[    4.000003]  </TASK>\n";
  odd += "[    1.000000] NVRM: Xid (PCI:0000:03:00): 48, pid=2, name=b, DBE\n";  // goes back: a new boot
  odd += "6,1234,5678901,-;NVRM: Xid (PCI:0000:04:00): 13, pid=3, name=c, Graphics Exception\n SUBSYSTEM=pci\n";
  odd += "-- Boot 0123456789abcdef --\n";
  odd += "[    2.000000] NVRM: Xid (PCI:0000:05:00): 43, pid=4, name=d, Ch 00000008";  // no final newline
  in.emplace_back("odd", odd);
  // Runs of skimmed lines (the threaded feed counts them at once): stamps that go back inside one, after lines
  // with no stamp, a stall report's trace, a message pending over the driver's chatter.
  std::string runs;
  auto xid = [](std::string_view stamp, int bus) {
    return fmt::format("[{}] NVRM: Xid (PCI:0000:{:02x}:00): 79, pid=1, name=a, GPU has fallen off the bus.\n", stamp, bus);
  };
  runs += xid("  900.000000", 1);  // a boot per jump below: each Xid's boot says how many were seen after it
  runs += "-- Boot 0123456789abcdef --\nNov 27 03:00:00 h systemd[1]: Started a.\nNov 27 03:00:00 h sshd[2]: b\n";
  runs += "Nov 27 03:00:00 h kernel: [   10.000000] usb 1-1: c\n" + xid("   10.100000", 2);
  runs += "[  200.000000] usb 1-1: e\n[  501.000000] usb 1-1: f\n[  300.000000] usb 1-1: g\n" + xid("  300.100000", 3);
  runs += "[  400.000000] usb 1-1: h\nsystemd[1]: i\n[    0.500000] usb 2-1: j\n" + xid("    0.600000", 4);
  runs += "[    0.700000] NVRM: API mismatch: the client has the version 535.54.03, but\n[    0.700000] usb 2-1: k\n";
  runs += "[    0.700000] NVRM: this kernel module has the version 530.30.02.  Please\n";
  runs += "[    0.700000] NVRM: make sure that this kernel module and all NVIDIA driver\n";
  runs += "[    0.700000] NVRM: components have the same version.\n";
  runs += "[    0.900000] INFO: task python3:77 blocked for more than 120 seconds.\n[    0.900001] Call Trace:\n";
  runs += "[    0.900002]  os_acquire_rwlock_write+0x31/0x40 [nvidia]\n[    0.900003]  </TASK>\n[    0.900004] usb: l\n";
  runs += "[    0.100000] usb 3-1: m\n[    0.200000] usb 3-1: n\n" + xid("    0.300000", 5);
  in.emplace_back("runs", runs);
  // A long mixed log: the corpus repeated with its boots counted on.
  std::string big;
  for (int i = 0; i < 20; ++i) big += in.front().second + "\n";
  in.emplace_back("corpus x20", big);
  return in;
}

TEST(KernelLogThreaded, SameLogAsFeedForEveryBlockSizeAndChunking) {
  for (const auto& [name, text] : inputs()) {
    std::string want = sequential(text);
    for (std::size_t block : {1ul, 7ul, 64ul, 1000ul, 16'384ul, 512ul << 10}) {
      for (std::size_t piece : {1ul, 13ul, 4096ul, 128ul << 10}) {
        if (block < 1000 && text.size() > 100'000) continue;  // (a thread handoff per few bytes: covered by the rest)
        ASSERT_EQ(threaded(text, block, piece), want) << name << " block " << block << " piece " << piece;
      }
    }
  }
}

TEST(KernelLogThreaded, RandomBytesAndLinesGiveTheSameLog) {
  std::mt19937 rng(7);
  const char* words[] = {"NVRM: ", "Xid (PCI:0000:01:00): 79, ", "[  12.5] ", "\n", "\r\n", "" /* a NUL */,
                         "INFO: task a:1 blocked for more than 5 seconds.", " [nvidia]", "Call Trace:", "CPU#3", "-- Boot",
                         "Linux version ", "LOCKUP", "6,1,2,-;", " KEY=v", "Nov 27 03:00:00 h kernel: [ 9.0] "};
  for (int round = 0; round < 150; ++round) {
    std::string text;
    int n = static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) {
      auto w = rng() % (sizeof words / sizeof *words);
      if (w == 5) text += '\0';
      else text += words[w];
      if (rng() % 20 == 0) text += std::string(rng() % (i % 7 == 0 ? 20'000 : 2'000), 'y');
    }
    std::string want = sequential(text);
    // (feed() itself in pieces: found a line judged one way whole and another way in pieces)
    for (std::size_t piece : {1ul, 7ul}) ASSERT_EQ(chunked(text, piece), want) << "round " << round << " feed() in pieces of " << piece;
    for (std::size_t block : {3ul, 97ul, 4096ul})
      ASSERT_EQ(threaded(text, block, 1 + rng() % 50), want) << "round " << round << " block " << block;
  }
}

TEST(KernelLogThreaded, ProducerErrorIsReturnedAndWhatCameBeforeIsKept) {
  KernelLogParser p(*parse_since("all", k_now), k_now);
  auto r = p.feed_threaded([](const host::ByteSink& sink) -> Result<std::uint64_t> {
    sink.chunk("[1.0] NVRM: Xid (PCI:0000:01:00): 79, pid=1, name=a, GPU has fallen off the bus.\n");
    return make_error("f: read error after 80 bytes: Input/output error");
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "f: read error after 80 bytes: Input/output error");
  EXPECT_EQ(p.finish().events.size(), 1u);
}

TEST(KernelLogThreaded, ProducerExceptionReachesTheCaller) {
  KernelLogParser p(*parse_since("all", k_now), k_now);
  EXPECT_THROW(p.feed_threaded([](const host::ByteSink& sink) -> Result<std::uint64_t> {
    for (int i = 0; i < 100; ++i) sink.chunk(std::string(1000, 'a') + "\n");
    throw std::runtime_error("boom");
  }, 100), std::runtime_error);
}

}  // namespace
}  // namespace gd::probe
