// libFuzzer target: the kernel-log parser (Xid, fallen off the bus, API
// mismatch, RmInitAdapter, GSP/probe/reset forms, hung task, soft/hard
// lockup, RCU stall, NVLink5 decode via the judge), fed whole and in two chunks; and through the threaded
// feed (blocks marked by either thread, runs of skimmed lines), which must give the same log.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "gd/model/json_io.hpp"

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
  gd::probe::KernelLogParser threaded(window, now);
  auto fed = threaded.feed_threaded(
      [&](const gd::host::ByteSink& sink) -> gd::Result<std::uint64_t> {
        sink.chunk(text.substr(0, size / 3));
        sink.chunk(text.substr(size / 3));
        return static_cast<std::uint64_t>(size);
      },
      size / 4 + 1);
  auto as_json = [](gd::model::KernelLog l) {
    gd::model::Snapshot s;
    s.kernel_log = std::move(l);
    return gd::model::to_json(s)["kernel_log"].dump();
  };
  if (!fed.ok() || as_json(threaded.finish()) != as_json(log)) {
    std::fprintf(stderr, "feed_threaded and parse_kernel_log disagree\n");
    std::abort();
  }
  return 0;
}
