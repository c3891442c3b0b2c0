// iso8601_utc is hand-formatted (no gmtime_r): check it against gmtime_r over a wide range
// of instants, including leap days, century rules and times before the epoch.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>

#include "common/clock.hpp"

namespace atlas::clock {
namespace {

std::string reference(int64_t unix_us) {
  std::time_t secs = static_cast<std::time_t>(unix_us / 1000000);
  long long micros = unix_us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  return buf;
}

TEST(Iso8601Utc, KnownInstants) {
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(iso8601_utc(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(iso8601_utc(951782400LL * 1000000 + 5), "2000-02-29T00:00:00.000005Z");  // leap day, century rule
  EXPECT_EQ(iso8601_utc(1709251199LL * 1000000 + 999999), "2024-02-29T23:59:59.999999Z");
  EXPECT_EQ(iso8601_utc(4102444800LL * 1000000), "2100-01-01T00:00:00.000000Z");
}

TEST(Iso8601Utc, AgreesWithGmtimeAcrossCenturies) {
  std::mt19937_64 rng(42);
  // 1900-01-01 .. 2399-12-31, microsecond resolution.
  std::uniform_int_distribution<int64_t> instant(-2208988800LL * 1000000, 13569465599LL * 1000000);
  for (int i = 0; i < 20000; ++i) {
    int64_t t = instant(rng);
    ASSERT_EQ(iso8601_utc(t), reference(t)) << "unix_us=" << t;
  }
}

}  // namespace
}  // namespace atlas::clock
