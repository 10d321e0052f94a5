#pragma once
// Time in the pipeline's one text format, RFC 3339: formatting (UTC, milliseconds, as Casper nodes
// write it), and parsing/validation at three strictnesses:
//   IsRfc3339Utc       what a node sends: YYYY-MM-DDTHH:MM:SS[.1-9 digits]Z, a real calendar date;
//   IsRfc3339          what a client may send: also t/space separators, z, ±HH:MM offsets;
//   ParseRfc3339Millis to Unix milliseconds, lenient on the calendar (day <= 31, leap second 60).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ces::time {

using Clock = std::chrono::system_clock;

inline Clock::time_point Now() { return Clock::now(); }
inline std::int64_t UnixMillis(Clock::time_point tp) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
}

// Unix milliseconds -> "2024-06-12T09:26:25.460Z" (any sign, proleptic Gregorian calendar).
std::string FormatRfc3339Millis(std::int64_t ms);
// RFC 3339 UTC with milliseconds, e.g. 2024-06-12T09:26:25.460Z (the format Casper nodes use).
inline std::string FormatRfc3339(Clock::time_point tp) { return FormatRfc3339Millis(UnixMillis(tp)); }

// The fields of YYYY-MM-DD(T|t|' ')HH:MM:SS[.digits](Z|z|+HH:MM|-HH:MM), the grammar only: no range checks.
struct Rfc3339Parts {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::int64_t millis = 0;  // the first three fraction digits
  int fraction_digits = 0;  // 0: no fraction
  char separator = 'T';     // T, t or space
  char zone = 'Z';          // Z, z, + or -
  int offset_hours = 0, offset_minutes = 0;
};
std::optional<Rfc3339Parts> SplitRfc3339(std::string_view text);

// A real proleptic Gregorian date, year >= 1.
bool IsCalendarDate(int year, int month, int day);

// RFC 3339 date-time ("2024-07-01T10:00:00Z", "…T10:00:00.123+02:00"); validated, including the calendar.
bool IsRfc3339(std::string_view text);
// RFC 3339 UTC as nodes write it: YYYY-MM-DDTHH:MM:SS[.fraction]Z with a real calendar date.
bool IsRfc3339Utc(std::string_view text);
// "2024-06-12T09:26:25.460Z" (or with an offset such as +02:00; fraction optional) -> Unix milliseconds.
std::optional<std::int64_t> ParseRfc3339Millis(std::string_view text);

}  // namespace ces::time
