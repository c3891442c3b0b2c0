// Wall-clock helpers: timestamps in storage and events are UTC ISO-8601 with microseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace atlas::clock {

int64_t now_unix_ms();
int64_t now_unix_us();
// "2026-11-25T20:42:44.123456Z"
std::string iso8601_utc(int64_t unix_us);
inline std::string now_iso8601() { return iso8601_utc(now_unix_us()); }
// "2026-11-25T20:42:44.123Z", "2026-11-25 20:42:44+02:00", "2026-11-25" -> unix seconds;
// nullopt when `text` is not such a timestamp (no offset means UTC).
std::optional<int64_t> parse_iso8601_seconds(std::string_view text);
// Monotonic seconds since an arbitrary start, for measuring latency.
inline double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace atlas::clock
