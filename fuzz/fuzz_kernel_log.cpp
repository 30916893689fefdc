// libFuzzer target: the kernel-log parser (Xid, fallen off the bus, API
// mismatch, RmInitAdapter, GSP/probe/reset forms, hung task, soft/hard
// lockup, RCU stall, NVLink5 decode via the judge), fed whole and in two chunks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gd/probe/kernel_log.hpp"
#include "gd/rule/xid_judge.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr std::int64_t now = 1'795'000'000;
  auto window = *gd::probe::parse_since("all", now);
  auto log = gd::probe::parse_kernel_log(text, window, now);
  (void)gd::rule::judge_events(log, "570.86.15");
  gd::probe::KernelLogParser parser(window, now);
  parser.feed(text.substr(0, size / 2));
  parser.feed(text.substr(size / 2));
  auto again = parser.finish();
  (void)gd::rule::judge_events(again);
  return 0;
}
