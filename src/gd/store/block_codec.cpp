#include "gd/store/block_codec.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace gd::store {

namespace {

constexpr std::uint64_t k_format = 1;
constexpr std::size_t k_max_rows = 1 << 20;  // far above any span's rows; bounds what hostile bytes can allocate
constexpr std::size_t k_max_cols = 4096;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

std::uint64_t zigzag(std::uint64_t d) { return (d << 1) ^ (0 - (d >> 63)); }
std::uint64_t unzigzag(std::uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

class Reader {
 public:
  explicit Reader(std::string_view b) : m_b(b) {}
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (m_pos >= m_b.size()) return false;
      auto byte = static_cast<unsigned char>(m_b[m_pos++]);
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;
  }
  std::size_t pos() const { return m_pos; }
  bool at_end() const { return m_pos == m_b.size(); }

 private:
  std::string_view m_b;
  std::size_t m_pos = 0;
};

// Token stream of one column, varints: 0 = NULL; 1 = the value follows as
// its own varint (for deltas too large for a token); odd x >= 3 = the value
// is the previous one plus unzigzag((x >> 1) - 1) (the first value's
// "previous" is 0); even x > 0 = the previous token again x / 2 more times.
// Arithmetic wraps, so every int64 round-trips.
struct Token {
  std::uint64_t x = 0;
  std::uint64_t abs = 0;  // when x == 1
  bool operator==(const Token&) const = default;
};

std::string encode_column(const Column& c) {
  std::string out;
  std::uint64_t prev = 0, repeats = 0;
  Token last;
  bool have = false;
  auto put = [&](const Token& t) {
    put_varint(out, t.x);
    if (t.x == 1) put_varint(out, t.abs);
  };
  for (const auto& v : c) {
    Token t;
    if (v) {
      auto u = static_cast<std::uint64_t>(*v);
      std::uint64_t z = zigzag(u - prev);
      t = z < (std::uint64_t{1} << 62) ? Token{((z + 1) << 1) | 1, 0} : Token{1, u};
      prev = u;
    }
    if (have && t == last) {
      ++repeats;
      continue;
    }
    if (repeats) put_varint(out, repeats * 2);
    repeats = 0;
    put(t);
    last = t, have = true;
  }
  if (repeats) put_varint(out, repeats * 2);
  return out;
}

Result<Column> decode_column(std::string_view bytes, std::size_t n) {
  Reader r(bytes);
  Column out;
  out.reserve(n);
  std::uint64_t prev = 0;
  Token last;
  bool have = false;
  auto apply = [&](const Token& t) {
    if (t.x == 0) {
      out.emplace_back(std::nullopt);
      return;
    }
    prev = t.x == 1 ? t.abs : prev + unzigzag((t.x >> 1) - 1);
    out.emplace_back(static_cast<std::int64_t>(prev));
  };
  while (out.size() < n) {
    Token t;
    if (!r.varint(t.x)) return make_error("column stream ends early");
    if (t.x != 0 && !(t.x & 1)) {
      if (!have) return make_error("column stream starts with a repeat");
      if (t.x / 2 > n - out.size()) return make_error("repeat runs past the row count");
      for (std::uint64_t k = 0; k < t.x / 2; ++k) apply(last);
      continue;
    }
    if (t.x == 1 && !r.varint(t.abs)) return make_error("column stream ends early");
    apply(t);
    last = t, have = true;
  }
  if (!r.at_end()) return make_error("column stream longer than its rows");
  return out;
}

}  // namespace

std::string encode_frame(const Frame& f) {
  std::vector<std::string> streams;
  Column ts(f.ts.begin(), f.ts.end());
  streams.push_back(encode_column(ts));
  for (const auto& c : f.cols) streams.push_back(encode_column(c));
  std::string out;
  put_varint(out, k_format);
  put_varint(out, f.ts.size());
  put_varint(out, f.cols.size());
  for (const auto& s : streams) put_varint(out, s.size());
  for (const auto& s : streams) out += s;
  return out;
}

Result<Frame> decode_frame(std::string_view bytes, std::span<const std::size_t> only) {
  Reader r(bytes);
  std::uint64_t format, n, ncols;
  if (!r.varint(format) || format != k_format) return make_error("block: unknown format");
  if (!r.varint(n) || n > k_max_rows) return make_error("block: bad row count");
  if (!r.varint(ncols) || ncols > k_max_cols) return make_error("block: bad column count");
  std::vector<std::uint64_t> lens(ncols + 1);
  std::uint64_t total = 0;
  for (auto& l : lens) {
    if (!r.varint(l) || l > bytes.size()) return make_error("block: bad stream length");
    total += l;
  }
  if (total != bytes.size() - r.pos()) return make_error("block: stream lengths do not add up");
  std::vector<std::size_t> offset(ncols + 1);
  std::size_t at = r.pos();
  for (std::size_t i = 0; i <= ncols; ++i) offset[i] = at, at += lens[i];
  auto stream = [&](std::size_t i) { return bytes.substr(offset[i], lens[i]); };
  Frame f;
  auto ts = decode_column(stream(0), n);
  if (!ts) return make_error("block timestamps: " + ts.error().message);
  for (const auto& t : *ts) {
    if (!t) return make_error("block timestamps: NULL");
    if (!f.ts.empty() && *t <= f.ts.back()) return make_error("block timestamps: not ascending");
    f.ts.push_back(*t);
  }
  f.cols.resize(ncols);
  for (std::size_t c = 0; c < ncols; ++c) {
    if (!only.empty() && std::find(only.begin(), only.end(), c) == only.end()) continue;
    auto col = decode_column(stream(c + 1), n);
    if (!col) return make_error(fmt::format("block column {}: {}", c, col.error().message));
    f.cols[c] = std::move(*col);
  }
  return f;
}

void merge_frames(Frame& into, const Frame& rows) {
  Frame out;
  out.cols.resize(std::max(into.cols.size(), rows.cols.size()));
  auto take = [&](const Frame& from, std::size_t i) {
    out.ts.push_back(from.ts[i]);
    for (std::size_t c = 0; c < out.cols.size(); ++c)
      out.cols[c].push_back(c < from.cols.size() && i < from.cols[c].size() ? from.cols[c][i] : std::nullopt);
  };
  std::size_t a = 0, b = 0;
  while (a < into.ts.size() || b < rows.ts.size()) {
    if (b == rows.ts.size() || (a < into.ts.size() && into.ts[a] < rows.ts[b])) {
      take(into, a++);
    } else {
      if (a < into.ts.size() && into.ts[a] == rows.ts[b]) ++a;
      take(rows, b++);
    }
  }
  into = std::move(out);
}

}  // namespace gd::store
