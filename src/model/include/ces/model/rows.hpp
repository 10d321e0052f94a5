#pragma once
// The relational model of Casper events (PostgreSQL tables of docs/schema.md), one struct per table.
//
// Encodings (validated by the parser, so the database never refuses a value):
//   * hashes, public keys, signatures: lower-case hex text without prefix (public keys keep their
//     algorithm tag 01/02); account hashes: the 64 hex digits without "account-hash-";
//   * URefs ("uref-<hex>-<access>") and generic Keys ("bid-…", "withdraw-…") as sent, lower-case;
//   * motes, weights, gas (U512/U256/U128) and u64 ids that may exceed int64: decimal digit strings
//     (stored as numeric);
//   * timestamps: RFC 3339 UTC strings as sent by the node (stored as timestamptz);
//   * era ids, heights and other u64 counters: int64 (the parser rejects values above 2^63-1).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ces::model {

using OptText = std::optional<std::string>;
using OptInt = std::optional<std::int64_t>;

// The node event a row came from: the Kafka headers source, stream, event-id and api-version (the
// audit store's identity of the event, docs/audit.md). Unknown (event_id empty) for a record without
// a node identity; the columns are then NULL.
struct EventIdentity {
  std::string source;
  std::string stream;
  OptInt event_id;
  std::string api_version;
  bool Known() const { return event_id.has_value(); }
};

struct BlockRow {
  std::string block_hash;
  std::int64_t height = 0;
  std::int64_t era_id = 0;
  std::string parent_hash;
  std::string state_root_hash;
  std::string body_hash;
  std::string accumulated_seed;
  std::optional<bool> random_bit;
  std::string timestamp;
  std::string proposer;
  std::string protocol_version;
  bool is_switch_block = false;
  int block_version = 1;          // 1: 1.x JsonBlock or 2.x BlockV1; 2: BlockV2
  int deploy_count = 0;           // 1.x deploy_hashes; 2.x legacy Deploy hashes in any lane
  int transfer_count = 0;         // 1.x transfer_hashes; 2.x hashes in the mint lane (0)
  int transaction_count = 0;      // every transaction/deploy hash of the block
  OptInt current_gas_price;       // 2.x
  OptText last_switch_block_hash; // 2.x
  EventIdentity event;            // the BlockAdded event
};

// Which transactions a block holds, in block order.
struct BlockTransactionRow {
  std::string block_hash;
  int position = 0;
  std::string transaction_hash;
  std::string transaction_kind;   // "deploy" | "version1"
  OptInt lane;                    // 2.x lane id; null for 1.x
  bool native_transfer = false;   // 1.x transfer_hashes, 2.x lane 0 (mint)
};

// Lifecycle status with precedence: a later, stronger status never goes back.
enum class TxStatus { kAccepted = 0, kExpired = 1, kProcessed = 2 };
const char* TxStatusName(TxStatus status);

// One row per transaction hash, merged from Accepted, Processed and Expired events.
struct TransactionRow {
  std::string transaction_hash;
  std::string kind;               // "deploy" | "version1"
  TxStatus status = TxStatus::kAccepted;
  bool accepted = false;          // an Accepted event was seen
  OptText block_hash;
  OptText initiator_public_key;
  OptText initiator_account_hash;
  OptText timestamp;
  OptInt ttl_ms;
  OptText chain_name;
  OptText pricing_mode;           // "classic" (Deploy), "fixed", "payment_limited", "prepaid"
  OptInt gas_price;               // Deploy header gas_price
  OptInt gas_price_tolerance;     // TransactionV1 pricing mode
  OptText payment_amount;         // Deploy payment "amount" arg; PaymentLimited payment_amount
  OptText entry_point;
  OptText target;                 // Deploy session variant ("Transfer", "ModuleBytes", …); V1 "Native"|"Stored"|"Session"
  OptText target_id;              // stored contract hash or name
  OptInt approvals_count;
  OptInt execution_version;       // 1: Success/Failure result; 2: ExecutionResultV2
  std::optional<bool> success;
  OptText error_message;
  OptText gas_limit;
  OptText consumed;
  OptText cost;
  OptText refund;
  OptInt current_price;
  OptInt size_estimate;
  OptInt transfer_count;
  // The Accepted, Processed and Expired events (each: the first one stored wins).
  EventIdentity accepted_event;
  EventIdentity processed_event;
  EventIdentity expired_event;
};

// Combines two rows of the same hash (any order gives the same result, except for the event
// identities, where the first row wins).
void Merge(TransactionRow& into, const TransactionRow& from);

struct TransferRow {
  std::string transaction_hash;
  int transfer_index = 0;         // position in the execution result's transfers
  int version = 1;                // 1: 1.x WriteTransfer / TransferV1; 2: TransferV2
  OptText transfer_addr;          // 1.x TransferAddr (hex of the transfer-… key)
  std::string block_hash;
  OptText from_account_hash;
  OptText from_public_key;
  OptText to_account_hash;
  std::string source_purse;
  std::string target_purse;
  std::string amount;
  std::string gas;
  OptText transfer_id;            // u64 as decimal text
  OptText timestamp;              // the transaction's timestamp
};

