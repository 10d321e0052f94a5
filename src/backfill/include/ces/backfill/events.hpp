#pragma once
// Rebuilds, from a node's JSON-RPC answers for one block height, the SSE events its stream carried
// for that block — in the node's own JSON for its protocol generation, byte for byte where the RPC
// holds the same data (see docs/backfill.md for what it cannot hold). Pure: no I/O.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ces/rpc/answers.hpp"
#include "ces/rpc/result.hpp"

namespace ces::backfill {

struct Event {
  std::string type;     // the payload's top-level key: BlockAdded, FinalitySignature, DeployAccepted, …
  std::string payload;  // the SSE `data` payload (compact JSON)
  rpc::Generation generation = rpc::Generation::kV2;  // 1.x: goes to /events/<stream>; 2.x: /events
  std::string_view rpc_method;  // the JSON-RPC method whose answer gave the content
  std::uint64_t height = 0;     // of the block the event belongs to
  std::string block_hash;
  // What the event is about, for idempotent writes: the block hash (BlockAdded), the signer's public
  // key (FinalitySignature), the transaction ("Deploy <hash>" / "Version1 <hash>").
  std::string subject;
  // Fields the node's stream carried that the RPC cannot give (e.g. "messages"); empty when the
  // payload is what the node sent.
  std::vector<std::string> missing;
};

// The answers for one height: the block (chain_get_block), one answer per transaction of the block
// (info_get_transaction or info_get_deploy, any order), and the chain name (info_get_status
// chainspec_name: 2.x signatures carry its hash).
struct BlockAnswers {
  const rpc::Block* block = nullptr;
  std::span<const rpc::Transaction> transactions;
  std::string_view chain_name;
};

// Every event of the block, in the order the node emitted them: the transactions' Accepted events
// (sent when each arrived, before the block), BlockAdded, one Processed per transaction in execution
// order, then one FinalitySignature per proof. An Error (kMalformed, naming the height and the
// transaction) when the answers do not fit together: a transaction of the block without an answer,
// an answer of the other protocol generation, no execution result for this block.
rpc::Result<std::vector<Event>> Reconstruct(const BlockAnswers& answers);

// The single pieces Reconstruct is made of.
Event BlockAdded(const rpc::Block& block);
std::vector<Event> FinalitySignatures(const rpc::Block& block, std::string_view chain_name);
Event Accepted(const rpc::Block& block, const rpc::Transaction& tx);
rpc::Result<Event> Processed(const rpc::Block& block, const rpc::Transaction& tx);

// blake2b-256 of the chain name, lower-case hex: FinalitySignature V2's chain_name_hash.
std::string ChainNameHash(std::string_view chain_name);

}  // namespace ces::backfill
