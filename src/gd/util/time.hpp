// The one time parser: durations, and the wall-clock times every --since,
// --until (and later --around) accepts, in every command. Pure.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gd::util {

// "10s", "500ms", "2m", "1h", "7d" or plain seconds ("2.5"): positive and
// finite (no nan, inf, 0 or negative); nullopt otherwise.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// An ISO 8601 date or date-time: "2026-11-27", "2026-11-27T03:00",
// "2026-11-27 03:00:00[.frac]", with an optional zone ("Z", "+01:00",
// "-0500"). Without a zone it is local time (as journalctl reads --since).
// Unix seconds; nullopt unless well formed.
std::optional<std::int64_t> parse_iso_time(std::string_view text);

// "Fri Nov 27 03:00:00 2026": ctime's form, as `dmesg -T` and `nvidia-smi`
// print it (local time; runs of spaces allowed). Unix seconds; nullopt unless
// well formed.
std::optional<std::int64_t> parse_ctime(std::string_view text);

// The parts the text formats share: "Jan".."Dec" -> 0..11; "HH:MM:SS" at the
// front of s -> {h, m, s}; a local date and time -> unix seconds.
std::optional<int> month_index(std::string_view abbrev);
std::optional<std::array<int, 3>> parse_clock(std::string_view s);
std::optional<std::int64_t> local_unix_time(int year, int month0, int day, int h, int m, int s);

// A --since/--until value: "now", a duration back from now ("2h"), unix
// seconds ("@1700000000", or 9 or more digits) or an ISO date-time as above.
// Unix milliseconds; nullopt unless one of these.
std::optional<std::int64_t> parse_time_ms(std::string_view text, std::int64_t now_ms);

// What parse_time_ms accepts, for messages.
inline constexpr std::string_view k_time_forms =
    "now, a duration back from now (90s, 30m, 2h, 7d), unix seconds (@1764300000) or a date/time "
    "(2026-11-27, 2026-11-27T03:00, local time unless it ends in Z or +01:00)";

// "2026-11-27T03:00:00Z" (UTC, whole seconds).
std::string format_utc(std::int64_t unix_s);

// Now, in unix milliseconds.
std::int64_t now_unix_ms();

}  // namespace gd::util
