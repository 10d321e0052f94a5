#include "ces/chain/identity.hpp"

#include <openssl/sha.h>
#include <simdjson.h>

#include <cstring>

#include "ces/audit/keys.hpp"
#include "ces/audit/record.hpp"
#include "ces/common/dom_parser.hpp"

namespace ces::chain {
namespace {

// The era of a Step or Fault payload ({"Step":{"era_id":N,...}}).
std::optional<std::uint64_t> EraOf(std::string_view event_type, std::string_view payload) {
  thread_local json::DomParser parser;
  const auto parsed = parser.Parse(payload);
  if (parsed.error != simdjson::SUCCESS) return std::nullopt;
  std::uint64_t era = 0;
  if (parsed.root.at_key(event_type).at_key("era_id").get_uint64().get(era) != simdjson::SUCCESS) return std::nullopt;
  return era;
}

bool IsTransactionEvent(std::string_view t) {
  return t == "DeployAccepted" || t == "DeployProcessed" || t == "DeployExpired" || t == "TransactionAccepted" ||
         t == "TransactionProcessed" || t == "TransactionExpired";
}

std::string ByContent(std::string_view event_type, std::string_view payload) {
  return std::string(event_type) + " sha256:" + audit::Sha256Hex(payload);
}

}  // namespace

std::optional<std::string> IdentityKey(std::string_view event_type, std::string_view payload) {
  if (event_type == "Shutdown" || event_type == "ApiVersion") return std::nullopt;
  const std::string type(event_type);
  if (event_type == "Step" || event_type == "Fault") {
    const auto era = EraOf(event_type, payload);
    if (!era) return ByContent(event_type, payload);
    if (event_type == "Step") return "step " + std::to_string(*era);
    const auto keys = audit::ExtractFilterKeys(type, payload);
    if (!keys.public_key) return ByContent(event_type, payload);
    return "fault " + std::to_string(*era) + " " + *keys.public_key;
  }
  const auto keys = audit::ExtractFilterKeys(type, payload);
  if (event_type == "BlockAdded" && keys.block_hash) return "block " + *keys.block_hash;
  if (event_type == "FinalitySignature" && keys.block_hash && keys.public_key) {
    return "sig " + *keys.block_hash + " " + *keys.public_key;
  }
  if (IsTransactionEvent(event_type) && keys.transaction_hash) return type + " " + *keys.transaction_hash;
  return ByContent(event_type, payload);
}

Digest DigestOf(std::string_view key) {
  unsigned char full[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), full);
  Digest d{};
  std::memcpy(d.data(), full, sizeof d);
  return d;
}

}  // namespace ces::chain
