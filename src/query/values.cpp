#include "ces/query/values.hpp"

#include <cctype>

#include "ces/common/blake2b.hpp"
#include "ces/common/json.hpp"
#include "ces/common/log.hpp"
#include "ces/common/text.hpp"

namespace ces::query {
namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

std::optional<std::string> ParseHash(std::string_view text) {
  if (text.size() != 64 || !text::IsHex(text)) return std::nullopt;
  return text::ToLower(text);
}

std::optional<std::string> ParsePublicKey(std::string_view text) {
  if (!text::IsHex(text)) return std::nullopt;
  if (text.size() == 66 && text.substr(0, 2) == "01") return text::ToLower(text);
  if (text.size() == 68 && text.substr(0, 2) == "02") return text::ToLower(text);
  return std::nullopt;
}

std::string AccountHashOf(const std::string& public_key) {
  std::string preimage = public_key.substr(0, 2) == "01" ? "ed25519" : "secp256k1";
  preimage.push_back('\0');
  for (std::size_t i = 2; i + 1 < public_key.size(); i += 2) {
    preimage.push_back(static_cast<char>(text::HexDigitValue(public_key[i]) * 16 + text::HexDigitValue(public_key[i + 1])));
  }
  const auto digest = common::Blake2b256(reinterpret_cast<const std::uint8_t*>(preimage.data()), preimage.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (auto b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::optional<Account> ParseAccount(std::string_view text) {
  if (auto key = ParsePublicKey(text)) return Account{*key, AccountHashOf(*key)};
  if (text.substr(0, 13) == "account-hash-") text.remove_prefix(13);
  if (auto hash = ParseHash(text)) return Account{std::nullopt, *hash};
  return std::nullopt;
}

std::optional<std::int64_t> ParseNonNegative(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value > 9223372036854775807ULL) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

std::string Base64UrlEncode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const std::uint32_t n = (static_cast<std::uint8_t>(data[i]) << 16) | (static_cast<std::uint8_t>(data[i + 1]) << 8) |
                            static_cast<std::uint8_t>(data[i + 2]);
    out.push_back(kBase64Url[(n >> 18) & 63]);
    out.push_back(kBase64Url[(n >> 12) & 63]);
    out.push_back(kBase64Url[(n >> 6) & 63]);
    out.push_back(kBase64Url[n & 63]);
  }
  if (i < data.size()) {
    std::uint32_t n = static_cast<std::uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) n |= static_cast<std::uint8_t>(data[i + 1]) << 8;
    out.push_back(kBase64Url[(n >> 18) & 63]);
    out.push_back(kBase64Url[(n >> 12) & 63]);
    if (i + 1 < data.size()) out.push_back(kBase64Url[(n >> 6) & 63]);
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

namespace {

// "YYYY-MM-DD HH:MM:SS[.f…]+00" as "YYYY-MM-DDTHH:MM:SS.fff" followed by `zone`.
void AppendIsoTime(std::string& out, std::string_view t, std::string_view zone) {
  if (t.size() < 19 || t[10] != ' ') {
    json::AppendString(out, t);  // infinity or an unexpected form: as PostgreSQL wrote it
    return;
  }
  out.push_back('"');
  out.append(t.substr(0, 10));
  out.push_back('T');
  out.append(t.substr(11, 8));
  out.push_back('.');
  std::size_t pos = 19;
  int digits = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (digits < 3) out.push_back(t[pos]);
      ++digits;
      ++pos;
    }
  }
  for (; digits < 3; ++digits) out.push_back('0');
  out += zone;
  out += '"';
}

}  // namespace

void AppendJsonTime(std::string& out, std::string_view t) { AppendIsoTime(out, t, "Z"); }

void AppendJavaTime(std::string& out, std::string_view t) { AppendIsoTime(out, t, "+00:00"); }

void AppendJsonNumber(std::string& out, std::string_view v) {
  std::size_t i = v.empty() || v[0] != '-' ? 0 : 1;
  const std::size_t digits_start = i;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
  bool ok = i > digits_start;
  if (ok && i < v.size() && v[i] == '.') {
    ++i;
    const std::size_t fraction = i;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
    ok = i > fraction;
  }
  if (ok && i == v.size()) {
    out.append(v);
  } else {
    json::AppendString(out, v);
  }
}

}  // namespace ces::query
