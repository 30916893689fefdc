// libFuzzer target: the evidence bundle's readers — the tar.gz reader (on the input as gzip data, and on the
// input as a raw tar, gzipped here so its header parser sees every byte) and the redactor on the input as text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gd/bundle/bundle.hpp"
#include "gd/util/tar_gz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto check = [](const gd::Result<std::vector<gd::util::TarEntry>>& r, std::size_t bound) {
    if (!r) return;
    std::size_t total = 0;
    for (const auto& e : *r) {
      total += e.data.size();
      if (e.name.empty() || e.name.front() == '/' || e.name.find("..") != std::string::npos) std::abort();
    }
    if (total > bound) std::abort();
  };
  check(gd::util::read_tar_gz(in, 1 << 22), 1 << 22);
  if (auto gz = gd::util::gzip(in)) check(gd::util::read_tar_gz(*gz, 1 << 22), 1 << 22);
  gd::bundle::Redactor r;
  r.add_host("node");
  r.add_serial("1654922005812");
  auto once = r.apply(in);
  // Replacements are stable: redacting the redacted text again changes nothing.
  if (r.apply(once) != once) std::abort();
  return 0;
}
