#include "ces/common/time.hpp"

#include <cstdio>

namespace ces::time {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool Digits(std::string_view text, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::string FormatRfc3339Millis(std::int64_t ms) {
  std::int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const std::int64_t millis = ms - secs * 1000;
  std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  std::int64_t rem = secs - days * 86400;
  // civil_from_days
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(rem / 3600), static_cast<long long>(rem % 3600 / 60),
                static_cast<long long>(rem % 60), static_cast<long long>(millis));
  return buffer;
}

std::optional<Rfc3339Parts> SplitRfc3339(std::string_view t) {
  Rfc3339Parts p;
  if (!Digits(t, 0, 4, p.year) || t.size() < 20 || t[4] != '-' || !Digits(t, 5, 2, p.month) || t[7] != '-' ||
      !Digits(t, 8, 2, p.day) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') || !Digits(t, 11, 2, p.hour) ||
      t[13] != ':' || !Digits(t, 14, 2, p.minute) || t[16] != ':' || !Digits(t, 17, 2, p.second)) {
    return std::nullopt;
  }
  p.separator = t[10];
  std::size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (p.fraction_digits < 3) p.millis = p.millis * 10 + (t[pos] - '0');
      ++p.fraction_digits;
      ++pos;
    }
    if (p.fraction_digits == 0) return std::nullopt;
    for (int i = p.fraction_digits; i < 3; ++i) p.millis *= 10;
  }
  if (pos >= t.size()) return std::nullopt;
  p.zone = t[pos];
  if (p.zone == 'Z' || p.zone == 'z') return pos + 1 == t.size() ? std::optional(p) : std::nullopt;
  if (p.zone != '+' && p.zone != '-') return std::nullopt;
  if (pos + 6 != t.size() || !Digits(t, pos + 1, 2, p.offset_hours) || t[pos + 3] != ':' ||
      !Digits(t, pos + 4, 2, p.offset_minutes)) {
    return std::nullopt;
  }
  return p;
}

bool IsCalendarDate(int year, int month, int day) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);
}

bool IsRfc3339(std::string_view text) {
  const auto p = SplitRfc3339(text);
  return p && IsCalendarDate(p->year, p->month, p->day) && p->hour <= 23 && p->minute <= 59 && p->second <= 59 &&
         p->fraction_digits <= 9 && p->offset_hours <= 23 && p->offset_minutes <= 59;
}

bool IsRfc3339Utc(std::string_view text) {
  const auto p = SplitRfc3339(text);
  return p && p->separator == 'T' && p->zone == 'Z' && IsRfc3339(text);
}

std::optional<std::int64_t> ParseRfc3339Millis(std::string_view text) {
  const auto p = SplitRfc3339(text);
  if (!p || p->month < 1 || p->month > 12 || p->day < 1 || p->day > 31 || p->hour > 23 || p->minute > 59 ||
      p->second > 60) {
    return std::nullopt;
  }
  const std::int64_t offset = (p->zone == '-' ? -1 : 1) * (p->offset_hours * 60 + p->offset_minutes);
  const std::int64_t days = DaysFromCivil(p->year, static_cast<unsigned>(p->month), static_cast<unsigned>(p->day));
  const std::int64_t seconds = days * 86400 + p->hour * 3600 + p->minute * 60 + p->second - offset * 60;
  return seconds * 1000 + p->millis;
}

}  // namespace ces::time
