#pragma once
// Private to ces::model: what the parser's event families (parser_*.cpp) share. Typed accessors over
// simdjson On Demand values (every failure names the field), the object/array/variant walkers, the
// rows an execution result yields, and the entry point of each family that Parser::Parse dispatches to.
// Bad input throws Reject inside the parser only; Parser turns it into a rejection value.

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ces/common/text.hpp"
#include "ces/common/time.hpp"
#include "ces/model/rows.hpp"
#include "ces/model/values.hpp"

namespace ces::model::detail {

namespace od = simdjson::ondemand;

// Thrown by the parser's families only; Parser::Parse and the RPC response readers turn it into a
// rejection.
struct Reject {
  std::string reason;
};

[[noreturn]] void Fail(std::string reason);
[[noreturn]] void Fail(std::string_view path, std::string_view what, simdjson::error_code error = simdjson::SUCCESS);

// ---- typed accessors (every failure names the field) ----

inline bool IsNull(od::value& v) {
  bool null = false;
  if (v.is_null().get(null) != simdjson::SUCCESS) return false;
  return null;
}

inline std::string_view Str(od::value& v, std::string_view path) {
  std::string_view s;
  if (auto e = v.get_string().get(s)) Fail(path, "expected a string", e);
  return s;
}

inline std::string Text(od::value& v, std::string_view path) { return std::string(Str(v, path)); }

inline OptText OptionalText(od::value& v, std::string_view path) {
  if (IsNull(v)) return std::nullopt;
  return Text(v, path);
}

inline std::string Hash(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsHash(s)) Fail(path, "expected a 64-digit hex hash");
  return text::ToLower(s);
}

inline OptText OptionalHash(od::value& v, std::string_view path) {
  if (IsNull(v)) return std::nullopt;
  return Hash(v, path);
}

inline std::string PublicKey(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsPublicKey(s)) Fail(path, "expected a public key (00, 01+64 or 02+66 hex digits)");
  return text::ToLower(s);
}

inline OptText OptionalPublicKey(od::value& v, std::string_view path) {
  if (IsNull(v)) return std::nullopt;
  return PublicKey(v, path);
}

inline std::string Signature(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsSignature(s)) Fail(path, "expected a signature (01/02 + 128 hex digits)");
  return text::ToLower(s);
}

inline std::string URef(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsURef(s)) Fail(path, "expected a URef (uref-<64 hex>-<access>)");
  return text::ToLower(s);
}

inline std::string AccountHash(od::value& v, std::string_view path) {
  auto hex = AccountHashHex(Str(v, path));
  if (!hex) Fail(path, "expected an account hash (account-hash-<64 hex>)");
  return *hex;
}

inline OptText OptionalAccountHash(od::value& v, std::string_view path) {
  if (IsNull(v)) return std::nullopt;
  return AccountHash(v, path);
}

inline std::string Key(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsKey(s)) Fail(path, "expected a Key string");
  return text::ToLower(s);
}

inline std::string Timestamp(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!time::IsRfc3339Utc(s)) Fail(path, "expected an RFC 3339 UTC timestamp");
  return std::string(s);
}

inline std::int64_t Ttl(od::value& v, std::string_view path) {
  auto ms = ParseTtlMillis(Str(v, path));
  if (!ms) Fail(path, "expected a duration such as \"30m\"");
  return *ms;
}

// U512/U256/U128 as a decimal string.
inline std::string Motes(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsDecimal(s)) Fail(path, "expected a decimal string");
  return std::string(s);
}

inline std::uint64_t U64(od::value& v, std::string_view path) {
  std::uint64_t x = 0;
  if (auto e = v.get_uint64().get(x)) Fail(path, "expected an unsigned integer", e);
  return x;
}

inline std::int64_t Int64(od::value& v, std::string_view path) {
  std::uint64_t x = U64(v, path);
  if (x > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    Fail(path, "value exceeds 2^63-1, which the store does not hold");
  }
  return static_cast<std::int64_t>(x);
}

// A u64 that may be a bare integer or a decimal string, as decimal text (numeric columns).
inline std::string U64Text(od::value& v, std::string_view path) {
  od::json_type type;
  if (auto e = v.type().get(type)) Fail(path, "unreadable value", e);
  if (type == od::json_type::string) return Motes(v, path);
  return std::to_string(U64(v, path));
}

