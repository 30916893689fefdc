// libFuzzer target: the small text parsers and escapers every output uses:
// NVLink5 messages and their decode, driver message forms, printable(),
// valid_utf8(), Prometheus label escaping, history blocks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gd/model/nvlink5.hpp"
#include "gd/model/xid_catalog.hpp"
#include "gd/sampler/metrics_text.hpp"
#include "gd/store/block_codec.hpp"
#include "gd/util/strings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto m = gd::model::parse_nvlink5(text))
    for (int xid = 144; xid <= 150; ++xid) {
      (void)gd::model::decode_nvlink5(xid, *m, 570);
      (void)gd::model::decode_nvlink5(xid, *m, std::nullopt);
    }
  (void)gd::model::match_driver_message(text);
  auto p = gd::util::printable(text, 1 + size % 300);
  auto v = gd::util::valid_utf8(text);
  // Invariants: valid_utf8 is idempotent; printable's output is its own printable form.
  if (gd::util::valid_utf8(v) != v) __builtin_trap();
  if (gd::util::printable(p, p.size() + 8) != p) __builtin_trap();
  (void)gd::sampler::escape_label(text);
  if (auto f = gd::store::decode_frame(text)) {
    auto bytes = gd::store::encode_frame(*f);
    auto back = gd::store::decode_frame(bytes);
    if (!back || back->ts != f->ts || back->cols != f->cols) __builtin_trap();
  }
  return 0;
}
