#pragma once
// The top-level filter keys of a Casper payload (1.x and 2.x shapes, ../shared/reference/casper-events.md):
//
//   block_hash        BlockAdded, FinalitySignature, DeployProcessed, TransactionProcessed
//   block_height      BlockAdded, FinalitySignature V2
//   transaction_hash  DeployAccepted/Processed/Expired (the deploy hash), TransactionAccepted/
//                     Processed/Expired (Deploy or Version1 hash)
//   public_key        validator key: FinalitySignature signer, BlockAdded proposer, Fault
//   account           initiator of a deploy or transaction: its public key, or account-hash-… when
//                     the initiator is given as an account hash
//
// Hex values are lower-cased. A payload that is not JSON or lacks a key simply yields no key.

#include <string_view>

#include "ces/mongo/audit_store.hpp"

namespace ces::audit {

mongo::FilterKeys ExtractFilterKeys(std::string_view event_type, std::string_view payload);

// True if `text` is one valid JSON value.
bool IsValidJson(std::string_view text);

}  // namespace ces::audit
