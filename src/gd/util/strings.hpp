// String helpers that know nothing of GPUs. All are pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gd::util {

std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
// Splits on runs of spaces and tabs; no empty fields.
std::vector<std::string_view> split_ws(std::string_view s);
std::vector<std::string_view> lines(std::string_view s);
std::string to_lower(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
// Parses a whole decimal unsigned integer; nullopt on junk, sign or overflow.
std::optional<std::uint64_t> parse_u64(std::string_view s);
// Parses "0x1f", "1F" (base 16) as a whole; nullopt on junk or overflow.
std::optional<std::uint64_t> parse_hex(std::string_view s);
std::optional<std::int64_t> parse_i64(std::string_view s);
// Replaces control characters (C0, DEL and C1: the bytes of terminal escape
// sequences) and invalid UTF-8 with '?', so text is safe to print; cut after
// max_len bytes (at a character boundary) with "...".
std::string printable(std::string_view s, std::size_t max_len = 200);
// The C1 control (U+0080-U+009F, UTF-8 C2 80-C2 9F) that starts at s[i], or -1: for outputs that keep other
// text as it is but must not pass these (U+009B is CSI to a terminal that honours C1).
int c1_control_at(std::string_view s, std::size_t i);
// s with every invalid UTF-8 sequence replaced by U+FFFD (formats that must be
// UTF-8: Prometheus labels, JSON); controls are left to the format's escaping.
std::string valid_utf8(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
// The same with at most `max` parts, then " (and N more)": evidence that names
// every one of 10,000 devices in every finding grows quadratically.
std::string join_capped(const std::vector<std::string>& parts, std::string_view sep, std::size_t max = 16);

}  // namespace gd::util
