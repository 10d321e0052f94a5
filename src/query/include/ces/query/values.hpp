#pragma once
// Validation and encoding of the query API's values: hashes, public keys, accounts, integers, RFC 3339
// times, opaque cursors (base64url), and JSON text written straight into a std::string.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ces::query {

// 64 hex digits (either case) -> lower-case; nullopt otherwise.
std::optional<std::string> ParseHash(std::string_view text);
// "01" + 64 hex (Ed25519) or "02" + 66 hex (secp256k1) -> lower-case; nullopt otherwise.
std::optional<std::string> ParsePublicKey(std::string_view text);
// The account hash (64 lower-case hex) of a validated public key: blake2b-256("ed25519"|"secp256k1", 0, key bytes).
std::string AccountHashOf(const std::string& public_key);

// An account given as a public key or as an account hash (64 hex, optionally "account-hash-").
struct Account {
  std::optional<std::string> public_key;
  std::string account_hash;
};
std::optional<Account> ParseAccount(std::string_view text);

// A decimal integer 0 .. 2^63-1 (no sign, no spaces).
std::optional<std::int64_t> ParseNonNegative(std::string_view text);

std::string Base64UrlEncode(std::string_view data);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Appends a PostgreSQL timestamptz text (UTC, ISO style: "2022-10-12 11:18:39.1+00") as a JSON string
// "2022-10-12T11:18:39.100Z".
void AppendJsonTime(std::string& out, std::string_view pg_text);
// The same instant as Jackson's default date format writes it: "2022-10-12T11:18:39.100+00:00".
void AppendJavaTime(std::string& out, std::string_view pg_text);
// A PostgreSQL numeric text as a JSON number, its digits as they are ("12345678901234567890123");
// a value that is not a plain decimal (NaN, Infinity) as a JSON string.
void AppendJsonNumber(std::string& out, std::string_view pg_numeric);

}  // namespace ces::query
