#include "gd/util/tar_gz.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace gd::util {

namespace {

constexpr std::size_t k_block = 512;

void octal(char* field, std::size_t width, std::uint64_t v) {
  // width - 1 digits and a NUL, as ustar writes them.
  std::string s = fmt::format("{:0{}o}", v, width - 1);
  std::memcpy(field, s.data(), std::min(s.size(), width - 1));
}

std::uint64_t parse_octal(const char* field, std::size_t width, bool& ok) {
  std::uint64_t v = 0;
  std::size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) v = v * 8 + static_cast<unsigned>(field[i] - '0');
  for (; i < width; ++i)
    if (field[i] != '\0' && field[i] != ' ') ok = false;
  return v;
}

unsigned checksum(const char* h) {
  unsigned sum = 0;
  for (std::size_t i = 0; i < k_block; ++i)
    sum += (i >= 148 && i < 156) ? static_cast<unsigned>(' ') : static_cast<unsigned char>(h[i]);
  return sum;
}

bool safe_name(std::string_view n) {
  if (n.empty() || n.size() > 99 || n.front() == '/') return false;
  for (std::size_t start = 0; start <= n.size();) {
    auto end = n.find('/', start);
    if (end == std::string_view::npos) end = n.size();
    auto part = n.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return n.find('\0') == std::string_view::npos;
}

}  // namespace

Result<std::string> make_tar_gz(const std::vector<TarEntry>& entries) {
  std::string tar;
  for (const auto& e : entries) {
    if (!safe_name(e.name)) return make_error(fmt::format("tar: cannot hold the name '{}'", e.name));
    char h[k_block] = {};
    std::memcpy(h, e.name.data(), e.name.size());
    octal(h + 100, 8, 0644);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, e.data.size());
    octal(h + 136, 12, static_cast<std::uint64_t>(std::max<std::int64_t>(0, e.mtime)));
    h[156] = '0';
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memcpy(h + 265, "root", 4);
    std::memcpy(h + 297, "root", 4);
    std::string sum = fmt::format("{:06o}", checksum(h));
    std::memcpy(h + 148, sum.data(), 6);
    h[154] = '\0';
    h[155] = ' ';
    tar.append(h, k_block);
    tar += e.data;
    tar.append((k_block - e.data.size() % k_block) % k_block, '\0');
  }
  tar.append(2 * k_block, '\0');
  return gzip(tar);
}

Result<std::string> gzip(std::string_view data) {
  std::string tar(data);
  z_stream z{};
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return make_error("gzip: deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&z, tar.size()) + 64);
  z.next_in = reinterpret_cast<Bytef*>(tar.data());
  z.avail_in = static_cast<uInt>(tar.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  std::size_t n = out.size() - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return make_error(fmt::format("gzip: deflate failed ({})", rc));
  out.resize(n);
  return out;
}

bool looks_gzip(std::string_view head) {
  return head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f && static_cast<unsigned char>(head[1]) == 0x8b;
}

Result<std::vector<TarEntry>> read_tar_gz(std::string_view gz, std::size_t max_bytes) {
  if (!looks_gzip(gz)) return make_error("not a gzip file");
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return make_error("gzip: inflateInit2 failed");
  std::string tar;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  z.avail_in = static_cast<uInt>(gz.size());
  int rc = Z_OK;
  char buf[1 << 16];
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return make_error(fmt::format("gzip data corrupt or cut short after {} bytes ({})", tar.size(),
                                    rc == Z_BUF_ERROR ? "truncated" : z.msg ? z.msg : "error"));
    }
    tar.append(buf, sizeof buf - z.avail_out);
    if (tar.size() > max_bytes) {
      inflateEnd(&z);
      return make_error(fmt::format("more than {} MiB uncompressed: not a gpudoctor bundle", max_bytes >> 20));
    }
  }
  inflateEnd(&z);

  std::vector<TarEntry> out;
  std::size_t at = 0;
  while (at + k_block <= tar.size()) {
    const char* h = tar.data() + at;
    if (std::all_of(h, h + k_block, [](char c) { return c == '\0'; })) break;  // the end blocks
    bool ok = true;
    unsigned want = static_cast<unsigned>(parse_octal(h + 148, 8, ok));
    if (!ok || want != checksum(h))
      return make_error(fmt::format("tar: header at byte {} has a bad checksum", at));
    std::uint64_t size = parse_octal(h + 124, 12, ok);
    std::int64_t mtime = static_cast<std::int64_t>(parse_octal(h + 136, 12, ok));
    if (!ok) return make_error(fmt::format("tar: header at byte {} has a malformed size or time", at));
    std::string name(h, strnlen(h, 100));
    if (std::memcmp(h + 257, "ustar", 5) == 0 && h[345] != '\0')
      name = std::string(h + 345, strnlen(h + 345, 155)) + "/" + name;
    at += k_block;
    if (size > tar.size() - at) return make_error(fmt::format("tar: {} is cut short", name));
    char type = h[156];
    if ((type == '0' || type == '\0') && safe_name(name))
      out.push_back({name, tar.substr(at, size), mtime});
    at += (size + k_block - 1) / k_block * k_block;
  }
  return out;
}

}  // namespace gd::util
