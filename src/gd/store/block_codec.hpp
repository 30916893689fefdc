// The packed form of a run of history rows (docs/watch.md, "Raw blocks"): a
// Frame holds one GPU's rows for one time span column by column; encode()
// writes each column as a stream of varint tokens (the delta from the previous
// value, zigzagged; NULL; or "repeat the previous token k times"), so constant
// columns cost a few bytes per block and slowly varying ones about a byte per
// row. Lossless for every int64 value and NULL. decode() of hostile bytes is
// an error value, never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gd/util/result.hpp"

namespace gd::store {

using Column = std::vector<std::optional<std::int64_t>>;

struct Frame {
  std::vector<std::int64_t> ts;  // ascending
  std::vector<Column> cols;      // each ts.size() long, or empty when not decoded
  // Column c of row i; nullopt when NULL or when the frame has no such value
  // (a block written before column c existed, or a column not decoded).
  std::optional<std::int64_t> at(std::size_t c, std::size_t i) const {
    return c < cols.size() && i < cols[c].size() ? cols[c][i] : std::nullopt;
  }
};

inline constexpr std::size_t k_no_column[] = {static_cast<std::size_t>(-1)};
inline constexpr std::span<const std::size_t> k_timestamps_only{k_no_column};

std::string encode_frame(const Frame& f);

// Decodes the timestamps and the columns in `only` (all when empty); the other
// columns come back empty (pass k_timestamps_only for none). An error names
// what is wrong with the bytes.
Result<Frame> decode_frame(std::string_view bytes, std::span<const std::size_t> only = {});

// Puts `rows` into `into` (both ascending by ts): a row whose ts is already
// there replaces it. Both must have the same number of columns.
void merge_frames(Frame& into, const Frame& rows);

}  // namespace gd::store
