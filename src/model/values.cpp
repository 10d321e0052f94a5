#include "ces/model/values.hpp"

#include <cstddef>
#include <limits>

#include "ces/common/text.hpp"

namespace ces::model {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsHex(std::string_view text, std::size_t min_len, std::size_t max_len) {
  if (text.size() < min_len || text.size() > max_len || text.size() % 2 != 0) return false;
  for (char c : text) {
    if (!text::IsHexDigit(c)) return false;
  }
  return true;
}

bool IsHash(std::string_view text) { return IsHex(text, 64, 64); }

bool IsPublicKey(std::string_view text) {
  if (text == "00") return true;
  if (text.size() == 66 && text.substr(0, 2) == "01") return IsHex(text, 66, 66);
  if (text.size() == 68 && text.substr(0, 2) == "02") return IsHex(text, 68, 68);
  return false;
}

bool IsSignature(std::string_view text) {
  if (text == "00") return true;
  return text.size() == 130 && (text.substr(0, 2) == "01" || text.substr(0, 2) == "02") && IsHex(text, 130, 130);
}

bool IsURef(std::string_view text) {
  // uref-<64>-<3>
  if (text.size() != 5 + 64 + 1 + 3 || text.substr(0, 5) != "uref-" || text[69] != '-') return false;
  if (!IsHex(text.substr(5, 64), 64, 64)) return false;
  for (std::size_t i = 70; i < 73; ++i) {
    if (text[i] < '0' || text[i] > '7') return false;
  }
  return true;
}

bool IsDecimal(std::string_view text) {
  if (text.empty() || text.size() > 155) return false;
  for (char c : text) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

bool IsKey(std::string_view text) {
  if (text.empty() || text.size() > 200) return false;
  if (text.front() < 'a' || text.front() > 'z') return false;
  for (char c : text) {
    if (!(text::IsHexDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_')) return false;
  }
  return true;
}

std::optional<std::string> AccountHashHex(std::string_view text) {
  constexpr std::string_view kPrefix = "account-hash-";
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view hex = text.substr(kPrefix.size());
  if (!IsHash(hex)) return std::nullopt;
  return text::ToLower(hex);
}

std::optional<std::int64_t> ParseTtlMillis(std::string_view text) {
  // humantime: numbers with units, optionally separated by spaces.
  struct Unit {
    std::string_view name;
    double millis;
  };
  static constexpr Unit kUnits[] = {
      {"nanos", 1e-6},  {"nsec", 1e-6},        {"ns", 1e-6},        {"usec", 1e-3},      {"us", 1e-3},
      {"millis", 1},    {"msec", 1},           {"ms", 1},           {"seconds", 1e3},    {"second", 1e3},
      {"secs", 1e3},    {"sec", 1e3},          {"s", 1e3},          {"minutes", 6e4},    {"minute", 6e4},
      {"mins", 6e4},    {"min", 6e4},          {"m", 6e4},          {"hours", 3.6e6},    {"hour", 3.6e6},
      {"hrs", 3.6e6},   {"hr", 3.6e6},         {"h", 3.6e6},        {"days", 8.64e7},    {"day", 8.64e7},
      {"d", 8.64e7},    {"weeks", 6.048e8},    {"week", 6.048e8},   {"w", 6.048e8},      {"months", 2.630016e9},
      {"month", 2.630016e9}, {"M", 2.630016e9}, {"years", 3.15576e10}, {"year", 3.15576e10}, {"y", 3.15576e10},
  };
  std::size_t i = 0;
  double total = 0;
  bool any = false;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i == text.size()) break;
    if (!IsDigit(text[i])) return std::nullopt;
    double number = 0;
    std::size_t digits = 0;
    while (i < text.size() && IsDigit(text[i])) {
      number = number * 10 + (text[i] - '0');
      ++i;
      if (++digits > 15) return std::nullopt;
    }
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t start = i;
    while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z'))) ++i;
    std::string_view unit = text.substr(start, i - start);
    const Unit* found = nullptr;
    for (const Unit& u : kUnits) {
      if (u.name == unit) {
        found = &u;
        break;
      }
    }
    if (!found) return std::nullopt;
    total += number * found->millis;
    any = true;
  }
  if (!any || total > static_cast<double>(std::numeric_limits<std::int64_t>::max() / 2)) return std::nullopt;
  return static_cast<std::int64_t>(total);
}

}  // namespace ces::model
