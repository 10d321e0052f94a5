#pragma once
// Migration 3: indexes serving the query API's lists and cursors (docs/api-rest.md). Each list's
// keyset order (sort key + unique tie-break) has an index in that exact order, so page 1 and a deep
// cursor read the same few index entries. Released migrations are never edited.
#include <string_view>

namespace ces::postgres {

inline constexpr std::string_view kMigration003Name = "query indexes";
inline constexpr std::string_view kMigration003 = R"sql(
CREATE INDEX blocks_timestamp_hash_idx ON blocks (timestamp, block_hash);
CREATE INDEX blocks_proposer_timestamp_idx ON blocks (proposer, timestamp, block_hash);
CREATE INDEX transactions_time_hash_idx
  ON transactions ((coalesce(timestamp, '-infinity'::timestamptz)), transaction_hash);
CREATE INDEX transactions_deploy_time_hash_idx
  ON transactions ((coalesce(timestamp, '-infinity'::timestamptz)), transaction_hash) WHERE kind = 'deploy';
CREATE INDEX transfers_time_key_idx
  ON transfers ((coalesce(timestamp, '-infinity'::timestamptz)), transaction_hash, transfer_index);
CREATE INDEX validator_rewards_key_era_idx ON validator_rewards (public_key, era_id, reward_index);
CREATE INDEX delegator_rewards_key_era_idx ON delegator_rewards (delegator_public_key, era_id, validator_public_key);
CREATE INDEX faults_public_key_idx ON faults (public_key);
CREATE INDEX withdrawals_time_key_idx
  ON withdrawals ((coalesce(timestamp, '-infinity'::timestamptz)), transaction_hash, effect_index, entry_index);
)sql";

}  // namespace ces::postgres