inline OptText OptionalU64Text(od::value& v, std::string_view path) {
  if (IsNull(v)) return std::nullopt;
  return U64Text(v, path);
}

inline bool Bool(od::value& v, std::string_view path) {
  bool b = false;
  if (auto e = v.get_bool().get(b)) Fail(path, "expected true or false", e);
  return b;
}

template <class F>
void Fields(od::value& v, std::string_view path, F&& f) {
  od::object object;
  if (auto e = v.get_object().get(object)) Fail(path, "expected an object", e);
  for (auto field_result : object) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) Fail(path, "malformed object", e);
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) Fail(path, "malformed key", e);
    f(key, field.value());
  }
}

template <class F>
void Elements(od::value& v, std::string_view path, F&& f) {
  od::array array;
  if (auto e = v.get_array().get(array)) Fail(path, "expected an array", e);
  std::size_t index = 0;
  for (auto element_result : array) {
    od::value element;
    if (auto e = std::move(element_result).get(element)) Fail(path, "malformed array", e);
    f(element, index++);
  }
}

// {"Variant": value} objects (Rust enums): calls f(variant, value) for the single key.
template <class F>
void Variant(od::value& v, std::string_view path, F&& f) {
  int count = 0;
  Fields(v, path, [&](std::string_view key, od::value& inner) {
    if (++count > 1) Fail(path, "expected an object with one variant key");
    f(key, inner);
  });
  if (count == 0) Fail(path, "empty variant object");
}

inline std::size_t CountElements(od::value& v, std::string_view path) {
  std::size_t n = 0;
  Elements(v, path, [&](od::value&, std::size_t) { ++n; });
  return n;
}

// ---- transaction identities (parser_transaction.cpp) ----

struct TxHash {
  std::string hash;
  std::string kind;  // deploy | version1
};

// {"Deploy": hash} | {"Version1": hash}
TxHash TransactionHash(od::value& v, std::string_view path);
// {"PublicKey": pk} | {"AccountHash": "account-hash-…"}
void InitiatorAddr(od::value& v, std::string_view path, OptText& public_key, OptText& account_hash);

// ---- execution results and their effects (parser_effects.cpp) ----

// Rows produced by one execution result before the transaction's identity is known.
struct EffectRows {
  std::vector<TransferRow> transfers;
  std::vector<BidRow> bids;
  std::vector<WithdrawalRow> withdrawals;
};

// 1.x ExecutionResult {"Success"|"Failure": {effect, transfers, cost, error_message}}
void ExecutionResultV1(od::value& v, std::string_view path, TransactionRow& tx, EffectRows& effects);
// 2.x ExecutionResultV2
void ExecutionResultV2(od::value& v, std::string_view path, TransactionRow& tx, EffectRows& effects);
// Moves the effect rows to `out`, stamped with the transaction's hash, block and time.
void AttachEffects(const TransactionRow& tx, EffectRows& effects, Rows& out);

// ---- seigniorage allocations (parser_rewards.cpp) ----

// EraInfo.seigniorage_allocations -> reward rows of `era_id` (validator entries only with `validators`).
void Allocations(od::value& v, std::string_view path, std::int64_t era_id, const char* source,
                 const OptText& switch_block_hash, bool validators, Rows& out);

// ---- the event families ----

void BlockAdded(od::value& v, Rows& out);                   // parser_block.cpp
void Deploy(od::value& v, std::string_view path, Rows& out);  // parser_transaction.cpp (DeployAccepted, …)
void TransactionAccepted(od::value& v, Rows& out);
void DeployProcessed(od::value& v, Rows& out);
void TransactionProcessed(od::value& v, Rows& out);
void Expired(od::value& v, bool v2, Rows& out);              // DeployExpired / TransactionExpired
void FinalitySignature(od::value& v, Rows& out);             // parser_signature.cpp
void Fault(od::value& v, Rows& out);                         // parser_fault.cpp
void Step(od::value& v, Rows& out);                          // parser_step.cpp

// The body of a node JSON-RPC response carrying an era summary (chain_get_era_info_by_switch_block,
// chain_get_era_summary): its allocations as reward rows (parser_rewards.cpp). Throws Reject.
void EraSummaryResponse(od::value& root, std::int64_t era_id, const std::string& switch_block_hash, bool validators,
                        Rows& out);

}  // namespace ces::model::detail
