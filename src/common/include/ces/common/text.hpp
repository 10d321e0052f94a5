#pragma once
// ASCII text checks shared by every parser: hex digits and lower-casing (hashes, public keys and
// signatures are hex, compared and stored lower-case).

#include <cstddef>
#include <string>
#include <string_view>

namespace ces::text {

constexpr bool IsHexDigit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
// 0..15, or -1 for a character that is not a hex digit.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
// Every character is a hex digit, either case (true for "").
bool IsHex(std::string_view text);
// Exactly `length` hex digits.
inline bool IsHexOfLength(std::string_view text, std::size_t length) { return text.size() == length && IsHex(text); }
// A-Z -> a-z; every other byte unchanged.
std::string ToLower(std::string_view text);

}  // namespace ces::text
