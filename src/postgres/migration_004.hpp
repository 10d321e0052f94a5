#pragma once
// Migration 4: per-delegator rewards status. 1.x eras get their delegator rewards together with the
// validator rewards (the Step's WriteEraInfo or chain_get_era_info_by_switch_block), so the column
// follows rewards_status; a 2.x switch block carries validator totals only and its delegator rewards
// stay 'pending' until the node answers chain_get_era_summary (store-consume --node-rpc). Released
// migrations are never edited.
#include <string_view>

namespace ces::postgres {

inline constexpr std::string_view kMigration004Name = "delegator rewards status";
inline constexpr std::string_view kMigration004 = R"sql(
ALTER TABLE eras
  ADD COLUMN delegator_rewards_status   text CHECK (delegator_rewards_status IN ('pending', 'complete')),
  ADD COLUMN delegator_rewards_attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN delegator_rewards_error    text;
UPDATE eras SET delegator_rewards_status = CASE WHEN rewards_source = 'era_end' THEN 'pending' ELSE rewards_status END
  WHERE rewards_status IS NOT NULL;
CREATE INDEX eras_delegator_rewards_pending_idx ON eras (era_id) WHERE delegator_rewards_status = 'pending';
)sql";

}  // namespace ces::postgres
