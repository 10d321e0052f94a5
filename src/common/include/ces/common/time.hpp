#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace ces::time {

using Clock = std::chrono::system_clock;

inline Clock::time_point Now() { return Clock::now(); }
// RFC 3339 UTC with milliseconds, e.g. 2024-06-12T09:26:25.460Z (the format Casper nodes use).
std::string FormatRfc3339(Clock::time_point tp);
inline std::int64_t UnixMillis(Clock::time_point tp) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
}

}  // namespace ces::time
