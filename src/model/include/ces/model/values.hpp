#pragma once
// Validation and normalisation of Casper scalar encodings (see rows.hpp for the stored forms).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ces::model {

// Hex digits only (either case), even length, length within [min_len, max_len].
bool IsHex(std::string_view text, std::size_t min_len, std::size_t max_len);
// A 32-byte hash: exactly 64 hex digits.
bool IsHash(std::string_view text);
// A public key: "00" (system), "01" + 64 hex (Ed25519) or "02" + 66 hex (secp256k1).
bool IsPublicKey(std::string_view text);
// A signature: algorithm tag + hex ("00", or 01/02 followed by 128 hex digits).
bool IsSignature(std::string_view text);
// "uref-<64 hex>-<3 octal digits>".
bool IsURef(std::string_view text);
// A decimal unsigned integer (U64..U512): 1..155 digits.
bool IsDecimal(std::string_view text);
// A Key string: a lower-case prefix of letters and dashes followed by hex/digits/dashes, <= 200 chars.
bool IsKey(std::string_view text);
// "account-hash-<64 hex>" -> the 64 hex digits (lower-case); nullopt otherwise.
std::optional<std::string> AccountHashHex(std::string_view text);
// humantime durations ("30m", "1h 56m 52s 389ms", "1day", "2weeks 3d") -> milliseconds.
std::optional<std::int64_t> ParseTtlMillis(std::string_view text);

}  // namespace ces::model