enum class RewardsStatus { kNone, kPending, kComplete };

struct EraRow {
  std::int64_t era_id = 0;
  OptInt first_block_height;      // switch block of the previous era + 1
  OptInt last_block_height;       // this era's switch block
  OptText last_block_hash;
  OptText end_timestamp;
  OptText protocol_version;
  OptInt next_era_gas_price;      // 2.x
  RewardsStatus rewards_status = RewardsStatus::kNone;
  OptText rewards_source;         // "era_end" (2.x) | "step" | "rpc" (1.x)
  // Per-delegator rewards: 1.x eras get them with the validator rewards (same status); 2.x switch
  // blocks carry validator totals only, so they stay pending until chain_get_era_summary answers.
  RewardsStatus delegator_rewards_status = RewardsStatus::kNone;
};
void Merge(EraRow& into, const EraRow& from);

struct EraValidatorRow {
  std::int64_t era_id = 0;
  std::string public_key;
  OptText weight;                 // from the previous era's switch block
  bool is_equivocator = false;    // listed in this era's equivocators
  bool is_inactive = false;       // listed in this era's inactive_validators
  OptText era_report_reward;      // 1.x era_report reward (a relative measure, not motes)
};
void Merge(EraValidatorRow& into, const EraValidatorRow& from);

struct ValidatorRewardRow {
  std::int64_t era_id = 0;
  std::string public_key;
  int reward_index = 0;           // several amounts per validator in one 2.x switch block
  std::string amount;             // motes
  std::string source;             // "era_end" | "rpc"
  OptText switch_block_hash;
};

struct DelegatorRewardRow {
  std::int64_t era_id = 0;
  std::string delegator_public_key;
  std::string validator_public_key;
  std::string amount;
  std::string source;             // "rpc"
  OptText switch_block_hash;
};

// A bid written by a transaction's effects. A 1.x Bid / 2.x Unified bid gives one "validator" row
// (entry 0) and one "delegator" row per delegator (entries 1..n).
struct BidRow {
  std::string transaction_hash;
  int effect_index = 0;
  int entry_index = 0;
  std::string bid_key;
  std::string kind;               // validator | delegator | credit | bridge | reservation
  OptText validator_public_key;
  OptText delegator_public_key;
  OptText delegator_purse;        // 2.x purse delegations
  OptText bonding_purse;
  OptText staked_amount;          // credit: the credited amount
  OptInt delegation_rate;
  std::optional<bool> inactive;
  OptInt era_id;                  // credit, bridge
  OptText new_validator_public_key;  // bridge
  OptText block_hash;
  OptText timestamp;
};

// Withdrawals/unbondings written by a transaction's effects (one row per purse entry).
struct WithdrawalRow {
  std::string transaction_hash;
  int effect_index = 0;
  int entry_index = 0;
  std::string withdrawal_key;
  std::string kind;               // withdraw | unbonding (1.x and 2.x lists) | unbond (2.x BidKind)
  OptText validator_public_key;
  OptText unbonder_public_key;
  OptText unbonder_purse;
  OptText bonding_purse;
  OptText amount;
  OptInt era_of_creation;
  OptText new_validator;
  OptText block_hash;
  OptText timestamp;
};

struct FaultRow {
  std::int64_t era_id = 0;
  std::string public_key;
  std::string timestamp;
  EventIdentity event;
};

struct FinalitySignatureRow {
  std::string block_hash;
  std::string public_key;
  std::int64_t era_id = 0;
  OptInt block_height;            // V2
  OptText chain_name_hash;        // V2
  std::string signature;
  int version = 1;                // 1: 1.x flat or 2.x V1; 2: V2
  EventIdentity event;
};

struct StepRow {
  std::int64_t era_id = 0;
  std::int64_t effect_count = 0;  // transforms (1.x) / execution_effects (2.x)
  std::int64_t effect_bytes = 0;  // size of the effects JSON
  int format = 1;                 // 1: execution_effect{transforms}; 2: execution_effects[]
  EventIdentity event;
};

// An event that could not be turned into rows: identity + reason.
struct RejectedEventRow {
  std::string source;
  std::string stream;
  std::int64_t event_id = -1;
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::string event_type;
  std::string api_version;
  std::string reason;
  std::int64_t payload_bytes = 0;
  std::string payload_head;       // the first bytes of the payload (valid UTF-8 cut)
  std::string received_at;
};

struct Rows {
  std::vector<BlockRow> blocks;
  std::vector<BlockTransactionRow> block_transactions;
  std::vector<TransactionRow> transactions;
  std::vector<TransferRow> transfers;
  std::vector<EraRow> eras;
  std::vector<EraValidatorRow> era_validators;
  std::vector<ValidatorRewardRow> validator_rewards;
  std::vector<DelegatorRewardRow> delegator_rewards;
  std::vector<BidRow> bids;
  std::vector<WithdrawalRow> withdrawals;
  std::vector<FaultRow> faults;
  std::vector<FinalitySignatureRow> finality_signatures;
  std::vector<StepRow> steps;
  std::vector<RejectedEventRow> rejected_events;

  std::size_t Count() const;
  void Clear();
  void Append(Rows&& other);
};

}  // namespace ces::model
