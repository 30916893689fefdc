#include "gd/util/time.hpp"

#include <cstdlib>
#include <ctime>

#include <gtest/gtest.h>

namespace gd::util {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsUnitsAndPlainSeconds) {
  EXPECT_EQ(parse_duration("10s"), milliseconds(10000));
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("2m"), milliseconds(120000));
  EXPECT_EQ(parse_duration("1h"), milliseconds(3600000));
  EXPECT_EQ(parse_duration("7d"), milliseconds(7 * 86400000LL));
  EXPECT_EQ(parse_duration("2.5"), milliseconds(2500));
  EXPECT_EQ(parse_duration(" 3 "), milliseconds(3000));
}

TEST(ParseDuration, RejectsNanInfZeroNegativeAndJunk) {
  for (const char* bad : {"nan", "NaN", "inf", "-inf", "infinity", "0", "0s", "-1", "-1s", "+2", "abc", "", "s",
                          "1e3", "0x10", "1.2.3", "10x", "1e400", "99999999999999999999d"})
    EXPECT_EQ(parse_duration(bad), std::nullopt) << bad;
}

TEST(ParseIsoTime, ZonesAndLocalTime) {
  EXPECT_EQ(parse_iso_time("2026-11-27T03:00:00Z"), 1795748400);
  EXPECT_EQ(parse_iso_time("2026-11-27T03:00Z"), 1795748400);
  EXPECT_EQ(parse_iso_time("2026-11-27T04:00:00+01:00"), 1795748400);
  EXPECT_EQ(parse_iso_time("2026-11-26T22:00:00-0500"), 1795748400);
  EXPECT_EQ(parse_iso_time("2026-11-27T03:00:00.123456Z"), 1795748400);
  // Without a zone: local time, the same for every command.
  ::setenv("TZ", "Europe/Berlin", 1);
  ::tzset();
  EXPECT_EQ(parse_iso_time("2026-11-27 04:00"), 1795748400);
  EXPECT_EQ(parse_iso_time("2026-11-27"), 1795748400 - 4 * 3600);
  ::unsetenv("TZ");
  ::tzset();
  for (const char* bad : {"2026-13-01", "2026-11-27T25:00", "2026-11-27T03:00:00+1", "27.11.2026", "2026-11",
                          "2026-11-27Tnoon", "2026-11-27T03:00:00 UTC"})
    EXPECT_EQ(parse_iso_time(bad), std::nullopt) << bad;
}

TEST(ParseTime, EveryForm) {
  const std::int64_t now = 1764300000000;
  EXPECT_EQ(parse_time_ms("now", now), now);
  EXPECT_EQ(parse_time_ms("2h", now), now - 7200000);
  EXPECT_EQ(parse_time_ms("@1700000000", now), 1700000000000);
  EXPECT_EQ(parse_time_ms("1700000000", now), 1700000000000);
  EXPECT_EQ(parse_time_ms("2026-11-27T03:00Z", now), 1795748400000);
  for (const char* bad : {"soon", "", "nan", "@", "@-1", "2026-11-27x"}) EXPECT_EQ(parse_time_ms(bad, now), std::nullopt) << bad;
}

}  // namespace
}  // namespace gd::util
