#pragma once
// The validated content of Casper node JSON-RPC answers (1.x node, 2.x node/sidecar), and the pure
// functions that turn a response body into it. Every `*_json` member is the node's own bytes for that
// part of the answer (whitespace outside strings removed, as on the node's SSE stream), never
// re-serialised. A body that is not a complete, well-typed answer for what was asked is an Error
// naming the method and the height or hash — never a partial value.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ces/rpc/result.hpp"

namespace ces::rpc {

// JSON-RPC method names.
inline constexpr std::string_view kGetStatus = "info_get_status";
inline constexpr std::string_view kGetBlock = "chain_get_block";
inline constexpr std::string_view kGetTransaction = "info_get_transaction";
inline constexpr std::string_view kGetDeploy = "info_get_deploy";
inline constexpr std::string_view kGetEraSummary = "chain_get_era_summary";
inline constexpr std::string_view kGetEraInfoBySwitchBlock = "chain_get_era_info_by_switch_block";
inline constexpr std::string_view kGetReward = "info_get_reward";

// Protocol generation of the node that answered, told by the answer's shape (1.x: `block`,
// `execution_results`; 2.x: `block_with_signatures`, `execution_info`, versioned transactions).
enum class Generation { kV1, kV2 };

struct BlockRange {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
};

struct BlockInfo {  // info_get_status last_added_block_info
  std::string hash;
  std::uint64_t height = 0;
  std::uint64_t era_id = 0;
  std::string timestamp;
};

struct Status {  // info_get_status
  Generation generation = Generation::kV2;  // from api_version's major
  std::string api_version;
  std::string chainspec_name;
  std::optional<BlockRange> available_block_range;  // absent on nodes older than 1.5
  std::optional<BlockInfo> last_added_block;
};

enum class HashKind { kDeploy, kVersion1 };

struct TransactionId {
  HashKind kind = HashKind::kDeploy;
  std::string hash;  // 64 hex digits
  bool operator==(const TransactionId&) const = default;
};

struct Proof {
  std::string public_key;
  std::string signature;
};

struct Block {  // chain_get_block by height
  Generation generation = Generation::kV2;
  int version = 0;  // 2.x answers: 1 (`Version1`) or 2 (`Version2`); 1.x answers: 0 (unversioned JsonBlock)
  std::string hash;
  std::uint64_t height = 0;
  std::uint64_t era_id = 0;
  bool switch_block = false;  // era_end is not null
  std::string block_json;     // 1.x: the JsonBlock (with its proofs); 2.x: {"Version1"|"Version2":{…}}
  std::string header_json;    // the header object
  std::string body_json;      // the body object
  std::vector<Proof> proofs;  // finality signatures, in the answer's order
  // Every transaction of the block in execution order: 1.x deploy_hashes then transfer_hashes,
  // 2.x Version2 lanes in the body's order (Version1 blocks: as 1.x).
  std::vector<TransactionId> transactions;
};

struct Execution {
  std::string block_hash;
  std::optional<std::uint64_t> block_height;  // 2.x execution_info only
  std::string result_json;  // 1.x {"Success"|"Failure":…}; 2.x {"Version1"|"Version2":…}
};

struct Transaction {  // info_get_transaction (2.x), info_get_deploy (both)
  Generation generation = Generation::kV2;
  std::string_view method;  // the method that answered: kGetTransaction or kGetDeploy
  TransactionId id;
  std::string body_json;  // the Deploy or TransactionV1 object itself (no version wrapper)
  // From the deploy header / transaction payload:
  std::string initiator_addr_json;  // {"PublicKey":…} or {"AccountHash":…}; a deploy's account as {"PublicKey":…}
  std::string account;              // deploys: header.account (empty for TransactionV1)
  std::string timestamp;
  std::string ttl;
  std::string dependencies_json;    // deploys: header.dependencies (empty for TransactionV1)
  // 1.x: every execution_results entry; 2.x: the execution_info if it has a result.
  std::vector<Execution> executions;
  // 2.x: effects that write a contract message (`{"Write":{"Message":…}}`): the message payloads are
  // not in any RPC answer.
  std::size_t message_writes = 0;
};

struct EraSummary {  // chain_get_era_summary (2.x), chain_get_era_info_by_switch_block (1.x)
  std::string block_hash;
  std::uint64_t era_id = 0;
  std::string stored_value_json;  // {"EraInfo":{"seigniorage_allocations":[…]}}
  std::string state_root_hash;
  std::string json;               // the whole era_summary object
};

struct Reward {  // info_get_reward (2.x)
  std::string reward_amount;  // U512 decimal string
  std::uint64_t era_id = 0;
  unsigned delegation_rate = 0;
  std::string switch_block_hash;
};

struct RewardQuery {
  std::string validator;                   // public key hex
  std::optional<std::string> delegator;    // public key hex
  std::optional<std::uint64_t> era_id;     // era_identifier {"Era":n}; else the last finalized era
};

// Parse a complete JSON-RPC response body (envelope included). `expected_id`, when given, must equal
// the response id. JSON-RPC errors: the node's "not found" codes (-32000 no such deploy, -32001 no such
// block, -32003 query failed (era summary), -32014 no such transaction, -32022 no rewards,
// -32023 switch block not found) give kNotFound, others kNode.
Result<Status> ParseStatus(std::string_view body, std::optional<std::int64_t> expected_id = std::nullopt);
Result<Block> ParseBlock(std::string_view body, std::uint64_t height,
                         std::optional<std::int64_t> expected_id = std::nullopt);
// info_get_transaction (asked with `id`) or info_get_deploy (asked with a kDeploy id), either generation.
Result<Transaction> ParseTransaction(std::string_view body, std::string_view method, const TransactionId& id,
                                     std::optional<std::int64_t> expected_id = std::nullopt);
// chain_get_era_summary at `height`; chain_get_era_info_by_switch_block gives nullopt for a block
// that is not a switch block.
Result<EraSummary> ParseEraSummary(std::string_view body, std::uint64_t height,
                                   std::optional<std::int64_t> expected_id = std::nullopt);
Result<std::optional<EraSummary>> ParseEraInfoBySwitchBlock(std::string_view body, std::uint64_t height,
                                                            std::optional<std::int64_t> expected_id = std::nullopt);
Result<Reward> ParseReward(std::string_view body, const RewardQuery& query,
                           std::optional<std::int64_t> expected_id = std::nullopt);

// Request bodies ({"jsonrpc":"2.0","id":…,"method":…,"params":…}); empty when an argument is invalid
// (a hash or key that is not hex).
std::string StatusRequest(std::int64_t id);
std::string BlockRequest(std::int64_t id, std::string_view method, std::uint64_t height);  // chain_get_block, era methods
std::string TransactionRequest(std::int64_t id, const TransactionId& tx);                // info_get_transaction
std::string DeployRequest(std::int64_t id, std::string_view deploy_hash);                // info_get_deploy
std::string RewardRequest(std::int64_t id, const RewardQuery& query);                    // info_get_reward

// "Deploy 5743…" / "Version1 968f…": how calls and errors name a transaction.
std::string Describe(const TransactionId& id);

}  // namespace ces::rpc
