#include "gd/util/time.hpp"

#include <cmath>
#include <ctime>
#include <string>

#include "gd/util/strings.hpp"

namespace gd::util {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int to_int(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

// UTC offset in seconds from "Z", "+0100", "+01:00", "-05"; nullopt when absent (local time).
std::optional<int> zone_offset(std::string_view z, bool& bad) {
  bad = false;
  if (z.empty()) return std::nullopt;
  if (z == "Z") return 0;
  if (z[0] != '+' && z[0] != '-') return bad = true, std::nullopt;
  std::string digits;
  for (char c : z.substr(1)) {
    if (is_digit(c)) digits += c;
    else if (c != ':') return bad = true, std::nullopt;
  }
  if (digits.size() != 2 && digits.size() != 4) return bad = true, std::nullopt;
  int minutes = to_int(std::string_view(digits).substr(0, 2)) * 60 +
                (digits.size() == 4 ? to_int(std::string_view(digits).substr(2, 2)) : 0);
  return (z[0] == '-' ? -60 : 60) * minutes;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  double mult = 1000;
  std::string s(trim(text));
  if (s.ends_with("ms")) mult = 1, s.resize(s.size() - 2);
  else if (s.ends_with("s")) s.pop_back();
  else if (s.ends_with("m")) mult = 60e3, s.pop_back();
  else if (s.ends_with("h")) mult = 3600e3, s.pop_back();
  else if (s.ends_with("d")) mult = 86400e3, s.pop_back();
  if (s.empty() || s.find_first_not_of("0123456789.") != std::string::npos) return std::nullopt;  // no nan, inf, sign
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end || !std::isfinite(v) || !(v > 0) || v * mult > 1e15) return std::nullopt;
  auto ms = static_cast<long long>(std::llround(v * mult));
  if (ms <= 0) return std::nullopt;
  return std::chrono::milliseconds(ms);
}

std::optional<std::int64_t> parse_iso_time(std::string_view s) {
  std::string full(s);
  if (full.size() == 10) full += "T00:00:00";
  if (full.size() >= 16 && (full.size() == 16 || (!is_digit(full[16]) && full[16] != ':'))) full.insert(16, ":00");
  if (full.size() < 19) return std::nullopt;
  for (std::size_t i = 0; i < 19; ++i) {
    bool sep = i == 4 || i == 7 || i == 10 || i == 13 || i == 16;
    if (!sep && !is_digit(full[i])) return std::nullopt;
  }
  if (full[4] != '-' || full[7] != '-' || (full[10] != 'T' && full[10] != ' ') || full[13] != ':' || full[16] != ':')
    return std::nullopt;
  std::string_view rest = std::string_view(full).substr(19);
  if (!rest.empty() && (rest[0] == '.' || rest[0] == ',')) {
    rest.remove_prefix(1);
    while (!rest.empty() && is_digit(rest[0])) rest.remove_prefix(1);
  }
  bool bad = false;
  auto offset = zone_offset(rest, bad);
  if (bad) return std::nullopt;
  std::tm tm{};
  tm.tm_year = to_int(std::string_view(full).substr(0, 4)) - 1900;
  tm.tm_mon = to_int(std::string_view(full).substr(5, 2)) - 1;
  tm.tm_mday = to_int(std::string_view(full).substr(8, 2));
  tm.tm_hour = to_int(std::string_view(full).substr(11, 2));
  tm.tm_min = to_int(std::string_view(full).substr(14, 2));
  tm.tm_sec = to_int(std::string_view(full).substr(17, 2));
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60)
    return std::nullopt;
  if (offset) return static_cast<std::int64_t>(timegm(&tm)) - *offset;
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<std::int64_t>(t);
}

std::optional<int> month_index(std::string_view m) {
  static constexpr std::string_view k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i)
    if (m == k_months[i]) return i;
  return std::nullopt;
}

std::optional<std::array<int, 3>> parse_clock(std::string_view s) {
  if (s.size() < 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  for (int i : {0, 1, 3, 4, 6, 7})
    if (!is_digit(s[i])) return std::nullopt;
  return std::array<int, 3>{to_int(s.substr(0, 2)), to_int(s.substr(3, 2)), to_int(s.substr(6, 2))};
}

std::optional<std::int64_t> local_unix_time(int year, int month0, int day, int h, int m, int s) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month0;
  tm.tm_mday = day;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = s;
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<std::int64_t>(t);
}

std::optional<std::int64_t> parse_ctime(std::string_view s) {
  std::string_view f[6];
  std::size_t n = 0, i = 0;
  while (i < s.size()) {  // five fields separated by runs of spaces
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > b) {
      if (n == 6) return std::nullopt;
      f[n++] = s.substr(b, i - b);
    }
  }
  if (n != 5 || f[0].size() != 3 || f[3].size() != 8 || f[2].size() > 2 || f[4].size() != 4) return std::nullopt;
  auto month = month_index(f[1]);
  auto hms = parse_clock(f[3]);
  for (char c : f[2])
    if (!is_digit(c)) return std::nullopt;
  for (char c : f[4])
    if (!is_digit(c)) return std::nullopt;
  if (!month || !hms || f[2].empty()) return std::nullopt;
  int day = to_int(f[2]), year = to_int(f[4]);
  if (day < 1 || day > 31 || (*hms)[0] > 23 || (*hms)[1] > 59 || (*hms)[2] > 60) return std::nullopt;
  return local_unix_time(year, *month, day, (*hms)[0], (*hms)[1], (*hms)[2]);
}

std::optional<std::int64_t> parse_time_ms(std::string_view text, std::int64_t now_ms) {
  std::string_view s = trim(text);
  if (s == "now") return now_ms;
  std::string_view digits = s.starts_with("@") ? s.substr(1) : s;
  bool all_digits = !digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos;
  if (all_digits && (s.starts_with("@") || digits.size() >= 9)) {
    auto v = parse_u64(digits);
    if (!v || *v > 100'000'000'000ull) return std::nullopt;
    return static_cast<std::int64_t>(*v) * 1000;
  }
  if (s.find('-') == std::string_view::npos && s.find(':') == std::string_view::npos)
    if (auto d = parse_duration(s)) return now_ms - d->count();
  if (auto t = parse_iso_time(s)) return *t * 1000;
  return std::nullopt;
}

std::string format_utc(std::int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace gd::util
