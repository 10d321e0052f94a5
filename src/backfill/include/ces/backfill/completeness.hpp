#pragma once
// The completeness report (GET /api/v1/completeness): for a height range, which heights lack a block,
// which blocks lack their transactions or signatures in the store, and the recorded gaps with their
// state (detected / filling / filled). Pure: the caller runs the query and reads the Kafka topics.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ces/kafka/client.hpp"

namespace ces::backfill {

// A block of the store in the range: transactions its body lists, processed transactions stored with
// its hash, finality signatures stored for it.
struct StoredBlock {
  std::uint64_t height = 0;
  std::string hash;
  std::int64_t transactions = 0;
  std::int64_t processed = 0;
  std::int64_t signatures = 0;
};

// The statement giving StoredBlock rows ($1, $2: the range, inclusive), in height order.
inline constexpr const char* kCompletenessSql =
    "SELECT b.height, b.block_hash, b.transaction_count,"
    " (SELECT count(*) FROM transactions t WHERE t.block_hash = b.block_hash AND t.status = 'processed'),"
    " (SELECT count(*) FROM finality_signatures f WHERE f.block_hash = b.block_hash)"
    " FROM blocks b WHERE b.height BETWEEN $1::bigint AND $2::bigint ORDER BY b.height";

// Largest range one report covers.
inline constexpr std::uint64_t kMaxCompletenessRange = 100000;

struct GapState {
  std::string gap;  // "gap <partition>:<offset>" (the checkpoint's range name)
  std::string source;
  std::string stream;
  std::int64_t from_id = -1;
  std::int64_t to_id = -1;
  std::optional<std::uint64_t> from_height;
  std::optional<std::uint64_t> to_height;
  std::string detected_at;
  std::string state;  // detected (no checkpoint yet), filling, filled
  std::optional<std::uint64_t> first, last, next;  // the checkpoint's range and next height
};

// Every gap record of `gaps` (the ingest-gaps topic) with the state its checkpoint in `checkpoints`
// (backfill-checkpoints) gives it.
std::vector<GapState> GapStates(const std::vector<kafka::Message>& gaps, const std::vector<kafka::Message>& checkpoints);

// The report as JSON: {"from_height","to_height","blocks","missing_heights":[[a,b]…],
// "blocks_without_signatures":[h…],"blocks_missing_transactions":[{height,block_hash,transactions,stored}…],
// "gaps":[…],"open_gaps","complete"}. Gaps are those whose heights meet the range (or are not known).
std::string CompletenessJson(std::uint64_t from, std::uint64_t to, const std::vector<StoredBlock>& blocks,
                             const std::vector<GapState>& gaps);

}  // namespace ces::backfill
