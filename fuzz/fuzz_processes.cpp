// libFuzzer target: the process probe's /proc files — /proc/PID/stat, /proc/PID/stack and wait channels.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gd/probe/processes.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto st = gd::probe::parse_proc_stat(text);
  auto state = gd::probe::proc_stat_state(text);
  // The probe takes most processes' state from the quick reader and parses
  // only some: the two must agree on what is a stat line and on its state.
  if (st.has_value() != state.has_value()) std::abort();
  if (st) {
    if (st->state.size() != 1 || st->state[0] != *state) std::abort();
    // comm is what the probe prints: it must come from between the parentheses.
    if (st->comm.size() > text.size()) std::abort();
  }
  auto frames = gd::probe::parse_proc_stack(text);
  if (frames.size() > 16) std::abort();  // the documented cap
  for (const auto& f : frames) (void)gd::probe::frame_in_driver(f);
  (void)gd::probe::frame_in_driver(text);
  (void)gd::probe::wchan_in_driver(text);
  return 0;
}
